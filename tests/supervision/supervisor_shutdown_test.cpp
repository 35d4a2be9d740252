// How supervisors shut down: a dynamic supervisor stops its children all at
// once (DynamicSupervisor's terminate_children), and calls it will not serve
// any more are answered with errc::shutdown instead of silence.
#include "supervision/supervisor.hpp"

#include <algorithm>
#include <future>
#include <set>
#include <vector>

#include "tests/supervision/fixture.hpp"

using namespace fenix;
using namespace fenix::sup_test;

namespace {

using finish_atom = caf::atom_constant<caf::atom("finish")>;
using stopping_atom = caf::atom_constant<caf::atom("stopping")>;
using release_atom = caf::atom_constant<caf::atom("release")>;

/// Traps the exit and quits with its reason `delay` later: a child whose
/// cooperative stop takes time.
caf::behavior slow_stopper(caf::event_based_actor* self,
                           std::chrono::milliseconds delay) {
  self->set_exit_handler([self, delay](caf::exit_msg& msg) {
    self->delayed_send(self, delay, finish_atom::value, msg.reason);
  });
  return {
    [self](finish_atom, caf::error& reason) { self->quit(std::move(reason)); },
  };
}

/// Traps the exit and ignores it: only a kill stops it.
caf::behavior stubborn(caf::event_based_actor* self, int) {
  self->set_exit_handler([](caf::exit_msg&) {});
  return {
    [](caf::get_atom) { return 0; },
  };
}

/// Traps the exit, tells the observer, and quits only when released: a
/// child that holds its supervisor in a stop step for as long as the test
/// wants.
caf::behavior held(caf::event_based_actor* self, caf::actor observer) {
  auto reason = std::make_shared<caf::error>();
  self->set_exit_handler([self, observer, reason](caf::exit_msg& msg) {
    *reason = msg.reason;
    self->send(observer, stopping_atom::value);
  });
  return {
    [self, reason](release_atom) { self->quit(*reason); },
  };
}

template <class F, class... Ts>
child_spec spawning(std::string id, shutdown_spec sd, F f, Ts... xs) {
  auto spec = worker(
    std::move(id),
    [f, xs...](caf::actor_system& sys) -> caf::expected<caf::actor> {
      return spawn_fn(sys, f, xs...);
    },
    restart_type::temporary);
  spec.shutdown = sd;
  return spec;
}

supervisor_flags dynamic_flags() {
  auto f = flags(strategy::one_for_one);
  f.dynamic = true;
  return f;
}

using clock = std::chrono::steady_clock;

} // namespace

BOOST_FIXTURE_TEST_SUITE(supervisor_shutdown_suite, fixture)

BOOST_AUTO_TEST_CASE(a_dynamic_supervisor_stops_all_children_at_once) {
  auto sup = start(dynamic_flags(), {});
  supervisor_ref ref{sys, sup};
  constexpr size_t n = 200;
  std::set<caf::actor_addr> children;
  for (size_t i = 0; i < n; ++i) {
    auto c = ref.start_child(spawning("slow", shutdown_spec::after(5s),
                                      slow_stopper, 100ms));
    BOOST_REQUIRE(c);
    self->monitor(*c);
    children.insert(c->address());
  }
  self->monitor(sup);
  auto t0 = clock::now();
  self->send_exit(sup, shutdown_reason());
  // One at a time this takes n * 100 ms = 20 s; all at once about 100 ms.
  size_t shut_down = 0;
  bool sup_down = false;
  for (size_t i = 0; i < n + 1; ++i)
    self->receive(
      [&](caf::down_msg& m) {
        if (m.source == sup.address()) {
          sup_down = true;
          BOOST_TEST(to_string(classify_exit(m.reason))
                     == std::string{"shutdown"});
        } else if (children.count(m.source) == 1
                   && classify_exit(m.reason) == exit_kind::shutdown) {
          ++shut_down;
        }
      },
      caf::after(timeout) >> [] { BOOST_FAIL("timed out waiting for DOWN"); });
  auto elapsed = clock::now() - t0;
  BOOST_TEST(sup_down);
  BOOST_TEST(shut_down == n); // each stopped cooperatively, none killed
  BOOST_TEST(elapsed < 3s);
}

