#include "actors/names.hpp"

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include <caf/abstract_actor.hpp>
#include <caf/actor_cast.hpp>

#include "actors/errors.hpp"

namespace fenix {

namespace {

// An actor's exit hooks run newest first, so a monitor attached after the
// name may report DOWN before the name's own release hook ran: treat a
// terminated actor as unregistered right away (the flag is set before any
// exit hook runs).
bool terminated(const caf::actor& hdl) {
  return caf::actor_cast<caf::abstract_actor*>(hdl)->getf(
    caf::abstract_actor::is_terminated_flag);
}

} // namespace

struct name_registry::impl {
  mutable std::mutex mtx;
  std::unordered_map<std::string, caf::actor> names;
};

name_registry::name_registry() : impl_(std::make_shared<impl>()) {
  // nop
}

name_registry::~name_registry() {
  // nop
}

caf::error name_registry::put(const std::string& name, const caf::actor& hdl) {
  if (!hdl)
    return caf::make_error(errc::invalid_actor, name);
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    auto [i, added] = impl_->names.emplace(name, hdl);
    if (!added) {
      if (i->second == hdl)
        return caf::none;
      if (!terminated(i->second))
        return caf::make_error(errc::name_taken, name);
      i->second = hdl;
    }
  }
  std::weak_ptr<impl> weak = impl_;
  auto id = hdl.id();
  // Release the name when the actor exits, unless it was re-bound since.
  // If the actor is already gone, this runs right away.
  caf::actor_cast<caf::abstract_actor*>(hdl)->attach_functor([weak, name, id] {
    if (auto self = weak.lock()) {
      std::lock_guard<std::mutex> guard{self->mtx};
      if (auto i = self->names.find(name);
          i != self->names.end() && i->second.id() == id)
        self->names.erase(i);
    }
  });
  return caf::none;
}

caf::actor name_registry::whereis(const std::string& name) const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  if (auto i = impl_->names.find(name);
      i != impl_->names.end() && !terminated(i->second))
    return i->second;
  return {};
}

bool name_registry::erase(const std::string& name) {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->names.erase(name) > 0;
}

std::vector<std::pair<std::string, caf::actor>> name_registry::list() const {
  std::vector<std::pair<std::string, caf::actor>> result;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    for (auto& kvp : impl_->names)
      if (!terminated(kvp.second))
        result.push_back(kvp);
  }
  std::sort(result.begin(), result.end(),
            [](auto& a, auto& b) { return a.first < b.first; });
  return result;
}

} // namespace fenix
