#include "channels/channel_server.hpp"

#include <algorithm>
#include <vector>
#include <optional>

#include <caf/all.hpp>

#include "actors/actor.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "channels/serializer.hpp"
#include "supervision/restart_window.hpp"

namespace fenix::channels {

// -- channel.hpp out-of-line parts -------------------------------------------------

socket::~socket() {
  // nop
}

std::string socket::assign_string(const std::string& key) const {
  auto& a = assigns();
  if (auto i = a.find(key); i != a.end() && i->value().is_string())
    return std::string{i->value().as_string()};
  return {};
}

channel::~channel() {
  // nop
}

in_result channel::handle_in(const std::string& event, const payload&,
                             socket& s) {
  throw std::runtime_error("no handle_in for event \"" + event + "\" on "
                           + s.topic());
}

std::vector<std::string> channel::intercepts() const {
  return {};
}

info_result channel::handle_out(const std::string& event, const payload&,
                                socket& s) {
  throw std::runtime_error("event \"" + event + "\" intercepted on "
                           + s.topic() + " without a handle_out");
}

info_result channel::handle_info(caf::message& msg, socket& s) {
  FENIX_WARN("channel", s.topic() << ": unhandled message " << to_string(msg));
  return info_result::noreply();
}

void channel::terminate(const stop_reason&, socket&) {
  // nop
}

std::string payload_field(const json& p, const std::string& key) {
  if (auto obj = p.if_object())
    if (auto i = obj->find(key); i != obj->end() && i->value().is_string())
      return std::string{i->value().as_string()};
  return {};
}

std::string payload_field(const payload& p, const std::string& key) {
  if (auto v = std::get_if<boost::json::value>(&p))
    return payload_field(*v, key);
  return {};
}

bool socket_ref::reply(const std::string& status, const payload& p) const {
  if (!out_ || !ser_)
    return false;
  auto res = ser_->encode_reply(join_ref_, ref_, topic_, status, p);
  if (!res)
    return false;
  return out_->send_reply(std::move(*res));
}

// -- the channel server ------------------------------------------------------------

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

class channel_server final : public fenix::actor, public socket {
public:
  channel_server(caf::actor_config& cfg, channel_init init)
      : fenix::actor(cfg), init_(std::move(init)) {
    reply_join_ref_ = init_.join_ref.is_null() ? init_.ref : init_.join_ref;
  }

  const char* name() const override {
    return "fenix.channel";
  }

  void on_exit() override {
    if (joined_) // crashed: end() did not run
      bump(channels_gauge(), -1);
    joined_ = false;
    // Handles to the shard and the connection (which hold handles to us)
    // must not outlive us: members are freed only with the last handle.
    shard_ = caf::actor{};
    init_.connection = caf::actor{};
    init_.out.reset();
    chan_.reset();
    fenix::actor::on_exit();
  }

  caf::behavior make_behavior() override {
    set_down_handler([this](caf::down_msg& msg) {
      if (msg.source == init_.connection)
        // The socket closed: Phoenix's {:shutdown, :closed}.
        end(stop_reason::shutdown("closed"), false);
      else if (msg.source == shard_)
        throw std::runtime_error("pubsub shard for " + init_.topic + " died");
    });
    set_default_handler(
      [this](caf::scheduled_actor*, caf::message_view& x)
        -> caf::result<caf::message> {
        auto msg = x.move_content_to_message();
        if (!chan_ || !joined_)
          return caf::message{};
        auto res = guarded([&] { return chan_->handle_info(msg, *this); });
        if (res)
          act(std::move(*res), boost::json::value{});
        return caf::message{};
      });
    return {
      [this](join_atom) { do_join(); },
      [this](in_atom, inbound& in) {
        if (!joined_)
          return;
        if (in.event == "phx_leave")
          return leave(in.ref);
        bump(messages_in());
        current_ref_ = &in.ref;
        auto res = guarded([&] {
          return chan_->handle_in(in.event, *in.payload, *this);
        });
        current_ref_ = nullptr;
        if (res)
          act(std::move(*res), in.ref);
      },
      [this](broadcast_atom, const broadcast_msg& msg) {
        if (!joined_)
          return;
        if (intercepts_ && std::find(intercepts_->begin(), intercepts_->end(),
                                     msg.event)
                             != intercepts_->end()
            && msg.topic == init_.topic) {
          auto res = guarded([&] {
            return chan_->handle_out(msg.event, *msg.payload, *this);
          });
          if (res)
            act(std::move(*res), boost::json::value{});
        } else {
          auto m = caf::make_message(broadcast_atom::value, msg);
          auto res = guarded([&] { return chan_->handle_info(m, *this); });
          if (res)
            act(std::move(*res), boost::json::value{});
        }
      },
      [this](drain_atom) {
        // The socket closes with 1012 and writes nothing for us.
        end(stop_reason::shutdown("draining"), false);
      },
    };
  }

