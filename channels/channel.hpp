#pragma once

/// # Channels
///
/// A channel is the server side of one topic for one client, as in Phoenix:
/// the client joins `"room:lobby"`, the socket routes the join to the
/// channel class registered for `"room:*"`, and from then on every event
/// the client pushes on that topic reaches `handle_in`. Each joined
/// (connection, topic) runs as its own CAF actor (a "channel server") in
/// the supervision tree under its connection, so a slow or crashing
/// channel only affects its own topic.
///
/// ```cpp
/// class room_channel : public fenix::channels::channel {
/// public:
///   join_result join(const std::string& topic, const json& payload,
///                    socket& s) override {
///     if (topic == "room:private" && payload_field(payload, "password") != "secret")
///       return join_result::error({{"reason", "unauthorized"}});
///     return join_result::ok({{"joined", topic}});
///   }
///   in_result handle_in(const std::string& event, const payload& p,
///                       socket& s) override {
///     if (event == "ping") return in_result::reply("ok", p);     // echo
///     if (event == "shout") { s.broadcast("shout", p); return in_result::noreply(); }
///     return in_result::stop(stop_reason::normal());
///   }
/// };
/// ```
///
/// Callbacks and what the client sees (protocol.md 2.5-2.12):
/// - `join`: ok (optionally with a reply) or error with a reply (the
///   channel ends, the topic is not joined). Pushing or broadcasting inside
///   `join` is refused ("join crashed"), as in Phoenix: send yourself a
///   message and push from `handle_info`.
/// - `handle_in`: reply with any status, no reply, or stop (with or without
///   a reply first). A graceful stop (normal, shutdown, shutdown:<x>) sends
///   `phx_close`; any other reason, or an exception, sends `phx_error`
///   (or, on a transient route, restarts the channel server-side).
/// - `handle_out`: broadcasts of the events listed by `intercepts()`, once
///   per subscriber, to push (maybe changed) or drop.
/// - `handle_info`: every other actor message, as typed CAF handlers (the
///   clauses of Phoenix's `handle_info/2`), each returning an `info_result`
///   (or nothing, for noreply). DOWN messages of actors the channel
///   monitors arrive as `caf::down_msg`, exit messages of actors it linked
///   to as `caf::exit_msg`. Unmatched messages are logged and dropped; an
///   unmatched abnormal exit message stops the channel with its reason.
/// - `handle_call`: requests (`self->request(channel, timeout, ...)`); the
///   handler's return value is the response.
/// - `terminate`: on leave, socket close, graceful stop, shutdown; not
///   after a crash.
///
/// ```cpp
/// caf::message_handler handle_info(socket& s) override {
///   return {
///     [&](after_join_atom) -> info_result { s.push("hello", ...); return info_result::noreply(); },
///     [&](tick_atom, int n) -> info_result { ...; return info_result::noreply(); },
///     [&](caf::down_msg& dm) -> info_result { ...; return info_result::noreply(); },
///   };
/// }
/// caf::message_handler handle_call(socket&) override {
///   return { [&](caf::get_atom) { return count_; } };
/// }
/// ```
///
/// The channel actor (`socket::self()`) belongs to its channel server:
/// `become`, `set_down_handler`, `set_exit_handler` and
/// `set_default_handler` on it would replace the server's own handlers, so
/// a channel that calls them crashes with an error that says so. Return
/// handlers from `handle_info` instead.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>
#include <caf/message_handler.hpp>

#include "channels/message.hpp"
#include "channels/pubsub.hpp"
#include "transport/outlet.hpp"

namespace fenix::channels {

using json = boost::json::value;
using payload = message_payload;

/// Why a channel stops. Graceful reasons, as in Phoenix: "normal",
/// "shutdown" and "shutdown:<anything>" (Elixir's `{:shutdown, term}`).
struct stop_reason {
  std::string text = "normal";

  static stop_reason normal() { return {"normal"}; }
  static stop_reason shutdown() { return {"shutdown"}; }
  static stop_reason shutdown(const std::string& why) {
    return {"shutdown:" + why};
  }
  bool graceful() const {
    return text == "normal" || text == "shutdown"
           || text.rfind("shutdown:", 0) == 0;
  }
};

/// The result of `join`.
struct join_result {
  enum class kind : uint8_t { ok, error } what = kind::ok;
  json response = json(boost::json::object{});

  static join_result ok() { return {}; }
  static join_result ok(json reply) { return {kind::ok, std::move(reply)}; }
  static join_result error(json reply) {
    return {kind::error, std::move(reply)};
  }
};

/// The result of `handle_in`, `handle_out` and `handle_info`.
struct in_result {
  enum class kind : uint8_t { reply, noreply, stop } what = kind::noreply;
  std::string status;
  payload response = json(boost::json::object{});
  bool has_reply = false;
  stop_reason reason;

