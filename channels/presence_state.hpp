#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fenix::channels {

// -- identities and dots ------------------------------------------------------

/// One replica of the presence set: a node name plus a version that is new
/// every time the replica starts. A changed vsn under the same name is a
/// different replica (the old one is gone for good).
struct replica_id {
  std::string name;
  uint64_t vsn = 0;

  friend bool operator<(const replica_id& x, const replica_id& y) {
    return std::tie(x.name, x.vsn) < std::tie(y.name, y.vsn);
  }
  friend bool operator==(const replica_id& x, const replica_id& y) {
    return x.name == y.name && x.vsn == y.vsn;
  }
  friend bool operator!=(const replica_id& x, const replica_id& y) {
    return !(x == y);
  }
};

/// The causal tag of one add: the replica that made it and its clock then.
struct dot {
  replica_id replica;
  uint64_t clock = 0;
};

/// One tracked presence: `(topic, owner, key) -> meta`, as stored and as
/// reported in joins and leaves. `owner` is the tracking process (an actor
/// id, unique within its replica). `meta` holds the user's fields plus
/// "phx_ref" (and "phx_ref_prev" after an update), as phoenix.js expects.
struct presence_element {
  std::string topic;
  uint64_t owner = 0;
  std::string key;
  boost::json::object meta;
  dot tag;

  /// The meta's "phx_ref" (empty if missing).
  std::string_view phx_ref() const noexcept;
};

/// What an operation or a merge changed; input for `make_diff`.
struct presence_changes {
  std::vector<presence_element> joins;
  std::vector<presence_element> leaves;

  bool empty() const noexcept { return joins.empty() && leaves.empty(); }
};

// -- diffs --------------------------------------------------------------------

/// The `presence_diff` payload for one topic:
/// `{"joins": {key: {"metas": [...]}}, "leaves": {key: {"metas": [...]}}}`.
/// Both keys are always present; only the changed metas appear. An update
/// shows up under its key in both: the new meta (with phx_ref_prev) in joins,
/// the old one in leaves. Costs O(size of the change).
boost::json::object make_diff(const presence_changes& changes,
                              std::string_view topic);

/// `make_diff` for every topic the changes touch (a merge can touch many).
std::map<std::string, boost::json::object, std::less<>>
make_diffs(const presence_changes& changes);

// -- replication messages -----------------------------------------------------

/// Local changes of one replica since its previous delta, covering its
/// clocks in `(start, end]`: `values` are the presences added in that range
/// and still alive; every other clock of the range was added and removed, or
/// is a removal itself. `removed` lists older clocks (<= start) whose
/// presences this delta removes. A receiver that has not yet seen every
/// clock up to `start` has missed a delta (see `presence_state::contiguous`).
struct presence_delta {
  replica_id origin;
  uint64_t start = 0;
  uint64_t end = 0;
  std::vector<uint64_t> removed;
  std::vector<presence_element> values;

  bool empty() const noexcept { return start == end && removed.empty(); }
};

/// A whole replica state for anti-entropy transfers: every presence it holds
/// and every dot it has seen (a contiguous prefix per replica plus a cloud of
/// inclusive clock intervals beyond it).
struct presence_snapshot {
  replica_id origin;
  std::map<replica_id, uint64_t> context;
  std::map<replica_id, std::vector<std::pair<uint64_t, uint64_t>>> cloud;
  std::vector<presence_element> values;
};

// -- phx_ref ------------------------------------------------------------------

/// Makes the unique `phx_ref` strings that identify one meta: 12 bytes
/// (seconds since the epoch, a hash of the replica identity, a counter) in
/// URL-safe base64, 16 characters. Unique per replica as long as fewer than
/// 2^32 refs are made in one second; the hash keeps replicas apart.
class phx_ref_generator {
public:
  explicit phx_ref_generator(const replica_id& replica) noexcept;

  std::string next();

  /// The encoding itself, for tests.
  static std::string encode(uint32_t seconds, uint32_t hash, uint32_t counter);

private:
  uint32_t hash_;
  uint32_t counter_ = 0;
};

// -- presence_state -----------------------------------------------------------

