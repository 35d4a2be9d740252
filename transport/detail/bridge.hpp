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

/// The actor side of one connection, as the I/O side feeds it. Handed to
/// the I/O side with an accepted connect, once the handler exists: what
/// it sends reaches the handler in order.
class peer {
public:
  virtual ~peer() = default;

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

/// How a connect attempt was decided.
enum class verdict : uint8_t {
  /// The handler factory accepted; the connection actor runs the handler.
  accepted,
  /// The factory refused or threw.
  refused,
  /// Nothing decided: no connection actor could be started (the
  /// connections supervisor is gone, restarting or stopping).
  unavailable,
};

/// The I/O side's continuation of one connect. Runs exactly once, on a CAF
/// thread or on whichever thread drops the undecided request, so it must
/// only hand its arguments to the connection's strand. The peer is set
/// for an accepted connect that opens.
using connect_done = std::function<void(verdict, std::unique_ptr<peer>)>;

/// One connect attempt, as the I/O side hands it to its mount's gate.
struct connect_request {
  /// For the handler factory (query not parsed yet); the connection keeps
  /// a copy without headers and query.
  connect_info info;
  /// The I/O side of the connection to be: frames the handler pushes
  /// before the upgrade completes wait there. Null: only decide (a
  /// malformed WebSocket upgrade, where a refusal still wins with 403 but
  /// nothing opens).
  std::shared_ptr<link> out;
  /// The I/O side's number of the connection (its name in the actor tree
  /// and in logs).
  uint64_t id = 0;
  connect_done done;
};

/// One socket mount, as the I/O side asks it to decide connects.
class gate {
public:
  virtual ~gate() = default;

  /// Decides a connect without blocking the caller: the connections
  /// supervisor starts a connection actor that runs the handler factory
  /// on a CAF worker (never on an io thread: an authentication may take
  /// its time) and reports through `req.done`, which may run before
  /// `connect` returns.
  virtual void connect(connect_request req) = 0;
};

/// sizeof the I/O side of one WebSocket (memory budget: bench, tests).
size_t websocket_object_size() noexcept;

} // namespace fenix::transport::detail
