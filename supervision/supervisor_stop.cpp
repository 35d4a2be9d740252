// How a supervisor stops children: one at a time (terminate_child, sibling
// restarts, a static supervisor's shutdown) or all at once (a dynamic
// supervisor's shutdown), and how its shutdown answers the calls it will
// not serve.
#include "supervision/detail/supervisor_actor.hpp"

#include <set>

#include <caf/all.hpp>

#include "actors/errors.hpp"
#include "actors/log.hpp"
#include "actors/system.hpp"
#include "actors/tree.hpp"

namespace fenix::detail {

namespace {

using stop_timeout_atom = caf::atom_constant<caf::atom("stoptmo")>;
using stop_group_atom = caf::atom_constant<caf::atom("stopgroup")>;

} // namespace

// -- stopping children ---------------------------------------------------------

void supervisor_actor::exec_stop(slot_id slot) {
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

void supervisor_actor::exec_stop_all() {
  // Timers per distinct timeout, not per child: ten thousand connections
  // under one 5 s timeout need one timer.
  std::set<int64_t> timers;
  for (auto slot : core_.shutdown_order()) {
    auto c = core_.find(slot);
    auto i = handles_->find(c->pid);
    if (i == handles_->end()) {
      core_.stopped(slot); // its DOWN came already; the exit job was dropped
      continue;
    }
    if (auto node = rt().tree().find(c->pid))
      node->set_state(actor_state::stopping);
    auto sd = c->spec.effective_shutdown();
    int64_t timeout_ms = -1;
    if (sd.how == shutdown_spec::mode::brutal_kill) {
      send_exit(i->second, caf::exit_reason::kill);
    } else {
      send_exit(i->second, shutdown_reason());
      if (sd.how == shutdown_spec::mode::timeout) {
        timeout_ms = sd.timeout.count();
        timers.insert(timeout_ms);
      }
    }
    stopping_.emplace(c->pid, pending_stop{slot, timeout_ms});
  }
  if (stopping_.empty())
    return;
  waiting_ = true;
  for (auto ms : timers)
    delayed_send(this, std::chrono::milliseconds{ms}, stop_group_atom::value,
                 epoch_, ms);
}

void supervisor_actor::on_stop_timeout(uint64_t epoch) {
  if (epoch != epoch_ || awaiting_down_ == 0)
    return;
  if (auto i = handles_->find(awaiting_down_); i != handles_->end()) {
    FENIX_WARN("supervisor", name_of(awaiting_down_)
                               << " ignored its shutdown request; killing it");
    send_exit(i->second, caf::exit_reason::kill);
  }
}

void supervisor_actor::on_stop_group_timeout(uint64_t epoch, int64_t ms) {
  if (epoch != epoch_ || stopping_.empty())
    return;
  size_t killed = 0;
  for (auto& [pid, p] : stopping_) {
    if (p.timeout_ms != ms)
      continue;
    if (auto i = handles_->find(pid); i != handles_->end()) {
      send_exit(i->second, caf::exit_reason::kill);
      ++killed;
    }
  }
  if (killed > 0)
    FENIX_WARN("supervisor", display_name()
                               << ": " << killed
                               << " children ignored their shutdown request "
                                  "for "
                               << ms << " ms; killing them");
}

bool supervisor_actor::stopped_by_us(pid_type pid) {
  if (!stopping_.empty()) {
    auto i = stopping_.find(pid);
    if (i == stopping_.end())
      return false;
    auto slot = i->second.slot;
    stopping_.erase(i);
    forget(pid);
    core_.stopped(slot);
    if (stopping_.empty())
      step_done();
    return true;
  }
  if (waiting_ && pid == awaiting_down_) {
    awaiting_down_ = 0;
    forget(pid);
    core_.stopped(stopping_slot_);
    step_done();
    return true;
  }
  return false;
}

// -- the shutdown --------------------------------------------------------------

void supervisor_actor::shutdown(caf::error reason) {
  if (shutting_down_)
    return;
  shutting_down_ = true;
  node().set_state(actor_state::stopping);
  // Queued calls will not run: answer them now rather than leave their
  // callers waiting for a reply that would never come.
  auto queued = std::move(jobs_);
  jobs_.clear();
  for (auto& j : queued)
    refuse(j.caller);
  // The step in flight (one child's start or stop) completes first: CAF
  // cannot take back a spawn or an exit signal. The rest of its job does
  // not run, and its caller is refused like the queued ones.
  steps_.clear();
  on_done_ = [this, reason](const caf::error&, slot_id) {
    refuse(current_);
    stop_children(reason);
  };
  advance();
}

void supervisor_actor::stop_children(caf::error reason) {
  if (core_.flags().dynamic)
    steps_.push_back({step::kind::stop_all, 0});
  else
    for (auto s : core_.shutdown_order())
      steps_.push_back({step::kind::stop, s});
  on_done_ = [this, reason](const caf::error&, slot_id) {
    fail_waiters(reason);
    quit(reason);
  };
}

void supervisor_actor::init_failed(caf::error err) {
  init_error_ = err;
  shutdown(std::move(err));
}

caf::error supervisor_actor::refusal() {
  return caf::make_error(errc::shutdown, display_name() + " is shutting down");
}

void supervisor_actor::refuse(const std::optional<reply>& caller) {
  if (caller && caller->pending())
    (*caller)(refusal());
}

void supervisor_actor::fail_waiters(const caf::error& err) {
  for (auto& rp : started_waiters_)
    rp.deliver(err);
  started_waiters_.clear();
}

} // namespace fenix::detail
