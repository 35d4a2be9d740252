#include "supervision/supervisor.hpp"

#include <deque>
#include <functional>
#include <unordered_map>

#include <caf/all.hpp>

#include "actors/actor.hpp"
#include "actors/errors.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "actors/system.hpp"
#include "actors/tree.hpp"
#include "supervision/supervisor_core.hpp"

namespace fenix {

namespace {

using try_again_atom = caf::atom_constant<caf::atom("tryagain")>;
using stop_timeout_atom = caf::atom_constant<caf::atom("stoptmo")>;

using slot_id = supervisor_core::slot_id;
using pid_type = supervisor_core::pid_type;

/// The supervisor actor: executes supervisor_core's plans. OTP runs a
/// restart synchronously inside one callback; CAF actors must not block, so
/// every operation (a restart, a client call, the shutdown) is a job, jobs
/// run one at a time, and a job is a sequence of asynchronous steps (start
/// a child and await its ack; stop a child and await its DOWN). Events that
/// arrive meanwhile queue up as jobs, which keeps OTP's one-at-a-time
/// semantics.
class supervisor_actor : public fenix::actor {
public:
  supervisor_actor(caf::actor_config& cfg, supervisor_flags flags,
                   std::vector<child_spec> specs)
      : fenix::actor(cfg), core_(std::move(flags)), specs_(std::move(specs)) {
    // nop
  }

  const char* name() const override {
    return "fenix.supervisor";
  }

  caf::behavior make_behavior() override {
    auto& fl = core_.flags();
    boost::json::object details;
    details["strategy"] = fenix::to_string(fl.strategy);
    details["max_restarts"] = fl.max_restarts;
    details["max_seconds"] = fl.max_seconds.count() / 1000.0;
    details["dynamic"] = fl.dynamic;
    details["child_restarts"] = 0;
    rt().tree().merge_details(id(), details);
    set_exit_handler([this](caf::exit_msg& msg) { on_exit_msg(msg); });
    // Children are not linked: a link would deliver every child death twice
    // (exit_msg and DOWN, in no fixed order). The supervisor monitors its
    // children and, like a link would, takes them down when it dies.
    attach_functor([children = handles_](const caf::error& reason) {
      if (!reason)
        return;
      for (auto& kvp : *children)
        caf::anon_send(kvp.second, caf::exit_msg{caf::actor_addr{}, reason});
      children->clear();
    });
    set_down_handler([this](caf::down_msg& msg) { on_down(msg); });
    start_initial_children();
    return {
      [this](started_atom) -> caf::result<void> {
        if (init_done_)
          return caf::unit;
        if (init_error_)
          return init_error_;
        started_waiters_.push_back(make_response_promise());
        return caf::delegated<void>{};
      },
      [this](which_atom) {
        auto rp = make_response_promise();
        schedule_job([this, rp]() mutable { rp.deliver(which_children()); });
        return rp;
      },
      [this](count_atom) {
        auto rp = make_response_promise();
        schedule_job([this, rp]() mutable { rp.deliver(core_.count_children()); });
        return rp;
      },
      [this](terminate_atom, const std::string& id) {
        auto rp = make_response_promise();
        schedule_job([this, rp, id]() mutable {
          auto c = core_.flags().dynamic ? nullptr : core_.find_id(id);
          if (!c) {
            rp.deliver(caf::make_error(errc::not_found, id));
            return;
          }
          terminate_slot(c->slot, rp);
        });
        return rp;
      },
      [this](terminate_atom, const caf::actor& child) {
        auto rp = make_response_promise();
        schedule_job([this, rp, child]() mutable {
          auto c = child ? core_.find_pid(child.id()) : nullptr;
          if (!c) {
            rp.deliver(caf::make_error(errc::not_found));
            return;
          }
          terminate_slot(c->slot, rp);
        });
        return rp;
      },
      [this](restart_atom, const std::string& id) {
        auto rp = make_response_promise();
        schedule_job([this, rp, id]() mutable { restart_child(id, rp); });
        return rp;
      },
      [this](delete_atom, const std::string& id) {
        auto rp = make_response_promise();
        schedule_job([this, rp, id]() mutable {
          auto c = core_.flags().dynamic ? nullptr : core_.find_id(id);
          if (!c)
            rp.deliver(caf::make_error(errc::not_found, id));
          else if (c->state == supervisor_core::status::running)
            rp.deliver(caf::make_error(errc::running, id));
          else if (c->state == supervisor_core::status::restarting)
            rp.deliver(caf::make_error(errc::restarting, id));
          else {
            core_.remove(c->slot);
            rp.deliver(caf::unit);
          }
        });
        return rp;
      },
      [this](start_atom, child_spec& spec) {
        auto rp = make_response_promise();
        schedule_job([this, rp, spec{std::move(spec)}]() mutable {
          start_child(std::move(spec), rp);
        });
        return rp;
      },
      [this](try_again_atom, slot_id slot) {
        schedule_job([this, slot] {
          if (shutting_down_)
            return;
          auto c = core_.find(slot);
          if (!c || c->state != supervisor_core::status::restarting)
            return;
          run_plan(core_.restart_failed(slot, now()), c->spec.id);
        });
      },
      [this](stop_timeout_atom, uint64_t epoch) {
        if (epoch == epoch_ && awaiting_down_ != 0) {
          auto i = handles_->find(awaiting_down_);
          if (i != handles_->end()) {
            FENIX_WARN("supervisor", name_of(awaiting_down_)
                                       << " ignored its shutdown request; "
                                          "killing it");
            send_exit(i->second, caf::exit_reason::kill);
          }
        }
      },
    };
  }

private:
  // -- job engine --------------------------------------------------------------

