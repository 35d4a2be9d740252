#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "transport/origin.hpp"

namespace fenix::transport {

/// Long-poll transport of one socket mount (Phoenix's `longpoll:`).
struct longpoll_options {
  /// Off by default, as in Phoenix since 1.8.2.
  bool enabled = false;
  /// How long a GET is held when nothing is buffered (then 204), and how
  /// long a POST waits for the session to take its messages (then 408).
  std::chrono::milliseconds window{10000};
  /// A session without a GET for this long ends (its handler is told, with
  /// code 1001 "session inactive"); default 1.5 x window.
  std::optional<std::chrono::milliseconds> session_timeout;
  /// Max age of a session token (Phoenix: 14 days).
  std::chrono::seconds token_max_age{1209600};
  /// Request body limit of a POST.
  size_t max_body = 8 * 1024 * 1024;

  std::chrono::milliseconds effective_session_timeout() const {
    return session_timeout ? *session_timeout : window * 3 / 2;
  }
};

/// Options of one socket mount (Phoenix's `socket "/socket", S, opts`).
struct socket_options {
  /// Serve `<path>/websocket`.
  bool websocket = true;
  /// Serve `<path>/longpoll` (when `longpoll.enabled`).
  longpoll_options longpoll;
  /// A WebSocket that receives nothing (no frame, not even a ping) for this
  /// long is closed with 1001 "idle timeout", which phoenix.js answers by
  /// reconnecting. Zero disables the timeout.
  std::chrono::milliseconds idle_timeout{60000};
  /// Largest inbound message (all fragments together); larger ones close
  /// the connection with 1009.
  size_t max_frame_size = 10000000;
  origin_policy check_origin;
  /// Connections (WebSocket + long-poll sessions) this mount accepts at
  /// once; past it the upgrade is answered with HTTP 503.
  size_t max_connections = std::numeric_limits<size_t>::max();
  /// Outbound queue limits per connection (frames written by the kernel no
  /// longer count). A client past either limit is disconnected with 1008.
  size_t max_queue_bytes = 16 * 1024 * 1024;
  size_t max_queue_frames = 10000;
  /// Accepted `Sec-WebSocket-Protocol` values in order of preference. Empty:
  /// the header is ignored. Otherwise the first entry the client offers is
  /// echoed, and a client offering none of them gets 403.
  std::vector<std::string> subprotocols;
  /// phoenix.js `authToken` mode: take the token from the subprotocol
  /// `base64url.bearer.phx.<token>` (WebSocket) or the header
  /// `x-phoenix-authtoken` (long-poll) into `connect_info::auth_token`,
  /// and echo the `phoenix` subprotocol.
  bool auth_token = false;
};

/// Counters of one endpoint (monotonic unless noted).
struct endpoint_stats {
  uint64_t connections = 0;       ///< open now: WebSockets + long-poll sessions
  uint64_t websockets = 0;        ///< open WebSockets now
  uint64_t longpoll_sessions = 0; ///< live long-poll sessions now
  uint64_t accepted = 0;          ///< WebSocket upgrades + long-poll sessions
  uint64_t refused = 0;           ///< connects refused (origin, handler, limit)
  uint64_t http_requests = 0;
  uint64_t queue_drops = 0;       ///< clients dropped at the queue limit
  uint64_t idle_timeouts = 0;
  uint64_t protocol_errors = 0;   ///< closes with 1002/1007/1009
  uint64_t frames_in = 0;         ///< inbound data messages
  uint64_t frames_out = 0;        ///< frames written (data and control)
  uint64_t bytes_out = 0;
  uint64_t writes = 0;            ///< gather-writes issued (all of them)
  /// of those, written by the thread that queued the frames (replies, and
  /// frames queued in an actor's turn), not by the I/O thread
  uint64_t direct_writes = 0;
};

} // namespace fenix::transport
