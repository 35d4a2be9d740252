#include "channels/presence.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include <caf/all.hpp>

#include "actors/actor.hpp"
#include "actors/log.hpp"
#include "channels/detail/shard_table.hpp"
#include "channels/detail/tracker_memory.hpp"
#include "channels/presence_state.hpp"
#include "supervision/supervisor.hpp"

namespace fenix::channels {

namespace {

using poke_atom = caf::atom_constant<caf::atom("ppoke")>;
using list_atom = caf::atom_constant<caf::atom("plist")>;

/// A list result, shared rather than copied through the mailbox.
struct presence_list {
  std::shared_ptr<const boost::json::object> value;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, presence_list&) {
  return f(caf::meta::type_name("fenix::presence_list"));
}

constexpr auto list_timeout = std::chrono::seconds{10};

} // namespace

struct presence::state {
  std::string name;
  channels::pubsub ps;
  detail::shard_table shards;
  /// By shard index; outlives the shards (see tracker_memory).
  std::vector<std::unique_ptr<detail::tracker_memory>> memory;

  state(std::string n, channels::pubsub p, size_t shard_count)
      : name(std::move(n)), ps(std::move(p)), shards(shard_count) {
    for (size_t i = 0; i < shards.size(); ++i)
      memory.push_back(std::make_unique<detail::tracker_memory>());
  }
};

namespace {

/// One tracker shard: a presence_state replica for the topics hashed here.
/// It applies the operations queued in its inbox and records what it
/// publishes in its journal; a successor rebuilds from both (see
/// tracker_memory.hpp).
class tracker_actor : public fenix::actor {
public:
  tracker_actor(caf::actor_config& cfg, std::shared_ptr<presence::state> st,
                size_t index)
      : fenix::actor(cfg), st_(std::move(st)), index_(index),
        mem_(*st_->memory[index]),
        crdt_(replica_id{st_->ps ? st_->ps.node_name() : "local",
                         static_cast<uint64_t>(std::chrono::system_clock::now()
                                                 .time_since_epoch()
                                                 .count())}) {
    // nop
  }

  const char* name() const override {
    return "fenix.presence_tracker";
  }

  void on_exit() override {
    // Crashed inside a batch: the operation that threw is dropped, the
    // ones after it wait for the successor.
    if (!batch_.empty())
      mem_.inbox.put_back(batch_, applying_ + 1);
    batch_.clear();
    st_->shards.clear(index_, id());
    fenix::actor::on_exit();
  }

  caf::behavior make_behavior() override {
    auto waiters = st_->shards.set(index_,
                                   caf::actor_cast<caf::weak_actor_ptr>(this));
    rebuild();
    apply_pending();
    for (auto& w : waiters)
      if (auto hdl = caf::actor_cast<caf::actor>(w.lock()))
        send(hdl, shard_up_atom::value, index_);
    set_down_handler([this](caf::down_msg& msg) {
      // An owner's operations queued before it ended come first.
      apply_pending();
      owner_down(msg.source.id());
    });
    return {
      [this](poke_atom) { apply_pending(); },
      [this](list_atom, const std::string& topic) {
        // A list follows every operation queued before it was asked for:
        // a channel that tracks and then lists sees its own presence.
        apply_pending();
        return presence_list{
          std::make_shared<const boost::json::object>(crdt_.list(topic))};
      },
    };
  }

private:
  /// Takes over from a predecessor: its published presences come back
  /// with the same metas (clients hold them already, so no diff), and
  /// their owners are monitored again. An owner that ended meanwhile is
  /// reported by its DOWN (immediate for a dead actor), or at once if
  /// nothing references it any more; either way as a leave diff.
  void rebuild() {
    std::vector<std::pair<uint64_t, caf::actor_addr>> owners;
    mem_.journal.for_each([&](uint64_t id,
                              const detail::tracker_journal::owner& o) {
      for (auto& p : o.presences)
        crdt_.restore(p.topic, id, p.key, p.meta);
      owners.emplace_back(id, o.addr);
    });
    if (owners.empty())
      return;
    FENIX_INFO("presence", "tracker " << index_ << " of " << st_->name
                                      << " restarted: " << crdt_.size()
                                      << " presences of " << owners.size()
                                      << " owners restored");
    for (auto& [id, addr] : owners) {
      if (auto hdl = caf::actor_cast<caf::actor>(addr))
        monitor(hdl);
      else
        owner_down(id);
    }
  }

  void apply_pending() {
    mem_.inbox.take(batch_);
    for (applying_ = 0; applying_ < batch_.size(); ++applying_)
      apply(batch_[applying_]);
    batch_.clear();
  }

  void apply(detail::tracker_op& op) {
    using kind = detail::tracker_op::kind;
    auto id = op.owner.id();
    switch (op.what) {
      case kind::track: {
        // An owner that is gone has nothing left to track.
        auto owner = caf::actor_cast<caf::actor>(op.owner);
        if (!owner)
          return;
        if (auto ch = crdt_.track(op.topic, id, op.key, std::move(op.meta))) {
          publish(*ch);
          if (mem_.journal.put(op.owner, op.topic, op.key,
                               crdt_.get(op.topic, id, op.key)))
            monitor(owner);
        }
        return;
      }
      case kind::untrack: {
        auto ch = crdt_.untrack(op.topic, id, op.key);
        if (!ch.empty()) {
          publish(ch);
          mem_.journal.erase(id, op.topic, op.key);
        }
        return;
      }
      case kind::update:
        if (auto ch = crdt_.update(op.topic, id, op.key, std::move(op.meta))) {
          publish(*ch);
          mem_.journal.put(op.owner, op.topic, op.key,
                           crdt_.get(op.topic, id, op.key));
        }
        return;
    }
  }