  struct step {
    enum class kind : uint8_t { start, stop } what;
    slot_id slot;
  };

  using done_fn = std::function<void(const caf::error&, slot_id)>;

  static supervisor_core::clock::time_point now() {
    return supervisor_core::clock::now();
  }

  void schedule_job(std::function<void()> job) {
    jobs_.push_back(std::move(job));
    advance();
  }

  /// Runs steps, continuations and jobs until one step has to wait.
  void advance() {
    while (!waiting_) {
      if (!steps_.empty()) {
        auto s = steps_.front();
        steps_.pop_front();
        if (s.what == step::kind::start)
          exec_start(s.slot);
        else
          exec_stop(s.slot);
      } else if (on_done_) {
        auto f = std::move(on_done_);
        on_done_ = nullptr;
        f(caf::none, 0);
      } else if (!jobs_.empty()) {
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        job();
      } else {
        return;
      }
    }
  }

  void step_done() {
    waiting_ = false;
    ++epoch_;
    advance();
  }

  void step_failed(const caf::error& err, slot_id slot) {
    waiting_ = false;
    ++epoch_;
    steps_.clear();
    auto f = std::move(on_done_);
    on_done_ = nullptr;
    if (f)
      f(err, slot);
    advance();
  }

  // -- starting ----------------------------------------------------------------

  void exec_start(slot_id slot) {
    auto c = core_.find(slot);
    if (!c)
      return;
    caf::expected<caf::actor> res{caf::actor{}};
    try {
      res = c->spec.start(system());
    } catch (std::exception& e) {
      res = caf::make_error(caf::sec::runtime_error, e.what());
    } catch (...) {
      res = caf::make_error(caf::sec::runtime_error, "unknown exception");
    }
    if (!res) {
      waiting_ = true; // step_failed resets it
      step_failed(res.error(), slot);
      return;
    }
    if (!*res) {
      core_.ignored(slot);
      return;
    }
    auto child = std::move(*res);
    auto pid = child.id();
    (*handles_)[pid] = child;
    monitor(child);
    auto adopted = c->spec.ack == start_ack::adopt;
    if (auto node = rt().tree().record(
          child, c->spec.id,
          c->spec.kind.empty() ? fenix::to_string(c->spec.type) : c->spec.kind,
          id())) {
      node->restarts.store(c->restarts, std::memory_order_relaxed);
      node->set_state(adopted ? actor_state::running : actor_state::starting);
    }
    if (adopted) {
      core_.started(slot, pid);
      return;
    }
    waiting_ = true;
    starting_pid_ = pid;
    starting_slot_ = slot;
    auto epoch = epoch_;
    auto ok = [this, epoch] {
      if (epoch == epoch_)
        start_succeeded();
    };
    auto err = [this, epoch](caf::error& e) {
      // A child that ended before answering bounces the request; its DOWN
      // (it is monitored) follows with the reason that matters.
      if (epoch == epoch_ && e != caf::sec::request_receiver_down)
        start_aborted(std::move(e));
    };
    if (c->spec.ack == start_ack::on_request)
      request(child, c->spec.start_timeout, started_atom::value)
        .then([ok]() { ok(); }, err);
    else
      request(child, c->spec.start_timeout, caf::sys_atom::value,
              caf::get_atom::value, std::string{"info"})
        .then([ok](caf::ok_atom, const std::string&,
                   const caf::strong_actor_ptr&,
                   const std::string&) { ok(); },
              err);
  }

