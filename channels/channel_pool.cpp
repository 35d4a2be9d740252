#include "channels/channel_pool.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>

#include "channels/detail/shard_table.hpp"
#include "supervision/supervisor.hpp"

namespace fenix::channels {

struct channel_pool::state {
  explicit state(size_t n) : table(n) {
    // nop
  }
  detail::shard_table table;
};

std::pair<channel_pool, child_spec> channel_pool::make(std::string name,
                                                       size_t partitions) {
  if (partitions == 0)
    partitions = 2;
  auto st = std::make_shared<state>(partitions);
  std::vector<child_spec> children;
  for (size_t i = 0; i < partitions; ++i) {
    child_spec part;
    part.id = name + " " + std::to_string(i);
    part.type = child_type::supervisor;
    part.kind = "supervisor";
    part.ack = start_ack::on_request;
    part.shutdown = shutdown_spec::infinity();
    part.start = [st, i, id = part.id](caf::actor_system& sys)
      -> caf::expected<caf::actor> {
      supervisor_flags f;
      f.dynamic = true;
      f.name = id;
      auto h = spawn_supervisor(sys, f, {});
      // Weak: the partition holds what holds this table.
      st->table.set(i, caf::actor_cast<caf::weak_actor_ptr>(h));
      return h;
    };
    children.push_back(std::move(part));
  }
  supervisor_flags flags;
  flags.strategy = strategy::one_for_one;
  flags.name = name;
  auto spec = supervisor_spec(name, flags, std::move(children));
  return {channel_pool{std::move(st)}, std::move(spec)};
}

size_t channel_pool::partitions() const {
  return state_->table.size();
}

caf::actor channel_pool::partition_for(caf::actor_id connection) const {
  return state_->table.get(connection % state_->table.size());
}

} // namespace fenix::channels
