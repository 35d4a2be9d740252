#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_control_block.hpp>

namespace fenix::channels::detail {

/// Where the shard actors of a sharded service (PubSub, Presence) are: a
/// topic always maps to the same index. Each shard writes its own slot when
/// it (re)starts. The handles are weak because the shards hold the state
/// that holds this table: strong ones would be a reference cycle.
class shard_table {
public:
  explicit shard_table(size_t n) : shards_(n == 0 ? 1 : n) {
    // nop
  }

  size_t size() const noexcept { return shards_.size(); }

  /// Records the shard now serving `index` and hands back those who
  /// waited for it (see `await_restart`), to be told it is up.
  std::vector<caf::weak_actor_ptr> set(size_t index, caf::weak_actor_ptr hdl) {
    std::lock_guard<std::mutex> guard{mtx_};
    shards_[index] = std::move(hdl);
    if (waiters_.empty())
      return {};
    return std::move(waiters_[index]);
  }

  /// The shard `id` serving `index` ends: until a successor `set`s the
  /// slot, `get` is invalid and `await_restart` waits, even for a caller
  /// that does not know the dead shard's id.
  void clear(size_t index, caf::actor_id id) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (shards_[index] && shards_[index]->id() == id)
      shards_[index].reset();
  }

  /// A subscriber saw the shard `dead` at `index` go down. If a successor
  /// already serves `index`, returns true and the caller proceeds at once;
  /// otherwise `waiter` is handed to the successor's `set` and this
  /// returns false.
  bool await_restart(size_t index, caf::actor_id dead,
                     caf::weak_actor_ptr waiter) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (auto cur = shards_[index].lock(); cur && cur->id() != dead)
      return true;
    if (waiters_.empty())
      waiters_.resize(shards_.size());
    waiters_[index].push_back(std::move(waiter));
    return false;
  }

  /// The shard at `index`, or an invalid handle while it restarts.
  caf::actor get(size_t index) const {
    caf::weak_actor_ptr weak;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      weak = shards_[index];
    }
    return caf::actor_cast<caf::actor>(weak.lock());
  }

  size_t index_of(const std::string& topic) const {
    return std::hash<std::string>{}(topic) % shards_.size();
  }

  caf::actor for_topic(const std::string& topic) const {
    return get(index_of(topic));
  }

private:
  mutable std::mutex mtx_;
  std::vector<caf::weak_actor_ptr> shards_;
  std::vector<std::vector<caf::weak_actor_ptr>> waiters_; // by index
};

} // namespace fenix::channels::detail