/// The presence set of one replica: an observed-remove set with a dotted
/// causal context, modelled on Phoenix.Tracker.State.
///
/// Every element is tagged with the dot of the add that created it. The
/// context records every dot this replica has seen (a contiguous clock per
/// replica plus a cloud of out-of-order dots, folded in by compaction).
/// Removing an element deletes it and keeps its dot in the context, so a
/// peer that still holds the element learns of the removal when it merges.
/// Only the owning replica adds or removes its elements; peers follow by
/// merging its deltas (or a full snapshot after they missed one).
///
/// Local operations cost O(log n) in the number of presences plus the size
/// of the change; queries for one topic cost the size of that topic.
/// Not thread-safe: one presence actor owns it.
class presence_state {
public:
  // -- constructors -----------------------------------------------------------

  explicit presence_state(replica_id self);

  presence_state(const presence_state&) = delete;
  presence_state& operator=(const presence_state&) = delete;

  // -- properties -------------------------------------------------------------

  const replica_id& self() const noexcept;

  /// This replica's clock: bumped by every local add and remove.
  uint64_t clock() const noexcept;

  /// Number of stored presences (all replicas, up or down).
  size_t size() const noexcept { return by_dot_.size(); }

  /// Number of stored presences on `topic`.
  size_t size(std::string_view topic) const noexcept;

  // -- local operations -------------------------------------------------------

  /// Tracks `owner` under `key` on `topic`; adds a fresh "phx_ref" to
  /// `meta`. Returns nullopt if that presence is already tracked.
  std::optional<presence_changes> track(std::string_view topic, uint64_t owner,
                                        std::string_view key,
                                        boost::json::object meta);

  /// Untracks one presence; no change if it is not tracked.
  presence_changes untrack(std::string_view topic, uint64_t owner,
                           std::string_view key);

  /// Replaces a presence's meta (remove + add): the new meta gets a new
  /// "phx_ref" and "phx_ref_prev" = the old one. Returns nullopt if that
  /// presence is not tracked.
  std::optional<presence_changes> update(std::string_view topic, uint64_t owner,
                                         std::string_view key,
                                         boost::json::object meta);

  /// Untracks everything `owner` tracked (the owner died).
  presence_changes leave_owner(uint64_t owner);

  /// Tracks a presence again with the meta it had, "phx_ref" included, in
  /// a fresh replica that took over from a crashed one (the tracker's
  /// restart): clients that saw the meta keep it as it is. Returns false,
  /// changing nothing, if that presence is already tracked.
  bool restore(std::string_view topic, uint64_t owner, std::string_view key,
               std::shared_ptr<const boost::json::object> meta);

  // -- queries ----------------------------------------------------------------

  /// `{key: {"metas": [meta, ...]}}` for the topic, as phoenix.js's Presence
  /// expects in `presence_state`; presences of down replicas are hidden.
  /// The result owns an arena (monotonic resource) holding all of it: meant
  /// to be encoded and dropped, not kept and edited.
  boost::json::object list(std::string_view topic) const;

  /// `{"metas": [...]}` for one key, or nullopt if the key has none.
  std::optional<boost::json::object> get_by_key(std::string_view topic,
                                                std::string_view key) const;

  /// The meta of one local presence, or null. Metas are immutable once
  /// stored (an update stores a new one), so a holder may keep it.
  std::shared_ptr<const boost::json::object>
  get(std::string_view topic, uint64_t owner, std::string_view key) const;

  // -- replication ------------------------------------------------------------

  /// True if local changes happened since the last `extract_delta`.
  bool has_delta() const noexcept;

  /// Takes the local changes since the previous call, to send to peers.
  presence_delta extract_delta();

  /// The whole state, for a peer that missed deltas.
  presence_snapshot snapshot() const;

  /// True if this replica has seen every dot of the delta's origin up to
  /// `start`, i.e. merging it leaves no gap. A gap is still merged safely,
  /// but presences added in the missed delta stay unknown until a snapshot.
  bool contiguous(const presence_delta& delta) const;

  /// Merges a peer's delta; returns the presences that appeared and left.
  presence_changes merge(const presence_delta& delta);

