// The Phoenix protocol on one connection: Phoenix's socket process. It
// decodes frames, answers heartbeats, starts channel servers under the
// endpoint's channel supervisors and routes events to them by topic, and
// writes the frames that belong to the socket (unmatched topic, phx_error
// after a crash, phx_close after a duplicate join).

#include "channels/detail/phoenix_handler.hpp"

#include <algorithm>
#include <functional>
#include <vector>

#include <caf/all.hpp>

#include "actors/actor.hpp"
#include "actors/errors.hpp"
#include "actors/log.hpp"
#include "actors/system.hpp"
#include "actors/tree.hpp"
#include "channels/channel_server.hpp"
#include "channels/serializer.hpp"
#include "channels/socket.hpp"
#include "supervision/supervisor.hpp"

namespace fenix::channels::detail {

namespace {

/// Inbound events that wait for a transient channel's restart: beyond
/// this many the oldest are dropped (at-most-once, as in flight).
constexpr size_t max_held_per_topic = 1024;

class phoenix_handler final : public transport::socket_handler {
public:
  phoenix_handler(std::shared_ptr<user_socket> us, pubsub ps,
                  channel_pool pool, const serializer* ser,
                  boost::json::object assigns, std::optional<std::string> id,
                  std::string transport)
      : us_(std::move(us)), ps_(std::move(ps)), pool_(std::move(pool)),
        ser_(ser),
        assigns_(std::make_shared<const boost::json::object>(
          std::move(assigns))),
        id_(std::move(id)),
        transport_(std::move(transport)) {
    // nop
  }

  caf::message_handler make_handlers(transport::connection& conn) override {
    return {
      [this, &conn](join_done_atom, int outcome, const std::string& topic,
                    bool silent) { on_join_done(conn, outcome, topic, silent); },
      [this, &conn](closed_atom, const closed_notice& n) {
        auto sender = conn.self()->current_sender();
        // A join replacing this channel waits for its DOWN, but it closed
        // by itself meanwhile (a leave that crossed the new join): its
        // phx_close is written already.
        if (joining_ && sender && joining_->old_id == sender->id()) {
          joining_->replaced.reset();
          return;
        }
        auto i = find_topic(n.topic);
        if (i != topics_.end() && sender && i->second.chan
            && i->second.chan.id() == sender->id()) {
          topics_.erase(i);
          update_tree(conn);
        }
      },
      [this, &conn](broadcast_atom, const broadcast_msg& msg) {
        // Our own subscription to the socket id topic.
        if (id_ && msg.topic == *id_ && msg.event == "disconnect") {
          FENIX_INFO("phoenix", "disconnecting " << *id_);
          disconnecting_ = true;
          conn.close(1001, "disconnect");
        }
      },
      [this, &conn](shard_up_atom, size_t index) {
        if (id_ && ps_.shard_index(*id_) == index)
          subscribe_id(conn);
      },
    };
  }

  void on_open(transport::connection& conn) override {
    out_ = conn.outlet();
    if (id_)
      subscribe_id(conn);
  }

  void describe(details_writer& details) const override {
    details.str("protocol", "phoenix");
    details.str("serializer", ser_->version());
    if (id_)
      details.str("socket_id", *id_);
    details.open_array("topics").close_array();
  }

  void on_text(transport::connection& conn, std::string& text) override {
    if (joining_)
      return hold([this, &conn, t = std::move(text)]() mutable {
        on_text(conn, t);
      });
    handle(conn, ser_->decode(text, transport::opcode::text));
  }

  void on_binary(transport::connection& conn, std::string& data) override {
    if (joining_)
      return hold([this, &conn, d = std::move(data)]() mutable {
        on_binary(conn, d);
      });
    handle(conn, ser_->decode(data, transport::opcode::binary));
  }

