#pragma once

/// # Testing channels in-process (Phoenix.ChannelTest)
///
/// `channel_test` runs a user socket's channels the way a server does —
/// the real `user_socket::connect`, the real Phoenix socket handler (made
/// by `phoenix_handler_factory`), channel servers under a real
/// `channel_pool`, a real PubSub (and Presence, when asked) — and replaces
/// only the network: each test socket is a connection actor whose outbound
/// queue captures frames in memory, decoded with the connection's
/// serializer, for the test to wait for.
///
/// ```cpp
/// using namespace fenix::channels;
/// testing::channel_test t{std::make_shared<my_user_socket>()};
/// auto s = t.connect({{"token", "abc"}});
/// auto joined = t.subscribe_and_join(s, "room:lobby", {{"name", "ada"}});
/// BOOST_TEST(joined.ok());
/// auto ref = t.push(s, "room:lobby", "ping", {{"n", 1}});
/// t.assert_reply(ref, "ok", json::object{{"n", 1}});
/// t.push(s, "room:lobby", "shout", {{"m", "hi"}});
/// t.assert_broadcast("room:lobby", "shout", json::object{{"m", "hi"}});
/// t.assert_push("shout");          // the fastlane copy reached s
/// t.leave(s, "room:lobby");
/// ```
///
/// Failures: every wait is bounded (`options::timeout`, 1 s by default, or
/// the call's own timeout), and an assertion that does not get what it
/// expected throws `testing::failure` with a message naming what was
/// expected and what arrived instead. Outcomes a test legitimately looks at
/// are values, not failures: a join's error reply, a refused connect
/// (`try_connect`), a reply with another status (`push` + `assert_reply`
/// names the status it wants). Nothing here depends on a test framework;
/// with Boost.Test an escaping `failure` fails the test case with its
/// message, and `BOOST_CHECK_THROW(..., testing::failure)` checks one.
///
/// Frames are kept in arrival order. `assert_*` takes the first frame that
/// matches (later ones stay for later assertions, like a selective receive
/// on Phoenix's test process); `frames()` keeps every frame, taken or not,
/// for debugging, and failure messages list the ones nobody took.
///
/// Use a `channel_test` from one thread (the test's).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <caf/actor.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/error.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/system.hpp"
#include "channels/channel_pool.hpp"
#include "channels/message.hpp"
#include "channels/presence.hpp"
#include "channels/pubsub.hpp"
#include "channels/socket.hpp"
#include "channels/testing/frames.hpp"
#include "supervision/child_spec.hpp"
#include "transport/connect_info.hpp"

namespace fenix::channels::testing {

// -- the fixture -------------------------------------------------------------

struct options {
  /// The bound of every wait that has no timeout of its own.
  duration timeout{1000};
  /// How long `refute_*` watch for what must not arrive (Phoenix: 100 ms).
  duration refute_timeout{100};
  /// Start a Presence tracker on the PubSub (`presence()`).
  bool presence = false;
  size_t pubsub_shards = 2;
  size_t channel_partitions = 2;
  /// The supervisor's name in the actor tree; PubSub and Presence are
  /// "pubsub:<name>" and "presence:<name>".
  std::string name = "channel_test";
};

/// One client connection of a test (Phoenix's socket transport process).
/// A cheap handle; the `channel_test` that made it owns the connection.
class test_socket {
public:
  test_socket() = default;

  /// 1, 2, ... in connect order; frames carry it.
  size_t id() const noexcept { return id_; }

  /// The connection actor, under "connections" in the actor tree.
  const caf::actor& connection() const noexcept { return conn_; }

  explicit operator bool() const noexcept { return id_ != 0; }

private:
  friend class channel_test;
  test_socket(size_t id, caf::actor conn) : id_(id), conn_(std::move(conn)) {
    // nop
  }

  size_t id_ = 0;
  caf::actor conn_;
};

/// The harness. Owns a supervisor (in the actor tree under `options::name`)
/// with PubSub, Presence (optional), an `app` dynamic supervisor for the
/// test's own actors (`start_child`), the channel pool and the test
/// connections; stops it, bounded, when destroyed.
class channel_test {
public:
  /// Runs in its own fenix::system (default configuration).
  explicit channel_test(options opts = {});
  explicit channel_test(std::shared_ptr<user_socket> us, options opts = {});
  /// Borrows `sys`, which must outlive the harness.
  explicit channel_test(fenix::system& sys, options opts = {});
  channel_test(fenix::system& sys, std::shared_ptr<user_socket> us,
               options opts = {});

