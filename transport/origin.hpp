#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fenix::transport {

/// Which `Origin` headers a socket accepts (Phoenix's `check_origin`). The
/// check only applies when the request carries an Origin header; a refused
/// origin gets HTTP 403 (WebSocket) or `{"status":403}` (long-poll).
///
/// - `off()`: everything is allowed (the default, for development; Phoenix
///   defaults to checking against the endpoint's configured host).
/// - `host("example.com")`: the Origin's host must equal it; scheme and port
///   are ignored (Phoenix's `check_origin: true`).
/// - `list({...})`: each entry is `scheme://host:port` where scheme and port
///   may be left out (`//example.com` matches any scheme and port) and the
///   host may be `*.example.com` (example.com itself and any subdomain).
class origin_policy {
public:
  enum class mode { off, host, list };

  static origin_policy off() { return {}; }
  static origin_policy host(std::string host);
  static origin_policy list(std::vector<std::string> allowed);

  mode how() const noexcept { return how_; }

  /// True when a request with this Origin header value may connect.
  bool allows(std::string_view origin) const;

private:
  struct entry {
    std::string scheme; // empty: any
    std::string host;   // lower case; leading "*." stripped when wildcard
    std::string port;   // empty: any
    bool wildcard = false;
  };

  mode how_ = mode::off;
  std::vector<entry> entries_;
};

} // namespace fenix::transport
