#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <unordered_map>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/expected.hpp>

#include "actors/errors.hpp"
#include "supervision/child_spec.hpp"
#include "supervision/restart_window.hpp"
#include "supervision/supervisor.hpp"

namespace fenix {

/// The decision logic of a supervisor without any actor: the child table
/// in start order, the restart-intensity window, and which children to stop
/// and start when one exits. The supervisor actor executes its plans; tests
/// drive it directly with made-up actor ids and times.
class supervisor_core {
public:
  using clock = std::chrono::steady_clock;
  using slot_id = uint64_t;
  using pid_type = uint64_t; ///< actor id; 0 = not running

  enum class status : uint8_t { running, undefined, restarting };

  struct child {
    slot_id slot = 0;
    child_spec spec;
    pid_type pid = 0;
    status state = status::undefined;
    uint32_t restarts = 0;
  };

  /// What the supervisor must do next: stop these (in this order, each per
  /// its shutdown spec), then start these (in this order). `give_up` means
  /// the restart intensity was exceeded, `auto_shutdown` that significant
  /// children ended by themselves: either way stop everything in `stop`
  /// and exit with `shutdown`.
  struct plan {
    std::vector<slot_id> stop;
    std::vector<slot_id> start;
    bool give_up = false;
    bool auto_shutdown = false;
    bool empty() const {
      return stop.empty() && start.empty() && !give_up && !auto_shutdown;
    }
  };

  explicit supervisor_core(supervisor_flags flags);

  const supervisor_flags& flags() const noexcept { return flags_; }

  // -- child table -------------------------------------------------------------

  /// Adds a spec at the end of the start order. Static supervisors reject
  /// a duplicate id (`already_present` / `already_started`, like OTP's
  /// start_child; `duplicate_child_name` at init); dynamic ones enforce
  /// max_children. A significant child is `invalid_spec` when it is
  /// permanent or the supervisor's auto_shutdown is `never`.
  caf::expected<slot_id> add(child_spec spec, bool at_init = false);

  /// The start of `slot` succeeded.
  void started(slot_id slot, pid_type pid);

  /// The start function returned "ignore": keep the spec, not running
  /// (temporary specs and dynamic children are dropped).
  void ignored(slot_id slot);

  /// Drops a spec from the table.
  void remove(slot_id slot);

  child* find(slot_id slot);
  child* find_pid(pid_type pid);
  child* find_id(const std::string& id);
  /// In start order. A list plus two indexes: a connections supervisor
  /// holds tens of thousands of children, each DOWN must find its child in
  /// O(1), and removal must not move the others.
  const std::list<child>& children() const noexcept { return children_; }

  // -- decisions ---------------------------------------------------------------

  /// A running child exited on its own with an exit of this kind. Applies
  /// the restart type, then the restart intensity, then the strategy; a
  /// significant child that is not restarted may end the supervisor
  /// (`plan::auto_shutdown`).
  plan child_exited(pid_type pid, exit_kind kind, clock::time_point now);

  /// A restart of `slot` failed to start: mark it restarting and plan the
  /// retry (which counts against the intensity, as in OTP).
  plan restart_failed(slot_id slot, clock::time_point now);

  /// The supervisor stopped `slot` on purpose (a sibling restart, a
  /// terminate_child or the shutdown). Temporary children are dropped
  /// unless `keep` is set.
  void stopped(slot_id slot);

  /// Running children, newest first: the shutdown order.
  std::vector<slot_id> shutdown_order() const;

  /// Records one restart at `now`; false if that exceeds the intensity
  /// (more than max_restarts within max_seconds).
  bool add_restart(clock::time_point now);

  size_t restarts_in_window() const noexcept { return restarts_.size(); }

  // -- introspection -----------------------------------------------------------

  std::vector<child_info> which_children() const;
  child_counts count_children() const;

  /// Total restarts this supervisor performed.
  uint64_t total_restarts() const noexcept { return total_restarts_; }

private:
  plan restart_plan(child& c, clock::time_point now);

  /// What a significant child's end by itself means under auto_shutdown
  /// (OTP's do_auto_shutdown); its entry must already be updated.
  plan auto_shutdown_plan(bool significant) const;

  /// Sets (or clears, with 0) a child's pid and keeps the pid index.
  void set_pid(child& c, pid_type pid);

  supervisor_flags flags_;
  std::list<child> children_;
  std::unordered_map<slot_id, std::list<child>::iterator> by_slot_;
  std::unordered_map<pid_type, std::list<child>::iterator> by_pid_;
  restart_window restarts_;
  slot_id next_slot_ = 1;
  uint64_t total_restarts_ = 0;
};

const char* to_string(supervisor_core::status x);

} // namespace fenix
