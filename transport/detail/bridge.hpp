#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "transport/connect_info.hpp"
#include "transport/frame.hpp"
#include "transport/outlet.hpp"

// The seam between the two halves of the transport. The I/O half (Asio and
// Beast, on the io threads) and the actor half (CAF, on the scheduler's
// workers) never include each other's headers; they meet only through
// these small interfaces, whose every method is thread-safe.

namespace fenix::transport::detail {

/// The I/O side of one connection (a WebSocket or a long-poll session), as
/// the connection actor drives it: exactly the public `outlet`, which the
/// handler may hand to other actors (channels, PubSub shards) so that they
/// push frames without a hop through the connection actor.
using link = outlet;

/// One inbound long-poll message: text (true) or binary (false).
using inbound_message = std::pair<bool, std::string>;

/// The actor side of one connection, as the I/O side feeds it. Created by
/// a `gate` when the handler factory accepted the connect.
class peer {
public:
  virtual ~peer() = default;

  /// Spawns the connection actor, wired to `l`, and hands it to the
  /// connections supervisor. False when that is impossible (no supervisor:
  /// the endpoint is stopping); the handler is then dropped.
  virtual bool start(std::shared_ptr<link> l, connect_info info) = 0;

  virtual void on_text(std::string msg) = 0;
  virtual void on_binary(std::string msg) = 0;

  /// A long-poll POST: the handler gets every message in order, then
  /// `ack` runs (on a CAF thread).
  virtual void on_batch(std::vector<inbound_message> msgs,
                        std::function<void()> ack)
    = 0;

  /// The transport is closed; the actor tells its handler and quits.
  virtual void on_closed(close_info why) = 0;

  /// The endpoint drains: the handler's `on_drain` runs.
  virtual void drain() = 0;
};

/// One socket mount, as the I/O side asks it to decide connects.
class gate {
public:
  virtual ~gate() = default;

  /// Runs the handler factory (exceptions count as refusal); null when the
  /// connect is refused.
  virtual std::unique_ptr<peer> connect(const params& ps,
                                        const connect_info& info)
    = 0;
};

/// sizeof the I/O side of one WebSocket (memory budget: bench, tests).
size_t websocket_object_size() noexcept;

} // namespace fenix::transport::detail