  /// `{:reply, {status, payload}, socket}`; the status may be any string.
  static in_result reply(std::string status,
                         payload p = json(boost::json::object{})) {
    in_result r;
    r.what = kind::reply;
    r.status = std::move(status);
    r.response = std::move(p);
    r.has_reply = true;
    return r;
  }
  static in_result ok(payload p = json(boost::json::object{})) {
    return reply("ok", std::move(p));
  }
  static in_result noreply() { return {}; }
  static in_result stop(stop_reason why) {
    in_result r;
    r.what = kind::stop;
    r.reason = std::move(why);
    return r;
  }
  /// `{:stop, reason, reply, socket}`: the reply goes out first.
  static in_result stop(stop_reason why, std::string status, payload p) {
    auto r = reply(std::move(status), std::move(p));
    r.what = kind::stop;
    r.reason = std::move(why);
    return r;
  }
};

/// `handle_out` and `handle_info` cannot reply.
using info_result = in_result;

} // namespace fenix::channels

// handle_info clauses return it through CAF's message machinery, locally.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::channels::in_result)

namespace fenix::channels {

/// Reply later, from any thread or actor (Phoenix's `socket_ref` +
/// `reply/2`). Captured by `socket::ref()` inside `handle_in`.
class socket_ref {
public:
  socket_ref() = default;
  socket_ref(transport::outlet_ptr out, const serializer* ser,
             std::string topic, json join_ref, json ref)
      : out_(std::move(out)), ser_(ser), topic_(std::move(topic)),
        join_ref_(std::move(join_ref)), ref_(std::move(ref)) {
    // nop
  }

  /// Sends `phx_reply` with this status and payload; may be used more than
  /// once. Returns false if the connection is gone or the reply could not
  /// be encoded.
  bool reply(const std::string& status, const payload& p) const;

  explicit operator bool() const noexcept { return out_ != nullptr; }

private:
  transport::outlet_ptr out_;
  const serializer* ser_ = nullptr;
  std::string topic_;
  json join_ref_;
  json ref_;
};

class channel_server_base;

/// What a channel sees of its client (Phoenix's %Socket{} inside a
/// channel): topic, assigns, identity, and the ways to send.
class socket {
public:
  virtual ~socket();

  virtual const std::string& topic() const noexcept = 0;
  /// The join_ref of this join, as the client sent it (may be null).
  virtual const json& join_ref() const noexcept = 0;
  /// The socket's id (`"user_socket:42"`), if the user socket gave one.
  virtual const std::optional<std::string>& id() const noexcept = 0;
  /// Assigns from `connect` (and the route's static assigns); the channel
  /// may change its own copy.
  virtual boost::json::object& assigns() = 0;
  /// Read-only access (no copy: channels share their socket's assigns
  /// until one changes its own).
  virtual const boost::json::object& assigns() const noexcept = 0;
  /// The transport ("websocket" / "longpoll").
  virtual const std::string& transport() const noexcept = 0;

  /// The channel actor: send yourself messages, spawn, monitor.
  virtual caf::event_based_actor* self() noexcept = 0;

  /// To this client only: `[join_ref, null, topic, event, payload]`.
  /// The payload must be a JSON object or binary.
  virtual void push(const std::string& event, const payload& p) = 0;

  /// To every subscriber of this topic on every node, this client included.
  virtual void broadcast(const std::string& event, const payload& p) = 0;
  /// Same, except this channel.
  virtual void broadcast_from(const std::string& event, const payload& p) = 0;
  /// Only subscribers on this node.
  virtual void local_broadcast(const std::string& event, const payload& p) = 0;

  /// A handle for replying later to the event being handled right now.
  virtual socket_ref ref() const = 0;

  /// The endpoint's PubSub.
  virtual const channels::pubsub& pubsub() const noexcept = 0;

  /// An extra subscription of this channel: broadcasts on `topic` reach
  /// `handle_info` as `(broadcast_atom, broadcast_msg)`. Unlike a direct
  /// `pubsub().subscribe(topic, self())`, the channel server renews it
  /// after a PubSub restart. Idempotent.
  virtual void subscribe(const std::string& topic) = 0;
  virtual void unsubscribe(const std::string& topic) = 0;

  /// Convenience: the string assign `key`, or "".
  std::string assign_string(const std::string& key) const;
};

/// The interface a user's channel implements. One object per join: state
/// kept in members lives as long as the join (and is lost on a crash).
class channel {
public:
  virtual ~channel();

  virtual join_result join(const std::string& topic, const json& payload,
                           socket& s) = 0;

  /// Default: no handler -> the channel crashes (Phoenix's
  /// FunctionClauseError), the client gets phx_error.
  virtual in_result handle_in(const std::string& event, const payload& p,
                              socket& s);

  /// Events to route through `handle_out` instead of the fastlane.
  virtual std::vector<std::string> intercepts() const;

  /// Default: crash, as Phoenix does for an intercepted event without a
  /// handle_out clause.
  virtual info_result handle_out(const std::string& event, const payload& p,
                                 socket& s);

  /// The `handle_info` clauses, asked for once per channel object, right
  /// after it is created (before `join`). The handlers may capture `this`
  /// and `s`, which outlive them. Default: none (every message is logged
  /// and dropped).
  virtual caf::message_handler handle_info(socket& s);

  /// The `handle_call` clauses: the handler's result is the response to
  /// the request. Default: none (a requester gets an error).
  virtual caf::message_handler handle_call(socket& s);

  virtual void terminate(const stop_reason& why, socket& s);
};

using channel_ptr = std::unique_ptr<channel>;

/// Reads a string field of a JSON object payload, "" if absent.
std::string payload_field(const json& payload, const std::string& key);
std::string payload_field(const payload& p, const std::string& key);

} // namespace fenix::channels
