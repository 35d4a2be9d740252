#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>

namespace fenix {

/// Registered names, like Erlang's `register/2` and `whereis/1`: any string,
/// unique, released automatically when the actor exits. (CAF's own registry
/// takes 10-character atoms, silently keeps the first of two puts and never
/// forgets dead actors.)
class name_registry {
public:
  name_registry();
  ~name_registry();
  name_registry(const name_registry&) = delete;
  name_registry& operator=(const name_registry&) = delete;

  /// Binds `name` to `hdl`. Fails with `errc::name_taken` if the name is
  /// bound to a live actor, `errc::invalid_actor` for an invalid handle.
  caf::error put(const std::string& name, const caf::actor& hdl);

  /// The actor bound to `name`, or an invalid handle.
  caf::actor whereis(const std::string& name) const;

  /// Releases `name`; returns whether it was bound.
  bool erase(const std::string& name);

  /// All bindings, sorted by name.
  std::vector<std::pair<std::string, caf::actor>> list() const;

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

} // namespace fenix
