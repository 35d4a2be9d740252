#include "channels/socket.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <vector>
#include <unordered_map>

#include <boost/json/serialize.hpp>
#include <caf/all.hpp>

#include "actors/actor.hpp"
#include "actors/log.hpp"
#include "actors/system.hpp"
#include "actors/tree.hpp"
#include "channels/channel_server.hpp"
#include "channels/serializer.hpp"
#include "supervision/restart_window.hpp"

namespace fenix::channels {

const char* to_string(restart_policy x) {
  return x == restart_policy::transient ? "transient" : "temporary";
}

bool route::matches(const std::string& topic) const {
  if (!pattern.empty() && pattern.back() == '*')
    return topic.compare(0, pattern.size() - 1, pattern, 0,
                         pattern.size() - 1)
             == 0
           && topic.size() >= pattern.size() - 1;
  return topic == pattern;
}

user_socket::~user_socket() {
  // nop
}

std::optional<std::string>
user_socket::id(const boost::json::object&) const {
  return std::nullopt;
}

void user_socket::channel(std::string pattern,
                          std::function<channel_ptr()> factory,
                          restart_policy restart,
                          boost::json::object assigns) {
  routes_.push_back(
    route{std::move(pattern), std::move(factory), restart, std::move(assigns)});
}

const route* user_socket::match(const std::string& topic) const {
  for (auto& r : routes_)
    if (r.matches(topic))
      return &r;
  return nullptr;
}

namespace {

using namespace detail;
using clock = std::chrono::steady_clock;

/// The Phoenix protocol on one connection (Phoenix's socket process):
/// decodes frames, answers heartbeats, routes events to channel servers by
/// topic, and writes the frames that belong to the socket (unmatched
/// topic, phx_error after a crash, phx_close after a duplicate join).
class phoenix_handler final : public transport::socket_handler {
public:
  phoenix_handler(std::shared_ptr<user_socket> us, pubsub ps,
                  const serializer* ser, boost::json::object assigns,
                  std::optional<std::string> id, std::string transport)
      : us_(std::move(us)), ps_(std::move(ps)), ser_(ser),
        assigns_(std::make_shared<const boost::json::object>(
          std::move(assigns))),
        id_(std::move(id)),
        transport_(std::move(transport)) {
    // nop
  }

