#pragma once

// Internal to the actor half (CAF, no Asio, no Beast).

#include <memory>
#include <mutex>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "transport/detail/bridge.hpp"
#include "transport/options.hpp"
#include "transport/socket_handler.hpp"

namespace fenix::transport::detail {

/// Where the I/O side finds the `connections` supervisor. Its start
/// function stores the handle here, again after every restart.
class supervisor_slot {
public:
  caf::actor get() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return sup_;
  }

  void set(caf::actor x) {
    std::lock_guard<std::mutex> guard{mtx_};
    sup_ = std::move(x);
  }

private:
  mutable std::mutex mtx_;
  caf::actor sup_;
};

/// The gate of one socket mount: runs the factory, spawns connection actors.
std::shared_ptr<gate> make_gate(caf::actor_system& sys, handler_factory f,
                                std::shared_ptr<supervisor_slot> slot);

/// sizeof the connection actor (for the memory budget).
size_t connection_actor_size() noexcept;

} // namespace fenix::transport::detail
