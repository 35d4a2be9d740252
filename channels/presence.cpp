#include "channels/presence.hpp"

#include <mutex>
#include <unordered_map>

#include <caf/all.hpp>

#include "actors/actor.hpp"
#include "actors/log.hpp"
#include "channels/detail/shard_table.hpp"
#include "channels/presence_state.hpp"
#include "supervision/supervisor.hpp"

namespace fenix::channels {

namespace {

using track_atom = caf::atom_constant<caf::atom("ptrack")>;
using untrack_atom = caf::atom_constant<caf::atom("puntrack")>;
using update_atom = caf::atom_constant<caf::atom("pupdate")>;
using list_atom = caf::atom_constant<caf::atom("plist")>;

/// A presence operation; local messages only (see broadcast_msg).
struct presence_op {
  caf::actor owner;
  std::string topic;
  std::string key;
  std::shared_ptr<boost::json::object> meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, presence_op& x) {
  return f(caf::meta::type_name("fenix::presence_op"), x.topic, x.key);
}

/// A list result, shared rather than copied through the mailbox.
struct presence_list {
  std::shared_ptr<const boost::json::object> value;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, presence_list&) {
  return f(caf::meta::type_name("fenix::presence_list"));
}

} // namespace

struct presence::state {
  std::string name;
  channels::pubsub ps;
  detail::shard_table shards;

  state(std::string n, channels::pubsub p, size_t shard_count)
      : name(std::move(n)), ps(std::move(p)), shards(shard_count) {
    // nop
  }
};

namespace {

/// One tracker shard: a presence_state replica for the topics hashed here.
class tracker_actor : public fenix::actor {
public:
  tracker_actor(caf::actor_config& cfg, std::shared_ptr<presence::state> st,
                size_t index)
      : fenix::actor(cfg), st_(std::move(st)), index_(index),
        crdt_(replica_id{st_->ps ? st_->ps.node_name() : "local",
                         static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count())}) {
    // nop
  }

  const char* name() const override {
    return "fenix.presence_tracker";
  }

  void on_exit() override {
    owners_.clear(); // see shard_actor::on_exit in pubsub.cpp
    fenix::actor::on_exit();
  }



  caf::behavior make_behavior() override {
    st_->shards.set(index_, caf::actor_cast<caf::weak_actor_ptr>(this));
    set_down_handler([this](caf::down_msg& msg) {
      auto id = msg.source.id();
      owners_.erase(id);
      publish(crdt_.leave_owner(id));
    });
    return {
      [this](track_atom, presence_op& op) {
        watch(op.owner);
        if (auto ch = crdt_.track(op.topic, op.owner.id(), op.key,
                                  std::move(*op.meta)))
          publish(*ch);
      },
      [this](untrack_atom, presence_op& op) {
        publish(crdt_.untrack(op.topic, op.owner.id(), op.key));
      },
      [this](update_atom, presence_op& op) {
        if (auto ch = crdt_.update(op.topic, op.owner.id(), op.key,
                                   std::move(*op.meta)))
          publish(*ch);
      },
      [this](list_atom, const std::string& topic) {
        return presence_list{
          std::make_shared<const boost::json::object>(crdt_.list(topic))};
      },
    };
  }

private:
  void watch(const caf::actor& owner) {
    if (owners_.emplace(owner.id(), owner).second)
      monitor(owner);
  }

  /// Broadcasts one presence_diff per touched topic, in event order, as
  /// local fastlane broadcasts (like Phoenix.Presence).
  void publish(const presence_changes& ch) {
    if (ch.empty() || !st_->ps)
      return;
    for (auto& [topic, diff] : make_diffs(ch))
      st_->ps.local_broadcast(topic, "presence_diff",
                              make_payload(boost::json::object(diff)));
  }

  std::shared_ptr<presence::state> st_;
  size_t index_;
  presence_state crdt_;
  std::unordered_map<caf::actor_id, caf::actor> owners_;
};

} // namespace

std::pair<presence, child_spec> presence::make(std::string name,
                                               channels::pubsub ps,
                                               size_t shards) {
  if (shards == 0)
    shards = 1;
  auto st = std::make_shared<state>(name, std::move(ps), shards);
  std::vector<child_spec> children;
  for (size_t i = 0; i < shards; ++i) {
    children.push_back(worker(
      "tracker " + std::to_string(i),
      [st, i](caf::actor_system& sys) -> caf::expected<caf::actor> {
        return sys.spawn<tracker_actor>(st, i);
      }));
    children.back().kind = "presence_shard";
  }
  supervisor_flags flags;
  flags.strategy = strategy::one_for_one;
  flags.name = "presence:" + name;
  auto spec = supervisor_spec("presence:" + name, flags, std::move(children));
  spec.kind = "presence";
  return {presence{std::move(st)}, std::move(spec)};
}

caf::actor presence::shard_for(const std::string& topic) const {
  return state_->shards.for_topic(topic);
}

void presence::track(const caf::actor& owner, const std::string& topic,
                     const std::string& key, boost::json::object meta) const {
  caf::anon_send(shard_for(topic), track_atom::value,
                 presence_op{owner, topic, key,
                             std::make_shared<boost::json::object>(
                               std::move(meta))});
}

void presence::untrack(const caf::actor& owner, const std::string& topic,
                       const std::string& key) const {
  caf::anon_send(shard_for(topic), untrack_atom::value,
                 presence_op{owner, topic, key, nullptr});
}

void presence::update(const caf::actor& owner, const std::string& topic,
                      const std::string& key, boost::json::object meta) const {
  caf::anon_send(shard_for(topic), update_atom::value,
                 presence_op{owner, topic, key,
                             std::make_shared<boost::json::object>(
                               std::move(meta))});
}

void presence::list(caf::event_based_actor* self, const std::string& topic,
                    std::function<void(const boost::json::object&)> f) const {
  self->request(shard_for(topic), std::chrono::seconds{10}, list_atom::value,
                topic)
    .then([f](const presence_list& l) { f(*l.value); },
          [topic](caf::error& err) {
            FENIX_WARN("presence", "list of " << topic
                                              << " failed: " << to_string(err));
          });
}

boost::json::object presence::list(caf::actor_system& sys,
                                   const std::string& topic) const {
  caf::scoped_actor self{sys, true};
  boost::json::object result;
  self->request(shard_for(topic), std::chrono::seconds{10}, list_atom::value,
                topic)
    .receive([&](const presence_list& l) { result = *l.value; },
             [](caf::error&) {});
  return result;
}

} // namespace fenix::channels
