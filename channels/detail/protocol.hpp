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

/// `(join_atom)`: channel -> itself, first thing after it starts (the
/// join runs as a message of its own, not inside CAF's initialization).
/// The channel then tells its socket `(join_done_atom, int join_outcome,
/// std::string topic, bool silent)`, as a plain message, after the reply
/// is written: the socket learns the channel's handle from its supervisor
/// and watches its DOWN, and a restarted transient channel (silent)
/// announces itself the same way.
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

/// Everything a channel server needs to start; shared by the restarts of
/// a transient channel.
struct channel_init {
  std::string topic;
  boost::json::value join_ref; // as the client sent it (may be null)
  boost::json::value ref;      // the join message's ref
  /// Kept for the restarts of a transient channel (which join again with
  /// it); a temporary channel drops it after its join.
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
  /// "temporary" or "transient", for the actor tree.
  const char* restart = "temporary";
};

} // namespace fenix::channels::detail