  void on_down(transport::connection& conn, const caf::down_msg& msg) override {
    auto src = msg.source.id();
    if (id_shard_ && src == id_shard_.id()) {
      // PubSub restarted under us: subscribe again once it is back (now,
      // if it already is), or `disconnect` by socket id would silently
      // stop working.
      id_shard_ = caf::actor{};
      auto self = caf::actor_cast<caf::actor>(conn.self());
      if (ps_.await_shard(*id_, src, self))
        subscribe_id(conn);
      return;
    }
    if (joining_) {
      if (joining_->old_id == src)
        return start_channel(conn);
      if (joining_->started && src == joining_->started.id())
        return join_died(conn, msg.reason);
      // A crash of another channel may end in phx_error or a restart:
      // both wait for this join.
      return hold([this, &conn, msg] { on_down(conn, msg); });
    }
    auto e = find_chan(src);
    if (e == topics_.end())
      return;
    auto topic = e->first;
    auto& en = e->second;
    if (draining_ || disconnecting_ || conn.closing()) {
      topics_.erase(e);
      return;
    }
    if (en.sup && en.chan && src == en.chan.id()) {
      // A transient channel: its supervisor restarts it (the new one says
      // join_done, silent) or gives up (its DOWN follows).
      FENIX_WARN("phoenix", "transient channel " << topic << " exited: "
                              << conn.self()->system().render(msg.reason)
                              << "; its supervisor decides");
      en.chan = caf::actor{};
      return;
    }
    auto jr = en.join_ref;
    // A transient route's supervisor ends after its channel: it gave up
    // (restart intensity), and nobody restarts the channel any more.
    bool gave_up = en.sup && src == en.sup.id();
    auto kind = classify_exit(msg.reason);
    topics_.erase(e);
    update_tree(conn);
    if (gave_up || kind == exit_kind::abnormal) {
      FENIX_WARN("phoenix", "channel " << topic << (gave_up ? " given up: " : " crashed: ")
                              << conn.self()->system().render(msg.reason));
      write(ser_->encode_phx_error(jr, topic));
    } else {
      // Ended gracefully without its own phx_close (a supervisor's
      // shutdown): Phoenix's socket answers such a DOWN with phx_close.
      write(ser_->encode_phx_close(jr, topic));
    }
  }

  void on_drain(transport::connection& conn) override {
    draining_ = true;
    for (auto& [topic, e] : topics_)
      if (e.chan)
        conn.self()->send(e.chan, drain_atom::value);
    topics_.clear();
    conn.close(1012, "draining");
  }

  void on_close(transport::connection&, const transport::close_info&) override {
    // Channels monitor the connection and end with shutdown:closed.
    topics_.clear();
  }

private:
  struct entry {
    caf::actor chan;             // invalid while a transient one restarts
    caf::actor sup;              // a transient route's own supervisor
    boost::json::value join_ref; // as sent (may be null)
    boost::json::value ref;      // of the join
    const route* r = nullptr;
    std::vector<inbound> held;   // events for a restarting channel
  };

  void write(encode_result res) {
    if (!res) {
      FENIX_ERROR("phoenix", "cannot encode: " << res.error().reason);
      return;
    }
    out_->send_reply(std::move(*res));
  }

  void subscribe_id(transport::connection& conn) {
    auto self = caf::actor_cast<caf::actor>(conn.self());
    id_shard_ = ps_.shard_for(*id_);
    if (!id_shard_)
      return; // restarting; the successor announces itself to waiters only
    conn.self()->monitor(id_shard_);
    ps_.subscribe(*id_, self);
  }

  void handle(transport::connection& conn, decode_result res) {
    if (!res) {
      // Phoenix's socket process crashes on an undecodable frame: drop the
      // connection (its channels end with it), keep everyone else.
      FENIX_WARN("phoenix", "malformed frame from "
                              << conn.info().peer_address << ": "
                              << res.error().reason << "; closing");
      conn.close(1011, "malformed frame");
      return;
    }
    dispatch(conn, std::move(*res));
  }

