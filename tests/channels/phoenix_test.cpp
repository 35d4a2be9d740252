// Channel servers and the Phoenix socket, driven through a real WebSocket
// client on 127.0.0.1 (tests/transport/raw_client) against a real endpoint,
// PubSub and CAF actor system.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <caf/all.hpp>

#include "actors/metrics.hpp"
#include "actors/system.hpp"
#include "channels/lambda_channel.hpp"
#include "channels/pubsub.hpp"
#include "channels/socket.hpp"
#include "supervision/supervisor.hpp"
#include "tests/channels/phoenix_fixture.hpp"
#include "tests/common/printers.hpp"
#include "tests/transport/raw_client.hpp"
#include "transport/endpoint.hpp"

using namespace fenix;
using namespace fenix::channels;
using namespace std::chrono_literals;
namespace json = boost::json;
using fenix::test::raw_client;

namespace {

class test_channel : public channel {
public:
  join_result join(const std::string& topic, const json::value& p,
                   socket&) override {
    if (payload_field(p, "fail") == "yes")
      return join_result::error(json::object{{"reason", "refused"}});
    if (payload_field(p, "crash") == "yes")
      throw std::runtime_error("join blew up");
    if (payload_field(p, "die") == "yes")
      throw 42; // not a std::exception: the channel dies without answering
    tag_ = payload_field(p, "tag");

    return join_result::ok(json::object{{"joined", topic}});
  }

  in_result handle_in(const std::string& event, const payload& p,
                      socket& s) override {
    if (event == "ping")
      return in_result::ok(p);
    if (event == "count")
      return in_result::ok(json::object{{"n", ++count_}});
    if (event == "tag")
      return in_result::ok(json::object{{"tag", tag_}});
    if (event == "shout") {
      s.broadcast("shout", p);
      return in_result::noreply();
    }
    if (event == "secret") {
      s.broadcast("secret", p);
      return in_result::noreply();
    }
    if (event == "stop")
      return in_result::stop(stop_reason::normal(), "ok", json::object{});
    if (event == "abnormal_stop")
      return in_result::stop(stop_reason{"gave up"});
    if (event == "crash")
      throw std::runtime_error("crash requested");
    if (event == "later") {
      auto r = s.ref();
      r.reply("ok", json::value{{"async", true}});
      return in_result::noreply();
    }
    if (event == "kick")
      s.pubsub().broadcast("user:" + payload_field(p, "user"), "disconnect",
                           make_payload(json::object{}));
    return in_result::noreply();
  }

  std::vector<std::string> intercepts() const override {
    return {"secret"};
  }

  info_result handle_out(const std::string& event, const payload& p,
                         socket& s) override {
    s.push(event, p);
    return info_result::noreply();
  }

  void terminate(const stop_reason&, socket& s) override {
    if (s.topic() == "room:bye")
      s.push("you_left", json::object{});
  }

private:
  int count_ = 0;
  std::string tag_;
};

class test_socket : public user_socket {
public:
  test_socket() {
    channel<test_channel>("room:*");
    channel<test_channel>("safe:*", restart_policy::transient);
    lambda_channel echo;
    echo.on_in = [](const std::string&, const payload& p, socket&) {
      return in_result::ok(p);
    };
    channel("echo", echo.factory());
    max_restarts = 2;
  }

  std::optional<json::object> connect(const transport::params& p,
                                      const transport::connect_info&) override {
    if (auto t = p.get("token"); t && *t == "bad")
      return std::nullopt;
    json::object a;
    if (auto u = p.get("user"))
      a["user"] = *u;
    return a;
  }

  std::optional<std::string> id(const json::object& a) const override {
    if (auto u = a.if_contains("user"))
      return "user:" + std::string{u->as_string()};
    return std::nullopt;
  }
};

using fixture = fenix::test::phoenix_fixture<test_socket>;

} // namespace

BOOST_AUTO_TEST_SUITE(routing_suite)

