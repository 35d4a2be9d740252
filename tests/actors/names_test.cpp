#include "actors/names.hpp"

#include <boost/test/unit_test.hpp>
#include <caf/all.hpp>

#include "actors/actor.hpp"
#include "actors/errors.hpp"
#include "actors/system.hpp"
#include "tests/common/actor_fixture.hpp"
#include "tests/common/printers.hpp"

using namespace fenix;
using namespace std::chrono_literals;

namespace {

caf::behavior idle(caf::event_based_actor*) {
  return {[](int x) { return x; }};
}

using fixture = fenix::test::actor_fixture;

} // namespace

BOOST_FIXTURE_TEST_SUITE(names_suite, fixture)

BOOST_AUTO_TEST_CASE(register_whereis_unregister) {
  auto a = spawn_fn(sys, idle);
  auto& names = sys.names();
  BOOST_TEST(!names.whereis("a name longer than a CAF atom allows"));
  BOOST_TEST(names.put("a name longer than a CAF atom allows", a)
             == caf::none);
  BOOST_TEST(names.whereis("a name longer than a CAF atom allows") == a);
  BOOST_TEST(names.erase("a name longer than a CAF atom allows"));
  BOOST_TEST(!names.erase("a name longer than a CAF atom allows"));
  BOOST_TEST(!names.whereis("a name longer than a CAF atom allows"));
  kill_and_wait(a);
}

BOOST_AUTO_TEST_CASE(a_taken_name_is_a_clear_error) {
  auto a = spawn_fn(sys, idle);
  auto b = spawn_fn(sys, idle);
  BOOST_TEST(sys.names().put("svc", a) == caf::none);
  BOOST_TEST(sys.names().put("svc", a) == caf::none); // idempotent
  auto err = sys.names().put("svc", b);
  BOOST_TEST(err == errc::name_taken);
  BOOST_TEST(sys.sys().render(err).find("svc") != std::string::npos);
  BOOST_TEST(sys.names().whereis("svc") == a); // the first keeps it
  BOOST_TEST(sys.names().put("x", caf::actor{}) == errc::invalid_actor);
  kill_and_wait(a);
  kill_and_wait(b);
}

BOOST_AUTO_TEST_CASE(a_name_is_released_when_its_actor_exits) {
  auto a = spawn_fn(sys, idle);
  BOOST_TEST(sys.names().put("svc", a) == caf::none);
  kill_and_wait(a);
  // the release runs in a's cleanup, which has finished once DOWN arrived
  BOOST_TEST(!sys.names().whereis("svc"));
  auto b = spawn_fn(sys, idle);
  BOOST_TEST(sys.names().put("svc", b) == caf::none);
  BOOST_TEST(sys.names().list().size() == 1u);
  kill_and_wait(b);
}

BOOST_AUTO_TEST_CASE(registering_a_dead_actor_releases_at_once) {
  auto a = spawn_fn(sys, idle);
  kill_and_wait(a);
  BOOST_TEST(sys.names().put("late", a) == caf::none);
  BOOST_TEST(!sys.names().whereis("late"));
}

BOOST_AUTO_TEST_SUITE_END()
