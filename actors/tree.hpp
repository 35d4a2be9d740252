#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <caf/actor.hpp>
#include <caf/weak_intrusive_ptr.hpp>
#include <caf/actor_control_block.hpp>
#include <caf/fwd.hpp>

namespace fenix {

/// Life-cycle state of a recorded actor, as an observer would show it.
enum class actor_state : uint8_t { starting, running, restarting, stopping };

const char* to_string(actor_state x);

/// The live record of one actor. The hot fields are relaxed atomics that
/// the actor bumps itself (one uncontended add per message, see
/// bench/tree_overhead); everything else is written on cold paths under
/// the tree's lock.
struct tree_node {
  explicit tree_node(caf::actor_id x) : id(x) {
    // nop
  }

  const caf::actor_id id;
  std::atomic<uint8_t> state{static_cast<uint8_t>(actor_state::starting)};
  std::atomic<uint32_t> restarts{0};
  std::atomic<uint64_t> messages{0};
  /// Mailbox length as last sampled by the actor itself (CAF only allows
  /// reading it from inside the actor); -1 when the actor is not a
  /// fenix::actor and cannot tell.
  std::atomic<int64_t> mailbox{-1};
  std::chrono::system_clock::time_point started_at =
    std::chrono::system_clock::now();

  void set_state(actor_state x) noexcept {
    state.store(static_cast<uint8_t>(x), std::memory_order_relaxed);
  }
  actor_state get_state() const noexcept {
    return static_cast<actor_state>(state.load(std::memory_order_relaxed));
  }

  // Guarded by the tree's mutex.
  /// A weak handle, so that operators can act on the actor (kill it from
  /// the dashboard) without the tree keeping it alive.
  caf::weak_actor_ptr handle;
  std::string name;
  std::string kind = "worker";
  caf::actor_id parent = 0;
  /// Extra key/value pairs, kept serialized: one small string per actor
  /// instead of a JSON object's tables (every connection and channel has
  /// some, so this is per-connection memory). Parsed for snapshots.
  std::string details;
};

using tree_node_ptr = std::shared_ptr<tree_node>;

/// A copy of one actor's record and, recursively, of its children.
struct actor_info {
  caf::actor_id id = 0;
  std::string name;
  std::string kind;
  caf::actor_id parent = 0;
  actor_state state = actor_state::running;
  uint32_t restarts = 0;
  int64_t started_at_ms = 0; // Unix epoch milliseconds
  uint64_t messages = 0;
  std::optional<int64_t> mailbox;
  boost::json::object details;
  std::vector<actor_info> children;

  /// Number of actors in this subtree, this one included.
  size_t size() const;

  /// Depth-first search by id or name.
  const actor_info* find(caf::actor_id x) const;
  const actor_info* find(const std::string& x) const;
};

/// JSON: {"id","name","kind","parent","state","restarts","started_at",
/// "messages","mailbox","children":[...]} plus the details' keys.
void tag_invoke(boost::json::value_from_tag, boost::json::value& jv,
                const actor_info& x);

/// Renders a subtree like `tree(1)` does, one actor per line.
std::string render_tree(const actor_info& root);

/// A details object written straight as JSON text: what the join path
/// records for every connection and channel, without building a
/// boost::json::object (an allocation per member) only to serialize it.
/// Members are written in call order; keys and string values are escaped.
/// A key written twice is kept once, with its last value, when the tree
/// merges the writer.
class details_writer {
public:
  details_writer& str(std::string_view key, std::string_view value);
  details_writer& num(std::string_view key, int64_t value);
  /// A value that is already JSON text (a serialized boost::json::value).
  details_writer& raw(std::string_view key, std::string_view json);

  /// An array of strings: `open_array`, any number of `item`, `close_array`.
  details_writer& open_array(std::string_view key);
  details_writer& item(std::string_view value);
  details_writer& close_array();

  bool empty() const noexcept {
    return text_.empty();
  }

  /// The object: "{...}", or "{}" when nothing was written.
  std::string text() const;

  /// The members without the braces.
  std::string_view members() const noexcept {
    return text_;
  }

private:
  void key(std::string_view k);

  std::string text_; // the members, comma-separated, without braces
  bool first_item_ = true;
};

/// The live actor tree of one actor system. CAF 0.17 cannot enumerate its
/// actors, so every actor fenix starts is recorded here by whoever knows it:
/// supervisors record their children, fenix::actor records itself.
class actor_tree {
public:
  actor_tree();
  ~actor_tree();
  actor_tree(const actor_tree&) = delete;
  actor_tree& operator=(const actor_tree&) = delete;

  /// Creates or returns the record of `hdl` and removes it automatically
  /// when the actor terminates.
  tree_node_ptr record(const caf::strong_actor_ptr& hdl);
  tree_node_ptr record(const caf::actor& hdl);

  /// `record` and `place` under one acquisition of the tree's lock: what a
  /// supervisor does for every child it starts or adopts.
  tree_node_ptr record(const caf::actor& hdl, std::string name,
                       std::string kind, caf::actor_id parent);

  /// Sets where an actor hangs in the tree and what it is.
  void place(caf::actor_id id, std::string name, std::string kind,
             caf::actor_id parent);

  /// `place` and `merge_details` under one acquisition of the tree's lock:
  /// the join path places every channel it starts.
  void place(caf::actor_id id, std::string name, std::string kind,
             caf::actor_id parent, const details_writer& details);

  void set_name(caf::actor_id id, std::string name);

  /// Replaces (or merges, for `merge_details`) the extra key/value pairs that
  /// a kind of actor shows: a supervisor's strategy, a connection's peer...
  void set_details(caf::actor_id id, boost::json::object details);
  void merge_details(caf::actor_id id, const boost::json::object& details);
  void merge_details(caf::actor_id id, const details_writer& details);

  tree_node_ptr find(caf::actor_id id) const;

  /// A strong handle to a recorded actor that is still alive, or invalid.
  caf::actor handle(caf::actor_id id) const;
  std::optional<caf::actor_id> find_by_name(const std::string& name) const;

  void remove(caf::actor_id id);

  /// Whole forest: every actor whose parent is unknown is a root.
  std::vector<actor_info> snapshot() const;

  /// One subtree, or nothing when `root` is not recorded.
  std::optional<actor_info> snapshot(caf::actor_id root) const;

  size_t size() const;

private:
  /// Finds or creates the record of `hdl` and calls `place` on it, under
  /// the lock (defined and used in tree.cpp only).
  template <class Place>
  tree_node_ptr record_impl(const caf::strong_actor_ptr& hdl, Place place);

  template <class Details>
  void merge_impl(caf::actor_id id, const Details& details);

  struct impl;
  std::shared_ptr<impl> impl_;
};

} // namespace fenix
