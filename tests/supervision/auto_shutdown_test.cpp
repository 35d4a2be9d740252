// Significant children and auto_shutdown, executed by real supervisors: a
// supervisor ends when its significant children end by themselves, never
// when it stopped them itself.
#include "supervision/supervisor.hpp"

#include "tests/supervision/fixture.hpp"

using namespace fenix;
using namespace fenix::sup_test;

namespace {

child_spec significant_child(std::string id, caf::actor observer,
                             restart_type r = restart_type::transient) {
  auto spec = test_child(std::move(id), std::move(observer), r);
  spec.significant = true;
  return spec;
}

supervisor_flags auto_flags(auto_shutdown_mode mode,
                            strategy s = strategy::one_for_one) {
  auto f = flags(s);
  f.auto_shutdown = mode;
  return f;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(auto_shutdown_suite, fixture)

BOOST_AUTO_TEST_CASE(a_significant_childs_normal_exit_ends_the_supervisor) {
  auto sup = start(auto_flags(auto_shutdown_mode::any_significant),
                   {test_child("a", self), significant_child("sig", self),
                    test_child("c", self)});
  next_hello();
  auto sig = next_hello().second;
  next_hello();
  self->monitor(sup);
  self->send(sig, stop_atom::value); // ends by itself, normally
  // The normal shutdown: the others stop newest first, then the
  // supervisor exits with `shutdown`.
  BOOST_TEST(next_bye() == "c");
  BOOST_TEST(next_bye() == "a");
  auto reason = await_down(sup);
  BOOST_TEST(to_string(classify_exit(reason)) == std::string{"shutdown"});
  BOOST_TEST(render(reason).find("auto_shutdown") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_significant_transient_crash_is_restarted_instead) {
  auto sup = start(auto_flags(auto_shutdown_mode::any_significant),
                   {significant_child("sig", self)});
  auto sig = next_hello().second;
  self->send(sig, crash_atom::value);
  auto again = next_hello();
  BOOST_TEST(again.first == "sig");
  BOOST_TEST(again.second != sig);
  supervisor_ref ref{sys, sup};
  auto counts = ref.count_children();
  BOOST_REQUIRE(counts); // still serving
  BOOST_TEST(counts->active == 1u);
  // A temporary significant child ends it even by crashing.
  auto tmp = ref.start_child(
    significant_child("tmp", self, restart_type::temporary));
  BOOST_REQUIRE(tmp);
  next_hello();
  self->monitor(sup);
  self->send(*tmp, crash_atom::value);
  BOOST_TEST(next_bye() == "sig");
  BOOST_TEST(to_string(classify_exit(await_down(sup)))
             == std::string{"shutdown"});
}

BOOST_AUTO_TEST_CASE(ends_the_supervisor_caused_do_not_end_it) {
  auto sup = start(auto_flags(auto_shutdown_mode::any_significant,
                              strategy::one_for_all),
                   {significant_child("sig", self),
                    significant_child("tmp", self, restart_type::temporary),
                    test_child("w", self)});
  next_hello();
  next_hello();
  auto w = next_hello().second;
  supervisor_ref ref{sys, sup};
  // A sibling's crash: sig and tmp are stopped by the supervisor; sig
  // starts again, tmp (temporary) is dropped; the supervisor goes on.
  self->send(w, crash_atom::value);
  BOOST_TEST(next_bye() == "tmp");
  BOOST_TEST(next_bye() == "sig");
  BOOST_TEST(next_hello().first == "sig");
  BOOST_TEST(next_hello().first == "w");
  auto counts = ref.count_children();
  BOOST_REQUIRE(counts);
  BOOST_TEST(counts->specs == 2u);
  BOOST_TEST(counts->active == 2u);
  // terminate_child of the significant child does not end it either.
  BOOST_TEST(ref.terminate_child("sig") == caf::none);
  BOOST_TEST(next_bye() == "sig");
  counts = ref.count_children();
  BOOST_REQUIRE(counts);
  BOOST_TEST(counts->active == 1u);
  // ... and after a restart_child, its own normal exit does.
  auto sig = ref.restart_child("sig");
  BOOST_REQUIRE(sig);
  next_hello();
  self->monitor(sup);
  self->send(*sig, stop_atom::value);
  BOOST_TEST(next_bye() == "w");
  await_down(sup);
}

BOOST_AUTO_TEST_CASE(all_significant_ends_with_the_last_one) {
  auto sup = start(auto_flags(auto_shutdown_mode::all_significant),
                   {significant_child("x", self, restart_type::temporary),
                    significant_child("y", self), test_child("w", self)});
  auto x = next_hello().second;
  auto y = next_hello().second;
  next_hello();
  supervisor_ref ref{sys, sup};
  self->send(x, stop_atom::value);
  await_down(x);
  // Served after x's exit was handled: y still holds the supervisor open.
  BOOST_TEST(eventually([&] { return ref.count_children()->specs == 2; }));
  self->monitor(sup);
  self->send(y, stop_atom::value);
  BOOST_TEST(next_bye() == "w");
  await_down(sup);
}

BOOST_AUTO_TEST_CASE(significant_specs_are_checked) {
  // auto_shutdown never: significant children are refused...
  auto sup = start(flags(strategy::one_for_one), {});
  supervisor_ref ref{sys, sup};
  auto refused = ref.start_child(significant_child("s", self));
  BOOST_REQUIRE(!refused);
  BOOST_TEST(refused.error() == errc::invalid_spec);
  stop(sup);
  // ... at init too, and a permanent one always.
  auto at_init = start_supervisor(sys, flags(strategy::one_for_one),
                                  {significant_child("s", self)});
  BOOST_REQUIRE(!at_init);
  BOOST_TEST(at_init.error() == errc::invalid_spec);
  auto permanent = start_supervisor(
    sys, auto_flags(auto_shutdown_mode::any_significant),
    {significant_child("s", self, restart_type::permanent)});
  BOOST_REQUIRE(!permanent);
  BOOST_TEST(permanent.error() == errc::invalid_spec);
}

BOOST_AUTO_TEST_CASE(a_transient_parent_does_not_restart_an_auto_shutdown) {
  // One supervisor per channel, which ends when its channel ends
  // gracefully: the parent leaves it down.
  auto channel_flags = auto_flags(auto_shutdown_mode::any_significant);
  channel_flags.name = "channel_sup";
  auto top = start(flags(strategy::one_for_one),
                   {supervisor_spec("channel_sup", channel_flags,
                                    {significant_child("channel", self),
                                     test_child("helper", self)},
                                    restart_type::transient)});
  auto channel = next_hello().second;
  next_hello();
  supervisor_ref ref{sys, top};
  auto channel_sup = ref.child("channel_sup");
  BOOST_REQUIRE(channel_sup);
  self->send(channel, stop_atom::value);
  BOOST_TEST(next_bye() == "helper");
  await_down(channel_sup);
  BOOST_TEST(eventually([&] { return ref.count_children()->active == 0; }));
  auto rows = ref.which_children();
  BOOST_REQUIRE(rows);
  BOOST_REQUIRE(rows->size() == 1u);
  BOOST_TEST(rows->at(0).status == "undefined");
  // not restarted: no new incarnation said hello
  bool extra = false;
  self->receive([&](hello_atom, std::string&, caf::actor&) { extra = true; },
                caf::after(0ms) >> [] {});
  BOOST_TEST(!extra);
  stop(top);
}

BOOST_AUTO_TEST_SUITE_END()
