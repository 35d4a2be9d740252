#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>

#include "supervision/child_spec.hpp"

namespace fenix {

// -- messages a supervisor understands -----------------------------------------

/// `(started_atom)` -> `()` once the actor is up (for a supervisor: once all
/// its initial children started), or the start error.
using started_atom = caf::atom_constant<caf::atom("started")>;
/// `(which_atom)` -> `std::vector<child_info>`
using which_atom = caf::atom_constant<caf::atom("which")>;
/// `(count_atom)` -> `child_counts`
using count_atom = caf::atom_constant<caf::atom("count")>;
/// `(terminate_atom, std::string id)` or `(terminate_atom, caf::actor)` -> `()`
using terminate_atom = caf::atom_constant<caf::atom("terminate")>;
/// `(restart_atom, std::string id)` -> `caf::actor`
using restart_atom = caf::atom_constant<caf::atom("restart")>;
/// `(delete_atom, std::string id)` -> `()`
using delete_atom = caf::atom_constant<caf::atom("delete")>;
/// `(start_atom, child_spec)` -> `caf::actor` (invalid if the child ignored)
using start_atom = caf::atom_constant<caf::atom("start")>;

/// One row of which_children: OTP's `{Id, Child, Type, Modules}`.
struct child_info {
  std::string id;
  caf::actor child;   ///< invalid when not running
  std::string status; ///< "running", "undefined" or "restarting"
  child_type type = child_type::worker;
  restart_type restart = restart_type::permanent;
  uint32_t restarts = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_info& x) {
  return f(caf::meta::type_name("fenix::child_info"), x.id, x.child, x.status,
           x.type, x.restart, x.restarts);
}

/// count_children: OTP's specs / active / supervisors / workers.
struct child_counts {
  size_t specs = 0;
  size_t active = 0;
  size_t supervisors = 0;
  size_t workers = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_counts& x) {
  return f(caf::meta::type_name("fenix::child_counts"), x.specs, x.active,
           x.supervisors, x.workers);
}

// -- starting supervisors ---------------------------------------------------------

/// Spawns a supervisor without waiting for its children. Send it
/// `started_atom` to learn when (or whether) they are up.
caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_flags flags,
                            std::vector<child_spec> children);

/// Spawns a supervisor and waits until every initial child has started, in
/// order. On failure the children already started are stopped and the
/// error is `errc::failed_to_start_child` naming the child and its reason.
caf::expected<caf::actor>
start_supervisor(caf::actor_system& sys, supervisor_flags flags,
                 std::vector<child_spec> children,
                 std::chrono::milliseconds timeout = std::chrono::seconds{30});

/// A child spec for a nested supervisor (type supervisor, shutdown
/// infinity, started synchronously with its own children).
child_spec supervisor_spec(std::string id, supervisor_flags flags,
                           std::vector<child_spec> children,
                           restart_type restart = restart_type::permanent);

// -- blocking convenience wrappers (tests, tools, main functions) --------------

/// Synchronous calls to a supervisor, like `Supervisor.which_children/1`.
/// Each call waits for the supervisor's answer (up to the timeout), so do
/// not use it from inside an actor: send the request messages instead.
class supervisor_ref {
public:
  supervisor_ref(caf::actor_system& sys, caf::actor sup,
                 std::chrono::milliseconds timeout = std::chrono::seconds{10});

  const caf::actor& handle() const noexcept { return sup_; }

  caf::expected<std::vector<child_info>> which_children();
  caf::expected<child_counts> count_children();
  caf::error terminate_child(const std::string& id);
  caf::error terminate_child(const caf::actor& child);
  caf::expected<caf::actor> restart_child(const std::string& id);
  caf::error delete_child(const std::string& id);
  caf::expected<caf::actor> start_child(child_spec spec);

  /// The running child with this id, or an invalid handle.
  caf::actor child(const std::string& id);

private:
  caf::actor_system& sys_;
  caf::actor sup_;
  std::chrono::milliseconds timeout_;
};

} // namespace fenix