  void start_succeeded() {
    auto pid = std::exchange(starting_pid_, 0);
    core_.started(starting_slot_, pid);
    if (auto node = rt().tree().find(pid))
      node->set_state(actor_state::running);
    step_done();
  }

  void start_aborted(caf::error err) {
    auto pid = std::exchange(starting_pid_, 0);
    auto slot = starting_slot_;
    // A child that did not ack in time may still be alive: no half-started
    // children stay around.
    if (auto i = handles_->find(pid); i != handles_->end()) {
      send_exit(i->second, caf::exit_reason::kill);
      demonitor(i->second);
      handles_->erase(i);
    }
    if (auto c = core_.find(slot))
      FENIX_WARN("supervisor", "child " << c->spec.id << " failed to start: "
                                        << system().render(err));
    step_failed(err, slot);
  }

  // -- stopping ----------------------------------------------------------------

  void exec_stop(slot_id slot) {
    auto c = core_.find(slot);
    if (!c || c->state != supervisor_core::status::running) {
      core_.stopped(slot);
      return;
    }
    auto i = handles_->find(c->pid);
    if (i == handles_->end()) {
      core_.stopped(slot);
      return;
    }
    if (auto node = rt().tree().find(c->pid))
      node->set_state(actor_state::stopping);
    waiting_ = true;
    awaiting_down_ = c->pid;
    stopping_slot_ = slot;
    auto sd = c->spec.effective_shutdown();
    switch (sd.how) {
      case shutdown_spec::mode::brutal_kill:
        send_exit(i->second, caf::exit_reason::kill);
        break;
      case shutdown_spec::mode::timeout:
        send_exit(i->second, shutdown_reason());
        delayed_send(this, sd.timeout, stop_timeout_atom::value, epoch_);
        break;
      case shutdown_spec::mode::infinity:
        send_exit(i->second, shutdown_reason());
        break;
    }
  }

  // -- events ------------------------------------------------------------------

  void on_down(caf::down_msg& msg) {
    auto pid = msg.source.id();
    if (pid == 0)
      return;
    if (waiting_ && pid == awaiting_down_) {
      awaiting_down_ = 0;
      forget(pid);
      core_.stopped(stopping_slot_);
      step_done();
      return;
    }
    if (waiting_ && pid == starting_pid_) {
      forget(pid);
      start_aborted(msg.reason ? msg.reason
                               : caf::make_error(errc::failed_to_start_child,
                                                 "exited during start"));
      return;
    }
    // A child exited on its own: handle it in turn, after the running job.
    // Drop its handle now, so that a stop step or a shutdown that runs
    // before that job does not wait for a DOWN that already came.
    forget(pid);
    schedule_job([this, pid, reason{std::move(msg.reason)}] {
      child_exited(pid, reason);
    });
  }

  void on_exit_msg(caf::exit_msg& msg) {
    // Children are monitored, not linked: an exit signal comes from the
    // parent (or an operator) and is a request to shut down.
    if (classify_exit(msg.reason) == exit_kind::normal)
      return;
    shutdown(std::move(msg.reason));
  }

