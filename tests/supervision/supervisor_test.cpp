// Supervisors with real actors: every wait is a reply, a DOWN or a message
// from a (re)started child, each bounded by a timeout.
#include "supervision/supervisor.hpp"

#include "tests/supervision/fixture.hpp"

using namespace fenix;
using namespace fenix::sup_test;

BOOST_FIXTURE_TEST_SUITE(supervisor_suite, fixture)

BOOST_AUTO_TEST_CASE(children_start_in_order_and_stop_in_reverse) {
  auto sup = start(flags(strategy::one_for_one),
                   {test_child("a", self), test_child("b", self),
                    test_child("c", self)});
  BOOST_TEST(next_hello().first == "a");
  BOOST_TEST(next_hello().first == "b");
  BOOST_TEST(next_hello().first == "c");
  self->send_exit(sup, shutdown_reason());
  BOOST_TEST(next_bye() == "c");
  BOOST_TEST(next_bye() == "b");
  BOOST_TEST(next_bye() == "a");
  auto reason = await_down(sup);
  BOOST_TEST(to_string(classify_exit(reason)) == std::string{"shutdown"});
}

BOOST_AUTO_TEST_CASE(crashed_permanent_worker_restarts_with_fresh_state) {
  auto sup = start(flags(strategy::one_for_one), {test_child("w", self)});
  auto [name, w1] = next_hello();
  self->send(w1, caf::put_atom::value);
  self->send(w1, caf::put_atom::value);
  BOOST_TEST(get(w1) == 2);
  self->send(w1, crash_atom::value);
  auto reason = await_down(w1);
  BOOST_TEST(to_string(classify_exit(reason)) == std::string{"abnormal"});
  auto [name2, w2] = next_hello();
  BOOST_TEST(name2 == "w");
  BOOST_TEST(w2 != w1);
  BOOST_TEST(get(w2) == 0);
  supervisor_ref ref{sys, sup};
  BOOST_TEST(ref.child("w") == w2);
  stop(sup);
}

BOOST_AUTO_TEST_CASE(every_abnormal_exit_restarts_a_permanent_child) {
  auto sup = start(flags(strategy::one_for_one, 10), {test_child("w", self)});
  auto w = next_hello().second;
  // quit with an error
  self->send(w, stop_atom::value, caf::make_error(caf::sec::runtime_error));
  w = next_hello().second;
  // killed
  self->send_exit(w, caf::exit_reason::kill);
  w = next_hello().second;
  // a permanent child is restarted even after a normal exit
  self->send(w, stop_atom::value);
  w = next_hello().second;
  BOOST_TEST(get(w) == 0);
  stop(sup);
}

BOOST_AUTO_TEST_CASE(one_for_all_restarts_all_siblings) {
  auto sup = start(flags(strategy::one_for_all),
                   {test_child("a", self), test_child("b", self),
                    test_child("c", self)});
  auto a = next_hello().second;
  auto b = next_hello().second;
  auto c = next_hello().second;
  self->send(b, crash_atom::value);
  // siblings are stopped newest first, then all start in order
  BOOST_TEST(next_bye() == "c");
  BOOST_TEST(next_bye() == "a");
  BOOST_TEST(next_hello().first == "a");
  BOOST_TEST(next_hello().first == "b");
  BOOST_TEST(next_hello().first == "c");
  supervisor_ref ref{sys, sup};
  BOOST_TEST(ref.child("a") != a);
  BOOST_TEST(ref.child("c") != c);
  stop(sup);
}

BOOST_AUTO_TEST_CASE(rest_for_one_restarts_the_later_children_only) {
  auto sup = start(flags(strategy::rest_for_one),
                   {test_child("a", self), test_child("b", self),
                    test_child("c", self)});
  auto a = next_hello().second;
  auto b = next_hello().second;
  next_hello();
  self->send(b, crash_atom::value);
  BOOST_TEST(next_bye() == "c");
  BOOST_TEST(next_hello().first == "b");
  BOOST_TEST(next_hello().first == "c");
  supervisor_ref ref{sys, sup};
  BOOST_TEST(ref.child("a") == a); // untouched
  BOOST_TEST(get(a) == 0);
  stop(sup);
}