  void dispatch(transport::connection& conn, message msg) {
    if (msg.topic == "phoenix" && msg.event == "heartbeat") {
      write(ser_->encode_heartbeat_reply(msg.ref));
      return;
    }
    if (msg.event == "phx_join") {
      join(conn, std::move(msg));
      return;
    }
    auto i = find_topic(msg.topic);
    if (i == topics_.end()) {
      if (msg.event == "phx_leave")
        write(ser_->encode_reply(msg.join_ref, msg.ref, msg.topic, "ok",
                                 boost::json::value(boost::json::object{})));
      else
        write(ser_->encode_unmatched_topic(msg.ref, msg.topic));
      return;
    }
    if (!msg.join_ref.is_null() && msg.join_ref != i->second.join_ref)
      return; // stale: the client raced a server close; no reply
    inbound in{std::move(msg.event),
               std::make_shared<const message_payload>(std::move(msg.payload)),
               std::move(msg.ref)};
    auto& e = i->second;
    if (!e.chan) {
      if (e.held.size() == max_held_per_topic)
        e.held.erase(e.held.begin());
      e.held.push_back(std::move(in));
      return;
    }
    conn.self()->send(e.chan, in_atom::value, std::move(in));
  }

  void join(transport::connection& conn, message msg) {
    auto r = us_->match(msg.topic);
    if (!r) {
      FENIX_WARN("phoenix", "ignoring unmatched topic \"" << msg.topic << "\"");
      write(ser_->encode_unmatched_topic(msg.ref, msg.topic));
      return;
    }
    auto w = std::make_unique<join_wait>();
    w->topic = msg.topic;
    w->e.join_ref = msg.join_ref;
    w->e.ref = msg.ref;
    w->e.r = r;
    w->payload = std::make_shared<const message_payload>(std::move(msg.payload));
    auto i = find_topic(msg.topic);
    if (i != topics_.end()) {
      // Duplicate join: the old channel goes first (its terminate runs),
      // and the new one subscribes only once its DOWN is here, so that no
      // broadcast reaches the client twice. Its phx_close follows the new
      // join's reply.
      w->replaced = i->second.join_ref;
      auto& old = i->second.sup ? i->second.sup : i->second.chan;
      w->old_id = old.id();
      conn.self()->send_exit(old,
                             caf::make_error(caf::exit_reason::user_shutdown));
      topics_.erase(i);
    }
    joining_ = std::move(w);
    if (joining_->old_id == 0)
      start_channel(conn);
  }

  /// Asks the connection's channel supervisor to start the channel server
  /// of `joining_`; see `joining_`.
  void start_channel(transport::connection& conn) {
    auto& w = *joining_;
    w.old_id = 0;
    auto self = conn.self();
    if (topics_.size() >= us_->max_channels) {
      auto jr = w.e.join_ref.is_null() ? w.e.ref : w.e.join_ref;
      write(ser_->encode_error_reply(jr, w.e.ref, w.topic,
                                     "too many channels joined"));
      return finish(conn);
    }
    auto part = pool_.partition_for(self->id());
    if (!part)
      return join_failed(conn, "channel supervisor restarting");
    auto init = std::make_shared<channel_init>();
    init->topic = w.topic;
    init->join_ref = w.e.join_ref;
    init->ref = w.e.ref;
    init->payload = w.payload;
    init->out = out_;
    init->ser = ser_;
    init->connection = caf::actor_cast<caf::actor>(self);
    init->pubsub = ps_;
    if (w.e.r->assigns.empty()) {
      init->assigns = assigns_;
    } else {
      auto merged = std::make_shared<boost::json::object>(*assigns_);
      for (auto& kvp : w.e.r->assigns)
        (*merged)[kvp.key()] = kvp.value();
      init->assigns = std::move(merged);
    }
    init->socket_id = id_;
    init->transport = transport_;
    init->factory = w.e.r->factory;
    w.transient = w.e.r->restart == restart_policy::transient;
    init->restart = to_string(w.e.r->restart);
    self->request(part, caf::infinite, start_atom::value,
                  channel_spec(std::move(init), w.transient))
      .then(
        [this, &conn](caf::actor& started) { on_started(conn, started); },
        [this, &conn](caf::error& err) {
          join_failed(conn, conn.self()->system().render(err));
        });
  }

