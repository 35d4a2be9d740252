#pragma once

// Messages between a Phoenix connection (the socket) and its channel
// servers. Local only: the inspect functions name the types for CAF and
// serialize nothing.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "channels/channel.hpp"
#include "channels/pubsub.hpp"
#include "transport/outlet.hpp"

namespace fenix::channels::detail {

/// `(join_atom)`: socket -> channel, once after spawn. The channel answers
/// `(join_done_atom, int join_outcome)` as a plain message, after the
/// reply is written (no request: a request's timeout costs a wake-up of
/// CAF's clock thread per join, and the socket watches the channel's DOWN
/// instead).
using join_atom = caf::atom_constant<caf::atom("phx_join")>;
using join_done_atom = caf::atom_constant<caf::atom("phx_joind")>;
/// `(in_atom, inbound)`: an event for the channel (handle_in / leave).
using in_atom = caf::atom_constant<caf::atom("phx_in")>;
/// `(closed_atom, closed_notice)`: channel -> socket, "I end gracefully
/// and already wrote phx_close".
using closed_atom = caf::atom_constant<caf::atom("phx_closed")>;
/// `(drain_atom)`: socket -> channel, the endpoint drains.
using drain_atom = caf::atom_constant<caf::atom("phx_drain")>;

enum join_outcome : int { joined = 0, refused = 1, crashed = 2 };

/// An inbound client message routed to a channel.
struct inbound {
  std::string event;
  shared_payload payload;
  boost::json::value ref;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, inbound& x) {
  return f(caf::meta::type_name("fenix::phx_inbound"), x.event);
}

struct closed_notice {
  std::string topic;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, closed_notice& x) {
  return f(caf::meta::type_name("fenix::phx_closed"), x.topic);
}

/// Everything a channel server needs to start.
struct channel_init {
  std::string topic;
  boost::json::value join_ref; // as the client sent it (may be null)
  boost::json::value ref;      // the join message's ref
  shared_payload payload;
  transport::outlet_ptr out;
  const serializer* ser = nullptr;
  caf::actor connection;
  channels::pubsub pubsub;
  /// The socket's assigns, shared by its channels until one writes.
  std::shared_ptr<const boost::json::object> assigns;
  std::optional<std::string> socket_id;
  std::string transport;
  std::function<channel_ptr()> factory;
  /// A server-side restart (transient route): join again without writing
  /// the reply, the client still has its join.
  bool silent = false;
  /// Transient route: an exception in a callback re-creates the channel
  /// object and re-runs join silently inside the same actor (so messages
  /// already queued for it are not lost), within this intensity.
  bool transient = false;
  size_t max_restarts = 3;
  std::chrono::milliseconds max_seconds{5000};
};

} // namespace fenix::channels::detail
