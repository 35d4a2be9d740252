// The channel server: one actor per joined (connection, topic), Phoenix's
// Channel.Server. It runs the user's channel object and is the only place
// where channel code executes.

#include "channels/channel_server.hpp"

#include <algorithm>
#include <functional>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include <boost/json/serialize.hpp>
#include <caf/all.hpp>

#include "actors/actor.hpp"
#include "actors/errors.hpp"
#include "actors/log.hpp"
#include "actors/system.hpp"
#include "actors/metrics.hpp"
#include "actors/tree.hpp"
#include "channels/serializer.hpp"

namespace fenix::channels {

namespace {

using namespace detail;

metrics::metric& joins_total() {
  static auto& m = counter("fenix_channel_joins_total",
                           "Successful channel joins");
  return m;
}

metrics::metric& channels_gauge() {
  static auto& m = gauge("fenix_channels", "Joined channels now");
  return m;
}

metrics::metric& messages_in() {
  static auto& m = counter("fenix_channel_messages_in_total",
                           "Client events handled by channels");
  return m;
}

metrics::metric& messages_out() {
  static auto& m = counter("fenix_channel_messages_out_total",
                           "Replies and pushes written by channels");
  return m;
}

metrics::metric& unhandled() {
  static auto& m = counter("fenix_channel_unhandled_messages_total",
                           "Actor messages no handle_info or handle_call "
                           "clause matched (logged and dropped)");
  return m;
}

class channel_server;

// The server's own hooks are named types, so that it can tell whether user
// code replaced one of them (std::function::target).
struct down_fn {
  channel_server* self;
  void operator()(caf::scheduled_actor*, caf::down_msg& dm) const;
};

struct exit_fn {
  channel_server* self;
  void operator()(caf::scheduled_actor*, caf::exit_msg& em) const;
};

struct default_fn {
  channel_server* self;
  caf::result<caf::message> operator()(caf::scheduled_actor*,
                                       caf::message_view& x) const;
};

class channel_server final : public fenix::actor, public socket {
public:
  channel_server(caf::actor_config& cfg, std::shared_ptr<channel_init> init,
                 bool silent)
      : fenix::actor(cfg), init_(std::move(init)), silent_(silent) {
    reply_join_ref_ = init_->join_ref.is_null() ? init_->ref : init_->join_ref;
  }

  const char* name() const override {
    return "fenix.channel";
  }

  void on_exit() override {
    if (joined_) // crashed: end() did not run
      bump(channels_gauge(), -1);
    joined_ = false;
    // Handles to the shards and the connection (which hold handles to us)
    // must not outlive us: members are freed only with the last handle.
    shards_.clear();
    info_ = caf::message_handler{};
    call_ = caf::message_handler{};
    chan_.reset();
    init_.reset();
    fenix::actor::on_exit();
  }

  caf::behavior make_behavior() override {
    details_writer details;
    details.str("topic", init_->topic);
    if (init_->join_ref.is_string())
      details.str("join_ref", init_->join_ref.get_string());
    else
      details.raw("join_ref", boost::json::serialize(init_->join_ref));
    details.str("restart", init_->restart);
    details.num("connection", static_cast<int64_t>(init_->connection.id()));
    rt().tree().merge_details(ctrl()->id(), details);
    set_down_handler(down_fn{this});
    set_exit_handler(exit_fn{this});
    set_default_handler(default_fn{this});
    monitor(init_->connection);
    send(this, join_atom::value);
    caf::behavior bhvr{
      [this](join_atom) { do_join(); },
      [this](in_atom, inbound& in) {
        if (!joined_)
          return;
        if (in.event == "phx_leave")
          return leave(in.ref);
        bump(messages_in());
        current_ref_ = &in.ref;
        auto res = chan_->handle_in(in.event, *in.payload, *this);
        current_ref_ = nullptr;
        check_hooks();
        act(std::move(res), in.ref);
      },
      [this](broadcast_atom, const broadcast_msg& msg) {
        if (!joined_)
          return;
        if (msg.topic == init_->topic && intercepts_
            && std::find(intercepts_->begin(), intercepts_->end(), msg.event)
                 != intercepts_->end()) {
          auto res = chan_->handle_out(msg.event, *msg.payload, *this);
          check_hooks();
          act(std::move(res), boost::json::value{});
        } else {
          auto m = caf::make_message(broadcast_atom::value, msg);
          run_info(m);
        }
      },
      [this](drain_atom) {
        // The socket closes with 1012 and writes nothing for us.
        end(stop_reason::shutdown("draining"), false);
      },
      [this](shard_up_atom, size_t index) { resubscribe(index); },
    };
    own_bhvr_ = bhvr.as_behavior_impl().get();
    return bhvr;
  }