  void child_exited(pid_type pid, const caf::error& reason) {
    forget(pid);
    if (shutting_down_)
      return;
    auto c = core_.find_pid(pid);
    if (!c)
      return;
    auto kind = classify_exit(reason);
    auto id = c->spec.id;
    if (kind == exit_kind::abnormal)
      FENIX_WARN("supervisor", "child " << id << " (#" << pid << ") crashed: "
                                        << system().render(reason));
    else
      FENIX_DEBUG("supervisor", "child " << id << " exited: "
                                         << system().render(reason));
    run_plan(core_.child_exited(pid, kind, now()), id);
  }

  void run_plan(supervisor_core::plan plan, const std::string& cause) {
    node().restarts.load(); // keep the supervisor's own counter untouched
    update_restart_details();
    if (plan.give_up) {
      FENIX_ERROR("supervisor", display_name()
                                  << ": reached_max_restart_intensity after "
                                  << cause << "; shutting down");
      shutdown(shutdown_reason("reached_max_restart_intensity"));
      return;
    }
    if (!plan.start.empty())
      bump(metrics::global().get("fenix_supervisor_restarts_total",
                                 "Child restarts performed, by supervisor",
                                 metrics::kind::counter,
                                 "supervisor=\"" + display_name() + "\""));
    for (auto s : plan.stop)
      steps_.push_back({step::kind::stop, s});
    for (auto s : plan.start)
      steps_.push_back({step::kind::start, s});
    on_done_ = [this](const caf::error& err, slot_id failed) {
      if (!err)
        return;
      // OTP: mark the child restarting and try again later, so that the
      // supervisor can serve other requests (a shutdown) in between.
      if (auto c = core_.find(failed))
        c->state = supervisor_core::status::restarting;
      send(this, try_again_atom::value, failed);
    };
  }

  /// Stops all children in reverse start order, then exits with `reason`.
  void shutdown(caf::error reason) {
    if (shutting_down_)
      return;
    shutting_down_ = true;
    node().set_state(actor_state::stopping);
    // Pending calls will not be served any more.
    jobs_.clear();
    auto stop_all = [this, reason]() mutable {
      for (auto s : core_.shutdown_order())
        steps_.push_back({step::kind::stop, s});
      on_done_ = [this, reason](const caf::error&, slot_id) {
        fail_waiters(reason);
        quit(reason);
      };
    };
    if (waiting_ || !steps_.empty()) {
      // Let the step in flight finish, then stop everything.
      steps_.clear();
      on_done_ = [this, stop_all](const caf::error&, slot_id) mutable {
        stop_all();
      };
    } else {
      on_done_ = nullptr;
      stop_all();
    }
    advance();
  }

  void start_initial_children() {
    for (auto& spec : specs_) {
      auto slot = core_.add(std::move(spec), true);
      if (!slot) {
        init_failed(slot.error());
        return;
      }
      steps_.push_back({step::kind::start, *slot});
    }
    specs_.clear();
    on_done_ = [this](const caf::error& err, slot_id failed) {
      if (!err) {
        init_done_ = true;
        node().set_state(actor_state::running);
        for (auto& rp : started_waiters_)
          rp.deliver(caf::unit);
        started_waiters_.clear();
        return;
      }
      auto c = core_.find(failed);
      init_failed(caf::make_error(errc::failed_to_start_child,
                                  c ? c->spec.id : std::string{},
                                  system().render(err)));
    };
    advance();
  }

  void init_failed(caf::error err) {
    init_error_ = err;
    shutting_down_ = true;
    steps_.clear();
    for (auto s : core_.shutdown_order())
      steps_.push_back({step::kind::stop, s});
    on_done_ = [this, err](const caf::error&, slot_id) {
      fail_waiters(err);
      quit(err);
    };
    advance();
  }

  void fail_waiters(const caf::error& err) {
    for (auto& rp : started_waiters_)
      rp.deliver(err);
    started_waiters_.clear();
  }

  // -- client calls ------------------------------------------------------------

  void terminate_slot(slot_id slot, caf::response_promise rp) {
    steps_.push_back({step::kind::stop, slot});
    on_done_ = [rp](const caf::error&, slot_id) mutable { rp.deliver(caf::unit); };
  }