BOOST_AUTO_TEST_CASE(temporary_and_transient_children) {
  auto sup = start(flags(strategy::one_for_one),
                   {test_child("tmp", self, restart_type::temporary),
                    test_child("tr", self, restart_type::transient)});
  auto tmp = next_hello().second;
  auto tr = next_hello().second;
  supervisor_ref ref{sys, sup};
  // temporary: crash -> gone, spec dropped
  self->send(tmp, crash_atom::value);
  await_down(tmp);
  BOOST_TEST(eventually([&] { return ref.count_children()->specs == 1; }));
  auto rows = ref.which_children();
  BOOST_REQUIRE(rows);
  BOOST_TEST(rows->size() == 1u);
  BOOST_TEST(rows->at(0).id == "tr");
  // transient: normal exit -> not restarted, spec kept as undefined
  self->send(tr, stop_atom::value);
  await_down(tr);
  BOOST_TEST(eventually([&] { return ref.count_children()->active == 0; }));
  rows = ref.which_children();
  BOOST_REQUIRE(rows);
  BOOST_TEST(rows->at(0).status == "undefined");
  BOOST_TEST(!rows->at(0).child);
  // ... and restart_child brings it back; then a crash restarts it
  auto restarted = ref.restart_child("tr");
  BOOST_REQUIRE(restarted);
  tr = next_hello().second;
  BOOST_TEST(tr == *restarted);
  self->send(tr, crash_atom::value);
  BOOST_TEST(next_hello().first == "tr");
  // no hello from tmp arrived in between: next_hello would have returned it
  stop(sup);
}

