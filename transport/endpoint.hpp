#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "transport/http.hpp"
#include "transport/options.hpp"
#include "supervision/child_spec.hpp"
#include "transport/socket_handler.hpp"

namespace fenix::transport {

/// What an endpoint serves (Phoenix's `Endpoint`): sockets mounted on
/// paths, extra HTTP routes, a static file directory, and how it runs.
///
/// ```
/// endpoint_config cfg;
/// cfg.port = 4000;
/// cfg.socket("/socket", my_factory, opts);  // /socket/websocket (+ /longpoll)
/// cfg.route("/_fenix", tree_json_route);    // extra HTTP routes
/// cfg.static_dir = "priv/static";
/// auto ep = endpoint::start(sys, std::move(cfg));
/// ```
struct endpoint_config {
  struct mount {
    std::string path;
    handler_factory factory;
    socket_options opts;
  };

  /// Name of the endpoint supervisor in the actor tree.
  std::string name = "endpoint";
  std::string address = "127.0.0.1";
  /// 0 picks a free port; `endpoint::port()` tells which.
  uint16_t port = 0;
  /// Threads running Asio's io_context (1 measured best on 2 cores, see
  /// docs/transport.md).
  size_t io_threads = 1;
  /// How long an io thread that ran out of work keeps polling before it
  /// blocks in epoll (0: block at once). Spinning yields to every other
  /// runnable thread; on VMs it saves the vCPU's halt and wake-up per
  /// burst of frames (bench/README.md, echo (b)).
  size_t io_spin_us = 50;
  int backlog = 1024;
  /// SO_REUSEPORT, for several fenix processes on one port.
  bool reuse_port = false;
  /// Directory served for GET/HEAD of unmatched paths (demo pages); empty:
  /// no static files.
  std::string static_dir;
  /// Key signing long-poll session tokens; random per start when empty
  /// (sessions then do not survive a restart, which they do not anyway).
  std::string secret;
  /// Resolution of the shared timer wheel (idle timeouts, close linger,
  /// long-poll expiry).
  std::chrono::milliseconds tick{1000};
  /// After fenix sends a close frame, how long it waits for the client's
  /// close (or for the frame to leave at all) before dropping TCP.
  std::chrono::milliseconds close_linger{2000};
  /// Upper bound to receive one HTTP request (and keep-alive idle time).
  std::chrono::milliseconds http_timeout{30000};
  /// Graceful stop (Phoenix's drainer): connections are asked to drain in
  /// batches of `drain_batch` every `drain_interval`, for at most
  /// `drain_timeout` in total.
  size_t drain_batch = 10000;
  std::chrono::milliseconds drain_interval{2000};
  std::chrono::milliseconds drain_timeout{30000};

  std::vector<mount> mounts;
  std::vector<std::pair<std::string, http_route_handler>> routes;

  /// Children the endpoint supervises before its server, in start order:
  /// PubSub and Presence, as under Phoenix's Endpoint supervisor. They are
  /// up before the first connection is accepted and stop after the last
  /// one is gone.
  std::vector<child_spec> children;

  /// Mounts a socket: `<path>/websocket` and, when enabled,
  /// `<path>/longpoll`.
  endpoint_config& socket(std::string path, handler_factory factory,
                          socket_options opts = {}) {
    mounts.push_back({std::move(path), std::move(factory), std::move(opts)});
    return *this;
  }

  /// Adds an HTTP route for every path equal to `prefix` or below it.
  endpoint_config& route(std::string prefix, http_route_handler handler) {
    routes.emplace_back(std::move(prefix), std::move(handler));
    return *this;
  }
};

/// A running endpoint. Its actors form this subtree:
///
/// ```
/// endpoint "<name>"                        (one_for_one)
/// ├─ <children>                            (e.g. pubsub, presence)
/// └─ server "http://<address>:<port>"      (rest_for_one)
///    ├─ connections                        (dynamic, temporary children)
///    │  └─ connection #<n>                 (one per WebSocket / long-poll
///    │                                      session; runs its handler)
///    └─ listener                           (accept loop)
/// ```
///
/// Connections come before the listener: a listener restart leaves them
/// alone, a restart of `connections` restarts the listener after it. Each
/// connection actor is spawned by the start function of the child spec
/// that the I/O side sends to `connections`; its first turn runs the
/// socket's handler factory (on a CAF worker, not an io thread), whose
/// verdict the I/O side then answers with the 101 or a refusal. The
/// listener starts and pauses accepting; an accept error that the accept
/// loop cannot handle itself crashes it, and its restart accepts again
/// (docs/transport.md lists which errors are which). The io threads
/// belong to the endpoint object (they outlive every connection actor's
/// use of them).
class endpoint {
public:
  /// Binds, starts the io threads and the supervision subtree. Errors:
  /// `sec::cannot_open_port` (with the reason) or the supervisor's start
  /// error.
  static caf::expected<std::unique_ptr<endpoint>>
  start(caf::actor_system& sys, endpoint_config cfg);

  ~endpoint();
  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;

  /// The bound port.
  uint16_t port() const noexcept;

  /// "http://<address>:<port>".
  std::string url() const;

  /// The endpoint supervisor (root of the subtree above).
  const caf::actor& supervisor() const noexcept;

  endpoint_stats stats() const;

  /// Fault injection for tests: the accept in flight fails with
  /// `errno_value` as if accept(2) had returned it. EMFILE and ENFILE back
  /// off and retry; an error such as EINVAL crashes the listener, whose
  /// restart starts accepting again. Blocking; false when no accept was in
  /// flight (the listener is restarting or paused).
  bool inject_accept_error(int errno_value);

  /// Graceful stop: stops accepting, asks every connection's handler to
  /// drain (by default: close with 1012 after what is queued) in batches,
  /// waits for them within the drain timeout, then stops the subtree and
  /// the io threads. Blocking; call from outside actors. Idempotent.
  void stop();

  struct state;

private:
  explicit endpoint(std::shared_ptr<state> st);

  std::shared_ptr<state> st_;
};

} // namespace fenix::transport
