#include "channels/pubsub.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
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
  std::atomic<size_t> parallel_min{2048};

  state(std::string n, std::shared_ptr<pubsub_adapter> a, size_t shard_count)
      : name(std::move(n)), adapter(std::move(a)), shards(shard_count) {
    // nop
  }
};

namespace {

using fanout_help_atom = caf::atom_constant<caf::atom("fanhelp")>;

struct entry {
  caf::actor pid;
  std::optional<fastlane> lane;
};

/// Encodes a broadcast for one serializer (errors are logged).
transport::frame_ptr encode(const broadcast_msg& msg, const serializer& ser) {
  auto res = ser.encode_broadcast(msg.topic, msg.event, *msg.payload);
  if (!res) {
    FENIX_ERROR("pubsub", "cannot encode broadcast " << msg.event << " on "
                                                     << msg.topic << ": "
                                                     << res.error().reason);
    return nullptr;
  }
  return std::move(*res);
}

/// One dispatch of a broadcast to a topic's subscribers, split in chunks
/// that any shard's thread may deliver (see dispatch_parallel). Everything
/// but the counters is written before the first chunk is handed out and
/// only read afterwards; `msg` and `entries` belong to the dispatching
/// shard, which waits for every chunk before it lets them change.
struct fanout_job {
  fanout_job(const broadcast_msg& m, const std::vector<entry>& es,
             caf::strong_actor_ptr s)
      : msg(m),
        entries(es),
        sender(std::move(s)),
        from(m.from ? m.from.id() : caf::invalid_actor_id),
        origin_id(m.origin ? m.origin.id() : caf::invalid_actor_id) {
    if (m.encoded.first && m.encoded.second)
      frames[framed++] = m.encoded;
  }

  const broadcast_msg& msg;
  const std::vector<entry>& entries;
  caf::strong_actor_ptr sender;
  // Compare ids, not addresses: building an actor_addr per subscriber
  // costs two atomic refcount operations on the fan-out loop.
  caf::actor_id from;
  caf::actor_id origin_id;
  // Frames encoded once per serializer for this dispatch, shared by every
  // fastlane subscriber using it. A serial dispatch fills them as it goes;
  // a parallel one before it splits (prepare).
  std::pair<const serializer*, transport::frame_ptr> frames[4];
  size_t framed = 0;
  bool frozen = false; // frames complete: no chunk may add one
  caf::message boxed;  // built once for all non-fastlane subscribers
  size_t chunk = 0;
  size_t chunks = 0;
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::atomic<size_t> origin_at{no_origin};
  std::atomic<int64_t> delivered{0};
  std::atomic<int64_t> encoded{0};
  std::atomic<bool> failed{false};

  static constexpr size_t no_origin = static_cast<size_t>(-1);

  /// Encodes the frames of every serializer in use (up to four; beyond
  /// that each delivery encodes its own, as a serial dispatch does) and
  /// boxes the actor message. False if a frame cannot be encoded.
  bool prepare() {
    for (auto& e : entries) {
      if (!e.lane || e.lane->intercepted(msg.event))
        continue;
      if (framed == 4 || find(e.lane->ser))
        continue;
      auto f = encode(msg, *e.lane->ser);
      if (!f)
        return false;
      frames[framed++] = {e.lane->ser, std::move(f)};
      encoded.fetch_add(1, std::memory_order_relaxed);
    }
    frozen = true;
    boxed = caf::make_message(broadcast_atom::value, msg);
    return true;
  }

  /// Delivers chunks until none is left; returns how many it took.
  size_t run(caf::execution_unit* ctx) {
    size_t taken = 0;
    for (;;) {
      auto c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks)
        return taken;
      ++taken;
      auto first = c * chunk;
      auto last = std::min(first + chunk, entries.size());
      int64_t n = 0;
      for (auto i = first; i < last && !failed.load(std::memory_order_relaxed);
           ++i) {
        auto id = entries[i].pid.id();
        if (id == from)
          continue;
        if (id == origin_id) {
          origin_at.store(i, std::memory_order_relaxed);
          continue;
        }
        n += deliver(entries[i], ctx) ? 1 : 0;
      }
      delivered.fetch_add(n, std::memory_order_relaxed);
      done.fetch_add(1, std::memory_order_release);
    }
  }

  /// The origin's copy, last, and the counters.
  void finish(caf::execution_unit* ctx) {
    static auto& deliveries = counter("fenix_pubsub_deliveries_total",
                                      "Broadcast deliveries to subscribers");
    static auto& encodes = counter("fenix_pubsub_encodes_total",
                                   "Fastlane frames encoded (once per "
                                   "serializer per broadcast)");
    auto at = origin_at.load(std::memory_order_relaxed);
    if (at != no_origin && !failed.load(std::memory_order_relaxed)
        && deliver(entries[at], ctx))
      delivered.fetch_add(1, std::memory_order_relaxed);
    bump(deliveries, delivered.load(std::memory_order_relaxed));
    bump(encodes, encoded.load(std::memory_order_relaxed));
  }

private:
  const transport::frame_ptr* find(const serializer* ser) const {
    for (size_t i = 0; i < framed; ++i)
      if (frames[i].first == ser)
        return &frames[i].second;
    return nullptr;
  }