BOOST_AUTO_TEST_CASE(one_timer_per_shutdown_timeout_kills_the_stubborn) {
  auto sup = start(dynamic_flags(), {});
  supervisor_ref ref{sys, sup};
  constexpr size_t n = 20;
  // Four groups: two that ignore the shutdown under different timeouts,
  // one that stops by itself under infinity, one killed at once.
  std::map<caf::actor_addr, std::string> group;
  auto add = [&](const std::string& name, child_spec spec) {
    auto c = ref.start_child(std::move(spec));
    BOOST_REQUIRE(c);
    self->monitor(*c);
    group[c->address()] = name;
  };
  for (size_t i = 0; i < n; ++i) {
    add("short", spawning("s", shutdown_spec::after(200ms), stubborn, 0));
    add("long", spawning("l", shutdown_spec::after(1500ms), stubborn, 0));
    add("polite", spawning("p", shutdown_spec::infinity(), slow_stopper,
                           100ms));
    add("brutal", spawning("b", shutdown_spec::brutal_kill(), slow_stopper,
                           100ms));
  }
  self->monitor(sup);
  auto t0 = clock::now();
  self->send_exit(sup, shutdown_reason());
  std::map<std::string, size_t> killed, shut_down;
  std::vector<std::string> order; // groups in DOWN order
  bool sup_down = false;
  for (size_t i = 0; i < 4 * n + 1; ++i)
    self->receive(
      [&](caf::down_msg& m) {
        if (m.source == sup.address()) {
          sup_down = true;
          return;
        }
        auto& g = group.at(m.source);
        order.push_back(g);
        if (m.reason == caf::exit_reason::kill)
          ++killed[g];
        else if (classify_exit(m.reason) == exit_kind::shutdown)
          ++shut_down[g];
      },
      caf::after(timeout) >> [] { BOOST_FAIL("timed out waiting for DOWN"); });
  auto elapsed = clock::now() - t0;
  BOOST_TEST(sup_down);
  BOOST_TEST(killed["short"] == n);
  BOOST_TEST(killed["long"] == n);
  BOOST_TEST(killed["brutal"] == n);
  BOOST_TEST(shut_down["polite"] == n);
  // The 200 ms timer killed its whole group before the 1500 ms one fired.
  auto last_short = std::find(order.rbegin(), order.rend(), "short");
  auto first_long = std::find(order.begin(), order.end(), "long");
  BOOST_REQUIRE(last_short != order.rend());
  BOOST_REQUIRE(first_long != order.end());
  BOOST_TEST(std::distance(order.begin(), last_short.base())
             <= std::distance(order.begin(), first_long));
  // Every long one was given its full timeout, all in parallel: one at a
  // time would take 20 * (0.2 + 1.5 + 0.1) s.
  BOOST_TEST(elapsed >= 1500ms);
  BOOST_TEST(elapsed < 6s);
}

BOOST_AUTO_TEST_CASE(a_static_supervisor_still_stops_one_at_a_time) {
  // Reverse start order: b must be gone before a is asked. Asked at once,
  // a (10 ms) would end long before b (200 ms).
  auto a = spawning("a", shutdown_spec::after(5s), slow_stopper, 10ms);
  auto b = spawning("b", shutdown_spec::after(5s), slow_stopper, 200ms);
  a.restart = b.restart = restart_type::permanent;
  auto sup = start(flags(strategy::one_for_one), {std::move(a), std::move(b)});
  supervisor_ref ref{sys, sup};
  auto ha = ref.child("a");
  auto hb = ref.child("b");
  BOOST_REQUIRE(ha);
  BOOST_REQUIRE(hb);
  self->monitor(ha);
  self->monitor(hb);
  self->send_exit(sup, shutdown_reason());
  std::vector<caf::actor_addr> order;
  for (int i = 0; i < 2; ++i)
    self->receive([&](caf::down_msg& m) { order.push_back(m.source); },
                  caf::after(timeout) >> [] { BOOST_FAIL("no DOWN"); });
  BOOST_REQUIRE(order.size() == 2u);
  BOOST_TEST(order[0] == hb.address());
  BOOST_TEST(order[1] == ha.address());
  await_down(sup);
}