  child_spec channel_spec(std::shared_ptr<channel_init> init, bool transient) {
    child_spec spec;
    spec.id = init->topic;
    spec.kind = "channel";
    spec.ack = start_ack::spawned;
    spec.shutdown = shutdown_spec::after(std::chrono::milliseconds{5000});
    if (!transient) {
      spec.restart = restart_type::temporary;
      spec.start = [init](caf::actor_system& sys) -> caf::expected<caf::actor> {
        return spawn_channel_server(sys, init, false);
      };
      return spec;
    }
    // A transient route: the channel under a supervisor of its own, whose
    // restart intensity is this (socket, topic)'s, and which ends when its
    // channel ends gracefully (auto_shutdown).
    spec.restart = restart_type::transient;
    spec.significant = true;
    spec.start = [init, starts = std::make_shared<size_t>(0)](
                   caf::actor_system& sys) -> caf::expected<caf::actor> {
      return spawn_channel_server(sys, init, (*starts)++ > 0);
    };
    supervisor_flags flags;
    flags.strategy = strategy::one_for_one;
    flags.max_restarts = us_->max_restarts;
    flags.max_seconds = us_->max_seconds;
    flags.auto_shutdown = auto_shutdown_mode::any_significant;
    flags.name = "transient " + init->topic;
    return supervisor_spec(flags.name, flags, {std::move(spec)},
                           restart_type::temporary);
  }

  void on_started(transport::connection& conn, caf::actor& started) {
    if (!joining_ || !started)
      return;
    joining_->started = started;
    conn.self()->monitor(started);
    if (joining_->transient)
      joining_->e.sup = started;
    else
      joining_->e.chan = started;
    if (joining_->outcome)
      finish_join(conn);
  }

  void on_join_done(transport::connection& conn, int outcome,
                    const std::string& topic, bool silent) {
    auto sender = caf::actor_cast<caf::actor>(conn.self()->current_sender());
    if (joining_ && joining_->old_id == 0 && topic == joining_->topic) {
      auto& w = *joining_;
      if (silent) {
        // The first channel died before it answered and its supervisor
        // restarted it: this join failed, the client must hear so.
        return join_died(conn, caf::make_error(caf::sec::runtime_error,
                                               "restarted during join"));
      }
      w.outcome = outcome;
      if (w.transient && sender) {
        w.e.chan = sender;
        conn.self()->monitor(sender);
      }
      if (w.started)
        finish_join(conn);
      return;
    }
    // A transient channel restarted by its supervisor.
    auto i = find_topic(topic);
    if (i == topics_.end() || !i->second.sup || i->second.chan || !silent)
      return;
    if (outcome != joined || !sender)
      return; // it ends; its supervisor tries again or gives up
    auto& e = i->second;
    e.chan = sender;
    conn.self()->monitor(sender);
    FENIX_INFO("phoenix", "transient channel " << topic << " restarted");
    auto held = std::move(e.held);
    e.held = {};
    for (auto& in : held)
      conn.self()->send(e.chan, in_atom::value, std::move(in));
  }

  /// The channel answered its join and its supervisor answered its start.
  /// The channel wrote the reply (the shard did, for an ok); records the
  /// topic, then runs what waited for the join.
  void finish_join(transport::connection& conn) {
    auto& w = *joining_;
    if (*w.outcome == joined) {
      if (draining_) {
        // Drained while joining: the channel ends like its siblings did.
        conn.self()->send(w.e.chan, drain_atom::value);
      } else {
        topics_.emplace_back(w.topic, std::move(w.e));
      }
    } else if (w.transient && w.e.sup) {
      // A refused or crashed first join ends the channel's supervisor too,
      // or it would restart a channel nobody joined.
      conn.self()->send_exit(w.e.sup,
                             caf::make_error(caf::exit_reason::user_shutdown));
    }
    finish(conn);
  }

