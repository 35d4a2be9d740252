#include "actors/job_queue.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <random>
#include <thread>
#include <vector>

using fenix::detail::job_queue;

BOOST_AUTO_TEST_SUITE(job_queue_suite)

// The ring against std::deque, one thread: every operation at both ends,
// growing while wrapped around, running dry and refilling.
BOOST_AUTO_TEST_CASE(behaves_like_a_deque_at_both_ends) {
  std::vector<int> items(1000);
  job_queue<int> q;
  std::deque<int*> model;
  std::mt19937 rng{7};
  std::uniform_int_distribution<int> op{0, 9};
  std::uniform_int_distribution<size_t> pick{0, items.size() - 1};
  for (int i = 0; i < 200'000; ++i) {
    // Phases that favour pushing, then popping, so that the ring grows
    // several times with its head anywhere, and empties again.
    bool fill = (i / 5000) % 2 == 0;
    auto o = op(rng);
    if (fill ? o < 6 : o < 3) {
      auto* x = &items[pick(rng)];
      if (o % 2 == 0) {
        q.append(x);
        model.push_back(x);
      } else {
        q.prepend(x);
        model.push_front(x);
      }
    } else if (o % 2 == 0) {
      auto* x = q.take_head();
      BOOST_REQUIRE_EQUAL(x == nullptr, model.empty());
      if (x) {
        BOOST_REQUIRE_EQUAL(x, model.front());
        model.pop_front();
      }
    } else {
      auto* x = q.take_tail();
      BOOST_REQUIRE_EQUAL(x == nullptr, model.empty());
      if (x) {
        BOOST_REQUIRE_EQUAL(x, model.back());
        model.pop_back();
      }
    }
    BOOST_REQUIRE_EQUAL(q.empty(), model.empty());
  }
  while (auto* x = q.take_head()) {
    BOOST_REQUIRE_EQUAL(x, model.front());
    model.pop_front();
  }
  BOOST_TEST(model.empty());
}

// Producers at both ends, consumers at both ends, at once: every item is
// taken exactly once.
BOOST_AUTO_TEST_CASE(concurrent_ends_take_every_item_once) {
  constexpr int producers = 4;
  constexpr int per_producer = 50'000;
  constexpr int total = producers * per_producer;
  std::vector<int> items(total);
  std::vector<std::atomic<int>> taken(total);
  job_queue<int> q;
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      for (int k = 0; k < per_producer; ++k) {
        auto* x = &items[p * per_producer + k];
        if (k % 3 == 0)
          q.prepend(x);
        else
          q.append(x);
      }
    });
  // A lost item would keep the consumers looking: bounded, then counted.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
  for (int c = 0; c < 3; ++c)
    threads.emplace_back([&, c] {
      while (done.load() < total
             && std::chrono::steady_clock::now() < deadline) {
        auto* x = c == 0 ? q.take_tail() : q.take_head();
        if (x == nullptr) {
          std::this_thread::yield();
          continue;
        }
        taken[x - items.data()].fetch_add(1);
        done.fetch_add(1);
      }
    });
  for (auto& t : threads)
    t.join();
  BOOST_TEST(q.empty());
  int wrong = 0;
  for (auto& t : taken)
    wrong += t.load() != 1;
  BOOST_TEST(wrong == 0);
}

BOOST_AUTO_TEST_SUITE_END()