BOOST_AUTO_TEST_CASE(patterns_match_exact_or_by_prefix) {
  route exact{"lobby", nullptr, restart_policy::temporary, {}};
  route prefix{"room:*", nullptr, restart_policy::temporary, {}};
  route bare{"foo*", nullptr, restart_policy::temporary, {}};
  BOOST_TEST(exact.matches("lobby"));
  BOOST_TEST(!exact.matches("lobby2"));
  BOOST_TEST(prefix.matches("room:1"));
  BOOST_TEST(prefix.matches("room:"));
  BOOST_TEST(!prefix.matches("room"));
  BOOST_TEST(bare.matches("foobar"));
  test_socket s;
  s.channel("food*", nullptr);
  BOOST_TEST(s.match("room:x")->pattern == "room:*");
  BOOST_TEST(s.match("nope") == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(phoenix_suite, fixture)

BOOST_AUTO_TEST_CASE(heartbeat_and_unmatched_topics) {
  auto c = connect();
  send(c, frame(nullptr, "5", "phoenix", "heartbeat", json::object{}));
  BOOST_TEST(next(c) == reply(nullptr, "5", "phoenix", "ok", json::object{}));
  send(c, frame("1", "1", "other:x", "phx_join", json::object{}));
  BOOST_TEST(next(c) == reply(nullptr, "1", "other:x", "error",
                              json::object{{"reason", "unmatched topic"}}));
  send(c, frame("2", "2", "room:never", "ping", json::object{}));
  BOOST_TEST(next(c) == reply(nullptr, "2", "room:never", "error",
                              json::object{{"reason", "unmatched topic"}}));
  // a leave of an unjoined topic is answered ok, join_ref echoed
  send(c, frame("3", "3", "room:never", "phx_leave", json::object{}));
  BOOST_TEST(next(c) == reply("3", "3", "room:never", "ok", json::object{}));
}

BOOST_AUTO_TEST_CASE(join_reply_push_and_fifo) {
  auto c = connect();
  join(c, "room:a", "11");
  for (int i = 0; i < 50; ++i)
    send(c, frame("11", json::value(std::to_string(100 + i)), "room:a", "count",
                  json::object{}));
  for (int i = 0; i < 50; ++i)
    BOOST_TEST(next(c) == reply("11", json::value(std::to_string(100 + i)), "room:a", "ok",
                                json::object{{"n", i + 1}}));
  // null join_ref accepted; refs are opaque and echoed as sent
  send(c, frame(nullptr, 42, "room:a", "ping", json::object{{"x", 1}}));
  BOOST_TEST(next(c)
             == reply("11", 42, "room:a", "ok", json::object{{"x", 1}}));
  // stale join_ref: dropped, no reply
  send(c, frame("10", "7", "room:a", "ping", json::object{}));
  BOOST_TEST(silent(c));
  // asynchronous reply through a socket ref
  send(c, frame("11", "8", "room:a", "later", json::object{}));
  BOOST_TEST(next(c)
             == reply("11", "8", "room:a", "ok", json::object{{"async", true}}));
}

BOOST_AUTO_TEST_CASE(join_errors_and_crashes) {
  auto c = connect();
  send(c, frame("1", "1", "room:x", "phx_join", json::object{{"fail", "yes"}}));
  BOOST_TEST(next(c) == reply("1", "1", "room:x", "error",
                              json::object{{"reason", "refused"}}));
  send(c, frame("2", "2", "room:x", "ping", json::object{}));
  BOOST_TEST(next(c) == reply(nullptr, "2", "room:x", "error",
                              json::object{{"reason", "unmatched topic"}}));
  send(c, frame("3", "3", "room:x", "phx_join", json::object{{"crash", "yes"}}));
  BOOST_TEST(next(c) == reply("3", "3", "room:x", "error",
                              json::object{{"reason", "join crashed"}}));
}

BOOST_AUTO_TEST_CASE(a_channel_that_dies_in_its_join_fails_it_and_frames_queue) {
  // The socket holds this connection's later frames while a join runs
  // (Phoenix's socket process blocks in it). A channel that dies before it
  // answers must fail the join at once, by its DOWN, and release them in
  // order.
  auto c = connect();
  send(c, frame("1", "1", "room:d", "phx_join", json::object{{"die", "yes"}}));
  send(c, frame(nullptr, "2", "phoenix", "heartbeat", json::object{}));
  send(c, frame("3", "3", "room:e", "phx_join", json::object{}));
  send(c, frame("3", "4", "room:e", "ping", json::object{{"n", 4}}));
  BOOST_TEST(next(c) == reply("1", "1", "room:d", "error",
                              json::object{{"reason", "join crashed"}}));
  BOOST_TEST(next(c) == reply(nullptr, "2", "phoenix", "ok", json::object{}));
  BOOST_TEST(next(c) == reply("3", "3", "room:e", "ok",
                              json::object{{"joined", "room:e"}}));
  BOOST_TEST(next(c) == reply("3", "4", "room:e", "ok", json::object{{"n", 4}}));
  // the failed topic is not joined
  send(c, frame("1", "5", "room:d", "ping", json::object{}));
  BOOST_TEST(next(c) == reply(nullptr, "5", "room:d", "error",
                              json::object{{"reason", "unmatched topic"}}));
}

BOOST_AUTO_TEST_CASE(duplicate_join_replies_then_closes_the_old_one) {
  auto c = connect();
  join(c, "room:d", "1");
  send(c, frame("2", "2", "room:d", "phx_join", json::object{}));
  BOOST_TEST(next(c) == reply("2", "2", "room:d", "ok",
                              json::object{{"joined", "room:d"}}));
  BOOST_TEST(next(c) == frame("1", "1", "room:d", "phx_close", json::object{}));
  send(c, frame("2", "3", "room:d", "ping", json::object{}));
  BOOST_TEST(next(c) == reply("2", "3", "room:d", "ok", json::object{}));
}

BOOST_AUTO_TEST_CASE(leave_stop_and_crash) {
  auto c = connect();
  join(c, "room:bye", "1");
  send(c, frame("1", "2", "room:bye", "phx_leave", json::object{}));
  BOOST_TEST(next(c) == reply("1", "2", "room:bye", "ok", json::object{}));
  BOOST_TEST(next(c)
             == frame("1", "1", "room:bye", "phx_close", json::object{}));
  // terminate's push still follows the close
  BOOST_TEST(next(c)
             == frame("1", nullptr, "room:bye", "you_left", json::object{}));
  join(c, "room:s", "4");
  send(c, frame("4", "5", "room:s", "stop", json::object{}));
  BOOST_TEST(next(c) == reply("4", "5", "room:s", "ok", json::object{}));
  BOOST_TEST(next(c) == frame("4", "4", "room:s", "phx_close", json::object{}));
  join(c, "room:c", "6");
  join(c, "room:other", "7");
  send(c, frame("6", "8", "room:c", "crash", json::object{}));
  BOOST_TEST(next(c) == frame("6", "6", "room:c", "phx_error",
                              json::object{{"reason", "channel_crash"}}));
  // the other topic and the socket live on
  send(c, frame("7", "9", "room:other", "ping", json::object{}));
  BOOST_TEST(next(c) == reply("7", "9", "room:other", "ok", json::object{}));
  send(c, frame(nullptr, "10", "phoenix", "heartbeat", json::object{}));
  BOOST_TEST(next(c) == reply(nullptr, "10", "phoenix", "ok", json::object{}));
}

BOOST_AUTO_TEST_CASE(transient_channels_restart_invisibly) {
  auto c = connect();
  join(c, "safe:1", "1");
  send(c, frame("1", "2", "safe:1", "count", json::object{}));
  BOOST_TEST(next(c) == reply("1", "2", "safe:1", "ok", json::object{{"n", 1}}));
  send(c, frame("1", "3", "safe:1", "crash", json::object{}));
  // Events that reach the dying channel are lost (in flight); once its
  // supervisor restarted it, the connection routes to the new one (and
  // holds events while it rejoins).
  await_channel("safe:1", 1);
  // no phx_error: the server rejoined with the original payload; state is
  // fresh, the join_ref unchanged
  send(c, frame("1", "4", "safe:1", "count", json::object{}));
  BOOST_TEST(next(c) == reply("1", "4", "safe:1", "ok", json::object{{"n", 1}}));
  // past the intensity (2 restarts): phx_error
  send(c, frame("1", "5", "safe:1", "crash", json::object{}));
  await_channel("safe:1", 2);
  send(c, frame("1", "6", "safe:1", "count", json::object{}));
  BOOST_TEST(next(c) == reply("1", "6", "safe:1", "ok", json::object{{"n", 1}}));
  send(c, frame("1", "7", "safe:1", "crash", json::object{}));
  BOOST_TEST(next(c) == frame("1", "1", "safe:1", "phx_error",
                              json::object{{"reason", "channel_crash"}}));
  // The transient route's supervisor gave up and is gone with its channel.
  BOOST_TEST(!await_gone("transient safe:1"));
}

BOOST_AUTO_TEST_CASE(killing_a_transient_channel_restarts_it_server_side) {
  auto c = connect();
  join(c, "safe:k", "1", json::object{{"tag", "t1"}});
  auto kill = [&](uint32_t restarts) {
    auto snap = sys.tree().snapshot(ep->supervisor().id());
    BOOST_REQUIRE(snap);
    auto ch = snap->find("safe:k");
    BOOST_REQUIRE(ch);
    BOOST_REQUIRE_EQUAL(ch->restarts, restarts);
    auto hdl = sys.tree().handle(ch->id);
    BOOST_REQUIRE(hdl);
    caf::anon_send_exit(hdl, caf::exit_reason::kill);
  };
  // Within the intensity (2 in 5 s): restarted, the client sees nothing
  // and the channel answers (with fresh state) once it is back.
  for (uint32_t n = 1; n <= 2; ++n) {
    kill(n - 1);
    await_channel("safe:k", n);
    send(c, frame("1", json::value(std::to_string(n)), "safe:k", "count",
                  json::object{}));
    BOOST_TEST(next(c) == reply("1", json::value(std::to_string(n)), "safe:k",
                                "ok", json::object{{"n", 1}}));
    // It joined again with the original payload.
    send(c, frame("1", "t", "safe:k", "tag", json::object{}));
    BOOST_TEST(next(c)
               == reply("1", "t", "safe:k", "ok", json::object{{"tag", "t1"}}));
  }
  // The third kill exceeds it: the supervisor gives up, phx_error.
  kill(2);
  BOOST_TEST(next(c) == frame("1", "1", "safe:k", "phx_error",
                              json::object{{"reason", "channel_crash"}}));
  // A temporary channel that is killed: phx_error at once.
  join(c, "room:k", "5");
  auto snap = sys.tree().snapshot(ep->supervisor().id());
  BOOST_REQUIRE(snap);
  auto ch = snap->find("room:k");
  BOOST_REQUIRE(ch);
  caf::anon_send_exit(sys.tree().handle(ch->id), caf::exit_reason::kill);
  BOOST_TEST(next(c) == frame("5", "5", "room:k", "phx_error",
                              json::object{{"reason", "channel_crash"}}));
}

BOOST_AUTO_TEST_CASE(an_abnormal_stop_of_a_transient_channel_is_restarted) {
  auto c = connect();
  join(c, "safe:s", "1");
  send(c, frame("1", "2", "safe:s", "count", json::object{}));
  BOOST_TEST(next(c) == reply("1", "2", "safe:s", "ok", json::object{{"n", 1}}));
  send(c, frame("1", "3", "safe:s", "abnormal_stop", json::object{}));
  await_channel("safe:s", 1);
  send(c, frame("1", "4", "safe:s", "count", json::object{}));
  BOOST_TEST(next(c) == reply("1", "4", "safe:s", "ok", json::object{{"n", 1}}));
  // A graceful stop ends it for good, with phx_close, and its supervisor
  // ends with it (auto_shutdown).
  send(c, frame("1", "5", "safe:s", "stop", json::object{}));
  BOOST_TEST(next(c) == reply("1", "5", "safe:s", "ok", json::object{}));
  BOOST_TEST(next(c) == frame("1", "1", "safe:s", "phx_close", json::object{}));
  BOOST_TEST(!await_gone("transient safe:s"));
}

BOOST_AUTO_TEST_CASE(channel_limit_is_100) {
  auto c = connect();
  for (int i = 0; i < 100; ++i)
    join(c, "room:" + std::to_string(i), std::to_string(i + 1));
  send(c, frame("x", "x", "room:100", "phx_join", json::object{}));
  BOOST_TEST(next(c) == reply("x", "x", "room:100", "error",
                              json::object{{"reason", "too many channels joined"}}));
}

BOOST_AUTO_TEST_CASE(broadcasts_fastlane_and_intercepts) {
  auto a = connect();
  auto b = connect("vsn=1.0.0");
  join(a, "room:b", "1");
  send(b, json::object{{"topic", "room:b"}, {"event", "phx_join"},
                       {"payload", json::object{}}, {"ref", "1"}});
  BOOST_TEST(next(b) == (json::object{
                          {"topic", "room:b"},
                          {"event", "phx_reply"},
                          {"ref", "1"},
                          {"payload", json::object{{"status", "ok"},
                                                   {"response",
                                                    json::object{
                                                      {"joined", "room:b"}}}}}}));
  send(a, frame("1", "2", "room:b", "shout", json::object{{"m", 1}}));
  BOOST_TEST(next(a)
             == frame(nullptr, nullptr, "room:b", "shout", json::object{{"m", 1}}));
  BOOST_TEST(next(b) == (json::object{{"topic", "room:b"},
                                      {"event", "shout"},
                                      {"ref", nullptr},
                                      {"payload", json::object{{"m", 1}}}}));
  // intercepted: a push per subscriber carrying its join_ref
  send(a, frame("1", "3", "room:b", "secret", json::object{{"m", 2}}));
  BOOST_TEST(next(a)
             == frame("1", nullptr, "room:b", "secret", json::object{{"m", 2}}));
  BOOST_TEST(next(b).at("event") == "secret");
}

// A broadcast to a topic past parallel_fanout_min is delivered by both
// shards' threads: every subscriber still gets every broadcast once and in
// order, in its own serializer, intercepted events still reach the
// channel, and the origin sees its broadcast after the others have it.
BOOST_AUTO_TEST_CASE(big_topics_fan_out_on_several_threads) {
  auto& parallel = counter("fenix_pubsub_parallel_dispatches_total", "");
  auto before = parallel.value.load();
  ps.parallel_fanout_min(4);
  constexpr int n_v2 = 48;
  constexpr int n_v1 = 16;
  constexpr int rounds = 20;
  std::vector<raw_client> v2;
  std::vector<raw_client> v1;
  for (int i = 0; i < n_v2; ++i) {
    v2.push_back(connect());
    join(v2.back(), "room:big", "1");
  }
  for (int i = 0; i < n_v1; ++i) {
    v1.push_back(connect("vsn=1.0.0"));
    send(v1.back(), json::object{{"topic", "room:big"}, {"event", "phx_join"},
                                 {"payload", json::object{}}, {"ref", "1"}});
    BOOST_TEST(next(v1.back()).at("event") == "phx_reply");
  }
  // Subscriptions are asynchronous: wait until the shard has all of them.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (ps.count_subscribers(sys, "room:big") < size_t{n_v2 + n_v1}
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  BOOST_REQUIRE_EQUAL(ps.count_subscribers(sys, "room:big"),
                      size_t{n_v2 + n_v1});
  auto& origin = v2.front();
  for (int m = 0; m < rounds; ++m)
    send(origin, frame("1", json::value(std::to_string(m + 2)), "room:big", "shout",
                       json::object{{"m", m}}));
  send(origin, frame("1", "9", "room:big", "secret", json::object{{"m", 9}}));
  for (auto& c : v2) {
    for (int m = 0; m < rounds; ++m)
      BOOST_TEST(next(c) == frame(nullptr, nullptr, "room:big", "shout",
                                  json::object{{"m", m}}));
    // intercepted: handle_out pushes it with the subscriber's join_ref
    BOOST_TEST(next(c) == frame("1", nullptr, "room:big", "secret",
                                json::object{{"m", 9}}));
  }
  for (auto& c : v1) {
    for (int m = 0; m < rounds; ++m)
      BOOST_TEST(next(c) == (json::object{{"topic", "room:big"},
                                          {"event", "shout"},
                                          {"ref", nullptr},
                                          {"payload", json::object{{"m", m}}}}));
    BOOST_TEST(next(c).at("event") == "secret");
  }
  BOOST_TEST(parallel.value.load() - before >= rounds + 1);
  // Whether the other shard's thread got to a chunk before this one took
  // them all is up to the scheduler; the bench shows it does under load.
  BOOST_TEST_MESSAGE("chunks delivered by a helper shard: "
                     << counter("fenix_pubsub_helped_chunks_total", "")
                          .value.load());
  // Below the threshold again: the serial path, same result.
  ps.parallel_fanout_min(0);
  send(origin, frame("1", "10", "room:big", "shout", json::object{{"m", 10}}));
  for (auto& c : v2)
    BOOST_TEST(next(c) == frame(nullptr, nullptr, "room:big", "shout",
                                json::object{{"m", 10}}));
  for (auto& c : v1)
    BOOST_TEST(next(c).at("payload") == (json::object{{"m", 10}}));
  BOOST_TEST(parallel.value.load() - before == rounds + 1);
}

BOOST_AUTO_TEST_CASE(disconnect_by_socket_id_closes_with_1001) {
  auto a1 = connect("vsn=2.0.0&user=7");
  auto a2 = connect("vsn=2.0.0&user=7");
  auto other = connect("vsn=2.0.0&user=8");
  join(other, "room:k", "1");
  // the subscription of the id topic is asynchronous: ping both first
  for (auto* c : {&a1, &a2}) {
    send(*c, frame(nullptr, "h", "phoenix", "heartbeat", json::object{}));
    next(*c);
  }
  BOOST_TEST(ps.count_subscribers(sys, "user:7") == 2u);
  send(other, frame("1", "2", "room:k", "kick", json::object{{"user", "7"}}));
  BOOST_TEST(a1.read_close(5s).value_or(0) == 1001);
  BOOST_TEST(a2.read_close(5s).value_or(0) == 1001);
  send(other, frame("1", "3", "room:k", "ping", json::object{}));
  BOOST_TEST(next(other) == reply("1", "3", "room:k", "ok", json::object{}));
}

BOOST_AUTO_TEST_CASE(subscriptions_come_back_after_pubsub_restarts) {
  auto a = connect("vsn=2.0.0&user=7");
  auto b = connect("vsn=2.0.0&user=8");
  join(a, "room:r", "1");
  join(b, "room:r", "1");
  BOOST_TEST(ps.count_subscribers(sys, "user:7") == 1u);
  // Kill every shard (one_for_all: the PubSub supervisor restarts them
  // all), twice.
  auto shards = [&] {
    std::vector<caf::actor_id> ids;
    if (auto snap = sys.tree().snapshot(app.id()))
      if (auto p = snap->find("pubsub:test"))
        for (auto& c : p->children)
          ids.push_back(c.id);
    return ids;
  };
  for (int round = 0; round < 2; ++round) {
    auto before = shards();
    BOOST_REQUIRE_EQUAL(before.size(), 2u);
    caf::anon_send_exit(sys.tree().handle(before[0]), caf::exit_reason::kill);
    auto deadline = std::chrono::steady_clock::now() + 5s;
    for (;;) {
      auto now = shards();
      if (now.size() == 2 && now[0] != before[0] && now[1] != before[1])
        break;
      BOOST_REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::yield();
    }
    // Within 1 s the channels and the socket-id topic are subscribed again.
    auto back = std::chrono::steady_clock::now() + 1s;
    while ((ps.count_subscribers(sys, "room:r") != 2
            || ps.count_subscribers(sys, "user:7") != 1)
           && std::chrono::steady_clock::now() < back)
      std::this_thread::yield();
    BOOST_REQUIRE_EQUAL(ps.count_subscribers(sys, "room:r"), 2u);
    BOOST_REQUIRE_EQUAL(ps.count_subscribers(sys, "user:7"), 1u);
    // Broadcasts flow again: a shout reaches both.
    send(b, frame("1", nullptr, "room:r", "shout",
                  json::object{{"round", round}}));
    for (auto* c : {&a, &b})
      BOOST_TEST(next(*c) == frame(nullptr, nullptr, "room:r", "shout",
                                   json::object{{"round", round}}));
  }
  // And disconnect by socket id still works.
  send(b, frame("1", "2", "room:r", "kick", json::object{{"user", "7"}}));
  BOOST_TEST(a.read_close(5s).value_or(0) == 1001);
}

BOOST_AUTO_TEST_CASE(malformed_frames_drop_only_that_connection) {
  auto bad = connect();
  auto good = connect();
  join(good, "room:g", "1");
  BOOST_REQUIRE(bad.send_text("{\"not\":\"an array\"}"));
  auto code = bad.read_close(5s);
  BOOST_TEST((!code || *code == 1011));
  send(good, frame("1", "2", "room:g", "ping", json::object{}));
  BOOST_TEST(next(good) == reply("1", "2", "room:g", "ok", json::object{}));
}

BOOST_AUTO_TEST_CASE(refused_and_unknown_versions_get_403) {
  raw_client c;
  BOOST_REQUIRE(c.connect(ep->port()));
  auto rep = c.handshake("/socket/websocket?vsn=2.0.0&token=bad");
  BOOST_REQUIRE(rep);
  BOOST_TEST(rep->status == 403);
  raw_client d;
  BOOST_REQUIRE(d.connect(ep->port()));
  rep = d.handshake("/socket/websocket?vsn=3.0.0");
  BOOST_REQUIRE(rep);
  BOOST_TEST(rep->status == 403);
}

BOOST_AUTO_TEST_CASE(channels_live_in_the_tree_under_channel_supervisors) {
  auto c = connect();
  join(c, "room:t", "1");
  // The join reply comes from the channel; the connection records the join
  // when the join returns to it, before it reads the next frame: a
  // heartbeat round trip orders us after that.
  send(c, frame(nullptr, "2", "phoenix", "heartbeat", json::object{}));
  next(c);
  auto find_channel = [&]() -> std::optional<actor_info> {
    auto snap = sys.tree().snapshot(ep->supervisor().id());
    if (!snap)
      return std::nullopt;
    if (auto ch = snap->find("room:t"))
      return *ch;
    return std::nullopt;
  };
  auto ch = find_channel();
  BOOST_REQUIRE(ch);
  BOOST_TEST(ch->kind == "channel");
  BOOST_TEST(ch->details.at("join_ref") == "1");
  BOOST_TEST(ch->details.at("topic") == "room:t");
  BOOST_TEST(ch->details.at("restart") == "temporary");
  // Under a partition of the endpoint's channel supervisors (Phoenix's
  // pool), not under its connection, which it names.
  auto sup = sys.tree().snapshot(ch->parent);
  BOOST_REQUIRE(sup);
  BOOST_TEST(sup->kind == "supervisor");
  BOOST_TEST(sup->name.rfind("channels ", 0) == 0);
  BOOST_REQUIRE(ch->details.contains("connection"));
  auto conn_id = ch->details.at("connection").to_number<caf::actor_id>();
  auto parent = sys.tree().snapshot(conn_id);
  BOOST_REQUIRE(parent);
  BOOST_TEST(parent->kind == "connection");
  auto conns = sys.tree().snapshot(parent->parent);
  BOOST_REQUIRE(conns);
  BOOST_TEST(conns->name == "connections");
  // The transport's details and the protocol's (socket_handler::describe)
  // land together; the join added the topic.
  auto& pd = parent->details;
  BOOST_TEST(pd.at("transport") == "websocket");
  BOOST_TEST(std::string_view{pd.at("peer").as_string()}.substr(0, 10)
             == "127.0.0.1:");
  BOOST_TEST(pd.at("protocol") == "phoenix");
  BOOST_TEST(pd.at("serializer") == "2.0.0");
  BOOST_TEST(pd.at("topics") == (json::array{"room:t"}));
  send(c, frame("1", "2", "room:t", "phx_leave", json::object{}));
  next(c);
  next(c);
  // the channel actor is gone once its connection saw it go
  send(c, frame(nullptr, "3", "phoenix", "heartbeat", json::object{}));
  next(c);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (find_channel() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  BOOST_TEST(!find_channel());
}

BOOST_AUTO_TEST_SUITE_END()
