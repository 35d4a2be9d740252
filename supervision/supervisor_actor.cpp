#include "supervision/detail/supervisor_actor.hpp"

#include <caf/all.hpp>

#include "actors/errors.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "actors/system.hpp"
#include "actors/tree.hpp"

namespace fenix::detail {

namespace {

using try_again_atom = caf::atom_constant<caf::atom("tryagain")>;
using stop_timeout_atom = caf::atom_constant<caf::atom("stoptmo")>;
using stop_group_atom = caf::atom_constant<caf::atom("stopgroup")>;

} // namespace

caf::actor spawn_supervisor_actor(caf::actor_system& sys,
                                  supervisor_flags flags,
                                  std::vector<child_spec> children,
                                  supervisor_options opts) {
  auto name = flags.name.empty() ? std::string{"supervisor"} : flags.name;
  auto sup = opts.hidden ? sys.spawn<supervisor_actor, caf::hidden>(
                             std::move(flags), std::move(children),
                             std::move(opts.on_exit))
                         : sys.spawn<supervisor_actor>(
                             std::move(flags), std::move(children),
                             std::move(opts.on_exit));
  runtime_of(sys).tree().place(sup.id(), std::move(name), "supervisor", 0);
  return sup;
}

supervisor_actor::supervisor_actor(
  caf::actor_config& cfg, supervisor_flags flags, std::vector<child_spec> specs,
  std::function<void(const caf::error&)> exit_hook)
    : fenix::actor(cfg),
      core_(std::move(flags)),
      exit_hook_(std::move(exit_hook)),
      specs_(std::move(specs)) {
  // nop
}

const char* supervisor_actor::name() const {
  return "fenix.supervisor";
}

void supervisor_actor::on_exit() {
  // CAF runs on_exit before it sends DOWN messages, attached functors only
  // with them (newest first): whoever waits for the DOWN must see what the
  // hook did.
  if (exit_hook_)
    exit_hook_(fail_state());
  // A response promise holds a strong reference to this actor: one left in
  // a member (the last job's caller, a queued call, a start waiter) would be
  // a cycle that keeps the actor, and the runtime it reaches, alive.
  current_.reset();
  jobs_.clear();
  steps_.clear();
  on_done_ = nullptr;
  started_waiters_.clear();
  fenix::actor::on_exit();
}

template <class F>
caf::response_promise supervisor_actor::call(F f) {
  auto rp = make_response_promise();
  reply r{rp};
  if (shutting_down_) {
    r(refusal());
    return rp;
  }
  jobs_.push_back(job{[f = std::move(f), r]() mutable { f(r); }, r});
  advance();
  return rp;
}

caf::behavior supervisor_actor::make_behavior() {
  auto& fl = core_.flags();
  boost::json::object details;
  details["strategy"] = fenix::to_string(fl.strategy);
  details["max_restarts"] = fl.max_restarts;
  details["max_seconds"] = fl.max_seconds.count() / 1000.0;
  details["dynamic"] = fl.dynamic;
  if (fl.auto_shutdown != auto_shutdown_mode::never)
    details["auto_shutdown"] = fenix::to_string(fl.auto_shutdown);
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
      return call([this](reply& r) { r(which_children()); });
    },
    [this](count_atom) {
      return call([this](reply& r) { r(core_.count_children()); });
    },
    [this](terminate_atom, const std::string& id) {
      return call([this, id](reply& r) {
        auto c = core_.flags().dynamic ? nullptr : core_.find_id(id);
        if (!c)
          r(caf::make_error(errc::not_found, id));
        else
          terminate_slot(c->slot, r);
      });
    },
    [this](terminate_atom, const caf::actor& child) {
      return call([this, child](reply& r) {
        auto c = child ? core_.find_pid(child.id()) : nullptr;
        if (!c)
          r(caf::make_error(errc::not_found));
        else
          terminate_slot(c->slot, r);
      });
    },
    [this](restart_atom, const std::string& id) {
      return call([this, id](reply& r) { restart_child(id, r); });
    },
    [this](delete_atom, const std::string& id) {
      return call([this, id](reply& r) { delete_child(id, r); });
    },
    [this](start_atom, child_spec& spec) {
      return call([this, spec{std::move(spec)}](reply& r) mutable {
        start_child(std::move(spec), r);
      });
    },
    [this](try_again_atom, slot_id slot) {
      schedule_job([this, slot] {
        auto c = core_.find(slot);
        if (!c || c->state != supervisor_core::status::restarting)
          return;
        run_plan(core_.restart_failed(slot, now()), c->spec.id);
      });
    },
    [this](stop_timeout_atom, uint64_t epoch) { on_stop_timeout(epoch); },
    [this](stop_group_atom, uint64_t epoch, int64_t ms) {
      on_stop_group_timeout(epoch, ms);
    },
  };
}