  // -- hooks ---------------------------------------------------------------------

  void on_down(caf::down_msg& dm) {
    if (dm.source == init_->connection) {
      // The socket closed: Phoenix's {:shutdown, :closed}.
      end(stop_reason::shutdown("closed"), false);
      return;
    }
    for (auto i = shards_.begin(); i != shards_.end(); ++i) {
      if (i->address() == dm.source) {
        auto dead = i->id();
        shards_.erase(i);
        shard_down(dead);
        return;
      }
    }
    run_info(caf::make_message(std::move(dm)));
  }

  void on_exit_msg(caf::exit_msg& em) {
    // Channels trap exits, as Phoenix's do: an exit signal with a shutdown
    // reason (a supervisor stopping us, a duplicate join) ends the channel
    // with terminate; others are the channel's own links, for its
    // handle_info clauses to take, and otherwise kill it as they would an
    // actor that does not trap them.
    auto kind = classify_exit(em.reason);
    if (kind == exit_kind::shutdown) {
      end(stop_reason::shutdown(), false);
      return;
    }
    auto m = caf::make_message(em);
    if (run_info(m, false) || kind == exit_kind::normal)
      return;
    FENIX_WARN("channel", init_->topic << ": linked actor exited: "
                                       << system().render(em.reason));
    ended_ = true;
    quit(std::move(em.reason));
  }

  caf::result<caf::message> on_other(caf::message_view& x) {
    auto msg = x.move_content_to_message();
    if (!chan_)
      return caf::message{};
    auto me = current_mailbox_element();
    if (me && me->mid.is_request()) {
      if (call_) {
        if (auto res = call_(msg)) {
          check_hooks();
          return std::move(*res);
        }
      }
      FENIX_WARN("channel", init_->topic << ": no handle_call for "
                                         << to_string(msg));
      bump(unhandled());
      return caf::sec::unexpected_message;
    }
    run_info(msg);
    return caf::message{};
  }

  // -- socket interface ----------------------------------------------------------

  const std::string& topic() const noexcept override {
    return init_->topic;
  }
  const json& join_ref() const noexcept override {
    return init_->join_ref;
  }
  const std::optional<std::string>& id() const noexcept override {
    return init_->socket_id;
  }
  boost::json::object& assigns() override {
    if (!own_assigns_)
      own_assigns_ = std::make_unique<boost::json::object>(
        init_->assigns ? *init_->assigns : boost::json::object{});
    return *own_assigns_;
  }
  const boost::json::object& assigns() const noexcept override {
    static const boost::json::object empty;
    if (own_assigns_)
      return *own_assigns_;
    return init_->assigns ? *init_->assigns : empty;
  }
  const std::string& transport() const noexcept override {
    return init_->transport;
  }
  caf::event_based_actor* self() noexcept override {
    return this;
  }
  const channels::pubsub& pubsub() const noexcept override {
    return init_->pubsub;
  }

  void push(const std::string& event, const payload& p) override {
    forbid_in_join("push");
    auto res = init_->ser->encode_push(reply_join_ref_, init_->topic, event,
                                       p);
    if (!res)
      throw std::runtime_error("push " + event + ": " + res.error().reason);
    emit(std::move(*res), false);
  }

