#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/timespan.hpp>

#include "actors/blocking_pool.hpp"
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

  /// Threads of the runtime's blocking pool (`fenix.blocking-threads`).
  size_t blocking_threads = 4;

  /// How CAF's workers wait for work (`fenix.scheduler*`).
  scheduler_options scheduler;

  /// Once the process was asked to end (its application supervisor ended
  /// on its own), how long `main` and the teardown may take before `boot`'s
  /// watchdog ends the process anyway (`fenix.exit-grace`).
  caf::timespan exit_grace = std::chrono::seconds{30};

  /// Every option CAF knows for this config (for `boot`'s argv rewrite).
  const caf::config_option_set& option_set() const noexcept {
    return custom_options_;
  }
};

/// Why and with which status a process asked itself to end.
struct exit_request {
  int status = 0;
  std::string reason;
};

/// The per-actor-system state of the fenix runtime: names, the live actor
/// tree, the application root and whether the process should end. Actors
/// find it with `runtime_of(self->system())`.
class runtime {
public:
  actor_tree& tree() noexcept { return tree_; }
  name_registry& names() noexcept { return names_; }
  /// Threads for user code that may block (`fenix.blocking-threads`).
  blocking_pool& blocking() noexcept { return blocking_; }

  // -- the application root ----------------------------------------------------

  /// The root of this system's tree (the application supervisor of
  /// supervision/application.hpp). `make` runs on first use only, under a
  /// lock of its own. Invalid once the root has ended or the system is
  /// stopping: nothing starts under a root that is gone.
  caf::actor application_root(const std::function<caf::actor()>& make);

  /// The root if it runs, without starting one.
  caf::actor application_root() const;

  /// Called by the root's exit hook.
  void application_ended();

  /// True once fenix::system's destructor stops the root: its end is then
  /// expected and no reason to end the process.
  bool stopping() const;

  // -- ending the process ------------------------------------------------------

  /// Asks the process to end with `status`: `await_shutdown_signal` returns,
  /// and `boot` returns `status` unless `main` returned non-zero itself;
  /// past `config::exit_grace`, boot's watchdog ends the process. The first
  /// request wins.
  void request_exit(int status, std::string reason);

  std::optional<exit_request> exit_requested() const;

private:
  friend class system;

  /// Marks the system as stopping and hands the root to the destructor.
  caf::actor begin_stop();

  actor_tree tree_;
  name_registry names_;
  blocking_pool blocking_;
  mutable std::mutex mtx_;
  std::mutex make_mtx_; // held while `make` runs, not while others read
  caf::actor root_;
  bool root_ended_ = false;
  bool stopping_ = false;
  std::optional<exit_request> exit_;
};

/// The runtime attached to `sys`; throws std::logic_error if `sys` was not
/// created by a fenix::system.
runtime& runtime_of(caf::actor_system& sys);
std::shared_ptr<runtime> runtime_ptr(caf::actor_system& sys);

/// An actor system with the fenix runtime attached. The runtime outlives
/// the actor system (actors may touch it until the last one has quit).
/// Its destructor first stops the application root, which stops its
/// children in reverse start order, then waits for every other actor.
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
/// code for `main()`: what `main` returned, or, if that is 0 and the process
/// was asked to end (`runtime::request_exit`), the requested status. A
/// process asked to end whose `main` and teardown do not finish within
/// `config::exit_grace` is ended by a watchdog, with a log line saying so.
int boot(int argc, char** argv, config& cfg,
         const std::function<int(system&)>& main,
         const char* ini_file = "fenix.ini");

/// For servers that drain on Ctrl-C / SIGTERM: call first thing in `main`,
/// before `boot` starts any thread, so that every thread inherits the mask
/// and only `await_shutdown_signal` sees the signals.
void block_shutdown_signals();

/// Waits for SIGINT or SIGTERM (blocked by `block_shutdown_signals`) and
/// returns which one came, or 0 when the process was asked to end instead
/// (`runtime::request_exit`: the application supervisor ended on its own;
/// `boot` then returns a non-zero status if it gave up or crashed). Returns
/// 0 at once if that happened already. One thread waits at a time.
int await_shutdown_signal();

} // namespace fenix