  /// Merges a peer's full state; returns what appeared and left. Idempotent.
  presence_changes merge(const presence_snapshot& remote);

  // -- causal context ---------------------------------------------------------

  /// The highest contiguous clock seen from `replica` (0 if unknown).
  uint64_t context(const replica_id& replica) const;

  /// Every replica's contiguous clock (what a heartbeat advertises).
  std::map<replica_id, uint64_t> clocks() const;

  /// How many dots of `replica` wait in the cloud beyond its context.
  uint64_t cloud_size(const replica_id& replica) const;

  /// Folds contiguous cloud dots into the context (merges call it).
  void compact();

  // -- replica liveness (groundwork for the cluster, not wired yet) -----------

  /// Hides a silent replica's presences; returns them as leaves.
  presence_changes replica_down(const replica_id& replica);

  /// Shows a replica's presences again; returns them as joins.
  presence_changes replica_up(const replica_id& replica);

  /// Forgets a replica for good (permdown): drops its presences and causal
  /// history; returns as leaves those that were still visible.
  presence_changes remove_replica(const replica_id& replica);

private:
  // -- storage ----------------------------------------------------------------

  /// Replicas are interned; index 0 is this replica.
  using replica_index = uint32_t;

  /// Position of an element inside a topic, ordered so that all metas of one
  /// key are adjacent.
  struct elem_key {
    std::string key;
    replica_index replica;
    uint64_t owner;
  };

  struct elem_probe {
    std::string_view key;
    replica_index replica;
    uint64_t owner;
  };

  struct elem_less {
    using is_transparent = void;
    template <class X, class Y>
    bool operator()(const X& x, const Y& y) const noexcept {
      return std::forward_as_tuple(std::string_view{x.key}, x.replica,
                                   x.owner) <
             std::forward_as_tuple(std::string_view{y.key}, y.replica, y.owner);
    }
  };

  struct entry {
    /// Shared with whoever keeps a local presence outside (the tracker's
    /// record for its successor) instead of copied.
    std::shared_ptr<const boost::json::object> meta;
    uint64_t clock;
  };

  using topic_map = std::map<elem_key, entry, elem_less>;
  using topics_map = std::map<std::string, topic_map, std::less<>>;

  struct location {
    topics_map::iterator topic;
    topic_map::iterator elem;
  };

  using dot_key = std::pair<replica_index, uint64_t>;
  using dot_map = std::map<dot_key, location>;

  /// Inclusive clock intervals, keyed by their first clock.
  using interval_set = std::map<uint64_t, uint64_t>;

  struct replica_info {
    replica_id id;
    uint64_t context = 0;
    interval_set cloud;
    bool up = true;
  };

  // -- helpers ----------------------------------------------------------------

  replica_index intern(const replica_id& id);
  const replica_info* find_replica(const replica_id& id) const;
  bool seen(replica_index r, uint64_t clock) const;
  void see(replica_index r, uint64_t first, uint64_t last);
  void compact(replica_info& info);

  presence_element to_element(const location& loc) const;
  location insert(replica_index r, uint64_t clock, std::string_view topic,
                  uint64_t owner, std::string_view key,
                  std::shared_ptr<const boost::json::object> meta);
  presence_element erase(dot_map::iterator pos);
  void remove_local(dot_map::iterator pos, presence_changes& out);
  void add_remote(const presence_element& v, presence_changes& out);
  dot_map::iterator find_local(std::string_view topic, uint64_t owner,
                               std::string_view key);

  // -- state ------------------------------------------------------------------

  std::vector<replica_info> replicas_;
  std::map<replica_id, replica_index> replica_index_;
  topics_map topics_;
  dot_map by_dot_;
  /// Local owner -> clocks of its presences (for leave_owner).
  std::unordered_map<uint64_t, std::set<uint64_t>> by_owner_;
  phx_ref_generator refs_;
  /// The local clock at the last `extract_delta`.
  uint64_t delta_start_ = 0;
  /// Local clocks <= delta_start_ removed since the last `extract_delta`.
  std::vector<uint64_t> delta_removed_;
};

} // namespace fenix::channels
