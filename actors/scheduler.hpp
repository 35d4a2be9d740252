#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace caf {
class actor_system;
class actor_system_config;
} // namespace caf

namespace fenix {

/// How idle CAF workers wait for work (option `fenix.scheduler`).
///
/// `spin-park` (the default) is fenix's own scheduling policy for CAF's
/// coordinator. CAF's work-stealing policy polls when idle: after ~100
/// quick attempts it sleeps 50 us at a time, 500 times, before it blocks.
/// On a small machine that shares its cores with the peers of its sockets,
/// those sleeps are a system call and two context switches each and they
/// delay every job that lands on a sleeping worker; in the join benchmark
/// they were ~10 % of the server's CPU. spin-park keeps at most one idle
/// worker searching (it spins for `fenix.scheduler-spin-us`, yielding the
/// core, then blocks), and an enqueue wakes a blocked worker only when no
/// worker is searching. Jobs from other threads (inbound frames from the
/// io threads) go to one FIFO that every worker takes from, so they are
/// served oldest first by whichever worker is free. Messages an actor sends go
/// to its own worker's queue (run next, cache-hot) but count as enqueues too,
/// so a handler that blocks its thread never strands the jobs queued behind it
/// while a worker sleeps.
///
/// `caf` keeps CAF's own scheduler (`scheduler.policy`, `work-stealing.*`).
struct scheduler_options {
  std::string policy = "spin-park";
  /// How long the searching worker spins before it blocks.
  size_t spin_us = 50;
  /// A blocked worker looks for work at least this often (a safety net: an
  /// enqueue wakes it).
  size_t park_timeout_ms = 100;
};

/// Registers the spin-park coordinator with `cfg` (a module factory that
/// reads `opts` when the actor system starts; `opts` must outlive it).
void install_scheduler(caf::actor_system_config& cfg,
                       const scheduler_options* opts);

/// Idle workers of a spin-park scheduler right now (for tests and
/// inspection); nullopt under another scheduler.
struct scheduler_state {
  size_t searching = 0;
  size_t parked = 0;
  /// Terminated actors whose `cancel_timeouts` did not reach CAF's clock
  /// thread because they never set a timeout.
  uint64_t clock_cancels_skipped = 0;
  /// ... and those passed on to it.
  uint64_t clock_cancels_forwarded = 0;
};
std::optional<scheduler_state> scheduler_state_of(caf::actor_system& sys);

} // namespace fenix
