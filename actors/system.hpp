#pragma once

#include <functional>
#include <memory>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actors/names.hpp"
#include "actors/scheduler.hpp"
#include "actors/tree.hpp"

namespace fenix {

/// Configuration of a fenix process: CAF's own options (CLI flags and an INI
/// file, parsed by CAF) plus a `fenix` group. Applications subclass it to
/// add their options with `opt_group{custom_options_, "global"}`.
///
/// Defaults that differ from CAF's: `scheduler.max-threads` is 2, because
/// CAF's default of max(cores, 4) oversubscribes our 2-core machines.
class config : public caf::actor_system_config {
public:
  config();

  /// Log level of fenix's own logger (trace|debug|info|warning|error|quiet).
  std::string log_level;

  /// How CAF's workers wait for work (`fenix.scheduler*`).
  scheduler_options scheduler;

  /// Every option CAF knows for this config (for `boot`'s argv rewrite).
  const caf::config_option_set& option_set() const noexcept {
    return custom_options_;
  }
};

/// The per-actor-system state of the fenix runtime: names and the live
/// actor tree. Actors find it with `runtime_of(self->system())`.
class runtime {
public:
  actor_tree& tree() noexcept { return tree_; }
  name_registry& names() noexcept { return names_; }

private:
  actor_tree tree_;
  name_registry names_;
};

/// The runtime attached to `sys`; throws std::logic_error if `sys` was not
/// created by a fenix::system.
runtime& runtime_of(caf::actor_system& sys);
std::shared_ptr<runtime> runtime_ptr(caf::actor_system& sys);

/// An actor system with the fenix runtime attached. The runtime outlives
/// the actor system (actors may touch it until the last one has quit).
class system {
public:
  explicit system(config& cfg);
  ~system();
  system(const system&) = delete;
  system& operator=(const system&) = delete;

  caf::actor_system& sys() noexcept { return sys_; }
  operator caf::actor_system&() noexcept { return sys_; }
  runtime& rt() noexcept { return *rt_; }
  actor_tree& tree() noexcept { return rt_->tree(); }
  name_registry& names() noexcept { return rt_->names(); }

private:
  struct attach_guard {
    attach_guard(caf::actor_system* key, std::shared_ptr<runtime> rt);
    ~attach_guard();
    caf::actor_system* key;
  };

  std::shared_ptr<runtime> rt_;
  attach_guard guard_; // detached only after sys_ has shut down
  caf::actor_system sys_;
};

/// The one place a fenix process boots: parses CLI flags and the INI file
/// through CAF's config machinery (`--help` prints every option), sets up
/// logging, builds the actor system and runs `main` in it. Returns the exit
/// code for `main()`.
int boot(int argc, char** argv, config& cfg,
         const std::function<int(system&)>& main,
         const char* ini_file = "fenix.ini");

/// For servers that drain on Ctrl-C / SIGTERM: call first thing in `main`,
/// before `boot` starts any thread, so that every thread inherits the mask
/// and only `await_shutdown_signal` sees the signals.
void block_shutdown_signals();

/// Waits for SIGINT or SIGTERM (blocked by `block_shutdown_signals`) and
/// returns which one came.
int await_shutdown_signal();

} // namespace fenix