BOOST_AUTO_TEST_CASE(calls_queued_behind_a_shutdown_get_an_error) {
  auto slow = worker("slow", [obs = caf::actor{self}](caf::actor_system& s)
                               -> caf::expected<caf::actor> {
    return spawn_fn(s, held, obs);
  });
  slow.shutdown = shutdown_spec::infinity(); // no timer races the test
  auto sup = start(flags(strategy::one_for_one),
                   {std::move(slow), test_child("b", self)});
  BOOST_TEST(next_hello().first == "b");
  supervisor_ref ref{sys, sup};
  auto slow_handle = ref.child("slow");
  BOOST_REQUIRE(slow_handle);
  // A call in flight: its stop step waits until the test releases "slow".
  auto in_flight = self->request(sup, timeout, terminate_atom::value,
                                 std::string{"slow"});
  self->receive([](stopping_atom) {},
                caf::after(timeout) >> [] { BOOST_FAIL("slow not asked"); });
  // Calls queued behind it, then the shutdown (all from this actor, so the
  // supervisor sees them in this order).
  auto q_which = self->request(sup, timeout, which_atom::value);
  auto q_count = self->request(sup, timeout, count_atom::value);
  auto q_restart = self->request(sup, timeout, restart_atom::value,
                                 std::string{"b"});
  auto q_delete = self->request(sup, timeout, delete_atom::value,
                                std::string{"b"});
  auto q_start = self->request(sup, timeout, start_atom::value,
                               test_child("c", self));
  auto q_terminate = self->request(sup, timeout, terminate_atom::value,
                                   std::string{"b"});
  self->send_exit(sup, shutdown_reason());
  // Each queued call is answered while "slow" still holds the shutdown:
  // refused when the shutdown begins, not when it ends.
  std::vector<caf::error> errs;
  auto on_err = [&](caf::error& e) { errs.push_back(std::move(e)); };
  auto unexpected = [] { BOOST_ERROR("a queued call was served"); };
  q_which.receive([&](std::vector<child_info>&) { unexpected(); }, on_err);
  q_count.receive([&](child_counts&) { unexpected(); }, on_err);
  q_restart.receive([&](caf::actor&) { unexpected(); }, on_err);
  q_delete.receive([&] { unexpected(); }, on_err);
  q_start.receive([&](caf::actor&) { unexpected(); }, on_err);
  q_terminate.receive([&] { unexpected(); }, on_err);
  // A call that arrives after the shutdown began is refused at once.
  self->request(sup, timeout, count_atom::value)
    .receive([&](child_counts&) { unexpected(); }, on_err);
  BOOST_REQUIRE_EQUAL(errs.size(), 7u);
  for (auto& e : errs)
    BOOST_TEST(e == errc::shutdown, render(e));
  // Release "slow": the call in flight is refused too, the rest stops.
  self->send(slow_handle, release_atom::value);
  caf::error last;
  in_flight.receive([&] { unexpected(); },
                    [&](caf::error& e) { last = std::move(e); });
  BOOST_TEST(last == errc::shutdown);
  BOOST_TEST(next_bye() == "b");
  await_down(sup);
  // The refused start_child never started "c".
  bool extra = false;
  self->receive([&](hello_atom, std::string&, caf::actor&) { extra = true; },
                caf::after(0ms) >> [] {});
  BOOST_TEST(!extra);
}

BOOST_AUTO_TEST_CASE(a_stopped_supervisor_releases_what_it_held) {
  // A child spec's captures live as long as the supervisor object: their
  // release proves it was destroyed, not only stopped. The response promise
  // of the last call, kept as the job's caller, holds a strong reference to
  // the supervisor unless a requester took the answer, as with a call sent
  // anonymously (the I/O side starts connections so).
  auto released = std::make_shared<std::promise<void>>();
  auto gone = released->get_future();
  {
    std::shared_ptr<int> token{new int{0}, [released](int* p) {
                                 delete p;
                                 released->set_value();
                               }};
    auto spec = worker(
      "holder", [token, obs = caf::actor{self}](caf::actor_system& s)
                  -> caf::expected<caf::actor> {
        return spawn_fn(s, test_worker, obs, std::string{"holder"},
                        worker_opts{});
      });
    token.reset();
    auto sup = start(flags(strategy::one_for_one), {std::move(spec)});
    BOOST_TEST(next_hello().first == "holder");
    // In mailbox order: the anonymous call runs as the last job, then the
    // shutdown.
    caf::anon_send(sup, count_atom::value);
    self->send_exit(sup, shutdown_reason());
    BOOST_TEST(next_bye() == "holder");
    await_down(sup);
  }
  BOOST_TEST((gone.wait_for(timeout) == std::future_status::ready));
}

BOOST_AUTO_TEST_SUITE_END()