  // -- socket interface ----------------------------------------------------------

  const std::string& topic() const noexcept override {
    return init_.topic;
  }
  const json& join_ref() const noexcept override {
    return init_.join_ref;
  }
  const std::optional<std::string>& id() const noexcept override {
    return init_.socket_id;
  }
  boost::json::object& assigns() override {
    if (!own_assigns_)
      own_assigns_ = std::make_unique<boost::json::object>(
        init_.assigns ? *init_.assigns : boost::json::object{});
    return *own_assigns_;
  }
  const boost::json::object& assigns() const noexcept override {
    static const boost::json::object empty;
    if (own_assigns_)
      return *own_assigns_;
    return init_.assigns ? *init_.assigns : empty;
  }
  const std::string& transport() const noexcept override {
    return init_.transport;
  }
  caf::event_based_actor* self() noexcept override {
    return this;
  }
  const channels::pubsub& pubsub() const noexcept override {
    return init_.pubsub;
  }

  void push(const std::string& event, const payload& p) override {
    forbid_in_join("push");
    auto res = init_.ser->encode_push(reply_join_ref_, init_.topic, event, p);
    if (!res)
      throw std::runtime_error("push " + event + ": " + res.error().reason);
    init_.out->send(std::move(*res));
  }

  void broadcast(const std::string& event, const payload& p) override {
    forbid_in_join("broadcast");
    check_broadcast_payload(p);
    init_.pubsub.broadcast_by(address(), init_.topic, event, share(p));
  }

  void broadcast_from(const std::string& event, const payload& p) override {
    forbid_in_join("broadcast_from");
    check_broadcast_payload(p);
    init_.pubsub.broadcast_from(address(), init_.topic, event, share(p));
  }

  void local_broadcast(const std::string& event, const payload& p) override {
    forbid_in_join("local_broadcast");
    check_broadcast_payload(p);
    init_.pubsub.local_broadcast(init_.topic, event, share(p));
  }

  socket_ref ref() const override {
    return socket_ref{init_.out, init_.ser, init_.topic, reply_join_ref_,
                      current_ref_ ? *current_ref_ : boost::json::value{}};
  }

private:
  // -- transient restarts ----------------------------------------------------------

  /// Runs a callback. On a temporary route an exception propagates (the
  /// actor dies, the socket writes phx_error). On a transient route the
  /// channel restarts in place: a fresh channel object, join re-run with
  /// the original payload and no reply written; past the intensity the
  /// exception propagates after all.
  template <class F>
  std::optional<in_result> guarded(F f) {
    if (!init_.transient)
      return f();
    try {
      return f();
    } catch (std::exception& e) {
      if (!restarts_.add(restart_window::clock::now(), init_.max_restarts,
                         init_.max_seconds)) {
        FENIX_WARN("channel", init_.topic << ": crashed (" << e.what()
                                          << "), restart intensity reached");
        throw;
      }
      FENIX_WARN("channel", init_.topic << ": crashed (" << e.what()
                                        << "), restarting it in place");
      node().restarts.fetch_add(1, std::memory_order_relaxed);
      rejoin();
      return std::nullopt;
    }
  }

  void rejoin() {
    chan_ = init_.factory();
    in_join_ = true;
    join_result res;
    try {
      res = chan_->join(init_.topic, json_payload(), *this);
    } catch (std::exception& e) {
      in_join_ = false;
      throw std::runtime_error(std::string{"rejoin crashed: "} + e.what());
    }
    in_join_ = false;
    if (res.what != join_result::kind::ok)
      throw std::runtime_error("rejoin refused");
  }

  // -- join ----------------------------------------------------------------------

  void join_done(join_outcome outcome) {
    send(init_.connection, join_done_atom::value, static_cast<int>(outcome));
  }

