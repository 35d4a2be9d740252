#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>

namespace fenix {

/// When a child is restarted, with exactly OTP's meanings.
enum class restart_type : uint8_t {
  permanent, ///< always restarted
  transient, ///< restarted only after an abnormal exit
  temporary, ///< never restarted; its spec is dropped when it ends
};

enum class child_type : uint8_t { worker, supervisor };

enum class strategy : uint8_t { one_for_one, one_for_all, rest_for_one };

/// When a supervisor shuts itself down because significant children ended
/// on their own (OTP 24's `auto_shutdown`).
enum class auto_shutdown_mode : uint8_t {
  never,           ///< never; significant children are rejected
  any_significant, ///< as soon as one significant child ended by itself
  all_significant, ///< once no significant child is left running
};

const char* to_string(restart_type x);
const char* to_string(child_type x);
const char* to_string(strategy x);
const char* to_string(auto_shutdown_mode x);

/// How a supervisor stops a child: kill at once, ask and kill after a
/// timeout, or ask and wait forever (the default for supervisors).
/// CAF cannot pre-empt a running handler, so a kill lands after the
/// handler that is running returns.
struct shutdown_spec {
  enum class mode : uint8_t { brutal_kill, timeout, infinity };
  mode how = mode::timeout;
  std::chrono::milliseconds timeout{5000};

  static shutdown_spec brutal_kill() { return {mode::brutal_kill, {}}; }
  static shutdown_spec after(std::chrono::milliseconds t) {
    return {mode::timeout, t};
  }
  static shutdown_spec infinity() { return {mode::infinity, {}}; }
};

/// How the supervisor knows a child has started (OTP's start is
/// synchronous: the next child starts after `init` returned).
enum class start_ack : uint8_t {
  /// The child counts as started once CAF has initialized it (its behaviour
  /// factory returned) and it answers a system probe. Works for any actor.
  probe,
  /// The child answers `(fenix::started_atom)` when it is ready, or fails
  /// the request; used by supervisors, whose start includes their children.
  on_request,
  /// The start function itself spawned the child; it counts as started
  /// when the start function returns (no handshake message). Meant for
  /// actors that are ready once spawned, such as one per connection, where
  /// a probe would cost two messages per accepted socket and tell nothing
  /// new. A child that already exited is reported by its monitor like any
  /// other exit.
  spawned,
  /// The old name of `spawned` (the child was "adopted" as started).
  adopt = spawned,
};

/// Starts a child: spawns it (unlinked; the supervisor links and monitors)
/// and returns its handle, an error (the start failed), or an invalid
/// handle meaning `ignore` in OTP's sense.
using start_fn = std::function<caf::expected<caf::actor>(caf::actor_system&)>;

/// What a supervisor needs to know about a child, like OTP's child spec.
struct child_spec {
  std::string id;
  start_fn start;
  restart_type restart = restart_type::permanent;
  /// Defaults to 5000 ms for workers and infinity for supervisors.
  std::optional<shutdown_spec> shutdown;
  child_type type = child_type::worker;
  /// Label in the actor tree ("worker", "supervisor", "listener", ...);
  /// empty means the child type.
  std::string kind;
  start_ack ack = start_ack::probe;
  /// Upper bound on the start handshake; a child that takes longer counts
  /// as failed to start.
  std::chrono::milliseconds start_timeout{std::chrono::seconds{30}};
  /// Its ending by itself may end the supervisor (see
  /// `supervisor_flags::auto_shutdown`). Only for transient and temporary
  /// children of a supervisor whose auto_shutdown is not `never`; any other
  /// combination is refused with `errc::invalid_spec`.
  bool significant = false;

  shutdown_spec effective_shutdown() const {
    if (shutdown)
      return *shutdown;
    return type == child_type::supervisor ? shutdown_spec::infinity()
                                          : shutdown_spec::after(
                                            std::chrono::milliseconds{5000});
  }
};

/// Child specs travel in local messages only; CAF still wants an inspect.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_spec& x) {
  return f(caf::meta::type_name("fenix::child_spec"), x.id);
}

/// Supervisor flags, with Elixir's defaults (3 restarts in 5 seconds).
struct supervisor_flags {
  fenix::strategy strategy = fenix::strategy::one_for_one;
  size_t max_restarts = 3;
  std::chrono::milliseconds max_seconds{std::chrono::seconds{5}};
  /// DynamicSupervisor: no children at start, start_child at run time,
  /// ids ignored, one_for_one only.
  bool dynamic = false;
  size_t max_children = std::numeric_limits<size_t>::max();
  /// Whether significant children ending by themselves shut the supervisor
  /// down (then it stops its other children and exits with `shutdown`, so a
  /// transient parent does not restart it). Ends caused by the supervisor
  /// (sibling restarts, terminate_child, its own shutdown) never count.
  fenix::auto_shutdown_mode auto_shutdown = fenix::auto_shutdown_mode::never;
  /// Name shown in the actor tree.
  std::string name;
};

/// Convenience: a worker spawned by `f(sys)`.
child_spec worker(std::string id, start_fn f,
                  restart_type restart = restart_type::permanent);

} // namespace fenix
