#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "transport/detail/bridge.hpp"
#include "transport/http.hpp"
#include "transport/options.hpp"

namespace fenix::transport::detail {

/// Everything the I/O side needs, in plain types.
struct io_config {
  struct mount {
    std::string path; ///< e.g. "/socket"
    socket_options opts;
    std::shared_ptr<detail::gate> gate;
  };

  std::string name = "endpoint";
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  size_t threads = 1;
  size_t spin_us = 50;
  int backlog = 1024;
  bool reuse_port = false;
  std::string static_dir;
  std::string secret;
  std::chrono::milliseconds tick{1000};
  std::chrono::milliseconds close_linger{2000};
  std::chrono::milliseconds http_timeout{30000};
  std::vector<mount> mounts;
  std::vector<std::pair<std::string, http_route_handler>> routes;
};

/// The I/O half of an endpoint: io_context and its threads, the acceptor,
/// HTTP sessions, WebSocket connections, long-poll sessions and the timer
/// wheel. Beast-free, CAF-free facade; the implementation lives in Asio /
/// Beast translation units.
class io_server {
public:
  static std::shared_ptr<io_server> make(io_config cfg);

  virtual ~io_server();

  /// Opens and binds the acceptor; an error message or empty.
  virtual std::string bind() = 0;

  /// Bound port (after bind).
  virtual uint16_t port() const = 0;

  /// Starts the io threads and the timer wheel.
  virtual void run() = 0;

  /// Starts (or restarts) the accept loop. An accept error that is the
  /// listener's to handle (see accept_loop) ends the loop and is reported
  /// once to `on_failure`, on an io thread. pause_accepting keeps the
  /// listening socket (the kernel queues connects); stop_accepting closes
  /// it for good (new connects are refused by the kernel), and connects
  /// still being decided drain as soon as they open.
  virtual void
  start_accepting(std::function<void(const std::string&)> on_failure)
    = 0;
  virtual void pause_accepting() = 0;
  virtual void stop_accepting() = 0;

  /// Fault injection for tests: the accept in flight fails with
  /// `errno_value`. Waits until that happened; false if no accept was in
  /// flight.
  virtual bool inject_accept_error(int errno_value) = 0;

  /// Tells up to `max` connections that were not told yet to drain;
  /// returns how many were told.
  virtual size_t drain(size_t max) = 0;

  /// Open connections (WebSockets and long-poll sessions).
  virtual size_t live() const = 0;

  /// Waits until no connection is open, at most `timeout`; true if none.
  virtual bool wait_idle(std::chrono::milliseconds timeout) = 0;

  /// Drops every connection at once (TCP closed, peers told).
  virtual void abort_all() = 0;

  /// Stops the io threads and waits for them. Idempotent.
  virtual void shutdown() = 0;

  virtual endpoint_stats stats() const = 0;
};

} // namespace fenix::transport::detail