  void broadcast(const std::string& event, const payload& p) override {
    forbid_in_join("broadcast");
    check_broadcast_payload(p);
    publish(broadcast_msg{init_->topic, event, share(p), {}, address()},
            false, true);
  }

  void broadcast_from(const std::string& event, const payload& p) override {
    forbid_in_join("broadcast_from");
    check_broadcast_payload(p);
    publish(broadcast_msg{init_->topic, event, share(p), address(), {}},
            false, false);
  }

  void local_broadcast(const std::string& event, const payload& p) override {
    forbid_in_join("local_broadcast");
    check_broadcast_payload(p);
    publish(broadcast_msg{init_->topic, event, share(p), {}, address()}, true,
            true);
  }

  socket_ref ref() const override {
    return socket_ref{init_->out, init_->ser, init_->topic, reply_join_ref_,
                      current_ref_ ? *current_ref_ : boost::json::value{}};
  }

  void subscribe(const std::string& topic) override {
    if (topic == init_->topic
        || std::find(extra_.begin(), extra_.end(), topic) != extra_.end())
      return;
    extra_.push_back(topic);
    subscribe_extra(topic);
  }

  void unsubscribe(const std::string& topic) override {
    auto i = std::find(extra_.begin(), extra_.end(), topic);
    if (i == extra_.end())
      return;
    extra_.erase(i);
    init_->pubsub.unsubscribe(topic, caf::actor_cast<caf::actor>(this));
  }

private:
  // -- join ----------------------------------------------------------------------

  void join_done(join_outcome outcome) {
    send(init_->connection, join_done_atom::value, static_cast<int>(outcome),
         init_->topic, silent_);
  }

  void join_crashed(const std::string& why, caf::error reason) {
    FENIX_ERROR("channel", init_->topic << ": join crashed: " << why);
    if (!silent_)
      write(init_->ser->encode_error_reply(reply_join_ref_, init_->ref,
                                           init_->topic, "join crashed"));
    join_done(crashed);
    ended_ = true;
    quit(std::move(reason));
  }

  void do_join() {
    join_result res;
    try {
      chan_ = init_->factory();
      info_ = chan_->handle_info(*this);
      call_ = chan_->handle_call(*this);
      in_join_ = true;
      res = chan_->join(init_->topic, json_payload(), *this);
      in_join_ = false;
      check_hooks();
    } catch (std::exception& e) {
      in_join_ = false;
      join_crashed(e.what(), caf::make_error(caf::sec::runtime_error, e.what()));
      return;
    }
    if (res.what == join_result::kind::error) {
      if (!silent_)
        write(init_->ser->encode_reply(reply_join_ref_, init_->ref,
                                       init_->topic, "error", res.response));
      join_done(refused);
      ended_ = true;
      quit();
      return;
    }
    auto icpt = chan_->intercepts();
    if (!icpt.empty())
      intercepts_ = std::make_shared<const std::vector<std::string>>(
        std::move(icpt));
    auto shard = init_->pubsub.shard_for(init_->topic);
    if (!shard) {
      // The shard is restarting: the join fails, the client retries.
      join_crashed("pubsub unavailable",
                   caf::make_error(caf::sec::runtime_error,
                                   "pubsub unavailable"));
      return;
    }
    watch_shard(shard);
    // The shard writes the join reply when the subscription takes effect,
    // ahead of every broadcast frame it dispatches to us afterwards; and a
    // client that saw "joined" sees every later broadcast (the churn
    // benchmark counts). `await` holds back our own later messages (an
    // after-join push) until the subscription is in place.
    transport::frame_ptr reply;
    if (!silent_) {
      auto enc = init_->ser->encode_reply(reply_join_ref_, init_->ref,
                                          init_->topic, "ok", res.response);
      if (!enc) {
        join_crashed(enc.error().reason,
                     caf::make_error(caf::sec::runtime_error,
                                     enc.error().reason));
        return;
      }
      reply = std::move(*enc);
      bump(messages_out());
    }
    request(shard, caf::infinite, subscribe_atom::value,
            subscription_req{init_->topic, caf::actor_cast<caf::actor>(this),
                             lane(), std::move(reply)})
      .await(
        [this] {
          joined_ = true;
          if (std::string_view{init_->restart} != "transient")
            init_->payload.reset(); // only a restart would need it again
          bump(joins_total());
          bump(channels_gauge());
          join_done(joined);
        },
        [this](caf::error& err) {
          join_crashed("pubsub: " + system().render(err), err);
        });
  }