  void restart_child(const std::string& id, caf::response_promise rp) {
    auto c = core_.flags().dynamic ? nullptr : core_.find_id(id);
    if (!c) {
      rp.deliver(caf::make_error(errc::not_found, id));
      return;
    }
    if (c->state == supervisor_core::status::running) {
      rp.deliver(caf::make_error(errc::running, id));
      return;
    }
    if (c->state == supervisor_core::status::restarting) {
      rp.deliver(caf::make_error(errc::restarting, id));
      return;
    }
    auto slot = c->slot;
    steps_.push_back({step::kind::start, slot});
    on_done_ = [this, rp, slot](const caf::error& err, slot_id) mutable {
      if (err)
        rp.deliver(err);
      else
        rp.deliver(handle_of(slot));
    };
  }

  void start_child(child_spec spec, caf::response_promise rp) {
    if (shutting_down_) {
      rp.deliver(caf::make_error(errc::shutdown));
      return;
    }
    auto slot = core_.add(std::move(spec));
    if (!slot) {
      rp.deliver(slot.error());
      return;
    }
    steps_.push_back({step::kind::start, *slot});
    on_done_ = [this, rp, slot{*slot}](const caf::error& err,
                                       slot_id) mutable {
      if (err) {
        core_.remove(slot); // OTP discards the spec of a failed start_child
        rp.deliver(err);
      } else {
        rp.deliver(handle_of(slot));
      }
    };
  }

  // -- helpers -----------------------------------------------------------------

  caf::actor handle_of(slot_id slot) {
    if (auto c = core_.find(slot); c && c->pid != 0)
      if (auto i = handles_->find(c->pid); i != handles_->end())
        return i->second;
    return {};
  }

  std::vector<child_info> which_children() {
    auto result = core_.which_children();
    auto c = core_.children().begin();
    for (auto& row : result) {
      if (c->pid != 0)
        if (auto j = handles_->find(c->pid); j != handles_->end())
          row.child = j->second;
      ++c;
    }
    return result;
  }

  void forget(pid_type pid) {
    handles_->erase(pid);
  }

  std::string name_of(pid_type pid) {
    if (auto c = core_.find_pid(pid))
      return c->spec.id + " (#" + std::to_string(pid) + ")";
    return "#" + std::to_string(pid);
  }

  std::string display_name() {
    auto& n = core_.flags().name;
    return n.empty() ? "supervisor #" + std::to_string(id()) : n;
  }

  /// Every child exit runs a plan: a dynamic supervisor of connections
  /// sees one per disconnect, mostly without a restart to show.
  void update_restart_details() {
    auto n = core_.total_restarts();
    if (n == shown_restarts_)
      return;
    shown_restarts_ = n;
    details_writer d;
    d.num("child_restarts", static_cast<int64_t>(n));
    rt().tree().merge_details(id(), d);
  }

  supervisor_core core_;
  uint64_t shown_restarts_ = 0; // child_restarts as the tree shows it
  std::vector<child_spec> specs_;
  std::shared_ptr<std::unordered_map<pid_type, caf::actor>> handles_
    = std::make_shared<std::unordered_map<pid_type, caf::actor>>();
  std::deque<std::function<void()>> jobs_;
  std::deque<step> steps_;
  done_fn on_done_;
  bool waiting_ = false;
  uint64_t epoch_ = 0;
  pid_type starting_pid_ = 0;
  slot_id starting_slot_ = 0;
  pid_type awaiting_down_ = 0;
  slot_id stopping_slot_ = 0;
  bool init_done_ = false;
  bool shutting_down_ = false;
  caf::error init_error_;
  std::vector<caf::response_promise> started_waiters_;
};

} // namespace

// -- free functions -------------------------------------------------------------

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_flags flags,
                            std::vector<child_spec> children) {
  auto name = flags.name.empty() ? std::string{"supervisor"} : flags.name;
  auto sup = sys.spawn<supervisor_actor>(std::move(flags), std::move(children));
  runtime_of(sys).tree().place(sup.id(), std::move(name), "supervisor", 0);
  return sup;
}