  ~channel_test();

  channel_test(const channel_test&) = delete;
  channel_test& operator=(const channel_test&) = delete;

  // -- the environment ------------------------------------------------------

  fenix::system& system() noexcept;
  const channels::pubsub& pubsub() const noexcept;
  /// Throws `failure` unless `options::presence` was set.
  const channels::presence& presence() const;
  const channel_pool& pool() const noexcept;
  const caf::actor& supervisor() const noexcept;
  const options& opts() const noexcept;

  /// Starts an actor the channels need (a history, a store) under the
  /// harness, after PubSub and Presence and before the channel pool; it
  /// stops after every channel. Throws `failure` if it does not start.
  caf::actor start_child(child_spec spec);

  /// The user socket `connect` goes through (for sockets that need the
  /// harness's PubSub or Presence, set after construction).
  void use_socket(std::shared_ptr<user_socket> us);

  // -- connections ----------------------------------------------------------

  /// Connects through `phoenix_handler_factory`: the user socket's
  /// `connect` sees `params` as query parameters (strings as they are,
  /// other scalars as JSON text) plus `vsn=2.0.0` unless given. Throws
  /// `failure` if the connect is refused.
  test_socket connect(boost::json::object params = {},
                      transport::connect_info info = {});

  /// Same; a refused connect (or a `vsn` no serializer speaks) is nullopt.
  std::optional<test_socket> try_connect(boost::json::object params = {},
                                         transport::connect_info info = {});

  /// The client closes the connection (close code 1000); returns once the
  /// connection actor and every channel it joined have ended.
  void close(const test_socket& s, std::optional<duration> timeout = {});

  /// Waits until the server closed `s` (disconnect, drain, malformed
  /// frame) and returns the close code and reason.
  transport::close_info assert_closed(const test_socket& s,
                                      std::optional<duration> timeout = {});

  // -- client messages ------------------------------------------------------

  /// Joins `topic` (join_ref = the join's ref, as phoenix.js does) and
  /// returns its reply, ok or error. Later pushes on the topic carry that
  /// join_ref.
  client_frame join(const test_socket& s, const std::string& topic,
                    const boost::json::value& payload = boost::json::object{},
                    std::optional<duration> timeout = {});

  /// `subscribe(topic)`, then `join`.
  client_frame
  subscribe_and_join(const test_socket& s, const std::string& topic,
                     const boost::json::value& payload = boost::json::object{},
                     std::optional<duration> timeout = {});

  /// Sends an event without waiting; returns its ref for `assert_reply`.
  boost::json::value
  push(const test_socket& s, const std::string& topic, const std::string& event,
       const boost::json::value& payload = boost::json::object{});

  /// Sends an event with a binary payload (a V2 binary frame).
  boost::json::value push_binary(const test_socket& s, const std::string& topic,
                                 const std::string& event, std::string bytes);

  /// Leaves `topic` and returns the leave's reply (phx_close follows).
  client_frame leave(const test_socket& s, const std::string& topic,
                     std::optional<duration> timeout = {});

  /// A heartbeat and its reply. The connection handles frames in order, so
  /// its reply also says that every earlier frame has been routed.
  client_frame heartbeat(const test_socket& s,
                         std::optional<duration> timeout = {});

  /// Sends a raw text frame (a hand-made or malformed message).
  void send_text(const test_socket& s, std::string text);

  /// A fresh ref, unique within this harness, for hand-made frames.
  boost::json::value make_ref();

  // -- assertions -----------------------------------------------------------

  /// The reply to `ref`; throws if none arrives in time, or if it has
  /// another status or a response that does not match.
  client_frame assert_reply(const boost::json::value& ref,
                            const std::string& status, pattern response = {},
                            std::optional<duration> timeout = {});

  /// No reply to `ref` arrives within the refute timeout.
  void refute_reply(const boost::json::value& ref,
                    std::optional<duration> timeout = {});