  fastlane lane() const {
    return fastlane{init_->out, init_->ser, intercepts_};
  }

  boost::json::value json_payload() const {
    if (init_->payload)
      if (auto v = std::get_if<boost::json::value>(init_->payload.get()))
        return *v;
    return boost::json::value{};
  }

  // -- PubSub restarts -------------------------------------------------------------

  void watch_shard(const caf::actor& shard) {
    for (auto& s : shards_)
      if (s == shard)
        return;
    monitor(shard);
    shards_.push_back(shard);
  }

  void subscribe_extra(const std::string& topic) {
    auto shard = init_->pubsub.shard_for(topic);
    if (!shard)
      return; // restarting: its shard_up follows our await
    watch_shard(shard);
    init_->pubsub.subscribe(topic, caf::actor_cast<caf::actor>(this));
  }

  /// A shard died with our subscriptions on it: subscribe with its
  /// successor for every topic of ours it served, now if it already runs
  /// (a shard_up sent to ourselves would queue behind messages that expect
  /// the subscription), else once it announces itself.
  void shard_down(caf::actor_id dead) {
    FENIX_INFO("channel", init_->topic << ": pubsub shard #" << dead
                                       << " went down; resubscribing");
    auto self = caf::actor_cast<caf::actor>(this);
    std::vector<size_t> asked;
    auto ask = [&](const std::string& topic) {
      auto index = init_->pubsub.shard_index(topic);
      if (std::find(asked.begin(), asked.end(), index) != asked.end())
        return;
      asked.push_back(index);
      if (init_->pubsub.await_shard(topic, dead, self))
        resubscribe(index);
    };
    ask(init_->topic);
    for (auto& t : extra_)
      ask(t);
  }

  void resubscribe(size_t index) {
    auto& ps = init_->pubsub;
    if (ps.shard_index(init_->topic) == index) {
      if (auto shard = ps.shard_for(init_->topic)) {
        watch_shard(shard);
        ps.subscribe(init_->topic, caf::actor_cast<caf::actor>(this), lane());
      }
    }
    for (auto& t : extra_)
      if (ps.shard_index(t) == index)
        subscribe_extra(t);
  }

  // -- results -------------------------------------------------------------------

  /// Runs the handle_info clauses on `msg`; false if none matched (then,
  /// with `log`, it is logged and dropped, as Phoenix does).
  bool run_info(caf::message& msg, bool log = true) {
    if (!chan_ || ended_)
      return true;
    caf::optional<caf::message> res;
    if (info_)
      res = info_(msg);
    check_hooks();
    if (!res) {
      if (log) {
        FENIX_WARN("channel", init_->topic << ": unhandled message "
                                           << to_string(msg));
        bump(unhandled());
      }
      return false;
    }
    if (res->match_elements<in_result>())
      act(std::move(res->get_mutable_as<in_result>(0)), boost::json::value{});
    return true;
  }

  bool run_info(caf::message&& msg) {
    return run_info(msg);
  }

  void act(in_result res, const boost::json::value& ref) {
    if (res.has_reply)
      write(init_->ser->encode_reply(reply_join_ref_, ref, init_->topic,
                                     res.status, res.response));
    if (res.what == in_result::kind::stop)
      end(res.reason, true);
  }

