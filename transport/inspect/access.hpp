#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "transport/http.hpp"

namespace fenix::inspection {

/// True for addresses of this host's loopback interface: 127.0.0.0/8,
/// ::1 and IPv4-mapped 127.x (::ffff:127.0.0.1), as Asio prints them.
bool is_loopback(std::string_view address) noexcept;

/// The token of an `Authorization: Bearer <token>` header value, or empty.
std::string_view bearer_token(std::string_view authorization) noexcept;

/// Compares two secrets in time independent of where they differ (a
/// plain `==` stops at the first mismatch and leaks the prefix length).
bool equal_secrets(std::string_view a, std::string_view b) noexcept;

/// Who may call an inspection route.
///
/// The peer check runs first: a peer that is not allowed gets 403 whatever
/// it sends. Then, when `token` is set, the request must carry
/// `Authorization: Bearer <token>`; otherwise it gets 401 with
/// `WWW-Authenticate: Bearer` and no data.
struct access_policy {
  /// Required bearer token; empty means no token is asked (only sensible
  /// for /metrics on loopback).
  std::string token;

  /// Only loopback peers (the default). Ignored when `allow_peer` is set.
  bool loopback_only = true;

  /// Custom peer predicate (address as printed by Asio, e.g. "10.0.0.7"),
  /// replacing the loopback check: e.g. a list of monitoring hosts.
  std::function<bool(std::string_view address)> allow_peer;

  enum class verdict { allow, forbidden, unauthorized };

  bool peer_allowed(std::string_view address) const;

  verdict check(const transport::http_request& req,
                bool token_required = true) const;

  /// The response for a verdict other than `allow` (reveals nothing).
  static transport::http_response refusal(verdict v);
};

} // namespace fenix::inspection
