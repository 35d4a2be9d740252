#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <boost/json/object.hpp>
#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "channels/pubsub.hpp"
#include "supervision/child_spec.hpp"

namespace fenix::channels {

/// Phoenix.Presence: who is on a topic, with one meta per tracking process,
/// and an automatic `presence_diff` broadcast to the topic whenever that
/// changes (track, untrack, update, or the tracking actor ending: leave,
/// crash, disconnect).
///
/// The tracker is a supervised subtree (`presence:<name>`) of shard actors,
/// topics hashed onto shards; each shard owns a `presence_state` CRDT
/// replica (dotted version vectors and deltas like Phoenix.Tracker), so a
/// cluster can replicate it later without a redesign. One replica for now.
///
/// All calls are asynchronous and thread-safe; the tracker monitors each
/// tracking actor and untracks it when it ends.
///
/// A tracker shard that crashes or is killed is restarted by its
/// supervisor and carries on: what it had published comes back with the
/// same metas and phx_refs (clients see no change for live owners), owners
/// that ended meanwhile leave with a presence_diff, and operations queued
/// for it are applied by its successor. A `list` that meets the restart is
/// answered by the successor. docs/channels.md, "Restarts and what survives
/// them", says what is lost.
class presence {
public:
  struct state;

  presence() = default;

  static std::pair<presence, child_spec>
  make(std::string name, channels::pubsub ps, size_t shards = 1);

  explicit operator bool() const noexcept { return state_ != nullptr; }

  /// Tracks `owner` (normally the channel actor: `socket.self()`) under
  /// `key`; the meta gets a fresh `phx_ref`. Tracking the same
  /// (owner, topic, key) twice is ignored (Phoenix: already_tracked).
  void track(const caf::actor& owner, const std::string& topic,
             const std::string& key, boost::json::object meta) const;

  void untrack(const caf::actor& owner, const std::string& topic,
               const std::string& key) const;

  /// Replaces the meta; it gets a new `phx_ref` and `phx_ref_prev`.
  void update(const caf::actor& owner, const std::string& topic,
              const std::string& key, boost::json::object meta) const;

  /// `Presence.list(topic)`, delivered to `f` inside `self` (a channel
  /// actor): the idiom is `list(self, topic, [&](auto& l) {
  /// socket.push("presence_state", l); })` after tracking.
  void list(caf::event_based_actor* self, const std::string& topic,
            std::function<void(const boost::json::object&)> f) const;

  /// Blocking `list` for tests and tools (not from inside an actor).
  boost::json::object list(caf::actor_system& sys,
                           const std::string& topic) const;

private:
  explicit presence(std::shared_ptr<state> st) : state_(std::move(st)) {
    // nop
  }

  std::shared_ptr<state> state_;
};

} // namespace fenix::channels
