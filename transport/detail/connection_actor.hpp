#pragma once

// Internal to the actor half (CAF, no Asio, no Beast).

#include <condition_variable>
#include <memory>
#include <mutex>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>

#include "transport/detail/bridge.hpp"
#include "transport/options.hpp"
#include "transport/socket_handler.hpp"

namespace fenix::transport::detail {

/// Where the I/O side finds the `connections` supervisor (its start
/// function stores the handle here, again after every restart), and how
/// many connection actors are alive (a drain waits for them to finish).
class supervisor_slot {
public:
  void actor_started() {
    std::lock_guard<std::mutex> guard{mtx_};
    ++actors_;
  }

  void actor_stopped() {
    std::lock_guard<std::mutex> guard{mtx_};
    if (--actors_ == 0)
      cv_.notify_all();
  }

  size_t actors() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return actors_;
  }

  /// Waits until no connection actor is alive; true if none.
  template <class Duration>
  bool wait_no_actors(Duration timeout) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, timeout, [this] { return actors_ == 0; });
  }

  caf::actor get() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return sup_;
  }

  void set(caf::actor x) {
    std::lock_guard<std::mutex> guard{mtx_};
    sup_ = std::move(x);
  }

  /// Clears the slot if it still holds the actor with this address.
  void reset_if(const caf::actor_addr& addr) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (sup_ && sup_.address() == addr)
      sup_ = caf::actor{};
  }

private:
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  caf::actor sup_;
  size_t actors_ = 0;
};

/// The gate of one socket mount: each connect becomes a connection actor,
/// started by the connections supervisor in `slot`, whose first turn runs
/// the factory `f`.
std::shared_ptr<gate> make_gate(handler_factory f,
                                std::shared_ptr<supervisor_slot> slot);

/// sizeof the connection actor (for the memory budget).
size_t connection_actor_size() noexcept;

} // namespace fenix::transport::detail
