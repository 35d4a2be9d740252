#include "channels/pubsub.hpp"

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include <caf/all.hpp>

#include "actors/actor.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "channels/detail/shard_table.hpp"
#include "channels/serializer.hpp"
#include "supervision/supervisor.hpp"

namespace fenix::channels {

// -- payloads and fastlanes -------------------------------------------------------

shared_payload make_payload(boost::json::value v) {
  return std::make_shared<const message_payload>(std::move(v));
}

shared_payload make_payload(boost::json::object o) {
  // Parentheses: braces would make a one-element array.
  return make_payload(boost::json::value(std::move(o)));
}

shared_payload make_binary_payload(std::string bytes) {
  return std::make_shared<const message_payload>(
    binary_payload{std::move(bytes)});
}

bool fastlane::intercepted(const std::string& event) const {
  if (!intercepts)
    return false;
  return std::find(intercepts->begin(), intercepts->end(), event)
         != intercepts->end();
}

// -- adapters -------------------------------------------------------------------

pubsub_adapter::~pubsub_adapter() {
  // nop
}

namespace {

class local_only : public pubsub_adapter {
public:
  explicit local_only(std::string name) : name_(std::move(name)) {
    // nop
  }
  std::string node_name() const override {
    return name_;
  }
  void forward(const broadcast_msg&, const std::string&) override {
    // nop: there are no other nodes
  }

private:
  std::string name_;
};

} // namespace

std::shared_ptr<pubsub_adapter> local_adapter(std::string node_name) {
  return std::make_shared<local_only>(std::move(node_name));
}

// -- shared state -------------------------------------------------------------------

struct pubsub::state {
  std::string name;
  std::shared_ptr<pubsub_adapter> adapter;
  detail::shard_table shards;

  state(std::string n, std::shared_ptr<pubsub_adapter> a, size_t shard_count)
      : name(std::move(n)), adapter(std::move(a)), shards(shard_count) {
    // nop
  }
};

namespace {

/// One shard: topic -> subscribers, for the topics that hash to it.
class shard_actor : public fenix::actor {
public:
  shard_actor(caf::actor_config& cfg, std::shared_ptr<pubsub::state> st,
              size_t index)
      : fenix::actor(cfg), st_(std::move(st)), index_(index) {
    // nop
  }

  const char* name() const override {
    return "fenix.pubsub_shard";
  }

  void on_exit() override {
    // CAF frees an actor's members only when its last handle goes, and
    // subscribers (channels) hold handles to their shard: drop ours to
    // them now, or a dead shard and its dead channels keep each other.
    FENIX_DEBUG("pubsub", "shard " << id() << " exits");
    topics_.clear();
    by_pid_.clear();
    fenix::actor::on_exit();
  }



  caf::behavior make_behavior() override {
    st_->shards.set(index_, caf::actor_cast<caf::weak_actor_ptr>(this));
    set_down_handler([this](caf::down_msg& msg) { drop(msg.source.id()); });
    return {
      // Answered (with nothing) so that a channel can wait until it is
      // subscribed before it tells its client "joined".
      [this](subscribe_atom, subscription_req& req) { add(std::move(req)); },
      [this](unsubscribe_atom, subscription_req& req) {
        remove(req.topic, req.subscriber.id());
      },
      [this](broadcast_atom, const broadcast_msg& msg) { dispatch(msg); },
      [this](caf::get_atom, const std::string& topic) -> size_t {
        auto i = topics_.find(topic);
        return i == topics_.end() ? 0 : i->second.entries.size();
      },
    };
  }

private:
  struct entry {
    caf::actor pid;
    std::optional<fastlane> lane;
  };

  struct topic_subs {
    std::vector<entry> entries;
    std::unordered_map<caf::actor_id, size_t> pos; // O(1) unsubscribe
  };

  void add(subscription_req req) {
    if (!req.subscriber)
      return;
    auto id = req.subscriber.id();
    auto& subs = topics_[req.topic];
    if (auto i = subs.pos.find(id); i != subs.pos.end()) {
      subs.entries[i->second].lane = std::move(req.lane);
      return;
    }
    subs.pos.emplace(id, subs.entries.size());
    subs.entries.push_back(entry{req.subscriber, std::move(req.lane)});
    auto& owned = by_pid_[id];
    if (owned.topics.empty()) {
      owned.pid = req.subscriber;
      monitor(req.subscriber);
    }
    owned.topics.push_back(std::move(req.topic));
  }

