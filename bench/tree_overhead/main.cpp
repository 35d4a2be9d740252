// What does recording an actor in the live tree cost on the hot path?
// Ping-pong between two actors, once as plain CAF actors and once as
// fenix::actor (one relaxed atomic add + a mailbox sample per message),
// interleaved rounds, best of each. Prints JSON.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/actor.hpp"
#include "actors/system.hpp"

using namespace std::chrono;

namespace {

using ping_atom = caf::atom_constant<caf::atom("bping")>;

template <class Base>
class pinger : public Base {
public:
  pinger(caf::actor_config& cfg, caf::actor peer, int rounds,
         caf::response_promise* unused = nullptr)
      : Base(cfg), peer_(std::move(peer)), left_(rounds) {
    (void) unused;
  }
  caf::behavior make_behavior() override {
    return {
      [this](ping_atom, int) {
        if (--left_ == 0) {
          this->quit();
          return;
        }
        this->send(peer_, ping_atom::value, left_);
      },
    };
  }

private:
  caf::actor peer_;
  int left_;
};

template <class Base>
class ponger : public Base {
public:
  explicit ponger(caf::actor_config& cfg) : Base(cfg) {
  }
  caf::behavior make_behavior() override {
    return {[this](ping_atom, int x) {
      this->send(caf::actor_cast<caf::actor>(this->current_sender()),
                 ping_atom::value, x);
    }};
  }
};

template <class Base>
double run_once(caf::actor_system& sys, int rounds) {
  caf::scoped_actor self{sys};
  auto pong = sys.spawn<ponger<Base>>();
  auto ping = sys.spawn<pinger<Base>>(pong, rounds);
  self->monitor(ping);
  auto t0 = steady_clock::now();
  // The first message comes "from" ping, so pong answers to ping.
  caf::send_as(ping, pong, ping_atom::value, rounds);
  self->receive([](caf::down_msg&) {});
  auto ns = duration_cast<nanoseconds>(steady_clock::now() - t0).count();
  self->send_exit(pong, caf::exit_reason::kill);
  // two messages per round trip
  return static_cast<double>(ns) / (2.0 * rounds);
}

} // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 500000;
  int reps = argc > 2 ? std::atoi(argv[2]) : 5;
  // "plain" or "fenix" runs one kind only, for instruction counts under
  // callgrind (bench/README.md); default runs both, interleaved.
  std::string only = argc > 3 ? argv[3] : "";
  fenix::config cfg;
  fenix::system sys{cfg};
  double best_plain = 1e18, best_fenix = 1e18;
  for (int i = 0; i < reps; ++i) {
    if (only != "fenix")
      best_plain = std::min(best_plain,
                            run_once<caf::event_based_actor>(sys, rounds));
    if (only != "plain")
      best_fenix = std::min(best_fenix, run_once<fenix::actor>(sys, rounds));
  }
  std::printf("{\"bench\":\"tree_overhead\",\"rounds\":%d,\"reps\":%d,"
              "\"plain_caf_ns_per_msg\":%.1f,\"fenix_actor_ns_per_msg\":%.1f,"
              "\"overhead_ns_per_msg\":%.1f,\"ratio\":%.3f}\n",
              rounds, reps, best_plain, best_fenix, best_fenix - best_plain,
              best_fenix / best_plain);
  return 0;
}