  /// The start failed, or the channel died before it answered (killed
  /// meanwhile, or crashed where it could not answer): Phoenix's "join
  /// crashed".
  void join_died(transport::connection& conn, const caf::error& why) {
    FENIX_WARN("phoenix", "join of " << joining_->topic << " crashed: "
                                     << conn.self()->system().render(why));
    if (joining_->transient && joining_->e.sup)
      conn.self()->send_exit(joining_->e.sup,
                             caf::make_error(caf::exit_reason::user_shutdown));
    join_failed(conn, "");
  }

  void join_failed(transport::connection& conn, const std::string& why) {
    auto& w = *joining_;
    if (!why.empty())
      FENIX_WARN("phoenix", "join of " << w.topic << " failed: " << why);
    write(ser_->encode_error_reply(w.e.join_ref.is_null() ? w.e.ref
                                                          : w.e.join_ref,
                                   w.e.ref, w.topic, "join crashed"));
    finish(conn);
  }

  void finish(transport::connection& conn) {
    auto w = std::move(joining_);
    if (w->replaced)
      write(ser_->encode_phx_close(*w->replaced, w->topic));
    update_tree(conn);
    release_held();
  }

  void hold(std::function<void()> f) {
    held_.push_back(std::move(f));
  }

  /// Runs what arrived during a join, in order. Each action checks again:
  /// once one of them starts another join, the rest queue up behind it.
  void release_held() {
    auto held = std::move(held_);
    held_ = {};
    for (auto& f : held)
      f();
  }

  void update_tree(transport::connection& conn) {
    details_writer details;
    details.open_array("topics");
    for (auto& kvp : topics_)
      details.item(kvp.first);
    details.close_array();
    conn.self()->rt().tree().merge_details(conn.self()->id(), details);
  }

  std::shared_ptr<user_socket> us_;
  pubsub ps_;
  channel_pool pool_;
  const serializer* ser_;
  std::shared_ptr<const boost::json::object> assigns_;
  std::optional<std::string> id_;
  caf::actor id_shard_; // monitored: PubSub restarts renew the subscription
  std::string transport_;
  transport::outlet_ptr out_;
  // A flat vector: a connection joins a handful of topics (at most
  // max_channels), and two hash tables per connection cost more memory
  // than a linear scan costs time.
  using topic_table = std::vector<std::pair<std::string, entry>>;
  topic_table topics_;

  topic_table::iterator find_topic(const std::string& topic) {
    return std::find_if(topics_.begin(), topics_.end(),
                        [&](auto& kvp) { return kvp.first == topic; });
  }

  topic_table::iterator find_chan(caf::actor_id id) {
    return std::find_if(topics_.begin(), topics_.end(), [&](auto& kvp) {
      return (kvp.second.chan && kvp.second.chan.id() == id)
             || (kvp.second.sup && kvp.second.sup.id() == id);
    });
  }
  bool draining_ = false;
  bool disconnecting_ = false;

  /// The join in flight. Phoenix's socket process blocks in a join, so
  /// this connection's later frames (and crash handling of its other
  /// channels) wait in `held_` until the channel answers or dies. Only
  /// the channel's answer, its supervisor's, DOWNs, and messages that
  /// cannot start a join (close, drain, disconnect) are handled meanwhile.
  struct join_wait {
    std::string topic;
    entry e;
    shared_payload payload;
    std::optional<boost::json::value> replaced;
    /// A duplicate join waits for the old channel's DOWN before it starts.
    caf::actor_id old_id = 0;
    /// What the supervisor started: the channel, or a transient route's
    /// supervisor (the channel then comes with its join_done).
    caf::actor started;
    std::optional<int> outcome;
    bool transient = false;
  };
  std::unique_ptr<join_wait> joining_;
  std::vector<std::function<void()>> held_;
};

} // namespace

transport::socket_handler_ptr
make_phoenix_handler(std::shared_ptr<user_socket> us, pubsub ps,
                     channel_pool pool, const serializer* ser,
                     boost::json::object assigns,
                     std::optional<std::string> id, std::string transport) {
  return std::make_unique<phoenix_handler>(std::move(us), std::move(ps),
                                           std::move(pool), ser,
                                           std::move(assigns), std::move(id),
                                           std::move(transport));
}

} // namespace fenix::channels::detail
