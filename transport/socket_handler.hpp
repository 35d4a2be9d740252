#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <caf/fwd.hpp>
#include <caf/message_handler.hpp>

#include "transport/connect_info.hpp"
#include "transport/frame.hpp"
#include "transport/outlet.hpp"

namespace fenix {
class actor;
class details_writer;
} // namespace fenix

namespace fenix::transport {

/// What a socket handler sees of its connection. Implemented by the
/// connection actor; every call is made from inside that actor (the
/// handler's callbacks run there), except `push`, which any thread may call.
class connection {
public:
  /// The connection actor: spawn children (they appear under the
  /// connection in the actor tree when placed there), monitor, send,
  /// `delayed_send` to itself, make response promises.
  virtual fenix::actor* self() noexcept = 0;

  /// Connect info, trimmed: transport, peer, path and subprotocol stay;
  /// headers and query were only for the factory.
  virtual const connect_info& info() const noexcept = 0;

  /// Queues a prebuilt frame (broadcasts share one frame among every
  /// recipient). Returns false when the connection is closing, or when this
  /// frame hit the queue limit (the client is then being disconnected), or
  /// for binary frames on long-poll, which cannot carry them.
  virtual bool push(frame_ptr f) = 0;

  /// The connection's outbound queue as a shareable handle: channel actors
  /// and PubSub shards push into it directly from their own threads.
  /// Outlives the connection safely (then `send` returns false).
  virtual outlet_ptr outlet() const noexcept = 0;

  bool push_text(std::string_view text) {
    return push(frame::make(opcode::text, text));
  }
  bool push_binary(std::string_view data) {
    return push(frame::make(opcode::binary, data));
  }

  /// Closes after every frame queued so far: a close frame with `code`
  /// (WebSocket), then TCP shutdown. `on_close` follows once the transport
  /// is done; messages keep arriving until then.
  virtual void close(uint16_t code = 1000, std::string_view reason = {}) = 0;

  /// True once `close` was called or the transport is going away.
  virtual bool closing() const noexcept = 0;

protected:
  ~connection() = default;
};

/// One protocol spoken over one connection: the heart of "any protocol"
/// (Phoenix channels, MQTT over WebSocket, a plain echo...). The transport
/// knows nothing of topics or payload formats; a handler object lives
/// inside its connection actor and gets every event of that connection,
/// one at a time, on the actor's thread.
///
/// Lifecycle: a `handler_factory` creates it in the connection actor's
/// first turn, before the upgrade (returning nullptr refuses the connect);
/// then `make_handlers` and `on_open` run in that same turn;
/// `on_text`/`on_binary` per inbound message; `on_message` for
/// any other actor message; `on_drain` when the endpoint shuts down;
/// `on_close` exactly once at the end (not after the handler threw: an
/// exception closes only this connection, with 1011).
class socket_handler {
public:
  virtual ~socket_handler();

  /// Extra typed message handlers of the connection actor, matched before
  /// `on_message` (e.g. replies from channel actors). The lambdas may
  /// capture `conn` and `this`; their return values become replies.
  virtual caf::message_handler make_handlers(connection& conn);

  /// The transport is open; frames pushed now follow the handshake.
  virtual void on_open(connection& conn);

  /// What the actor tree shows of this protocol on the connection (e.g.
  /// its name and serializer), added to the transport's own details right
  /// after `on_open`: one write into the tree per connection start.
  /// Later changes go through `merge_details` on the tree.
  virtual void describe(details_writer& details) const;

  /// A complete text message (valid UTF-8). The string may be moved from.
  virtual void on_text(connection& conn, std::string& text) = 0;

  /// A complete binary message; by default the connection is closed with
  /// 1003 (unsupported data).
  virtual void on_binary(connection& conn, std::string& data);

  /// Any actor message nobody else matched. Return false to let the
  /// connection log it as unexpected (a requester then gets an error).
  virtual bool on_message(connection& conn, caf::message& msg);

  /// A monitored actor went down.
  virtual void on_down(connection& conn, const caf::down_msg& msg);

  /// The endpoint is draining: finish what you must, then close. The
  /// default closes with 1012 (service restart), which makes phoenix.js
  /// reconnect, after everything already queued.
  virtual void on_drain(connection& conn);

  /// The connection is gone (client close, server close, network error, or
  /// the actor being shut down by its supervisor). Pushing is useless now.
  virtual void on_close(connection& conn, const close_info& why);
};

using socket_handler_ptr = std::unique_ptr<socket_handler>;

/// Decides a connect attempt (Phoenix's `connect/3`) and creates the
/// connection's handler, or returns nullptr to refuse (HTTP 403 without
/// upgrade; long-poll `{"status":403}`); an exception refuses too. Runs
/// before the upgrade, for the new connection actor, on the runtime's
/// blocking pool: never on an I/O thread or a CAF worker, so a slow
/// decision (an authentication) delays only its own connect. Runs for
/// several connects at once: be thread-safe.
using handler_factory =
  std::function<socket_handler_ptr(const params&, const connect_info&)>;

} // namespace fenix::transport