caf::expected<caf::actor>
start_supervisor(caf::actor_system& sys, supervisor_flags flags,
                 std::vector<child_spec> children,
                 std::chrono::milliseconds timeout) {
  auto sup = spawn_supervisor(sys, std::move(flags), std::move(children));
  caf::scoped_actor self{sys, true};
  caf::error err;
  self->monitor(sup);
  self->request(sup, timeout, started_atom::value)
    .receive([] {}, [&](caf::error& e) { err = std::move(e); });
  if (err == caf::sec::request_receiver_down) {
    // It failed and ended before it saw the request: its exit reason
    // carries the failed child.
    self->receive(
      [&](caf::down_msg& dm) {
        if (dm.reason)
          err = std::move(dm.reason);
      },
      caf::after(timeout) >> [] {});
  }
  self->demonitor(sup);
  if (err) {
    self->send_exit(sup, caf::exit_reason::kill);
    return err;
  }
  return sup;
}

child_spec supervisor_spec(std::string id, supervisor_flags flags,
                           std::vector<child_spec> children,
                           restart_type restart) {
  child_spec spec;
  spec.id = id;
  spec.type = child_type::supervisor;
  spec.restart = restart;
  spec.ack = start_ack::on_request;
  spec.start_timeout = std::chrono::hours{24}; // children have their own
  if (flags.name.empty())
    flags.name = id;
  spec.start = [flags, children](caf::actor_system& sys)
    -> caf::expected<caf::actor> {
    return spawn_supervisor(sys, flags, children);
  };
  return spec;
}

// -- supervisor_ref -------------------------------------------------------------

supervisor_ref::supervisor_ref(caf::actor_system& sys, caf::actor sup,
                               std::chrono::milliseconds timeout)
    : sys_(sys), sup_(std::move(sup)), timeout_(timeout) {
  // nop
}

namespace {

template <class T, class... Ts>
caf::expected<T> call(caf::actor_system& sys, const caf::actor& dest,
                      std::chrono::milliseconds timeout, Ts&&... xs) {
  caf::scoped_actor self{sys, true};
  caf::expected<T> result{caf::make_error(errc::timeout)};
  self->request(dest, timeout, std::forward<Ts>(xs)...)
    .receive([&](T& x) { result = std::move(x); },
             [&](caf::error& e) { result = std::move(e); });
  return result;
}

template <class... Ts>
caf::error call_void(caf::actor_system& sys, const caf::actor& dest,
                     std::chrono::milliseconds timeout, Ts&&... xs) {
  caf::scoped_actor self{sys, true};
  caf::error result;
  self->request(dest, timeout, std::forward<Ts>(xs)...)
    .receive([] {}, [&](caf::error& e) { result = std::move(e); });
  return result;
}

} // namespace

caf::expected<std::vector<child_info>> supervisor_ref::which_children() {
  return call<std::vector<child_info>>(sys_, sup_, timeout_, which_atom::value);
}

caf::expected<child_counts> supervisor_ref::count_children() {
  return call<child_counts>(sys_, sup_, timeout_, count_atom::value);
}

caf::error supervisor_ref::terminate_child(const std::string& id) {
  return call_void(sys_, sup_, timeout_, terminate_atom::value, id);
}

caf::error supervisor_ref::terminate_child(const caf::actor& child) {
  return call_void(sys_, sup_, timeout_, terminate_atom::value, child);
}

caf::expected<caf::actor> supervisor_ref::restart_child(const std::string& id) {
  return call<caf::actor>(sys_, sup_, timeout_, restart_atom::value, id);
}

caf::error supervisor_ref::delete_child(const std::string& id) {
  return call_void(sys_, sup_, timeout_, delete_atom::value, id);
}

caf::expected<caf::actor> supervisor_ref::start_child(child_spec spec) {
  return call<caf::actor>(sys_, sup_, timeout_, start_atom::value,
                          std::move(spec));
}

caf::actor supervisor_ref::child(const std::string& id) {
  if (auto xs = which_children())
    for (auto& x : *xs)
      if (x.id == id)
        return x.child;
  return {};
}

} // namespace fenix
