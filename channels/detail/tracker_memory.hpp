#pragma once

// What a Presence tracker shard keeps outside itself, so that the shard its
// supervisor starts in its place (after a crash or a kill) carries on from
// where it ended: the operations it had not applied yet, and the presences
// it had published for the tracking actors. The tracking actors are the
// source of truth: only what they asked for and still own comes back.

#include <caf/actor_addr.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fenix::channels::detail {

/// One presence operation of a tracking actor (the owner).
struct tracker_op {
  enum class kind : uint8_t { track, untrack, update };

  kind what = kind::track;
  /// Weak: an operation waiting for a restarting shard must not keep its
  /// owner alive (an owner that is gone by then has nothing to track).
  caf::actor_addr owner;
  std::string topic;
  std::string key;
  boost::json::object meta; // track and update only
};

/// The operations on their way to the shard of one index. Callers queue
/// here and poke the shard with a message only when no poke is pending,
/// and the shard takes the whole queue at once. Unlike a mailbox, the
/// queue outlives its shard: what a killed shard had not taken, its
/// successor applies, so a track or untrack racing a restart is not lost.
class tracker_inbox {
public:
  /// Queues `op`. True if the caller has to poke the shard: nobody did
  /// since the shard last took the queue.
  bool push(tracker_op op);

  /// Moves every queued operation into `out` (empty on entry; its
  /// capacity is reused) and clears the poke.
  void take(std::vector<tracker_op>& out);

  /// Puts `ops[from..]` back in front of the queue: what a shard took but
  /// had not applied when it crashed.
  void put_back(std::vector<tracker_op>& ops, size_t from);

private:
  std::mutex mtx_;
  std::vector<tracker_op> ops_;
  bool poked_ = false;
};

/// The local presences one shard has published, by owner: what clients
/// were told, and what a successor rebuilds (with the same metas and
/// phx_refs) before it monitors the owners again. Metas are shared with the
/// shard's presence_state, not copied; per presence this costs its topic,
/// key and a pointer. Written only by the shard serving the index.
class tracker_journal {
public:
  struct presence {
    std::string topic;
    std::string key;
    std::shared_ptr<const boost::json::object> meta;
  };

  struct owner {
    caf::actor_addr addr;
    std::vector<presence> presences;
  };

  /// Records a published presence, or its new meta after an update.
  /// True if `owner` is new here: the shard then monitors it. An owner
  /// stays known (and monitored) until `forget`, even with no presences.
  bool put(const caf::actor_addr& owner, std::string_view topic,
           std::string_view key,
           std::shared_ptr<const boost::json::object> meta);

  /// Drops one presence after its untrack was published.
  void erase(uint64_t owner, std::string_view topic, std::string_view key);

  /// Drops an owner that ended, after its leaves were published.
  void forget(uint64_t owner);

  /// Calls `f(owner_id, const owner&)` for every owner, under the lock.
  template <class F>
  void for_each(F f) const {
    std::lock_guard<std::mutex> guard{mtx_};
    for (const auto& [id, o] : owners_)
      f(id, o);
  }

  size_t size() const;

private:
  // A lock although one shard writes at a time: its successor runs on
  // another thread, and the lock is what orders the two for certain.
  mutable std::mutex mtx_;
  std::unordered_map<uint64_t, owner> owners_;
};

/// Everything of one index that survives its shard.
struct tracker_memory {
  tracker_inbox inbox;
  tracker_journal journal;
};

} // namespace fenix::channels::detail
