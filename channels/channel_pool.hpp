#pragma once

#include <memory>
#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "supervision/child_spec.hpp"

namespace fenix::channels {

/// Where channel servers live: the endpoint's partitioned pool of dynamic
/// supervisors, as in Phoenix (`Phoenix.Channel.Server` children of the
/// endpoint's PoolSupervisor). Each channel monitors its connection and
/// ends with it; a connection's channels all go to one partition.
///
/// ```
/// channels "<name>"        (one_for_one)
/// ├─ channels 0            (dynamic; temporary children)
/// │  ├─ room:lobby         (a temporary route's channel)
/// │  └─ transient room:a   (one_for_one, auto_shutdown: a transient
/// │     └─ room:a           route's channel and its restart intensity)
/// └─ channels 1 ...
/// ```
///
/// Put the child spec among the endpoint's children (before its server,
/// like PubSub), and hand the handle to `phoenix_handler_factory`.
class channel_pool {
public:
  struct state;

  channel_pool() = default;

  /// `partitions` dynamic supervisors (0: one per scheduler thread is a
  /// good choice; 2 here).
  static std::pair<channel_pool, child_spec> make(std::string name = "channels",
                                                  size_t partitions = 2);

  explicit operator bool() const noexcept { return state_ != nullptr; }

  size_t partitions() const;

  /// The partition that supervises the channels of `connection` (invalid
  /// while it restarts).
  caf::actor partition_for(caf::actor_id connection) const;

private:
  explicit channel_pool(std::shared_ptr<state> st) : state_(std::move(st)) {
    // nop
  }

  std::shared_ptr<state> state_;
};

} // namespace fenix::channels