// -- job engine ----------------------------------------------------------------

void supervisor_actor::schedule_job(std::function<void()> f) {
  // Child exits and retries no longer matter once every child is being
  // stopped: the shutdown accounts for each child by its DOWN.
  if (shutting_down_)
    return;
  jobs_.push_back(job{std::move(f), std::nullopt});
  advance();
}

void supervisor_actor::advance() {
  while (!waiting_) {
    if (!steps_.empty()) {
      auto s = steps_.front();
      steps_.pop_front();
      switch (s.what) {
        case step::kind::start: exec_start(s.slot); break;
        case step::kind::stop: exec_stop(s.slot); break;
        case step::kind::stop_all: exec_stop_all(); break;
      }
    } else if (on_done_) {
      auto f = std::move(on_done_);
      on_done_ = nullptr;
      f(caf::none, 0);
    } else if (!jobs_.empty()) {
      auto j = std::move(jobs_.front());
      jobs_.pop_front();
      current_ = std::move(j.caller);
      j.run();
    } else {
      return;
    }
  }
}

void supervisor_actor::step_done() {
  waiting_ = false;
  ++epoch_;
  advance();
}

void supervisor_actor::step_failed(const caf::error& err, slot_id slot) {
  waiting_ = false;
  ++epoch_;
  steps_.clear();
  auto f = std::move(on_done_);
  on_done_ = nullptr;
  if (f)
    f(err, slot);
  advance();
}

// -- starting ------------------------------------------------------------------