  /// A push or fastlane broadcast with this event and a matching payload
  /// reached a test socket (any, or `s`). Also phx_error and phx_close,
  /// which are push-shaped.
  client_frame assert_push(const std::string& event, pattern payload = {},
                           std::optional<duration> timeout = {});
  client_frame assert_push(const test_socket& s, const std::string& event,
                           pattern payload = {},
                           std::optional<duration> timeout = {});

  /// No such push arrives (or is waiting) within the refute timeout.
  void refute_push(const std::string& event, pattern payload = {},
                   std::optional<duration> timeout = {});
  void refute_push(const test_socket& s, const std::string& event,
                   pattern payload = {}, std::optional<duration> timeout = {});

  /// Subscribes the test itself to `topic` on PubSub: broadcasts published
  /// from now on are seen by `assert_broadcast`.
  void subscribe(const std::string& topic);
  void unsubscribe(const std::string& topic);

  /// A broadcast on `topic` (which the test subscribed to) with this event
  /// and a matching payload was published.
  observed_broadcast assert_broadcast(const std::string& topic,
                                      const std::string& event,
                                      pattern payload = {},
                                      std::optional<duration> timeout = {});
  void refute_broadcast(const std::string& topic, const std::string& event,
                        pattern payload = {},
                        std::optional<duration> timeout = {});

  // -- the channel actors ---------------------------------------------------

  /// The actor of `s`'s channel on `topic`, once its connection recorded
  /// the join (waits for that); after a transient channel's restart, the
  /// new one. Throws `failure` if `s` has no channel on `topic` in time.
  caf::actor channel_actor(const test_socket& s, const std::string& topic,
                           std::optional<duration> timeout = {});

  /// Waits until `s`'s channel on `topic` is another actor than `old`: a
  /// transient channel that its supervisor restarted and that rejoined
  /// (the connection routes events to it from then on), or a new join.
  caf::actor await_restart(const test_socket& s, const std::string& topic,
                           const caf::actor& old,
                           std::optional<duration> timeout = {});

  /// A request to the channel, answered by its `handle_call` clauses:
  /// `call<int>(s, topic, get_atom::value)`; `call<>` for an empty answer,
  /// `call<A, B>` for two values (a tuple). Throws `failure` with the
  /// error when the request fails or times out.
  template <class... Rs, class... Ts>
  auto call(const test_socket& s, const std::string& topic, Ts&&... xs) {
    auto chan = channel_actor(s, topic);
    using value_type =
        std::conditional_t<sizeof...(Rs) == 1,
                           std::tuple_element_t<0, std::tuple<Rs..., void>>,
                           std::tuple<Rs...>>;
    std::optional<std::conditional_t<sizeof...(Rs) == 0, bool, value_type>> res;
    caf::error err;
    self()
        ->request(chan, opts().timeout, std::forward<Ts>(xs)...)
        .receive(
            [&](Rs&... rs) {
              if constexpr (sizeof...(Rs) == 0)
                res.emplace(true);
              else
                res.emplace(std::move(rs)...);
            },
            [&](caf::error& e) { err = std::move(e); });
    if (!res)
      throw failure("call to the channel on " + topic +
                    " failed: " + render(err));
    if constexpr (sizeof...(Rs) != 0)
      return std::move(*res);
  }

  /// A message for the channel's `handle_info` clauses (Phoenix tests'
  /// `send(socket.channel_pid, msg)`).
  template <class... Ts>
  void send_info(const test_socket& s, const std::string& topic, Ts&&... xs) {
    caf::anon_send(channel_actor(s, topic), std::forward<Ts>(xs)...);
  }

  // -- debugging ------------------------------------------------------------

  /// Every frame received so far, taken by an assertion or not, in order.
  std::vector<client_frame> frames() const;
  std::vector<client_frame> frames(const test_socket& s) const;
  /// Every broadcast the test saw on its subscriptions.
  std::vector<observed_broadcast> broadcasts() const;
  /// `frames()`, one per line, taken ones marked.
  std::string dump() const;

private:
  struct impl;

  void start(fenix::system& sys);
  caf::scoped_actor& self();
  std::string render(const caf::error& err);

  std::unique_ptr<impl> impl_;
};

} // namespace fenix::channels::testing
