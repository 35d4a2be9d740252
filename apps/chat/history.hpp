#pragma once

// The chat's message history: the last messages of every room, owned by
// one supervised actor (no shared mutable state; channels talk to it by
// message).

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <caf/fwd.hpp>

#include "channels/pubsub.hpp"
#include "supervision/child_spec.hpp"

namespace chat {

/// A handle to the history actor (a worker "history" in the app's
/// supervision tree). Cheap to copy, thread-safe; keeps working across a
/// restart of the actor (which starts with empty rooms).
///
/// Every message the chat shows goes through it: `post` stores the message
/// (giving it an id and a timestamp), broadcasts `new_msg` to the room's
/// topic, and only then answers the sender. So the history and the live
/// stream agree on ids, and a newcomer de-duplicates the overlap between
/// the `history` push and live broadcasts by id.
class history {
public:
  struct state;

  /// Message limits.
  struct limits {
    /// Messages kept per room (older ones are dropped).
    size_t per_room = 100;
    /// Rooms kept; past it the least recently active room is forgotten.
    size_t rooms = 1000;
  };

  history() = default;

  /// The handle and the child spec of the actor; start the spec under a
  /// supervisor.
  static std::pair<history, fenix::child_spec>
  make(fenix::channels::pubsub ps, limits lim);

  static std::pair<history, fenix::child_spec>
  make(fenix::channels::pubsub ps) {
    return make(std::move(ps), limits{});
  }

  explicit operator bool() const noexcept { return state_ != nullptr; }

  /// Stores `{id, user, body, at}` in the room of `topic` and broadcasts
  /// it as `new_msg`; `done` runs inside `self` with the stored message,
  /// or with an error text when the history actor is unavailable.
  void post(caf::event_based_actor* self, const std::string& topic,
            std::string user, std::string body,
            std::function<void(const boost::json::object*,
                               const std::string& error)>
              done) const;

  /// The room's kept messages, oldest first, delivered inside `self`
  /// (an empty array if the history actor does not answer in time).
  void recent(caf::event_based_actor* self, const std::string& topic,
              std::function<void(const boost::json::array&)> f) const;

  /// Blocking `recent`, for tests and tools (not from inside an actor).
  boost::json::array recent(caf::actor_system& sys,
                            const std::string& topic) const;

private:
  explicit history(std::shared_ptr<state> st) : state_(std::move(st)) {
    // nop
  }

  caf::actor actor() const;

  std::shared_ptr<state> state_;
};

} // namespace chat