  bool deliver(const entry& e, caf::execution_unit* ctx) {
    if (e.lane && !e.lane->intercepted(msg.event)) {
      if (auto f = find(e.lane->ser)) {
        e.lane->out->send(*f);
        return true;
      }
      // Not cached: a serial dispatch caches it (up to four); a frozen
      // job encodes per delivery.
      auto f = encode(msg, *e.lane->ser);
      if (!f) {
        // As before the split: a broadcast that cannot be encoded stops.
        failed.store(true, std::memory_order_relaxed);
        return false;
      }
      encoded.fetch_add(1, std::memory_order_relaxed);
      e.lane->out->send(f);
      if (!frozen && framed < 4)
        frames[framed++] = {e.lane->ser, std::move(f)};
      return true;
    }
    if (boxed.empty())
      boxed = caf::make_message(broadcast_atom::value, msg);
    e.pid->enqueue(caf::make_mailbox_element(sender, caf::make_message_id(),
                                             {}, boxed),
                   ctx);
    return true;
  }
};

/// `(fanout_help_atom, fanout_help)`: deliver chunks of another shard's
/// dispatch. Local only, like every PubSub message.
struct fanout_help {
  std::shared_ptr<fanout_job> job;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fanout_help&) {
  return f(caf::meta::type_name("fenix::fanout_help"));
}

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
    for (auto& w : st_->shards.set(index_,
                                   caf::actor_cast<caf::weak_actor_ptr>(this)))
      if (auto hdl = caf::actor_cast<caf::actor>(w.lock()))
        send(hdl, shard_up_atom::value, index_);
    set_down_handler([this](caf::down_msg& msg) { drop(msg.source.id()); });
    return {
      // Answered (with nothing) so that a channel can wait until it is
      // subscribed before it tells its client "joined".
      [this](subscribe_atom, subscription_req& req) { add(std::move(req)); },
      [this](unsubscribe_atom, subscription_req& req) {
        remove(req.topic, req.subscriber.id());
      },
      [this](broadcast_atom, const broadcast_msg& msg) { dispatch(msg); },
      [this](fanout_help_atom, const fanout_help& h) {
        static auto& helped = counter(
          "fenix_pubsub_helped_chunks_total",
          "Chunks of another shard's broadcast delivered by a helper shard");
        bump(helped, static_cast<int64_t>(h.job->run(context())));
      },
      [this](caf::get_atom, const std::string& topic) -> size_t {
        auto i = topics_.find(topic);
        return i == topics_.end() ? 0 : i->second.entries.size();
      },
    };
  }

private:
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
      if (req.first && req.lane)
        req.lane->out->send_reply(std::move(req.first));
      subs.entries[i->second].lane = std::move(req.lane);
      return;
    }
    subs.pos.emplace(id, subs.entries.size());
    if (req.first && req.lane)
      req.lane->out->send_reply(std::move(req.first));
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
    bump(broadcasts);
    auto t = topics_.find(msg.topic);
    if (t == topics_.end())
      return;
    auto& entries = t->second.entries;
    auto min = st_->parallel_min.load(std::memory_order_relaxed);
    if (min > 0 && entries.size() >= min && st_->shards.size() > 1
        && home_system().scheduler().num_workers() > 1) {
      dispatch_parallel(std::make_shared<fanout_job>(msg, entries, ctrl()));
      return;
    }
    fanout_job job{msg, entries, ctrl()};
    job.chunk = entries.size();
    job.chunks = 1;
    job.run(context());
    job.finish(context());
  }

  /// One broadcast to a big topic, delivered by this shard and by the
  /// other shards' threads at once: on loopback a write costs ~15 us of
  /// kernel time (the receiver's TCP path runs in the sender), so one
  /// thread caps a broadcast to 15k subscribers at ~225 ms however many
  /// cores there are. An idle connection's frame is written by the thread
  /// that queued it when its turn ends (outlet::send), so each shard
  /// writes the chunks it took. Chunks are claimed from a shared counter; a helper
  /// that comes late finds none left and touches nothing. This shard
  /// handles no other message until every chunk is done, so broadcasts
  /// keep their order per connection and the origin still gets its copy
  /// after everyone else.
  void dispatch_parallel(std::shared_ptr<fanout_job> job) {
    static auto& parallel = counter(
      "fenix_pubsub_parallel_dispatches_total",
      "Broadcasts to big topics delivered by several shards' threads");
    bump(parallel);
    if (!job->prepare())
      return;
    auto n = job->entries.size();
    job->chunk = std::max<size_t>(1, std::min<size_t>(128, n / 16));
    job->chunks = (n + job->chunk - 1) / job->chunk;
    // One helper per other worker thread: more would only find nothing.
    auto helpers = std::min(st_->shards.size() - 1,
                            home_system().scheduler().num_workers() - 1);
    for (size_t k = 1; k <= helpers; ++k)
      if (auto h = st_->shards.get((index_ + k) % st_->shards.size()))
        send(h, fanout_help_atom::value, fanout_help{job});
    job->run(context());
    while (job->done.load(std::memory_order_acquire) < job->chunks)
      std::this_thread::yield(); // a helper is inside its last chunk
    job->finish(context());
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

void pubsub::parallel_fanout_min(size_t subscribers) const {
  state_->parallel_min.store(subscribers, std::memory_order_relaxed);
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

size_t pubsub::shard_index(const std::string& topic) const {
  return state_->shards.index_of(topic);
}

bool pubsub::await_shard(const std::string& topic, caf::actor_id dead,
                         const caf::actor& waiter) const {
  return state_->shards.await_restart(
    shard_index(topic), dead, caf::actor_cast<caf::weak_actor_ptr>(waiter));
}

caf::actor pubsub::route(const broadcast_msg& msg, bool local_only) const {
  if (!local_only)
    state_->adapter->forward(msg, std::string{});
  return shard_for(msg.topic);
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
