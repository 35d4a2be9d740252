#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>

#include "channels/message.hpp"
#include "supervision/child_spec.hpp"
#include "transport/outlet.hpp"

namespace fenix::channels {

class serializer;

// -- messages ---------------------------------------------------------------------

using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("unsubscr")>;
using broadcast_atom = caf::atom_constant<caf::atom("broadcast")>;
/// `(shard_up_atom, size_t index)`: the shard serving `index` is back after
/// a restart (sent to those who asked with `pubsub::await_shard`).
using shard_up_atom = caf::atom_constant<caf::atom("shardup")>;

/// A payload shared by every recipient of a broadcast: immutable, never
/// copied per subscriber.
using shared_payload = std::shared_ptr<const message_payload>;

shared_payload make_payload(boost::json::value v);
shared_payload make_payload(boost::json::object o);
shared_payload make_binary_payload(std::string bytes);

/// A broadcast as subscribers receive it (Phoenix's %Broadcast{}):
/// `(broadcast_atom, broadcast_msg)`.
struct broadcast_msg {
  std::string topic;
  std::string event;
  shared_payload payload;
  /// broadcast_from: the subscriber to skip (invalid for none).
  caf::actor_addr from;
  /// The publishing subscriber, if any: it gets its own copy last, so that
  /// once a publisher sees its broadcast come back, every other subscriber
  /// already has it queued (a client that leaves after that still gets it).
  caf::actor_addr origin;
  /// The frame of one serializer, if the publisher encoded it already (a
  /// channel writing its own copy): reused, not encoded again.
  std::pair<const serializer*, transport::frame_ptr> encoded{nullptr, nullptr};
};

/// Local messages only: CAF wants an inspect for message types, but these
/// never cross a process (the cluster adapter has its own encoding).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, broadcast_msg& x) {
  return f(caf::meta::type_name("fenix::broadcast_msg"), x.topic, x.event);
}

/// Phoenix's fastlane: a channel that subscribes with one lets PubSub encode
/// each broadcast once per serializer and push the same frame straight into
/// the subscriber's connection, bypassing the channel actor. Events listed
/// in `intercepts` still go to the channel (`handle_out`).
struct fastlane {
  transport::outlet_ptr out;
  const serializer* ser = nullptr;
  std::shared_ptr<const std::vector<std::string>> intercepts;

  bool intercepted(const std::string& event) const;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fastlane&) {
  return f(caf::meta::type_name("fenix::fastlane"));
}

/// `(subscribe_atom, topic, subscriber, std::optional<fastlane>)` and
/// `(unsubscribe_atom, topic, subscriber)` go to the topic's shard.
struct subscription_req {
  std::string topic;
  caf::actor subscriber;
  std::optional<fastlane> lane;
  /// Written into the lane right after the subscription takes effect, by
  /// the shard: a channel's join reply, so that it precedes every
  /// broadcast frame of that join (protocol.md 2.17.5).
  transport::frame_ptr first;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, subscription_req& x) {
  return f(caf::meta::type_name("fenix::subscription_req"), x.topic,
           x.subscriber);
}

// -- adapters -------------------------------------------------------------------

/// Where broadcasts go besides the local node (Phoenix's PubSub adapter).
/// The local adapter does nothing; cluster and Redis adapters plug in here
/// without changing callers: they forward each broadcast to the other
/// nodes, which dispatch it locally (and encode fastlane frames themselves).
class pubsub_adapter {
public:
  virtual ~pubsub_adapter();
  /// This node's name (unique in a cluster).
  virtual std::string node_name() const = 0;
  /// Sends a broadcast to every other node (`to` empty) or to one node.
  virtual void forward(const broadcast_msg& msg, const std::string& to) = 0;
};

/// A single-node adapter.
std::shared_ptr<pubsub_adapter> local_adapter(std::string node_name = "local");

// -- the PubSub handle -------------------------------------------------------------

/// A handle to one PubSub server (a supervisor with N shard actors; a topic
/// always lives on the same shard, so one hot topic does not serialise the
/// others). Cheap to copy; every function is thread-safe.
class pubsub {
public:
  struct state;

  pubsub() = default;

  /// The child spec of the PubSub subtree (supervisor "pubsub:<name>",
  /// one_for_all, `shards` workers); the handle works once it started.
  static std::pair<pubsub, child_spec>
  make(std::string name, size_t shards,
       std::shared_ptr<pubsub_adapter> adapter = nullptr);

  explicit operator bool() const noexcept { return state_ != nullptr; }

  const std::string& name() const;
  size_t shard_count() const;

  /// The shard serving `topic` (invalid while it restarts).
  caf::actor shard_for(const std::string& topic) const;
  /// The index of that shard (stable across restarts).
  size_t shard_index(const std::string& topic) const;

  /// A subscriber saw the shard `dead` of `topic` go down, and with it its
  /// subscriptions there. True if a successor already serves: the caller
  /// subscribes again right away, before it handles another message.
  /// Otherwise `waiter` gets `(shard_up_atom, index)` from the successor
  /// when it starts, ahead of anything sent to the waiter after that.
  bool await_shard(const std::string& topic, caf::actor_id dead,
                   const caf::actor& waiter) const;

  /// Forwards `msg` to the other nodes (unless `local_only`) and returns
  /// the local shard to dispatch it to (a channel sends it there itself,
  /// then writes its own client's copy).
  caf::actor route(const broadcast_msg& msg, bool local_only) const;

  /// Subscribes `subscriber` to `topic`. Subscriptions vanish when the
  /// subscriber dies. A second subscribe of the same actor replaces the
  /// first (one delivery per broadcast).
  void subscribe(const std::string& topic, const caf::actor& subscriber,
                 std::optional<fastlane> lane = std::nullopt) const;
  void unsubscribe(const std::string& topic,
                   const caf::actor& subscriber) const;

  /// To every subscriber of `topic` on every node.
  void broadcast(const std::string& topic, const std::string& event,
                 shared_payload payload) const;
  /// A broadcast by the subscriber `origin` (a channel broadcasting on its
  /// own topic), which receives its copy after everyone else.
  void broadcast_by(const caf::actor_addr& origin, const std::string& topic,
                    const std::string& event, shared_payload payload) const;
  /// Same, except the subscriber `from`.
  void broadcast_from(const caf::actor_addr& from, const std::string& topic,
                      const std::string& event, shared_payload payload) const;
  /// Only subscribers on this node.
  void local_broadcast(const std::string& topic, const std::string& event,
                       shared_payload payload) const;
  void local_broadcast_from(const caf::actor_addr& from,
                            const std::string& topic, const std::string& event,
                            shared_payload payload) const;
  /// Only subscribers on the node `node` (this one or, through the
  /// adapter, another).
  void direct_broadcast(const std::string& node, const std::string& topic,
                        const std::string& event,
                        shared_payload payload) const;

  std::string node_name() const;

  /// A broadcast to a topic with at least this many local subscribers is
  /// delivered by the threads of several shards at once (default 2048;
  /// 0 = never). Needs two shards and two scheduler workers.
  void parallel_fanout_min(size_t subscribers) const;

  /// Number of subscriptions across shards (asks every shard; blocking,
  /// for tests and tools).
  size_t count_subscribers(caf::actor_system& sys,
                           const std::string& topic) const;

private:
  explicit pubsub(std::shared_ptr<state> st) : state_(std::move(st)) {
    // nop
  }

  void dispatch_local(broadcast_msg msg) const;

  std::shared_ptr<state> state_;
};

} // namespace fenix::channels
