#include "actors/scheduler.hpp"
#include "actors/system.hpp"

#include <caf/all.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

using namespace fenix;
using namespace std::chrono_literals;

namespace {

/// A config whose blocked workers never look for work on their own within
/// a test's lifetime: only the wake-ups under test can get work done.
struct no_safety_net_config : fenix::config {
  no_safety_net_config() { scheduler.park_timeout_ms = 600'000; }
};

/// Waits (bounded) until every worker of `sys` is blocked.
bool all_parked(caf::actor_system& sys, std::chrono::milliseconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    auto st = scheduler_state_of(sys);
    if (st && st->parked == sys.scheduler().num_workers())
      return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

// CAF 0.17 dereferences a null argument tuple when a function-based actor
// takes no arguments (UBSan): every actor here takes an unused tag.
constexpr int tag = 0;

} // namespace

BOOST_AUTO_TEST_SUITE(scheduler_suite)

BOOST_AUTO_TEST_CASE(idle_workers_block_instead_of_polling) {
  no_safety_net_config cfg;
  fenix::system sys{cfg};
  BOOST_REQUIRE(scheduler_state_of(sys.sys()).has_value());
  BOOST_TEST(sys.sys().scheduler().num_workers() == 2u);
  BOOST_TEST(all_parked(sys.sys(), 5s));
  // An enqueue from outside wakes one, and they block again afterwards.
  auto echo = sys.sys().spawn(
      [](int) -> caf::behavior { return {[](int x) { return x + 1; }}; }, tag);
  caf::scoped_actor self{sys.sys()};
  int got = 0;
  self->request(echo, 5s, 41)
      .receive([&](int y) { got = y; }, [&](caf::error&) {});
  BOOST_TEST(got == 42);
  BOOST_TEST(all_parked(sys.sys(), 5s));
  self->send_exit(echo, caf::exit_reason::user_shutdown);
}

// The message lands in the blocking sender's own queue. Unless sending it
// woke the other (blocked) worker, it would wait for the sender to finish,
// which waits for it: the sender gives up after 5 s and answers false.
BOOST_AUTO_TEST_CASE(a_message_queued_behind_a_blocking_handler_still_runs) {
  no_safety_net_config cfg;
  fenix::system sys{cfg};
  auto& s = sys.sys();
  auto seen = std::make_shared<std::promise<void>>();
  auto receiver = s.spawn(
      [seen](int) -> caf::behavior {
        return {[seen](int) { seen->set_value(); }};
      },
      tag);
  auto blocker = s.spawn(
      [seen, receiver](caf::event_based_actor* self, int) -> caf::behavior {
        return {[=](int) {
          self->send(receiver, 1);
          // Blocks this worker thread, as a slow user handler would.
          auto f = seen->get_future();
          return f.wait_for(5s) == std::future_status::ready;
        }};
      },
      tag);
  BOOST_REQUIRE(all_parked(s, 5s));
  caf::scoped_actor self{s};
  bool ran = false;
  self->request(blocker, 20s, 1)
      .receive([&](bool ok) { ran = ok; }, [&](caf::error&) {});
  BOOST_TEST(ran);
  self->send_exit(blocker, caf::exit_reason::user_shutdown);
  self->send_exit(receiver, caf::exit_reason::user_shutdown);
}

// Lost wake-ups would show as a request that never gets its reply (no
// safety net here). Pauses of 0-200 us between requests hit the moments
// when a worker stops spinning and blocks.
BOOST_AUTO_TEST_CASE(no_wakeup_is_lost_at_the_spin_to_block_boundary) {
  no_safety_net_config cfg;
  fenix::system sys{cfg};
  auto& s = sys.sys();
  // A chain of two actors so that each request also crosses an internal
  // enqueue.
  auto tail = s.spawn(
      [](int) -> caf::behavior { return {[](int x) { return x * 2; }}; }, tag);
  auto head = s.spawn(
      [tail](caf::event_based_actor* self, int) -> caf::behavior {
        return {[=](int x) { return self->delegate(tail, x + 1); }};
      },
      tag);
  std::mt19937 rng{42};
  std::uniform_int_distribution<int> pause_us{0, 200};
  auto run = [&](int rounds, int base) {
    caf::scoped_actor self{s};
    int failures = 0;
    for (int i = 0; i < rounds; ++i) {
      int got = -1;
      self->request(head, 5s, base + i)
          .receive([&](int y) { got = y; }, [&](caf::error&) {});
      if (got != (base + i + 1) * 2)
        ++failures;
      auto until = std::chrono::steady_clock::now() +
                   std::chrono::microseconds{pause_us(rng)};
      while (std::chrono::steady_clock::now() < until)
        ; // busy pause: a sleep would add the OS timer slack
    }
    return failures;
  };
  BOOST_TEST(run(1500, 0) == 0);
  // Several outside threads enqueueing at once.
  std::vector<std::future<int>> others;
  for (int t = 0; t < 3; ++t)
    others.push_back(std::async(std::launch::async, [&, t] {
      caf::scoped_actor self{s};
      int failures = 0;
      for (int i = 0; i < 500; ++i) {
        int got = -1;
        self->request(head, 5s, t * 1000 + i)
            .receive([&](int y) { got = y; }, [&](caf::error&) {});
        if (got != (t * 1000 + i + 1) * 2)
          ++failures;
      }
      return failures;
    }));
  for (auto& f : others)
    BOOST_TEST(f.get() == 0);
  caf::scoped_actor self{s};
  self->send_exit(head, caf::exit_reason::user_shutdown);
  self->send_exit(tail, caf::exit_reason::user_shutdown);
}

// Hundreds of actors made runnable at once from several outside threads,
// each forwarding to the next on a worker: the job queues grow past their
// first ring, are stolen from and run dry again, with no safety net. Every
// message must be handled exactly once, and the last one must be observed
// by the waiting test through a reply, not a timer.
BOOST_AUTO_TEST_CASE(a_storm_of_jobs_loses_none) {
  no_safety_net_config cfg;
  fenix::system sys{cfg};
  auto& s = sys.sys();
  constexpr int n_actors = 300;
  constexpr int hops = 5;
  constexpr int n_threads = 4;
  constexpr int per_thread = 2000;
  constexpr int expected = n_threads * per_thread * (hops + 1);
  auto ring = std::make_shared<std::vector<caf::actor>>();
  auto handled = std::make_shared<std::atomic<int>>(0);
  caf::scoped_actor waiter{s};
  auto done = caf::actor_cast<caf::actor>(waiter);
  for (int i = 0; i < n_actors; ++i)
    ring->push_back(s.spawn(
      [ring, handled, done, i](caf::event_based_actor* self,
                               int) -> caf::behavior {
        return {[=](int left) {
          if (handled->fetch_add(1) + 1 == expected)
            self->send(done, caf::ok_atom::value);
          if (left > 0)
            self->send((*ring)[(i + 1) % n_actors], left - 1);
        }};
      },
      tag));
  std::vector<std::thread> senders;
  for (int t = 0; t < n_threads; ++t)
    senders.emplace_back([&, t] {
      for (int k = 0; k < per_thread; ++k)
        caf::anon_send((*ring)[(t * 7919 + k * 31) % n_actors], hops);
    });
  for (auto& th : senders)
    th.join();
  bool all = false;
  waiter->receive([&](caf::ok_atom) { all = true; },
                  caf::after(30s) >> [] {});
  BOOST_TEST(all);
  BOOST_TEST(handled->load() == expected);
  // Wait for every actor to end before dropping the ring they read (on a
  // failure above, messages may still be moving).
  for (auto& a : *ring) {
    waiter->monitor(a);
    waiter->send_exit(a, caf::exit_reason::user_shutdown);
  }
  int downs = 0;
  bool stuck = false;
  waiter->receive_while([&] { return downs < n_actors && !stuck; })(
    [&](caf::down_msg&) { ++downs; },
    caf::after(30s) >> [&] { stuck = true; });
  BOOST_TEST(downs == n_actors);
  ring->clear();
}

// With one worker held by a blocking handler, jobs enqueued from outside
// the workers must reach the free worker oldest first. Dealt round-robin
// into per-worker queues, every other one would wait for the blocked
// worker (or be stolen from the tail of its queue, newest first).
BOOST_AUTO_TEST_CASE(jobs_from_outside_are_served_in_arrival_order) {
  no_safety_net_config cfg;
  fenix::system sys{cfg};
  auto& s = sys.sys();
  constexpr int n = 12;
  struct record {
    std::mutex mtx;
    std::vector<int> order;
    std::promise<void> all_seen;
  };
  auto rec = std::make_shared<record>();
  std::vector<caf::actor> recorders;
  for (int k = 0; k < n; ++k)
    recorders.push_back(s.spawn(
        [rec](int) -> caf::behavior {
          return {[rec](int k) {
            std::lock_guard<std::mutex> guard{rec->mtx};
            rec->order.push_back(k);
            if (rec->order.size() == static_cast<size_t>(n))
              rec->all_seen.set_value();
          }};
        },
        tag));
  auto holding = std::make_shared<std::promise<void>>();
  auto release = std::make_shared<std::promise<void>>();
  auto blocker = s.spawn(
      [holding, release](int) -> caf::behavior {
        return {[holding, release](int) {
          holding->set_value();
          release->get_future().wait_for(10s); // a slow user handler
        }};
      },
      tag);
  BOOST_REQUIRE(all_parked(s, 5s)); // every actor initialized
  caf::anon_send(blocker, 1);
  BOOST_REQUIRE(holding->get_future().wait_for(5s) ==
                std::future_status::ready);
  for (int k = 0; k < n; ++k)
    caf::anon_send(recorders[k], k);
  auto done = rec->all_seen.get_future().wait_for(5s);
  release->set_value();
  BOOST_REQUIRE(done == std::future_status::ready);
  std::vector<int> expected(n);
  for (int k = 0; k < n; ++k)
    expected[k] = k;
  {
    std::lock_guard<std::mutex> guard{rec->mtx};
    BOOST_TEST(rec->order == expected, boost::test_tools::per_element());
  }
  caf::scoped_actor self{s};
  for (auto& r : recorders)
    self->send_exit(r, caf::exit_reason::user_shutdown);
  self->send_exit(blocker, caf::exit_reason::user_shutdown);
}

// Terminating actors that never set a timeout do not reach CAF's clock
// thread; timeouts of every kind still fire, and an actor that set one
// still has it cancelled when it ends.
BOOST_AUTO_TEST_CASE(actors_without_timeouts_end_without_the_clock) {
  fenix::config cfg;
  fenix::system sys{cfg};
  auto& s = sys.sys();
  caf::scoped_actor self{s};
  auto skipped = [&] { return scheduler_state_of(s)->clock_cancels_skipped; };
  auto forwarded = [&] {
    return scheduler_state_of(s)->clock_cancels_forwarded;
  };
  // An actor's cleanup sends its DOWN messages before it cancels its
  // timeouts, and nothing reports the latter: wait for the count, bounded.
  auto reaches = [](auto counter, uint64_t target) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (counter() < target && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    return counter() >= target;
  };
  auto before = skipped();
  constexpr int n = 200;
  std::vector<caf::actor> quitters;
  for (int i = 0; i < n; ++i)
    quitters.push_back(s.spawn(
      [](caf::event_based_actor* a, int) -> caf::behavior {
        return {[=](int) { a->quit(); }};
      },
      tag));
  for (auto& q : quitters) {
    self->monitor(q);
    self->send(q, 1);
  }
  int downs = 0;
  self->receive_for(downs, n)([](caf::down_msg&) {});
  BOOST_TEST(reaches(skipped, before + n));
  // A receive timeout fires (and the actor that set it has its cancel
  // passed on when it ends).
  auto forwarded_at_start = forwarded();
  auto waiter = s.spawn(
    [](caf::event_based_actor* a, caf::actor report, int) -> caf::behavior {
      return {[](int) {},
              caf::after(20ms) >> [=] {
                a->send(report, caf::ok_atom::value);
                a->quit();
              }};
    },
    caf::actor_cast<caf::actor>(self), tag);
  self->monitor(waiter);
  bool fired = false;
  self->receive([&](caf::ok_atom) { fired = true; }, caf::after(10s) >> [] {});
  BOOST_TEST(fired);
  self->receive([](caf::down_msg&) {}, caf::after(10s) >> [] {});
  BOOST_TEST(reaches(forwarded, forwarded_at_start + 1));
  // A request to an actor that never answers times out.
  auto mute = s.spawn(
    [](int) -> caf::behavior {
      return {[](int) -> caf::result<int> { return caf::delegated<int>{}; }};
    },
    tag);
  bool timed_out = false;
  self->request(mute, 50ms, 1)
    .receive([](int) {},
             [&](caf::error& e) { timed_out = e == caf::sec::request_timeout; });
  BOOST_TEST(timed_out);
  // A delayed message arrives.
  self->delayed_send(self, 20ms, caf::ok_atom::value);
  bool delayed = false;
  self->receive([&](caf::ok_atom) { delayed = true; }, caf::after(10s) >> [] {});
  BOOST_TEST(delayed);
  // An actor with a pending receive timeout that is killed: its timeout is
  // cancelled with it (passed on to CAF's clock, not skipped).
  auto sleeper = s.spawn(
    [](int) -> caf::behavior {
      return {[](int) {}, caf::after(std::chrono::seconds{3600}) >> [] {}};
    },
    tag);
  self->monitor(sleeper);
  self->request(sleeper, 10s, 1).receive([] {}, [](caf::error&) {});
  auto skipped_before = skipped();
  auto forwarded_before = forwarded();
  self->send_exit(sleeper, caf::exit_reason::kill);
  self->receive([](caf::down_msg&) {});
  BOOST_TEST(reaches(forwarded, forwarded_before + 1));
  BOOST_TEST(skipped() == skipped_before);
  self->send_exit(mute, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(fenix_scheduler_caf_keeps_cafs_work_stealing) {
  fenix::config cfg;
  cfg.scheduler.policy = "caf";
  fenix::system sys{cfg};
  BOOST_TEST(!scheduler_state_of(sys.sys()).has_value());
  auto echo = sys.sys().spawn(
      [](int) -> caf::behavior { return {[](int x) { return x + 1; }}; }, tag);
  caf::scoped_actor self{sys.sys()};
  int got = 0;
  self->request(echo, 5s, 1)
      .receive([&](int y) { got = y; }, [&](caf::error&) {});
  BOOST_TEST(got == 2);
  self->send_exit(echo, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
