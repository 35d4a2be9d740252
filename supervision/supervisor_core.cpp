#include "supervision/supervisor_core.hpp"

#include <algorithm>

namespace fenix {

const char* to_string(supervisor_core::status x) {
  switch (x) {
    case supervisor_core::status::running: return "running";
    case supervisor_core::status::undefined: return "undefined";
    case supervisor_core::status::restarting: return "restarting";
  }
  return "?";
}

supervisor_core::supervisor_core(supervisor_flags flags)
    : flags_(std::move(flags)) {
  if (flags_.dynamic)
    flags_.strategy = strategy::one_for_one;
}

caf::expected<supervisor_core::slot_id>
supervisor_core::add(child_spec spec, bool at_init) {
  if (!spec.start)
    return caf::make_error(errc::invalid_spec, spec.id, "no start function");
  if (spec.significant) {
    if (flags_.auto_shutdown == auto_shutdown_mode::never)
      return caf::make_error(errc::invalid_spec, spec.id,
                             "significant child, but auto_shutdown is never");
    if (spec.restart == restart_type::permanent)
      return caf::make_error(errc::invalid_spec, spec.id,
                             "a significant child cannot be permanent");
  }
  if (flags_.dynamic) {
    if (children_.size() >= flags_.max_children)
      return caf::make_error(errc::max_children);
  } else if (auto c = find_id(spec.id)) {
    if (at_init)
      return caf::make_error(errc::duplicate_child_name, spec.id);
    if (c->state == status::running)
      return caf::make_error(errc::already_started, spec.id);
    return caf::make_error(errc::already_present, spec.id);
  }
  child c;
  c.slot = next_slot_++;
  c.spec = std::move(spec);
  children_.push_back(std::move(c));
  auto it = std::prev(children_.end());
  by_slot_.emplace(it->slot, it);
  return it->slot;
}

void supervisor_core::set_pid(child& c, pid_type pid) {
  if (c.pid != 0)
    by_pid_.erase(c.pid);
  c.pid = pid;
  if (pid != 0)
    by_pid_[pid] = by_slot_.at(c.slot);
}

void supervisor_core::started(slot_id slot, pid_type pid) {
  if (auto c = find(slot)) {
    set_pid(*c, pid);
    c->state = status::running;
  }
}

void supervisor_core::ignored(slot_id slot) {
  // OTP treats an ignored start like a child that is not running: the
  // spec stays unless it is temporary (or dynamic), as after a stop.
  stopped(slot);
}

void supervisor_core::remove(slot_id slot) {
  auto i = by_slot_.find(slot);
  if (i == by_slot_.end())
    return;
  if (i->second->pid != 0)
    by_pid_.erase(i->second->pid);
  children_.erase(i->second);
  by_slot_.erase(i);
}

supervisor_core::child* supervisor_core::find(slot_id slot) {
  auto i = by_slot_.find(slot);
  return i == by_slot_.end() ? nullptr : &*i->second;
}

supervisor_core::child* supervisor_core::find_pid(pid_type pid) {
  if (pid == 0)
    return nullptr;
  auto i = by_pid_.find(pid);
  return i == by_pid_.end() ? nullptr : &*i->second;
}

supervisor_core::child* supervisor_core::find_id(const std::string& id) {
  for (auto& c : children_)
    if (c.spec.id == id)
      return &c;
  return nullptr;
}

bool supervisor_core::add_restart(clock::time_point now) {
  return restarts_.add(now, flags_.max_restarts, flags_.max_seconds);
}

supervisor_core::plan
supervisor_core::child_exited(pid_type pid, exit_kind kind,
                              clock::time_point now) {
  plan result;
  auto c = find_pid(pid);
  if (!c)
    return result;
  set_pid(*c, 0);
  c->state = status::undefined;
  auto significant = c->spec.significant;
  switch (c->spec.restart) {
    case restart_type::temporary:
      remove(c->slot);
      return auto_shutdown_plan(significant);
    case restart_type::transient:
      if (kind != exit_kind::abnormal) {
        if (flags_.dynamic)
          remove(c->slot);
        return auto_shutdown_plan(significant);
      }
      break;
    case restart_type::permanent:
      break;
  }
  return restart_plan(*c, now);
}

supervisor_core::plan supervisor_core::auto_shutdown_plan(bool significant) const {
  plan result;
  if (!significant || flags_.auto_shutdown == auto_shutdown_mode::never)
    return result;
  // OTP counts a significant child as still there unless its pid is
  // undefined: one waiting for a restart retry holds the supervisor open.
  if (flags_.auto_shutdown == auto_shutdown_mode::all_significant)
    for (auto& x : children_)
      if (x.spec.significant && x.state != status::undefined)
        return result;
  result.auto_shutdown = true;
  result.stop = shutdown_order();
  return result;
}

supervisor_core::plan
supervisor_core::restart_failed(slot_id slot, clock::time_point now) {
  auto c = find(slot);
  if (!c)
    return {};
  set_pid(*c, 0);
  c->state = status::restarting;
  return restart_plan(*c, now);
}

supervisor_core::plan supervisor_core::restart_plan(child& c,
                                                    clock::time_point now) {
  plan result;
  if (!add_restart(now)) {
    result.give_up = true;
    result.stop = shutdown_order();
    return result;
  }
  ++c.restarts;
  ++total_restarts_;
  auto failed = c.slot;
  switch (flags_.strategy) {
    case strategy::one_for_one:
      result.start.push_back(failed);
      break;
    case strategy::one_for_all:
    case strategy::rest_for_one: {
      // The group: every child (one_for_all) or the failed one and those
      // started after it (rest_for_one).
      auto first = children_.begin();
      if (flags_.strategy == strategy::rest_for_one)
        first = std::find_if(children_.begin(), children_.end(),
                             [=](const child& x) { return x.slot == failed; });
      for (auto i = children_.end(); i != first;) {
        --i;
        if (i->slot != failed && i->state == status::running)
          result.stop.push_back(i->slot);
      }
      for (auto i = first; i != children_.end(); ++i)
        if (i->slot == failed || i->spec.restart != restart_type::temporary)
          result.start.push_back(i->slot);
      break;
    }
  }
  return result;
}

void supervisor_core::stopped(slot_id slot) {
  auto c = find(slot);
  if (!c)
    return;
  if (flags_.dynamic || c->spec.restart == restart_type::temporary) {
    remove(slot);
    return;
  }
  set_pid(*c, 0);
  c->state = status::undefined;
}

std::vector<supervisor_core::slot_id> supervisor_core::shutdown_order() const {
  std::vector<slot_id> result;
  for (auto i = children_.rbegin(); i != children_.rend(); ++i)
    if (i->state == status::running)
      result.push_back(i->slot);
  return result;
}

std::vector<child_info> supervisor_core::which_children() const {
  std::vector<child_info> result;
  result.reserve(children_.size());
  for (auto& c : children_) {
    child_info x;
    x.id = c.spec.id;
    x.status = to_string(c.state);
    x.type = c.spec.type;
    x.restart = c.spec.restart;
    x.restarts = c.restarts;
    result.push_back(std::move(x));
  }
  return result;
}

child_counts supervisor_core::count_children() const {
  child_counts result;
  result.specs = children_.size();
  for (auto& c : children_) {
    if (c.state == status::running)
      ++result.active;
    if (c.spec.type == child_type::supervisor)
      ++result.supervisors;
    else
      ++result.workers;
  }
  return result;
}

} // namespace fenix