  void remove(const std::string& topic, caf::actor_id id) {
    if (!erase_entry(topic, id))
      return;
    if (auto i = by_pid_.find(id); i != by_pid_.end()) {
      auto& v = i->second.topics;
      v.erase(std::remove(v.begin(), v.end(), topic), v.end());
      if (v.empty()) {
        demonitor(i->second.pid);
        by_pid_.erase(i);
      }
    }
  }

  bool erase_entry(const std::string& topic, caf::actor_id id) {
    auto t = topics_.find(topic);
    if (t == topics_.end())
      return false;
    auto& subs = t->second;
    auto p = subs.pos.find(id);
    if (p == subs.pos.end())
      return false;
    auto idx = p->second;
    subs.pos.erase(p);
    if (idx + 1 != subs.entries.size()) {
      subs.entries[idx] = std::move(subs.entries.back());
      subs.pos[subs.entries[idx].pid.id()] = idx;
    }
    subs.entries.pop_back();
    if (subs.entries.empty())
      topics_.erase(t);
    return true;
  }

  /// A subscriber died: forget all its subscriptions.
  void drop(caf::actor_id id) {
    auto i = by_pid_.find(id);
    if (i == by_pid_.end())
      return;
    for (auto& topic : i->second.topics)
      erase_entry(topic, id);
    by_pid_.erase(i);
  }

  void dispatch(const broadcast_msg& msg) {
    static auto& broadcasts = counter("fenix_pubsub_broadcasts_total",
                                      "Broadcasts dispatched on this node");
    static auto& deliveries = counter("fenix_pubsub_deliveries_total",
                                      "Broadcast deliveries to subscribers");
    static auto& encodes = counter("fenix_pubsub_encodes_total",
                                   "Fastlane frames encoded (once per "
                                   "serializer per broadcast)");
    bump(broadcasts);
    auto t = topics_.find(msg.topic);
    if (t == topics_.end())
      return;
    int64_t delivered = 0;
    int64_t encoded = 0;
    // Encoded once per serializer for this dispatch, then shared by every
    // fastlane subscriber using it.
    std::pair<const serializer*, transport::frame_ptr> cache[4];
    size_t cached = 0;
    caf::message boxed; // built once for all non-fastlane subscribers
    const entry* origin = nullptr;
    auto deliver = [&](const entry& e) -> bool {
      if (e.lane && !e.lane->intercepted(msg.event)) {
        transport::frame_ptr frame;
        for (size_t i = 0; i < cached; ++i)
          if (cache[i].first == e.lane->ser)
            frame = cache[i].second;
        if (!frame) {
          auto res = e.lane->ser->encode_broadcast(msg.topic, msg.event,
                                                   *msg.payload);
          if (!res) {
            FENIX_ERROR("pubsub", "cannot encode broadcast "
                                    << msg.event << " on " << msg.topic
                                    << ": " << res.error().reason);
            return false;
          }
          frame = std::move(*res);
          ++encoded;
          if (cached < 4)
            cache[cached++] = {e.lane->ser, frame};
        }
        e.lane->out->send(frame);
      } else {
        if (boxed.empty())
          boxed = caf::make_message(broadcast_atom::value, msg);
        send(e.pid, boxed);
      }
      ++delivered;
      return true;
    };
    // Compare ids, not addresses: building an actor_addr per subscriber
    // costs two atomic refcount operations on the fan-out loop.
    auto from = msg.from ? msg.from.id() : caf::invalid_actor_id;
    auto origin_id = msg.origin ? msg.origin.id() : caf::invalid_actor_id;
    for (auto& e : t->second.entries) {
      auto id = e.pid.id();
      if (id == from)
        continue;
      if (id == origin_id) {
        origin = &e;
        continue;
      }
      if (!deliver(e))
        return;
    }
    if (origin)
      deliver(*origin);
    bump(deliveries, delivered);
    bump(encodes, encoded);
  }