  void owner_down(uint64_t id) {
    publish(crdt_.leave_owner(id));
    mem_.journal.forget(id);
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
  detail::tracker_memory& mem_;
  presence_state crdt_;
  /// The operations being applied, and which one: see on_exit.
  std::vector<detail::tracker_op> batch_;
  size_t applying_ = 0;
};

/// Answers one list request once a shard serves `index` again: a list
/// that meets a restart (asked while no shard serves, or queued at a shard
/// that died) is delegated to the successor instead of failing, so that a
/// channel joining then still gets its presence_state.
caf::behavior list_relay(caf::event_based_actor* self,
                         std::shared_ptr<presence::state> st, size_t index,
                         caf::actor_id dead) {
  struct pending {
    caf::response_promise rp;
    std::string topic;
  };
  auto p = std::make_shared<pending>();
  auto forward = [self, st, index, p] {
    if (auto shard = st->shards.get(index))
      p->rp.delegate(shard, list_atom::value, std::move(p->topic));
    else
      p->rp.deliver(caf::make_error(caf::sec::request_receiver_down));
    self->quit();
  };
  return {
    [=](list_atom, std::string& topic) {
      p->rp = self->make_response_promise();
      p->topic = std::move(topic);
      if (st->shards.await_restart(index, dead,
                                   caf::actor_cast<caf::weak_actor_ptr>(self)))
        forward();
      return p->rp;
    },
    [=](shard_up_atom, size_t) { forward(); },
    // Nobody restarts the shard (its supervisor gave up): the requester's
    // own timeout has fired by now.
    caf::after(list_timeout) >>
      [=] {
        p->rp.deliver(caf::make_error(caf::sec::request_timeout));
        self->quit();
      },
  };
}

/// Where to ask for a list of a topic of `index`: its shard, or a relay
/// while it restarts (or when `dead` is the shard that was just asked).
caf::actor list_target(caf::actor_system& sys,
                       const std::shared_ptr<presence::state>& st,
                       size_t index, caf::actor_id dead) {
  if (auto shard = st->shards.get(index); shard && shard.id() != dead)
    return shard;
  return sys.spawn(list_relay, st, index, dead);
}

void ask_list(caf::event_based_actor* self, std::shared_ptr<presence::state> st,
              size_t index, std::string topic,
              std::function<void(const boost::json::object&)> f,
              caf::actor_id dead) {
  auto dest = list_target(self->system(), st, index, dead);
  self->request(dest, list_timeout, list_atom::value, topic)
    .then([f](const presence_list& l) { f(*l.value); },
          [self, st, index, topic, f, dead,
           id = dest.id()](caf::error& err) mutable {
            // The shard died with the request queued: once more, through
            // a relay to its successor.
            if (dead == caf::invalid_actor_id
                && err == caf::sec::request_receiver_down)
              return ask_list(self, std::move(st), index, std::move(topic),
                              std::move(f), id);
            FENIX_WARN("presence", "list of " << topic << " failed: "
                                              << to_string(err));
          });
}

void submit(presence::state& st, detail::tracker_op op) {
  if (!op.owner)
    return; // nobody to track, and nobody whose end would untrack it
  auto index = st.shards.index_of(op.topic);
  if (st.memory[index]->inbox.push(std::move(op)))
    // Restarting: the successor takes the inbox when it starts.
    if (auto shard = st.shards.get(index))
      caf::anon_send(shard, poke_atom::value);
}

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

void presence::track(const caf::actor& owner, const std::string& topic,
                     const std::string& key, boost::json::object meta) const {
  submit(*state_, detail::tracker_op{detail::tracker_op::kind::track,
                                     owner.address(), topic, key,
                                     std::move(meta)});
}

void presence::untrack(const caf::actor& owner, const std::string& topic,
                       const std::string& key) const {
  submit(*state_, detail::tracker_op{detail::tracker_op::kind::untrack,
                                     owner.address(), topic, key, {}});
}

void presence::update(const caf::actor& owner, const std::string& topic,
                      const std::string& key, boost::json::object meta) const {
  submit(*state_, detail::tracker_op{detail::tracker_op::kind::update,
                                     owner.address(), topic, key,
                                     std::move(meta)});
}

void presence::list(caf::event_based_actor* self, const std::string& topic,
                    std::function<void(const boost::json::object&)> f) const {
  ask_list(self, state_, state_->shards.index_of(topic), topic, std::move(f),
           caf::invalid_actor_id);
}

boost::json::object presence::list(caf::actor_system& sys,
                                   const std::string& topic) const {
  caf::scoped_actor self{sys, true};
  boost::json::object result;
  auto index = state_->shards.index_of(topic);
  auto dead = caf::invalid_actor_id;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto dest = list_target(sys, state_, index, dead);
    bool again = false;
    self->request(dest, list_timeout, list_atom::value, topic)
      .receive([&](const presence_list& l) { result = *l.value; },
               [&](caf::error& err) {
                 again = err == caf::sec::request_receiver_down;
               });
    if (!again)
      break;
    dead = dest.id();
  }
  return result;
}

} // namespace fenix::channels
