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

  void set(size_t index, caf::weak_actor_ptr hdl) {
    std::lock_guard<std::mutex> guard{mtx_};
    shards_[index] = std::move(hdl);
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

  caf::actor for_topic(const std::string& topic) const {
    return get(std::hash<std::string>{}(topic) % shards_.size());
  }

private:
  mutable std::mutex mtx_;
  std::vector<caf::weak_actor_ptr> shards_;
};

} // namespace fenix::channels::detail