  std::shared_ptr<pubsub::state> st_;
  size_t index_;
  std::unordered_map<std::string, topic_subs> topics_;
  struct owner {
    caf::actor pid;
    std::vector<std::string> topics;
  };
  std::unordered_map<caf::actor_id, owner> by_pid_;
};

} // namespace

// -- pubsub -------------------------------------------------------------------------

std::pair<pubsub, child_spec>
pubsub::make(std::string name, size_t shards,
             std::shared_ptr<pubsub_adapter> adapter) {
  if (shards == 0)
    shards = 1;
  auto st = std::make_shared<state>(
    name, adapter ? std::move(adapter) : local_adapter(), shards);
  std::vector<child_spec> children;
  for (size_t i = 0; i < shards; ++i) {
    children.push_back(worker(
      "shard " + std::to_string(i),
      [st, i](caf::actor_system& sys) -> caf::expected<caf::actor> {
        return sys.spawn<shard_actor>(st, i);
      }));
    children.back().kind = "pubsub_shard";
  }
  supervisor_flags flags;
  flags.strategy = strategy::one_for_all;
  flags.name = "pubsub:" + name;
  auto spec = supervisor_spec("pubsub:" + name, flags, std::move(children));
  spec.kind = "pubsub";
  return {pubsub{std::move(st)}, std::move(spec)};
}

const std::string& pubsub::name() const {
  return state_->name;
}

size_t pubsub::shard_count() const {
  return state_->shards.size();
}

caf::actor pubsub::shard_for(const std::string& topic) const {
  return state_->shards.for_topic(topic);
}

void pubsub::subscribe(const std::string& topic, const caf::actor& subscriber,
                       std::optional<fastlane> lane) const {
  caf::anon_send(shard_for(topic), subscribe_atom::value,
                 subscription_req{topic, subscriber, std::move(lane)});
}

void pubsub::unsubscribe(const std::string& topic,
                         const caf::actor& subscriber) const {
  caf::anon_send(shard_for(topic), unsubscribe_atom::value,
                 subscription_req{topic, subscriber, std::nullopt});
}

void pubsub::dispatch_local(broadcast_msg msg) const {
  auto shard = shard_for(msg.topic);
  caf::anon_send(shard, broadcast_atom::value, std::move(msg));
}

void pubsub::broadcast(const std::string& topic, const std::string& event,
                       shared_payload payload) const {
  broadcast_from(caf::actor_addr{}, topic, event, std::move(payload));
}

void pubsub::broadcast_by(const caf::actor_addr& origin,
                          const std::string& topic, const std::string& event,
                          shared_payload payload) const {
  broadcast_msg msg{topic, event, std::move(payload), {}, origin};
  state_->adapter->forward(msg, std::string{});
  dispatch_local(std::move(msg));
}

void pubsub::broadcast_from(const caf::actor_addr& from,
                            const std::string& topic, const std::string& event,
                            shared_payload payload) const {
  broadcast_msg msg{topic, event, std::move(payload), from, {}};
  state_->adapter->forward(msg, std::string{});
  dispatch_local(std::move(msg));
}

void pubsub::local_broadcast(const std::string& topic,
                             const std::string& event,
                             shared_payload payload) const {
  dispatch_local(broadcast_msg{topic, event, std::move(payload), {}, {}});
}

void pubsub::local_broadcast_from(const caf::actor_addr& from,
                                  const std::string& topic,
                                  const std::string& event,
                                  shared_payload payload) const {
  dispatch_local(broadcast_msg{topic, event, std::move(payload), from, {}});
}

void pubsub::direct_broadcast(const std::string& node,
                              const std::string& topic,
                              const std::string& event,
                              shared_payload payload) const {
  broadcast_msg msg{topic, event, std::move(payload), {}, {}};
  if (node == state_->adapter->node_name())
    dispatch_local(std::move(msg));
  else
    state_->adapter->forward(msg, node);
}

std::string pubsub::node_name() const {
  return state_->adapter->node_name();
}

size_t pubsub::count_subscribers(caf::actor_system& sys,
                                 const std::string& topic) const {
  caf::scoped_actor self{sys, true};
  size_t result = 0;
  self->request(shard_for(topic), std::chrono::seconds{10},
                caf::get_atom::value, topic)
    .receive([&](size_t n) { result = n; }, [](caf::error&) {});
  return result;
}

} // namespace fenix::channels