void supervisor_actor::exec_start(slot_id slot) {
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
  auto spawned = c->spec.ack == start_ack::spawned;
  if (auto node = rt().tree().record(
        child, c->spec.id,
        c->spec.kind.empty() ? fenix::to_string(c->spec.type) : c->spec.kind,
        id())) {
    node->restarts.store(c->restarts, std::memory_order_relaxed);
    node->set_state(spawned ? actor_state::running : actor_state::starting);
  }
  if (spawned) {
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
      .then([ok](caf::ok_atom, const std::string&, const caf::strong_actor_ptr&,
                 const std::string&) { ok(); },
            err);
}

void supervisor_actor::start_succeeded() {
  auto pid = std::exchange(starting_pid_, 0);
  core_.started(starting_slot_, pid);
  if (auto node = rt().tree().find(pid))
    node->set_state(actor_state::running);
  step_done();
}

void supervisor_actor::start_aborted(caf::error err) {
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

void supervisor_actor::start_initial_children() {
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

// -- events --------------------------------------------------------------------

void supervisor_actor::on_down(caf::down_msg& msg) {
  auto pid = msg.source.id();
  if (pid == 0)
    return;
  if (stopped_by_us(pid))
    return;
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

void supervisor_actor::on_exit_msg(caf::exit_msg& msg) {
  // Children are monitored, not linked: an exit signal comes from the
  // parent (or an operator) and is a request to shut down.
  if (classify_exit(msg.reason) == exit_kind::normal)
    return;
  shutdown(std::move(msg.reason));
}

void supervisor_actor::child_exited(pid_type pid, const caf::error& reason) {
  forget(pid);
  auto c = core_.find_pid(pid);
  if (!c)
    return;
  auto kind = classify_exit(reason);
  auto id = c->spec.id;
  if (kind == exit_kind::abnormal)
    FENIX_WARN("supervisor", "child " << id << " (#" << pid << ") crashed: "
                                      << system().render(reason));
  else
    FENIX_DEBUG("supervisor",
                "child " << id << " exited: " << system().render(reason));
  run_plan(core_.child_exited(pid, kind, now()), id);
}

void supervisor_actor::run_plan(supervisor_core::plan plan,
                                const std::string& cause) {
  update_restart_details();
  if (plan.give_up) {
    FENIX_ERROR("supervisor", display_name() << ": " << gave_up_detail
                                             << " after " << cause
                                             << "; shutting down");
    shutdown(shutdown_reason(gave_up_detail));
    return;
  }
  if (plan.auto_shutdown) {
    FENIX_INFO("supervisor",
               display_name()
                 << ": significant child " << cause << " ended (auto_shutdown "
                 << fenix::to_string(core_.flags().auto_shutdown)
                 << "); shutting down");
    shutdown(shutdown_reason("auto_shutdown"));
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

// -- client calls --------------------------------------------------------------

void supervisor_actor::terminate_slot(slot_id slot, reply r) {
  steps_.push_back({step::kind::stop, slot});
  on_done_ = [r](const caf::error&, slot_id) { r(caf::unit); };
}

void supervisor_actor::restart_child(const std::string& id, reply r) {
  auto c = core_.flags().dynamic ? nullptr : core_.find_id(id);
  if (!c) {
    r(caf::make_error(errc::not_found, id));
    return;
  }
  if (c->state == supervisor_core::status::running) {
    r(caf::make_error(errc::running, id));
    return;
  }
  if (c->state == supervisor_core::status::restarting) {
    r(caf::make_error(errc::restarting, id));
    return;
  }
  auto slot = c->slot;
  steps_.push_back({step::kind::start, slot});
  on_done_ = [this, r, slot](const caf::error& err, slot_id) {
    if (err)
      r(err);
    else
      r(handle_of(slot));
  };
}

void supervisor_actor::start_child(child_spec spec, reply r) {
  auto slot = core_.add(std::move(spec));
  if (!slot) {
    r(slot.error());
    return;
  }
  steps_.push_back({step::kind::start, *slot});
  on_done_ = [this, r, slot{*slot}](const caf::error& err, slot_id) {
    if (err) {
      core_.remove(slot); // OTP discards the spec of a failed start_child
      r(err);
    } else {
      r(handle_of(slot));
    }
  };
}

void supervisor_actor::delete_child(const std::string& id, reply r) {
  auto c = core_.flags().dynamic ? nullptr : core_.find_id(id);
  if (!c)
    r(caf::make_error(errc::not_found, id));
  else if (c->state == supervisor_core::status::running)
    r(caf::make_error(errc::running, id));
  else if (c->state == supervisor_core::status::restarting)
    r(caf::make_error(errc::restarting, id));
  else {
    core_.remove(c->slot);
    r(caf::unit);
  }
}

// -- helpers -------------------------------------------------------------------

caf::actor supervisor_actor::handle_of(slot_id slot) {
  if (auto c = core_.find(slot); c && c->pid != 0)
    if (auto i = handles_->find(c->pid); i != handles_->end())
      return i->second;
  return {};
}

std::vector<child_info> supervisor_actor::which_children() {
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

void supervisor_actor::forget(pid_type pid) {
  handles_->erase(pid);
}

std::string supervisor_actor::name_of(pid_type pid) {
  if (auto c = core_.find_pid(pid))
    return c->spec.id + " (#" + std::to_string(pid) + ")";
  return "#" + std::to_string(pid);
}

std::string supervisor_actor::display_name() {
  auto& n = core_.flags().name;
  return n.empty() ? "supervisor #" + std::to_string(id()) : n;
}

/// Every child exit runs a plan: a dynamic supervisor of connections sees
/// one per disconnect, mostly without a restart to show.
void supervisor_actor::update_restart_details() {
  auto n = core_.total_restarts();
  if (n == shown_restarts_)
    return;
  shown_restarts_ = n;
  details_writer d;
  d.num("child_restarts", static_cast<int64_t>(n));
  rt().tree().merge_details(id(), d);
}

} // namespace fenix::detail
