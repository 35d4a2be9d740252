#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include <boost/json/value.hpp>
#include <caf/fwd.hpp>

#include "transport/http.hpp"
#include "transport/inspect/access.hpp"

namespace fenix::transport {
class endpoint;
struct endpoint_config;
} // namespace fenix::transport

namespace fenix::inspection {

/// What the inspection routes serve and who may call them. Nothing is
/// mounted unless the application calls `inspector::mount`.
struct options {
  /// Prefix of the JSON API and the dashboard.
  std::string prefix = "/_fenix";

  /// Access to `prefix`: a bearer token is required (the inspector refuses
  /// to start without one) and, by default, a loopback peer.
  access_policy access;

  /// Serve Prometheus metrics at `metrics_path` (empty path: do not).
  std::string metrics_path = "/metrics";

  /// Access to `/metrics`: loopback only by default, no token unless one
  /// is set here (scrapers usually send none).
  access_policy metrics_access;

  /// Name of the synthetic root that `GET <prefix>/tree` puts above every
  /// top-level actor (the application name).
  std::string root_name = "fenix";

  /// Children shown per node when a request does not say
  /// (`max_children=`); 0 shows all.
  size_t default_max_children = 0;

  /// Requests waiting for the inspection thread before new ones get 503.
  size_t max_pending = 64;
};

/// Serves the live actor tree over HTTP: the routes below `prefix`
/// (`/tree`, `/actors/<id>`, `/actors/<id>/kill`, `/stats`, `/dashboard`)
/// and `/metrics`. See docs/inspect.md for the JSON and the security
/// model.
///
/// ```
/// inspection::options io;
/// io.access.token = admin_token;
/// inspection::inspector insp{sys, io};
/// insp.mount(ep_cfg);                       // before endpoint::start
/// auto ep = transport::endpoint::start(sys, std::move(ep_cfg));
/// insp.attach(**ep);                        // connection stats, rates
/// ...
/// (*ep)->stop();
/// insp.detach(**ep);                        // before the endpoint dies
/// ```
///
/// Answers are built on one inspection thread of its own, never on an I/O
/// thread or a CAF worker: a 10k-connection tree takes tens of
/// milliseconds to serialize and must not stall either.
class inspector {
public:
  /// Throws std::invalid_argument when `opts.access.token` is empty.
  inspector(caf::actor_system& sys, options opts);
  ~inspector();
  inspector(const inspector&) = delete;
  inspector& operator=(const inspector&) = delete;

  /// Adds the routes to an endpoint's configuration.
  void mount(transport::endpoint_config& cfg) const;

  /// Counts this endpoint's connections, frames and queue drops in
  /// `/stats` and `/metrics`. The endpoint must stay alive until `detach`
  /// (or until this inspector is destroyed).
  void attach(const transport::endpoint& ep);
  void detach(const transport::endpoint& ep);

  // -- the answers themselves (what the routes serialize) --------------------

  /// The tree below `root` (an actor id or a name; empty: the whole forest
  /// under a synthetic root), at most `max_children` children per node
  /// (0: all). Nothing when `root` is unknown.
  std::optional<boost::json::value>
  tree(const std::string& root = {}, size_t max_children = 0) const;

  /// One actor (id or name) with a one-level list of its children.
  std::optional<boost::json::value> actor(const std::string& id) const;

  /// Totals and per-second rates.
  boost::json::value stats() const;

  /// The Prometheus text exposition.
  std::string metrics_text() const;

  struct state;

private:
  std::shared_ptr<state> st_;
};

} // namespace fenix::inspection
