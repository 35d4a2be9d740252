#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace fenixctl {

/// Where the server is: parsed from `http://host[:port][/base]`.
struct url {
  std::string host;
  std::string port = "80";
  std::string base; ///< path prefix without trailing slash (usually empty)

  /// False (with `error` set) for anything but plain http URLs.
  static bool parse(const std::string& text, url& out, std::string& error);
};

struct http_result {
  bool ok = false;         ///< false: no HTTP answer at all (see error)
  bool refused = false;    ///< the connection was refused
  std::string error;       ///< why there was no answer
  unsigned status = 0;
  std::string body;
};

/// One HTTP/1.1 request with an optional bearer token, bounded by
/// `timeout` from resolve to the last byte.
http_result request(const url& u, const std::string& method,
                    const std::string& target, const std::string& token,
                    std::chrono::milliseconds timeout);

} // namespace fenixctl
