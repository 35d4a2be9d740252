#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fenix::transport {

/// An HTTP request as an extra route sees it.
struct http_request {
  std::string method;
  std::string target; ///< path and query as sent
  std::string path;   ///< percent-decoded
  std::string query;  ///< raw
  std::vector<std::pair<std::string, std::string>> headers; ///< lower-case
  std::string body;
  std::string peer_address;
  uint16_t peer_port = 0;

  const std::string* header(std::string_view name) const noexcept;
};

/// The answer of an extra route.
struct http_response {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  static http_response text(unsigned status, std::string body);
  static http_response json(std::string body, unsigned status = 200);
};

namespace detail {

/// Where a response goes; implemented by the HTTP session.
class response_sink {
public:
  virtual ~response_sink() = default;
  virtual void deliver(http_response res) = 0;
};

} // namespace detail

/// Completes one HTTP request. Copyable and thread-safe: a route may hand
/// it to an actor and answer later from any thread. The first call wins;
/// when the last copy goes away unanswered, the client gets a 500.
class http_responder {
public:
  explicit http_responder(std::shared_ptr<detail::response_sink> sink);

  void operator()(http_response res) const;

private:
  struct state;
  std::shared_ptr<state> st_;
};

/// An extra HTTP route (e.g. `/_fenix/...` JSON, `/metrics`). Runs on an
/// I/O thread: answer at once or hand the responder to an actor, but
/// never block.
using http_route_handler =
  std::function<void(const http_request&, http_responder respond)>;

} // namespace fenix::transport
