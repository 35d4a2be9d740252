// Presence micro-benchmark: is a join on a busy topic O(change), not O(n)?
//
// For each topic size N it fills one topic with N presences, then times
// (a) track + make_diff of one more presence, (b) untrack + make_diff,
// (c) update + make_diff, (d) merging a one-change delta into a peer that
// holds the same N presences, and (e) one full list() for comparison.
// Prints one JSON object on stdout.
//
// Usage: fenix_bench_presence [iterations]   (default 20000)

#include "channels/presence_state.hpp"

#include <boost/json/serialize.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace fenix::channels;
namespace json = boost::json;
using bench_clock = std::chrono::steady_clock;

namespace {

/// Keeps the optimiser from dropping work whose result is unused.
volatile size_t sink = 0;

template <class F>
double ns_per_op(size_t iterations, F&& f) {
  auto start = bench_clock::now();
  for (size_t i = 0; i < iterations; ++i)
    f(i);
  std::chrono::duration<double, std::nano> d = bench_clock::now() - start;
  return d.count() / static_cast<double>(iterations);
}

json::object meta() {
  return json::object{{"online_at", 1700000000}, {"device", "browser"}};
}

json::object run(size_t n, size_t iterations) {
  const std::string topic = "room:lobby";
  presence_state a{replica_id{"a@bench", 1}};
  presence_state b{replica_id{"b@bench", 1}};
  for (uint64_t i = 0; i < n; ++i)
    a.track(topic, i, "user:" + std::to_string(i), meta());
  b.merge(a.extract_delta());

  // Owners above n are the ones coming and going during the measurement.
  auto join = ns_per_op(iterations, [&](size_t i) {
    auto c = a.track(topic, n + i, "user:x" + std::to_string(i), meta());
    sink = sink + make_diff(*c, topic).size();
  });
  auto update = ns_per_op(iterations, [&](size_t i) {
    auto c = a.update(topic, n + i, "user:x" + std::to_string(i), meta());
    sink = sink + make_diff(*c, topic).size();
  });
  auto leave = ns_per_op(iterations, [&](size_t i) {
    auto c = a.untrack(topic, n + i, "user:x" + std::to_string(i));
    sink = sink + make_diff(c, topic).size();
  });
  a.extract_delta();
  b.merge(a.snapshot());

  // One change per delta, as a peer sees it at each heartbeat.
  auto merge = ns_per_op(iterations, [&](size_t i) {
    auto key = "user:y" + std::to_string(i);
    if (i % 2 == 0)
      a.track(topic, 2 * n + i / 2, key, meta());
    else
      a.untrack(topic, 2 * n + i / 2, "user:y" + std::to_string(i - 1));
    auto c = b.merge(a.extract_delta());
    sink = sink + make_diffs(c).size();
  });

  size_t list_runs = n >= 10000 ? 20 : 200;
  auto list =
      ns_per_op(list_runs, [&](size_t) { sink = sink + a.list(topic).size(); });

  return json::object{{"presences", n},
                      {"join_diff_ns", std::llround(join)},
                      {"update_diff_ns", std::llround(update)},
                      {"leave_diff_ns", std::llround(leave)},
                      {"delta_merge_ns", std::llround(merge)},
                      {"list_us", std::llround(list / 1000.0)}};
}

} // namespace

int main(int argc, char** argv) {
  size_t iterations = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20000;
  if (iterations == 0) {
    std::fprintf(stderr, "usage: %s [iterations]\n", argv[0]);
    return 2;
  }
  json::array results;
  for (size_t n : {100, 1000, 10000})
    results.emplace_back(run(n, iterations));
#ifdef NDEBUG
  const char* build = "release";
#else
  const char* build = "debug";
#endif
  json::object out{{"bench", "presence"},
                   {"build", build},
                   {"iterations", iterations},
                   {"results", std::move(results)}};
  std::printf("%s\n", json::serialize(out).c_str());
  return 0;
}