BOOST_AUTO_TEST_CASE(intensity_exceeded_escalates_two_levels_up) {
  // top (intensity 0) -> mid (intensity 1) -> worker
  supervisor_flags mid_flags = flags(strategy::one_for_one, 1);
  mid_flags.name = "mid";
  auto top = start(flags(strategy::one_for_one, 0),
                   {supervisor_spec("mid", mid_flags, {test_child("w", self)})});
  auto w = next_hello().second;
  self->send(w, crash_atom::value); // mid restarts w (1 of 1)
  w = next_hello().second;
  self->monitor(top);
  self->send(w, crash_atom::value); // mid gives up -> exits shutdown
  // top restarts the permanent mid? intensity 0 says no: top gives up too.
  auto reason = await_down(top);
  BOOST_TEST(to_string(classify_exit(reason)) == std::string{"shutdown"});
  BOOST_TEST(render(reason).find("reached_max_restart_intensity")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_transient_supervisor_that_gives_up_is_not_restarted) {
  supervisor_flags mid_flags = flags(strategy::one_for_one, 0);
  auto top = start(flags(strategy::one_for_one, 5),
                   {supervisor_spec("mid", mid_flags, {test_child("w", self)},
                                    restart_type::transient),
                    test_child("other", self)});
  auto w = next_hello().second;
  next_hello(); // other
  supervisor_ref ref{sys, top};
  auto mid = ref.child("mid");
  BOOST_REQUIRE(mid);
  self->send(w, crash_atom::value);
  await_down(mid);
  BOOST_TEST(eventually([&] { return ref.count_children()->active == 1; }));
  // shutdown is a normal reason for a transient child: mid stays down
  auto rows = ref.which_children();
  BOOST_REQUIRE(rows);
  BOOST_TEST(rows->at(0).status == "undefined");
  BOOST_TEST(rows->at(1).status == "running");
  stop(top);
}

BOOST_AUTO_TEST_CASE(a_supervisor_failing_in_its_first_turn_still_names_the_child) {
  // Its only child fails to start while the supervisor initializes, so it
  // ends before it reads start_supervisor's request: the caller must get
  // the failure from the exit reason, not "request_receiver_down".
  for (int round = 0; round < 20; ++round) {
    auto broken = worker("broken",
                         [](caf::actor_system&) -> caf::expected<caf::actor> {
                           return caf::make_error(caf::sec::runtime_error,
                                                  "no database");
                         });
    auto res = start_supervisor(sys, flags(strategy::one_for_one),
                                {std::move(broken)});
    BOOST_REQUIRE(!res);
    BOOST_TEST(res.error() == errc::failed_to_start_child);
    BOOST_TEST(render(res.error()).find("broken") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(a_failed_start_fails_the_supervisor_and_stops_the_rest) {
  auto broken = worker("broken",
                       [](caf::actor_system&) -> caf::expected<caf::actor> {
                         return caf::make_error(caf::sec::runtime_error,
                                                "no database");
                       });
  auto res = start_supervisor(sys, flags(strategy::one_for_one),
                              {test_child("a", self), std::move(broken),
                               test_child("c", self)});
  BOOST_REQUIRE(!res);
  BOOST_TEST(res.error() == errc::failed_to_start_child);
  BOOST_TEST(render(res.error()).find("broken") != std::string::npos);
  BOOST_TEST(next_hello().first == "a");
  BOOST_TEST(next_bye() == "a"); // the started one was stopped again
  // c never started
  bool extra = false;
  self->receive([&](hello_atom, std::string&, caf::actor&) { extra = true; },
                caf::after(0ms) >> [] {});
  BOOST_TEST(!extra);
}

BOOST_AUTO_TEST_CASE(a_child_whose_init_throws_fails_to_start) {
  worker_opts opts;
  opts.throw_in_init = true;
  auto res = start_supervisor(sys, flags(strategy::one_for_one),
                              {test_child("bad", self,
                                          restart_type::permanent, opts)});
  BOOST_REQUIRE(!res);
  BOOST_TEST(res.error() == errc::failed_to_start_child);
}

BOOST_AUTO_TEST_CASE(shutdown_timeout_kills_a_child_that_ignores_it) {
  worker_opts stubborn;
  stubborn.ignore_shutdown = true;
  auto spec = test_child("stubborn", self, restart_type::permanent, stubborn);
  spec.shutdown = shutdown_spec::after(100ms);
  auto polite = test_child("polite", self);
  polite.shutdown = shutdown_spec::after(10s);
  auto brutal = test_child("brutal", self);
  brutal.shutdown = shutdown_spec::brutal_kill();
  auto sup = start(flags(strategy::one_for_one),
                   {std::move(spec), std::move(polite), std::move(brutal)});
  auto s = next_hello().second;
  auto p = next_hello().second;
  auto b = next_hello().second;
  self->monitor(s);
  self->monitor(p);
  self->monitor(b);
  supervisor_ref ref{sys, sup};
  auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(!ref.terminate_child("stubborn"));
  auto elapsed = std::chrono::steady_clock::now() - t0;
  BOOST_TEST(elapsed >= 100ms); // it was given its timeout first
  BOOST_TEST(ref.terminate_child("polite") == caf::none);
  BOOST_TEST(ref.terminate_child("brutal") == caf::none);
  std::map<caf::actor_addr, caf::error> reasons;
  for (int i = 0; i < 3; ++i)
    self->receive([&](caf::down_msg& m) { reasons[m.source] = m.reason; },
                  [&](bye_atom, std::string&) { --i; },
                  caf::after(timeout) >> [] { BOOST_FAIL("no DOWN"); });
  BOOST_TEST(reasons[s.address()] == caf::exit_reason::kill);
  BOOST_TEST(to_string(classify_exit(reasons[p.address()]))
             == std::string{"shutdown"});
  BOOST_TEST(reasons[b.address()] == caf::exit_reason::kill);
  // terminated children keep their specs and are not restarted
  auto counts = ref.count_children();
  BOOST_REQUIRE(counts);
  BOOST_TEST(counts->specs == 3u);
  BOOST_TEST(counts->active == 0u);
  stop(sup);
}

BOOST_AUTO_TEST_CASE(child_operations_answer_like_otp) {
  auto sup = start(flags(strategy::one_for_one), {test_child("a", self)});
  next_hello();
  supervisor_ref ref{sys, sup};
  BOOST_TEST(ref.delete_child("a") == errc::running);
  BOOST_TEST(ref.restart_child("a").error() == errc::running);
  BOOST_TEST(ref.terminate_child("nope") == errc::not_found);
  auto dup = ref.start_child(test_child("a", self));
  BOOST_TEST(dup.error() == errc::already_started);
  auto b = ref.start_child(test_child("b", self));
  BOOST_REQUIRE(b);
  BOOST_TEST(next_hello().second == *b);
  BOOST_TEST(ref.terminate_child("a") == caf::none);
  next_bye();
  BOOST_TEST(ref.start_child(test_child("a", self)).error()
             == errc::already_present);
  BOOST_TEST(ref.delete_child("a") == caf::none);
  auto counts = ref.count_children();
  BOOST_REQUIRE(counts);
  BOOST_TEST(counts->specs == 1u);
  BOOST_TEST(counts->active == 1u);
  BOOST_TEST(counts->workers == 1u);
  stop(sup);
}

BOOST_AUTO_TEST_CASE(dynamic_supervisor_starts_children_at_run_time) {
  auto f = flags(strategy::one_for_one);
  f.dynamic = true;
  f.max_children = 2;
  auto sup = start(f, {});
  supervisor_ref ref{sys, sup};
  auto t = ref.start_child(test_child("same", self, restart_type::temporary));
  auto p = ref.start_child(test_child("same", self, restart_type::permanent));
  BOOST_REQUIRE(t);
  BOOST_REQUIRE(p);
  next_hello();
  next_hello();
  BOOST_TEST(ref.start_child(test_child("x", self)).error()
             == errc::max_children);
  // temporary: not restarted
  self->send(*t, crash_atom::value);
  await_down(*t);
  BOOST_TEST(eventually([&] { return ref.count_children()->specs == 1; }));
  // permanent: restarted
  self->send(*p, crash_atom::value);
  auto p2 = next_hello().second;
  BOOST_TEST(p2 != *p);
  BOOST_TEST(ref.terminate_child(p2) == caf::none);
  auto counts = ref.count_children();
  BOOST_REQUIRE(counts);
  BOOST_TEST(counts->specs == 0u);
  stop(sup);
}

BOOST_AUTO_TEST_CASE(spawned_children_count_as_started_without_a_probe) {
  static_assert(start_ack::adopt == start_ack::spawned);
  auto f = flags(strategy::one_for_one);
  f.dynamic = true;
  auto sup = start(f, {});
  supervisor_ref ref{sys, sup};
  auto spec_of = [&](std::string id, start_fn fn) {
    auto spec = worker(std::move(id), std::move(fn), restart_type::temporary);
    spec.ack = start_ack::spawned;
    return spec;
  };
  // A worker that never processes a message (it blocks on a receive that
  // only its release unblocks) would never answer a probe: the start must
  // not wait for it.
  // (The unused int: CAF 0.17 dereferences a null tuple pointer for a
  // function actor without arguments, which UBSan reports.)
  auto blocked = std::make_shared<caf::actor>();
  auto res = ref.start_child(
    spec_of("blocked", [blocked](caf::actor_system& s)
                         -> caf::expected<caf::actor> {
      *blocked = s.spawn(
        [](caf::blocking_actor* me, int) { me->receive([](stop_atom) {}); },
        0);
      return *blocked;
    }));
  BOOST_REQUIRE(res);
  BOOST_REQUIRE(*blocked);
  BOOST_TEST(*res == *blocked);
  auto rows = ref.which_children();
  BOOST_REQUIRE(rows);
  BOOST_REQUIRE(rows->size() == 1u);
  BOOST_TEST(rows->front().child == *blocked);
  BOOST_TEST(rows->front().status == "running");
  auto node = sys.tree().find(blocked->id());
  BOOST_REQUIRE(node);
  BOOST_TEST(to_string(node->get_state()) == std::string{"running"});
  BOOST_TEST(node->parent == sup.id());
  // Its exit is noticed through the monitor like any child's.
  self->send(*blocked, stop_atom::value);
  await_down(*blocked);
  BOOST_TEST(eventually([&] { return ref.count_children()->specs == 0; }));
  // An actor that is gone by the time the supervisor takes it is dropped.
  caf::actor observer = self;
  auto gone = spawn_fn(sys.sys(), test_worker, observer, std::string{"g"},
                       worker_opts{});
  next_hello();
  self->send(gone, stop_atom::value);
  await_down(gone);
  BOOST_REQUIRE(ref.start_child(spec_of(
    "gone", [gone](caf::actor_system&) -> caf::expected<caf::actor> {
      return gone;
    })));
  BOOST_TEST(eventually([&] { return ref.count_children()->specs == 0; }));
  stop(sup);
}

BOOST_AUTO_TEST_CASE(tree_snapshot_shows_restarts) {
  auto sup = start(flags(strategy::one_for_one), {test_child("w", self)});
  auto w = next_hello().second;
  self->send(w, crash_atom::value);
  auto w2 = next_hello().second;
  // calls are served after the restart job: the child is acked by now
  supervisor_ref ref{sys, sup};
  BOOST_REQUIRE(ref.count_children());
  auto snap = sys.tree().snapshot(sup.id());
  BOOST_REQUIRE(snap);
  BOOST_TEST(snap->kind == "supervisor");
  BOOST_TEST(snap->name == "test_sup");
  BOOST_TEST(snap->details.at("strategy").as_string() == "one_for_one");
  BOOST_TEST(snap->details.at("child_restarts").to_number<int>() == 1);
  BOOST_REQUIRE(snap->children.size() == 1u);
  auto& child = snap->children[0];
  BOOST_TEST(child.id == w2.id());
  BOOST_TEST(child.name == "w");
  BOOST_TEST(child.restarts == 1u);
  BOOST_TEST(to_string(child.state) == std::string{"running"});
  BOOST_TEST(child.messages >= 1u); // the start probe at least
  BOOST_TEST(sys.tree().find(w.id()) == nullptr); // the dead one left
  stop(sup);
}

BOOST_AUTO_TEST_SUITE_END()