  caf::message_handler make_handlers(transport::connection& conn) override {
    return {
      [this, &conn](join_done_atom, int outcome) {
        auto sender = conn.self()->current_sender();
        if (joining_ && sender && sender->id() == joining_->e.chan.id())
          finish_join(conn, outcome);
      },
      [this, &conn](closed_atom, const closed_notice& n) {
        auto sender = conn.self()->current_sender();
        auto i = find_topic(n.topic);
        if (i != topics_.end() && sender
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
    };
  }

  void on_open(transport::connection& conn) override {
    out_ = conn.outlet();
    if (id_)
      ps_.subscribe(*id_, caf::actor_cast<caf::actor>(conn.self()));
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
    if (joining_) {
      if (msg.source.id() == joining_->e.chan.id())
        return finish_join(conn, crashed, &msg.reason);
      // A crash of another channel may restart it: a second join, which
      // must wait for this one.
      return hold([this, &conn, msg] { on_down(conn, msg); });
    }
    auto e = find_chan(msg.source.id());
    if (e == topics_.end())
      return;
    auto topic = e->first;
    if (draining_ || disconnecting_ || conn.closing()) {
      topics_.erase(e);
      return;
    }
    FENIX_WARN("phoenix", "channel " << topic << " crashed: "
                                     << conn.self()->system().render(msg.reason));
    // A transient channel restarts itself after exceptions; what reaches
    // this point killed the actor (or exceeded its own intensity).
    if (e->second.r->restart == restart_policy::transient
        && msg.reason != caf::sec::runtime_error
        && within_intensity(e->second)) {
      restart(conn, topic);
      return;
    }
    auto jr = e->second.join_ref;
    topics_.erase(e);
    update_tree(conn);
    write(ser_->encode_phx_error(jr, topic));
  }

  void on_drain(transport::connection& conn) override {
    draining_ = true;
    for (auto& [topic, e] : topics_)
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
    caf::actor chan;
    boost::json::value join_ref; // as sent (may be null)
    boost::json::value ref;      // of the join
    const route* r = nullptr;
    shared_payload payload;      // for transient restarts
    restart_window restarts;
  };

  void write(encode_result res) {
    if (!res) {
      FENIX_ERROR("phoenix", "cannot encode: " << res.error().reason);
      return;
    }
    out_->send_reply(std::move(*res));
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
    conn.self()->send(i->second.chan, in_atom::value,
                      inbound{std::move(msg.event),
                              std::make_shared<const message_payload>(
                                std::move(msg.payload)),
                              std::move(msg.ref)});
  }

  void join(transport::connection& conn, message msg) {
    auto r = us_->match(msg.topic);
    if (!r) {
      FENIX_WARN("phoenix", "ignoring unmatched topic \"" << msg.topic << "\"");
      write(ser_->encode_unmatched_topic(msg.ref, msg.topic));
      return;
    }
    std::optional<boost::json::value> replaced;
    if (auto i = find_topic(msg.topic); i != topics_.end()) {
      // Duplicate join: the old channel goes without terminate; its
      // phx_close follows the new join's reply.
      replaced = i->second.join_ref;
      conn.self()->send_exit(i->second.chan,
                             caf::make_error(caf::exit_reason::user_shutdown));
      topics_.erase(i);
    }
    if (topics_.size() >= us_->max_channels) {
      auto jr = msg.join_ref.is_null() ? msg.ref : msg.join_ref;
      write(ser_->encode_error_reply(jr, msg.ref, msg.topic,
                                     "too many channels joined"));
      if (replaced)
        write(ser_->encode_phx_close(*replaced, msg.topic));
      return;
    }
    entry e;
    e.join_ref = msg.join_ref;
    e.ref = msg.ref;
    e.r = r;
    e.payload = std::make_shared<const message_payload>(std::move(msg.payload));
    auto topic = msg.topic;
    start_channel(conn, topic, std::move(e), false, std::move(replaced));
  }

  /// Spawns a channel server and asks it to join; see `joining_`.
  void start_channel(transport::connection& conn, const std::string& topic,
                     entry e, bool silent,
                     std::optional<boost::json::value> replaced) {
    channel_init init;
    init.topic = topic;
    init.join_ref = e.join_ref;
    init.ref = e.ref;
    init.payload = e.payload;
    init.out = out_;
    init.ser = ser_;
    init.connection = caf::actor_cast<caf::actor>(conn.self());
    init.pubsub = ps_;
    if (e.r->assigns.empty()) {
      init.assigns = assigns_;
    } else {
      auto merged = std::make_shared<boost::json::object>(*assigns_);
      for (auto& kvp : e.r->assigns)
        (*merged)[kvp.key()] = kvp.value();
      init.assigns = std::move(merged);
    }
    init.socket_id = id_;
    init.transport = transport_;
    init.factory = e.r->factory;
    init.silent = silent;
    init.transient = e.r->restart == restart_policy::transient;
    init.max_restarts = us_->max_restarts;
    init.max_seconds = us_->max_seconds;
    auto self = conn.self();
    auto chan = spawn_channel_server(self, std::move(init));
    // The channel server recorded itself (a fenix::actor): place it.
    details_writer details;
    details.str("topic", topic);
    if (e.join_ref.is_string())
      details.str("join_ref", e.join_ref.get_string());
    else
      details.raw("join_ref", boost::json::serialize(e.join_ref));
    details.str("restart", to_string(e.r->restart));
    self->rt().tree().place(chan.id(), topic, "channel", self->id(), details);
    self->monitor(chan);
    e.chan = chan;
    joining_ = std::make_unique<join_wait>(
      join_wait{topic, std::move(e), std::move(replaced), silent});
    self->send(chan, join_atom::value);
  }

  /// The channel answered its join (it already wrote the reply, unless
  /// silent), or it died first (`died`: killed meanwhile, or it crashed
  /// where it could not answer; Phoenix's "join crashed"). Records the
  /// topic, then runs what waited for the join.
  void finish_join(transport::connection& conn, int outcome,
                   const caf::error* died = nullptr) {
    auto w = std::move(joining_);
    if (died)
      FENIX_WARN("phoenix", "join of " << w->topic << " crashed: "
                                       << conn.self()->system().render(*died));
    if (outcome == joined) {
      if (w->e.r->restart != restart_policy::transient)
        w->e.payload.reset(); // only a restart would need it
      if (draining_) {
        // Drained while joining: the channel ends like its siblings did.
        conn.self()->send(w->e.chan, drain_atom::value);
      } else {
        if (auto i = find_topic(w->topic); i != topics_.end())
          i->second = std::move(w->e);
        else
          topics_.emplace_back(w->topic, std::move(w->e));
        update_tree(conn);
      }
    } else if (w->silent) {
      write(ser_->encode_phx_error(w->e.join_ref, w->topic));
    } else if (died) {
      write(ser_->encode_error_reply(
        w->e.join_ref.is_null() ? w->e.ref : w->e.join_ref, w->e.ref, w->topic,
        "join crashed"));
    }
    if (w->replaced)
      write(ser_->encode_phx_close(*w->replaced, w->topic));
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

  bool within_intensity(entry& e) {
    return e.restarts.add(clock::now(), us_->max_restarts, us_->max_seconds);
  }

  void restart(transport::connection& conn, const std::string& topic) {
    auto i = find_topic(topic);
    auto e = std::move(i->second);
    topics_.erase(i);
    FENIX_INFO("phoenix", "restarting transient channel " << topic);
    start_channel(conn, topic, std::move(e), true, std::nullopt);
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
  const serializer* ser_;
  std::shared_ptr<const boost::json::object> assigns_;
  std::optional<std::string> id_;
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
    return std::find_if(topics_.begin(), topics_.end(),
                        [&](auto& kvp) { return kvp.second.chan.id() == id; });
  }
  bool draining_ = false;
  bool disconnecting_ = false;

  /// The join in flight. Phoenix's socket process blocks in a join, so
  /// this connection's later frames (and crash handling of its other
  /// channels) wait in `held_` until the channel answers or dies. Only
  /// the channel's answer, its DOWN, and messages that cannot start a
  /// join (close, drain, disconnect) are handled meanwhile.
  struct join_wait {
    std::string topic;
    entry e;
    std::optional<boost::json::value> replaced;
    bool silent;
  };
  std::unique_ptr<join_wait> joining_;
  std::vector<std::function<void()>> held_;
};

} // namespace

transport::handler_factory
phoenix_handler_factory(std::shared_ptr<user_socket> socket, pubsub ps) {
  return [socket, ps](const transport::params& p,
                      const transport::connect_info& info)
           -> transport::socket_handler_ptr {
    auto vsn = p.get("vsn");
    auto ser = negotiate(vsn ? std::optional<std::string_view>{*vsn}
                             : std::nullopt);
    if (!ser)
      return nullptr;
    auto assigns = socket->connect(p, info);
    if (!assigns)
      return nullptr;
    auto id = socket->id(*assigns);
    return std::make_unique<phoenix_handler>(socket, ps, ser,
                                             std::move(*assigns),
                                             std::move(id), info.transport);
  };
}

} // namespace fenix::channels