  void do_join() {
    chan_ = init_.factory();
    join_result res;
    in_join_ = true;
    try {
      res = chan_->join(init_.topic, json_payload(), *this);
    } catch (std::exception& e) {
      in_join_ = false;
      FENIX_ERROR("channel", init_.topic << ": join crashed: " << e.what());
      if (!init_.silent)
        write(init_.ser->encode_error_reply(reply_join_ref_, init_.ref,
                                            init_.topic, "join crashed"));
      join_done(crashed);
      quit(caf::make_error(caf::sec::runtime_error, e.what()));
      return;
    }
    in_join_ = false;
    if (res.what == join_result::kind::error) {
      if (!init_.silent)
        write(init_.ser->encode_reply(reply_join_ref_, init_.ref, init_.topic,
                                      "error", res.response));
      join_done(refused);
      quit();
      return;
    }
    auto icpt = chan_->intercepts();
    if (!icpt.empty())
      intercepts_ = std::make_shared<const std::vector<std::string>>(
        std::move(icpt));
    shard_ = init_.pubsub.shard_for(init_.topic);
    if (!shard_) {
      // The shard is restarting: the join fails, the client retries.
      if (!init_.silent)
        write(init_.ser->encode_error_reply(reply_join_ref_, init_.ref,
                                            init_.topic, "join crashed"));
      join_done(crashed);
      quit(caf::make_error(caf::sec::runtime_error, "pubsub unavailable"));
      return;
    }
    monitor(shard_);
    // Subscribe first and write the join reply once the shard confirmed:
    // a client that saw "joined" must see every broadcast from then on
    // (the churn benchmark counts). `await` also holds back our own later
    // messages (an after-join push) until the reply is out.
    // No timeout: the shard answers at once, and CAF bounces the request
    // with an error if the shard dies first (we also monitor it).
    auto response = std::move(res.response);
    request(shard_, caf::infinite, subscribe_atom::value,
            subscription_req{init_.topic, caf::actor_cast<caf::actor>(this),
                             fastlane{init_.out, init_.ser, intercepts_}})
      .await(
        [this, response]() mutable {
          if (!init_.silent)
            write(init_.ser->encode_reply(reply_join_ref_, init_.ref,
                                          init_.topic, "ok", response));
          joined_ = true;
          if (!init_.transient)
            init_.payload.reset(); // only a restart would need it again
          bump(joins_total());
          bump(channels_gauge());
          monitor(init_.connection);
          join_done(joined);
        },
        [this](caf::error& err) {
          if (!init_.silent)
            write(init_.ser->encode_error_reply(reply_join_ref_, init_.ref,
                                                init_.topic, "join crashed"));
          join_done(crashed);
          quit(err);
        });
  }

  boost::json::value json_payload() const {
    if (init_.payload)
      if (auto v = std::get_if<boost::json::value>(init_.payload.get()))
        return *v;
    return boost::json::value{};
  }

  // -- results -------------------------------------------------------------------

  void act(in_result res, const boost::json::value& ref) {
    if (res.has_reply)
      write(init_.ser->encode_reply(reply_join_ref_, ref, init_.topic,
                                    res.status, res.response));
    if (res.what == in_result::kind::stop)
      end(res.reason, true);
  }

  void leave(const boost::json::value& ref) {
    write(init_.ser->encode_reply(reply_join_ref_, ref, init_.topic, "ok",
                                  boost::json::value(boost::json::object{})));
    end(stop_reason::shutdown("left"), true);
  }

  /// Ends the channel. A graceful end writes phx_close (unless the socket is
  /// gone or draining) and tells the socket; then terminate runs, and what
  /// it pushes still follows the phx_close. Other reasons exit abnormally,
  /// so the socket's monitor writes phx_error.
  void end(const stop_reason& why, bool tell_socket) {
    if (ended_)
      return;
    ended_ = true;
    bool graceful = why.graceful();
    if (graceful && tell_socket) {
      write(init_.ser->encode_phx_close(init_.join_ref, init_.topic));
      send(init_.connection, closed_atom::value, closed_notice{init_.topic});
    }
    if (chan_)
      chan_->terminate(why, *this);
    if (joined_)
      bump(channels_gauge(), -1);
    joined_ = false;
    if (graceful)
      quit(why.text == "normal" ? caf::error{}
                                : caf::make_error(caf::exit_reason::user_shutdown));
    else
      quit(caf::make_error(caf::sec::runtime_error, why.text));
  }

  // -- helpers -------------------------------------------------------------------

  void write(encode_result res) {
    if (!res) {
      FENIX_ERROR("channel", init_.topic << ": cannot encode: "
                                         << res.error().reason);
      throw std::runtime_error(res.error().reason);
    }
    bump(messages_out());
    init_.out->send_reply(std::move(*res));
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

  channel_init init_;
  boost::json::value reply_join_ref_;
  channel_ptr chan_;
  std::shared_ptr<const std::vector<std::string>> intercepts_;
  caf::actor shard_;
  const boost::json::value* current_ref_ = nullptr;
  restart_window restarts_;
  std::unique_ptr<boost::json::object> own_assigns_; // after a write
  bool in_join_ = false;
  bool joined_ = false;
  bool ended_ = false;
};

} // namespace

caf::actor spawn_channel_server(caf::local_actor* parent,
                                detail::channel_init init) {
  return parent->spawn<channel_server>(std::move(init));
}

} // namespace fenix::channels
