#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fenix::transport {

/// Decoded query-string parameters, in request order. Keys are kept as
/// sent, so a nested `user[name]=x` stays the key "user[name]".
class params {
public:
  using value_type = std::pair<std::string, std::string>;

  params() = default;
  explicit params(std::vector<value_type> xs) : xs_(std::move(xs)) {
    // nop
  }

  /// Decodes `a=1&b=two%20words&c` (`+` is a space; a key without `=`
  /// has an empty value; malformed escapes are kept literally).
  static params parse(std::string_view query);

  /// The first value of `key`, or null.
  const std::string* get(std::string_view key) const noexcept;

  bool contains(std::string_view key) const noexcept {
    return get(key) != nullptr;
  }

  const std::vector<value_type>& items() const noexcept { return xs_; }
  size_t size() const noexcept { return xs_.size(); }
  bool empty() const noexcept { return xs_.empty(); }
  auto begin() const noexcept { return xs_.begin(); }
  auto end() const noexcept { return xs_.end(); }

private:
  std::vector<value_type> xs_;
};

/// What a socket handler factory learns about a connect attempt before it
/// decides (Phoenix's `connect_info`). The connection keeps a trimmed copy
/// (`headers` and `query` dropped after the connect decision, to keep idle
/// connections small); copy what you need into your handler.
struct connect_info {
  /// "websocket" or "longpoll".
  std::string transport;
  std::string peer_address;
  uint16_t peer_port = 0;
  /// The request path (e.g. "/socket/websocket") and raw query string.
  std::string path;
  std::string query;
  /// Request headers with lower-cased names, in request order.
  std::vector<std::pair<std::string, std::string>> headers;
  /// The subprotocol the server selected (echoed in the 101), or empty.
  std::string subprotocol;
  /// Auth token: phoenix.js's `authToken` option, sent as subprotocol
  /// `base64url.bearer.phx.<token>` (WebSocket) or header
  /// `x-phoenix-authtoken` (long-poll).
  std::optional<std::string> auth_token;

  /// First header with this (lower-case) name, or null.
  const std::string* header(std::string_view name) const noexcept;
};

/// Lower-cases ASCII letters.
std::string to_lower(std::string_view s);

/// Percent-decodes (`+` -> space when `plus_is_space`); nothing when an
/// escape is malformed.
std::optional<std::string> percent_decode(std::string_view s,
                                          bool plus_is_space);

} // namespace fenix::transport

namespace fenix::transport {

/// Who ended a connection.
enum class closed_by : uint8_t {
  client,  ///< the client sent a close frame (WebSocket)
  server,  ///< fenix closed it: handler, idle timeout, limit, drain, error
  network, ///< the TCP connection dropped without a close handshake, or a
           ///< long-poll session expired
};

const char* to_string(closed_by x) noexcept;

/// How a connection ended, as its socket handler is told.
struct close_info {
  /// The WebSocket close code: the client's (1005 when its close frame had
  /// none), the one fenix sent, or 1006 when TCP dropped.
  uint16_t code = 1000;
  std::string reason;
  closed_by by = closed_by::server;
};

} // namespace fenix::transport
