// The supervisor's decision logic, driven without actors: made-up actor
// ids, made-up times.
#include "supervision/supervisor_core.hpp"

#include <boost/test/unit_test.hpp>

#include "tests/common/printers.hpp"

using namespace fenix;
using namespace std::chrono_literals;
using core = supervisor_core;

namespace {

child_spec spec(std::string id, restart_type r = restart_type::permanent) {
  return worker(std::move(id),
                [](caf::actor_system&) -> caf::expected<caf::actor> {
                  return caf::actor{};
                },
                r);
}

child_spec significant(std::string id, restart_type r) {
  auto s = spec(std::move(id), r);
  s.significant = true;
  return s;
}

struct fixture {
  core::clock::time_point t0 = core::clock::now();

  /// Adds children a, b, c (or the given specs) and marks them running
  /// with pids 1, 2, 3.
  std::vector<core::slot_id> populate(core& c, std::vector<child_spec> specs) {
    std::vector<core::slot_id> slots;
    core::pid_type pid = 1;
    for (auto& s : specs) {
      auto slot = c.add(std::move(s), true);
      BOOST_REQUIRE(slot);
      c.started(*slot, pid++);
      slots.push_back(*slot);
    }
    return slots;
  }
};

supervisor_flags flags(strategy s, size_t max_r = 3,
                       std::chrono::milliseconds max_t = 5s) {
  supervisor_flags f;
  f.strategy = s;
  f.max_restarts = max_r;
  f.max_seconds = max_t;
  return f;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(supervisor_core_suite, fixture)

BOOST_AUTO_TEST_CASE(defaults_are_elixirs) {
  supervisor_flags f;
  BOOST_TEST(f.max_restarts == 3u);
  BOOST_TEST(f.max_seconds.count() == 5000);
  BOOST_TEST((f.strategy == strategy::one_for_one));
  auto w = spec("w");
  BOOST_TEST(w.effective_shutdown().timeout.count() == 5000);
  w.type = child_type::supervisor;
  BOOST_TEST((w.effective_shutdown().how == shutdown_spec::mode::infinity));
}

BOOST_AUTO_TEST_CASE(one_for_one_restarts_only_the_failed_child) {
  core c{flags(strategy::one_for_one)};
  auto s = populate(c, {spec("a"), spec("b"), spec("c")});
  auto p = c.child_exited(2, exit_kind::abnormal, t0);
  BOOST_TEST(p.stop.empty());
  BOOST_TEST(p.start == std::vector<core::slot_id>{s[1]});
  BOOST_TEST(!p.give_up);
  BOOST_TEST(c.find(s[1])->restarts == 1u);
}

BOOST_AUTO_TEST_CASE(one_for_all_stops_others_in_reverse_and_starts_all) {
  core c{flags(strategy::one_for_all)};
  auto s = populate(c, {spec("a"), spec("b"), spec("c")});
  auto p = c.child_exited(2, exit_kind::abnormal, t0);
  BOOST_TEST(p.stop == (std::vector<core::slot_id>{s[2], s[0]}));
  BOOST_TEST(p.start == (std::vector<core::slot_id>{s[0], s[1], s[2]}));
}

BOOST_AUTO_TEST_CASE(rest_for_one_restarts_the_failed_and_later_children) {
  core c{flags(strategy::rest_for_one)};
  auto s = populate(c, {spec("a"), spec("b"), spec("c"), spec("d")});
  auto p = c.child_exited(2, exit_kind::abnormal, t0);
  BOOST_TEST(p.stop == (std::vector<core::slot_id>{s[3], s[2]}));
  BOOST_TEST(p.start == (std::vector<core::slot_id>{s[1], s[2], s[3]}));
}

BOOST_AUTO_TEST_CASE(temporary_siblings_are_stopped_but_not_restarted) {
  core c{flags(strategy::one_for_all)};
  auto s = populate(c, {spec("a"), spec("t", restart_type::temporary),
                        spec("b")});
  auto p = c.child_exited(3, exit_kind::abnormal, t0);
  BOOST_TEST(p.stop == (std::vector<core::slot_id>{s[1], s[0]}));
  BOOST_TEST(p.start == (std::vector<core::slot_id>{s[0], s[2]}));
  c.stopped(s[1]);
  BOOST_TEST(c.find(s[1]) == nullptr); // dropped like OTP does
}

BOOST_AUTO_TEST_CASE(restart_types_follow_otp) {
  core c{flags(strategy::one_for_one)};
  auto s = populate(c, {spec("p"), spec("tr", restart_type::transient),
                        spec("tm", restart_type::temporary)});
  // permanent: restarted even after a normal exit
  BOOST_TEST(c.child_exited(1, exit_kind::normal, t0).start.size() == 1u);
  // transient: not restarted on normal or shutdown, spec kept
  BOOST_TEST(c.child_exited(2, exit_kind::shutdown, t0).empty());
  BOOST_REQUIRE(c.find(s[1]) != nullptr);
  BOOST_TEST(to_string(c.find(s[1])->state) == std::string{"undefined"});
  c.started(s[1], 22);
  BOOST_TEST(c.child_exited(22, exit_kind::abnormal, t0).start
             == std::vector<core::slot_id>{s[1]});
  // temporary: never restarted, spec dropped
  BOOST_TEST(c.child_exited(3, exit_kind::abnormal, t0).empty());
  BOOST_TEST(c.find(s[2]) == nullptr);
}

BOOST_AUTO_TEST_CASE(intensity_window_gives_up_past_max_restarts) {
  core c{flags(strategy::one_for_one, 2, 5s)};
  populate(c, {spec("a"), spec("b")});
  auto p1 = c.child_exited(1, exit_kind::abnormal, t0);
  BOOST_TEST(!p1.give_up);
  c.started(p1.start[0], 11);
  auto p2 = c.child_exited(11, exit_kind::abnormal, t0 + 1s);
  BOOST_TEST(!p2.give_up);
  c.started(p2.start[0], 12);
  // third restart within 5 s: more than 2 -> give up, stop all running
  auto p3 = c.child_exited(12, exit_kind::abnormal, t0 + 2s);
  BOOST_TEST(p3.give_up);
  BOOST_TEST(p3.stop.size() == 1u); // only b still runs
}

BOOST_AUTO_TEST_CASE(old_restarts_leave_the_window) {
  core c{flags(strategy::one_for_one, 1, 5s)};
  populate(c, {spec("a")});
  auto p1 = c.child_exited(1, exit_kind::abnormal, t0);
  c.started(p1.start[0], 11);
  // 6 s later the first restart is outside the 5 s period
  auto p2 = c.child_exited(11, exit_kind::abnormal, t0 + 6s);
  BOOST_TEST(!p2.give_up);
  c.started(p2.start[0], 12);
  auto p3 = c.child_exited(12, exit_kind::abnormal, t0 + 7s);
  BOOST_TEST(p3.give_up);
}

BOOST_AUTO_TEST_CASE(intensity_zero_gives_up_on_first_crash) {
  core c{flags(strategy::one_for_one, 0, 5s)};
  populate(c, {spec("a")});
  BOOST_TEST(c.child_exited(1, exit_kind::abnormal, t0).give_up);
}

BOOST_AUTO_TEST_CASE(failed_restart_marks_restarting_and_counts) {
  core c{flags(strategy::one_for_one, 1, 5s)};
  auto s = populate(c, {spec("a")});
  auto p1 = c.child_exited(1, exit_kind::abnormal, t0);
  BOOST_TEST(!p1.give_up);
  auto p2 = c.restart_failed(s[0], t0 + 1ms);
  BOOST_TEST(to_string(c.find(s[0])->state) == std::string{"restarting"});
  BOOST_TEST(p2.give_up); // the retry is the second restart in the window
}

BOOST_AUTO_TEST_CASE(duplicate_ids_and_table_operations) {
  core c{flags(strategy::one_for_one)};
  populate(c, {spec("a")});
  auto dup = c.add(spec("a"));
  BOOST_REQUIRE(!dup);
  BOOST_TEST(dup.error() == errc::already_started);
  BOOST_TEST(!c.add(spec("b"), true) == false);
  auto dup_init = c.add(spec("b"), true);
  BOOST_TEST(dup_init.error() == errc::duplicate_child_name);
  auto counts = c.count_children();
  BOOST_TEST(counts.specs == 2u);
  BOOST_TEST(counts.active == 1u);
  BOOST_TEST(counts.workers == 2u);
  auto rows = c.which_children();
  BOOST_TEST(rows.size() == 2u);
  BOOST_TEST(rows[0].status == "running");
  BOOST_TEST(rows[1].status == "undefined");
  BOOST_TEST(c.shutdown_order().size() == 1u);
}

BOOST_AUTO_TEST_CASE(dynamic_supervisors_allow_duplicates_and_cap_children) {
  auto f = flags(strategy::one_for_all);
  f.dynamic = true;
  f.max_children = 2;
  core c{f};
  BOOST_TEST((c.flags().strategy == strategy::one_for_one));
  BOOST_REQUIRE(c.add(spec("x")));
  BOOST_REQUIRE(c.add(spec("x")));
  auto third = c.add(spec("x"));
  BOOST_REQUIRE(!third);
  BOOST_TEST(third.error() == errc::max_children);
}

BOOST_AUTO_TEST_CASE(shutdown_order_is_reverse_start_order) {
  core c{flags(strategy::one_for_one)};
  auto s = populate(c, {spec("a"), spec("b"), spec("c")});
  BOOST_TEST(c.shutdown_order()
             == (std::vector<core::slot_id>{s[2], s[1], s[0]}));
}

BOOST_AUTO_TEST_CASE(exit_reasons_are_classified_like_otp) {
  BOOST_TEST(to_string(classify_exit(caf::error{})) == std::string{"normal"});
  BOOST_TEST(to_string(classify_exit(caf::exit_reason::normal))
             == std::string{"normal"});
  BOOST_TEST(to_string(classify_exit(caf::exit_reason::user_shutdown))
             == std::string{"shutdown"});
  BOOST_TEST(to_string(classify_exit(shutdown_reason("x")))
             == std::string{"shutdown"});
  BOOST_TEST(to_string(classify_exit(caf::exit_reason::kill))
             == std::string{"abnormal"});
  BOOST_TEST(to_string(classify_exit(caf::sec::runtime_error))
             == std::string{"abnormal"});
}

BOOST_AUTO_TEST_CASE(significant_children_need_auto_shutdown_and_a_restart_type) {
  core never{flags(strategy::one_for_one)};
  BOOST_TEST((never.flags().auto_shutdown == auto_shutdown_mode::never));
  auto r = never.add(significant("s", restart_type::transient));
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error() == errc::invalid_spec);
  auto f = flags(strategy::one_for_one);
  f.auto_shutdown = auto_shutdown_mode::any_significant;
  core any{f};
  auto p = any.add(significant("p", restart_type::permanent), true);
  BOOST_REQUIRE(!p);
  BOOST_TEST(p.error() == errc::invalid_spec);
  BOOST_TEST(static_cast<bool>(any.add(significant("t", restart_type::transient))));
  BOOST_TEST(static_cast<bool>(any.add(significant("m", restart_type::temporary))));
}

BOOST_AUTO_TEST_CASE(any_significant_ends_on_a_significant_childs_own_end) {
  auto f = flags(strategy::one_for_one);
  f.auto_shutdown = auto_shutdown_mode::any_significant;
  {
    // transient: a normal or shutdown exit ends the supervisor; every
    // running child is then stopped, newest first
    core c{f};
    auto s = populate(c, {spec("a"), significant("t", restart_type::transient),
                          spec("b")});
    auto p = c.child_exited(2, exit_kind::normal, t0);
    BOOST_TEST(p.auto_shutdown);
    BOOST_TEST(!p.give_up);
    BOOST_TEST(p.start.empty());
    BOOST_TEST(p.stop == (std::vector<core::slot_id>{s[2], s[0]}));
  }
  {
    core c{f};
    populate(c, {significant("t", restart_type::transient)});
    BOOST_TEST(c.child_exited(1, exit_kind::shutdown, t0).auto_shutdown);
  }
  {
    // ... but a crash is restarted like any transient child's
    core c{f};
    auto s = populate(c, {significant("t", restart_type::transient)});
    auto p = c.child_exited(1, exit_kind::abnormal, t0);
    BOOST_TEST(!p.auto_shutdown);
    BOOST_TEST(p.start == std::vector<core::slot_id>{s[0]});
  }
  {
    // temporary: any exit, a crash too
    core c{f};
    populate(c, {significant("m", restart_type::temporary)});
    BOOST_TEST(c.child_exited(1, exit_kind::abnormal, t0).auto_shutdown);
  }
  {
    // children that are not significant never end the supervisor
    core c{f};
    populate(c, {spec("t", restart_type::transient),
                 spec("m", restart_type::temporary)});
    BOOST_TEST(c.child_exited(1, exit_kind::normal, t0).empty());
    BOOST_TEST(c.child_exited(2, exit_kind::abnormal, t0).empty());
  }
}

BOOST_AUTO_TEST_CASE(all_significant_waits_for_the_last_significant_child) {
  auto f = flags(strategy::one_for_one);
  f.auto_shutdown = auto_shutdown_mode::all_significant;
  core c{f};
  auto s = populate(c, {significant("x", restart_type::temporary),
                        significant("y", restart_type::transient),
                        significant("z", restart_type::transient),
                        spec("other")});
  BOOST_TEST(c.child_exited(1, exit_kind::normal, t0).empty());
  // y crashes and its restart fails: while it waits for a retry it still
  // counts, as OTP's {restarting, Pid} does
  auto p = c.child_exited(2, exit_kind::abnormal, t0);
  BOOST_REQUIRE(p.start == std::vector<core::slot_id>{s[1]});
  c.restart_failed(s[1], t0);
  BOOST_TEST(!c.child_exited(3, exit_kind::normal, t0).auto_shutdown);
  c.started(s[1], 22);
  auto last = c.child_exited(22, exit_kind::shutdown, t0);
  BOOST_TEST(last.auto_shutdown);
  BOOST_TEST(last.stop == std::vector<core::slot_id>{s[3]});
}

BOOST_AUTO_TEST_CASE(ends_the_supervisor_caused_never_count) {
  auto f = flags(strategy::one_for_all);
  f.auto_shutdown = auto_shutdown_mode::all_significant;
  core c{f};
  auto s = populate(c, {significant("x", restart_type::transient),
                        significant("y", restart_type::transient),
                        spec("w")});
  // a sibling crash stops x and y: stopped by the supervisor, so no plan
  // says auto_shutdown, and both are started again
  auto p = c.child_exited(3, exit_kind::abnormal, t0);
  BOOST_TEST(!p.auto_shutdown);
  BOOST_TEST(p.stop == (std::vector<core::slot_id>{s[1], s[0]}));
  c.stopped(s[1]);
  c.stopped(s[0]);
  BOOST_TEST(p.start.size() == 3u);
  c.started(s[0], 11);
  c.started(s[1], 12);
  c.started(s[2], 13);
  // terminate_child of x: not by itself either; afterwards x is not
  // running, so y's own end is the end of the last significant child
  c.stopped(s[0]);
  BOOST_TEST(c.find(s[0]) != nullptr); // transient spec kept
  BOOST_TEST(c.child_exited(12, exit_kind::normal, t0).auto_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