  void leave(const boost::json::value& ref) {
    unsubscribed_then([this, ref] {
      write(init_->ser->encode_reply(reply_join_ref_, ref, init_->topic, "ok",
                                     boost::json::value(boost::json::object{})));
      end(stop_reason::shutdown("left"), true);
    });
  }

  /// Runs `f` once the shard dropped our subscription: after a leave's
  /// reply or a phx_close, no broadcast of this join reaches the client
  /// (a rejoin of the topic would take it for its own). Nothing else runs
  /// meanwhile.
  void unsubscribed_then(std::function<void()> f) {
    auto shard = joined_ && !unsubscribed_ ? init_->pubsub.shard_for(init_->topic)
                                           : caf::actor{};
    unsubscribed_ = true;
    if (!shard) {
      f();
      return;
    }
    request(shard, caf::infinite, unsubscribe_atom::value,
            subscription_req{init_->topic, caf::actor_cast<caf::actor>(this),
                             std::nullopt, nullptr})
      .await([f] { f(); }, [f](caf::error&) { f(); });
  }

  /// Ends the channel. A graceful end writes phx_close (unless the socket is
  /// gone or draining) and tells the socket; then terminate runs, and what
  /// it pushes still follows the phx_close. Other reasons exit abnormally,
  /// so the socket's monitor writes phx_error (or the supervisor of a
  /// transient channel restarts it).
  void end(const stop_reason& why, bool tell_socket) {
    if (ended_)
      return;
    bool graceful = why.graceful();
    if (graceful && tell_socket && !unsubscribed_) {
      unsubscribed_then([this, why] { end(why, true); });
      return;
    }
    if (graceful && tell_socket) {
      write(init_->ser->encode_phx_close(init_->join_ref, init_->topic));
      send(init_->connection, closed_atom::value,
           closed_notice{init_->topic});
    }
    if (chan_ && joined_)
      chan_->terminate(why, *this);
    ended_ = true;
    if (joined_)
      bump(channels_gauge(), -1);
    joined_ = false;
    auto reason = graceful ? (why.text == "normal"
                                ? caf::error{}
                                : caf::make_error(caf::exit_reason::user_shutdown))
                           : caf::make_error(caf::sec::runtime_error, why.text);
    quit(std::move(reason));
  }

  // -- writing -------------------------------------------------------------------

  /// Writes a frame of this channel.
  void emit(transport::frame_ptr f, bool reply) {
    bump(messages_out());
    if (reply)
      init_->out->send_reply(std::move(f));
    else
      init_->out->send(std::move(f));
  }

  void write(encode_result res) {
    if (!res) {
      FENIX_ERROR("channel", init_->topic << ": cannot encode: "
                                          << res.error().reason);
      throw std::runtime_error(res.error().reason);
    }
    emit(std::move(*res), true);
  }

  /// A broadcast by this channel (`own`: our client gets a copy too). As
  /// in Phoenix, where the broadcaster runs the dispatch, our client gets
  /// our own copy in the order of everything else we write: for an event
  /// we do not intercept we write it ourselves, right after handing the
  /// broadcast (with that frame, encoded once) to the shard, which skips
  /// us. So `shout` then `ping` gives the shout first, and once our client
  /// sees its copy the shard has the broadcast ahead of any later leave.
  /// An intercepted event reaches us through the shard and our mailbox
  /// (handle_out), after everyone else, as in Phoenix.
  void publish(broadcast_msg msg, bool local_only, bool own) {
    transport::frame_ptr mine;
    if (own && !intercepted(msg.event)) {
      auto enc = init_->ser->encode_broadcast(msg.topic, msg.event,
                                              *msg.payload);
      if (!enc)
        throw std::runtime_error("broadcast " + msg.event + ": "
                                 + enc.error().reason);
      mine = std::move(*enc);
      msg.from = address();
      msg.origin = caf::actor_addr{};
      msg.encoded = {init_->ser, mine};
    }
    if (auto shard = init_->pubsub.route(msg, local_only))
      send(shard, broadcast_atom::value, std::move(msg));
    // else: the shard restarts; lost for the others, as in flight
    if (mine)
      emit(std::move(mine), false);
  }

