#pragma once

// The supervisor actor, shared by supervision/supervisor_actor.cpp (calls,
// starts, child exits) and supervision/supervisor_stop.cpp (stopping
// children, the shutdown). Not a public header.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/error.hpp>
#include <caf/response_promise.hpp>
#include <caf/system_messages.hpp>

#include "actors/actor.hpp"
#include "supervision/child_spec.hpp"
#include "supervision/supervisor.hpp"
#include "supervision/supervisor_core.hpp"

namespace fenix::detail {

/// The term of a supervisor's `shutdown` exit reason when it gave up: OTP
/// exits with plain `shutdown` (so a transient parent does not restart it);
/// the term says why.
inline constexpr char gave_up_detail[] = "reached_max_restart_intensity";

/// What only the application root needs.
struct supervisor_options {
  /// Left out of CAF's count of running actors, so that the actor system's
  /// destructor does not wait for it (fenix::system stops it itself).
  bool hidden = false;
  /// Runs with the exit reason as the supervisor ends, before anyone who
  /// monitors it hears of it.
  std::function<void(const caf::error&)> on_exit;
};

caf::actor spawn_supervisor_actor(caf::actor_system& sys,
                                  supervisor_flags flags,
                                  std::vector<child_spec> children,
                                  supervisor_options opts = {});

/// Executes supervisor_core's plans. OTP runs a restart synchronously inside
/// one callback; CAF actors must not block, so every operation (a restart,
/// a client call, the shutdown) is a job, jobs run one at a time, and a job
/// is a sequence of asynchronous steps (start a child and await its ack;
/// stop a child and await its DOWN). Events that arrive meanwhile queue up
/// as jobs, which keeps OTP's one-at-a-time semantics.
class supervisor_actor : public fenix::actor {
public:
  using slot_id = supervisor_core::slot_id;
  using pid_type = supervisor_core::pid_type;

  supervisor_actor(caf::actor_config& cfg, supervisor_flags flags,
                   std::vector<child_spec> specs,
                   std::function<void(const caf::error&)> exit_hook);

  const char* name() const override;

  caf::behavior make_behavior() override;

  void on_exit() override;

private:
  // -- job engine --------------------------------------------------------------

  struct step {
    /// `stop_all`: a dynamic supervisor's shutdown, every child at once.
    enum class kind : uint8_t { start, stop, stop_all } what;
    slot_id slot;
  };

  using done_fn = std::function<void(const caf::error&, slot_id)>;

  /// The requester of a call. Copies share one promise, so whichever part
  /// of the job ends it (its result, or a refusal when the supervisor shuts
  /// down first) answers, and only once.
  class reply {
  public:
    explicit reply(caf::response_promise rp)
        : rp_(std::make_shared<caf::response_promise>(std::move(rp))) {
      // nop
    }

    template <class T>
    void operator()(T&& x) const {
      if (rp_->pending())
        rp_->deliver(std::forward<T>(x));
    }

    bool pending() const {
      return rp_->pending();
    }

  private:
    std::shared_ptr<caf::response_promise> rp_;
  };

  struct job {
    std::function<void()> run;
    std::optional<reply> caller; ///< none for the supervisor's own jobs
  };

  static supervisor_core::clock::time_point now() {
    return supervisor_core::clock::now();
  }

  /// Queues a client call, or refuses it once the shutdown has begun.
  template <class F>
  caf::response_promise call(F f);

  /// Queues one of the supervisor's own jobs (dropped during the shutdown).
  void schedule_job(std::function<void()> job);

  /// Runs steps, continuations and jobs until one step has to wait.
  void advance();
  void step_done();
  void step_failed(const caf::error& err, slot_id slot);

  // -- starting ----------------------------------------------------------------

  void exec_start(slot_id slot);
  void start_succeeded();
  void start_aborted(caf::error err);
  void start_initial_children();

  // -- stopping (supervisor_stop.cpp) ------------------------------------------

  /// Stops one child per its shutdown spec and awaits its DOWN.
  void exec_stop(slot_id slot);

  /// DynamicSupervisor's terminate_children: every child is asked (or
  /// killed) at once, one timer per distinct shutdown timeout kills those
  /// still alive when it fires, and the step ends with the last DOWN.
  void exec_stop_all();

  /// A child's shutdown timeout expired.
  void on_stop_timeout(uint64_t epoch);
  void on_stop_group_timeout(uint64_t epoch, int64_t ms);

  /// True if the DOWN belonged to a child being stopped.
  bool stopped_by_us(pid_type pid);

  /// Stops all children (reverse start order; all at once when dynamic),
  /// then exits with `reason`. Calls not answered yet get errc::shutdown.
  void shutdown(caf::error reason);
  void stop_children(caf::error reason);
  void init_failed(caf::error err);
  caf::error refusal();
  void refuse(const std::optional<reply>& caller);
  void fail_waiters(const caf::error& err);

  // -- events ------------------------------------------------------------------

  void on_down(caf::down_msg& msg);
  void on_exit_msg(caf::exit_msg& msg);
  void child_exited(pid_type pid, const caf::error& reason);
  void run_plan(supervisor_core::plan plan, const std::string& cause);

  // -- client calls ------------------------------------------------------------

  void terminate_slot(slot_id slot, reply r);
  void restart_child(const std::string& id, reply r);
  void start_child(child_spec spec, reply r);
  void delete_child(const std::string& id, reply r);

  // -- helpers -----------------------------------------------------------------

  caf::actor handle_of(slot_id slot);
  std::vector<child_info> which_children();
  void forget(pid_type pid);
  std::string name_of(pid_type pid);
  std::string display_name();
  void update_restart_details();

  // -- state -------------------------------------------------------------------

  /// A child asked to stop by exec_stop_all; `timeout_ms` < 0: no timer.
  struct pending_stop {
    slot_id slot;
    int64_t timeout_ms;
  };

  supervisor_core core_;
  std::function<void(const caf::error&)> exit_hook_;
  uint64_t shown_restarts_ = 0; // child_restarts as the tree shows it
  std::vector<child_spec> specs_;
  std::shared_ptr<std::unordered_map<pid_type, caf::actor>> handles_
    = std::make_shared<std::unordered_map<pid_type, caf::actor>>();
  std::deque<job> jobs_;
  std::optional<reply> current_; // caller of the job that ran last
  std::deque<step> steps_;
  done_fn on_done_;
  bool waiting_ = false;
  uint64_t epoch_ = 0;
  pid_type starting_pid_ = 0;
  slot_id starting_slot_ = 0;
  pid_type awaiting_down_ = 0;
  slot_id stopping_slot_ = 0;
  std::unordered_map<pid_type, pending_stop> stopping_;
  bool init_done_ = false;
  bool shutting_down_ = false;
  caf::error init_error_;
  std::vector<caf::response_promise> started_waiters_;
};

} // namespace fenix::detail