  bool intercepted(const std::string& event) const {
    return intercepts_
           && std::find(intercepts_->begin(), intercepts_->end(), event)
                != intercepts_->end();
  }

  // -- helpers -------------------------------------------------------------------

  /// The channel actor belongs to this server: a user callback that
  /// replaced its behaviour or one of its hooks would leave the channel
  /// deaf to its socket without a word, so it crashes, loudly.
  void check_hooks() {
    if (ended_)
      return;
    if (bhvr_stack_.empty()
        || bhvr_stack_.back().as_behavior_impl().get() != own_bhvr_)
      throw std::logic_error("become() on a channel actor replaces its "
                             "channel server's behaviour; return handlers "
                             "from handle_info instead");
    // CAF moves a hook out while it runs (and back after): an empty one is
    // ours, running now.
    auto ours = [](auto& hook, auto* tag) {
      using tag_t = std::remove_pointer_t<decltype(tag)>;
      return !hook || hook.template target<tag_t>() != nullptr;
    };
    if (!ours(down_handler_, static_cast<down_fn*>(nullptr))
        || !ours(exit_handler_, static_cast<exit_fn*>(nullptr))
        || !ours(default_handler_, static_cast<default_fn*>(nullptr)))
      throw std::logic_error("set_down_handler, set_exit_handler and "
                             "set_default_handler on a channel actor replace "
                             "its channel server's hooks; handle "
                             "caf::down_msg / caf::exit_msg in handle_info");
  }

  void forbid_in_join(const char* what) {
    if (in_join_)
      throw std::logic_error(std::string{what}
                             + " is not allowed inside join; send yourself a "
                               "message and push from handle_info");
  }

  static void check_broadcast_payload(const payload& p) {
    if (auto v = std::get_if<boost::json::value>(&p); v && !v->is_object())
      throw std::invalid_argument("broadcast payloads must be JSON objects "
                                  "or binary");
  }

  static shared_payload share(const payload& p) {
    return std::make_shared<const message_payload>(p);
  }

  std::shared_ptr<channel_init> init_;
  boost::json::value reply_join_ref_;
  channel_ptr chan_;
  caf::message_handler info_;
  caf::message_handler call_;
  std::shared_ptr<const std::vector<std::string>> intercepts_;
  /// Shards we subscribed on (monitored): one, mostly.
  std::vector<caf::actor> shards_;
  /// Extra subscriptions (socket::subscribe), renewed after PubSub
  /// restarts like the topic's own.
  std::vector<std::string> extra_;
  const caf::detail::behavior_impl* own_bhvr_ = nullptr;
  const boost::json::value* current_ref_ = nullptr;
  std::unique_ptr<boost::json::object> own_assigns_; // after a write
  bool silent_;
  bool in_join_ = false;
  bool joined_ = false;
  bool ended_ = false;
  bool unsubscribed_ = false;
};

void down_fn::operator()(caf::scheduled_actor*, caf::down_msg& dm) const {
  self->on_down(dm);
}

void exit_fn::operator()(caf::scheduled_actor*, caf::exit_msg& em) const {
  self->on_exit_msg(em);
}

caf::result<caf::message>
default_fn::operator()(caf::scheduled_actor*, caf::message_view& x) const {
  return self->on_other(x);
}

} // namespace

caf::actor spawn_channel_server(caf::actor_system& sys,
                                std::shared_ptr<detail::channel_init> init,
                                bool silent) {
  return sys.spawn<channel_server>(std::move(init), silent);
}

} // namespace fenix::channels
