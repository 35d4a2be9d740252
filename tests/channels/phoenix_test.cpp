// Channel servers and the Phoenix socket, driven through a real WebSocket
// client on 127.0.0.1 (tests/transport/raw_client) against a real endpoint,
// PubSub and CAF actor system: what depends on the transport itself
// (replies and pushes written by the real outbound queue, fan-out into
// many real connections, HTTP refusals, the transport's details in the
// tree). The protocol's behaviour without a network is tested through the
// in-process harness in phoenix_inproc_test.cpp.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <caf/all.hpp>

#include "actors/metrics.hpp"
#include "actors/system.hpp"
#include "channels/pubsub.hpp"
#include "channels/socket.hpp"
#include "supervision/supervisor.hpp"
#include "tests/common/printers.hpp"
#include "tests/transport/raw_client.hpp"
#include "transport/endpoint.hpp"

using namespace fenix;
using namespace fenix::channels;
using namespace std::chrono_literals;
namespace json = boost::json;
using fenix::test::raw_client;

namespace {

/// What the tests below need: echo (ping), per-join state (count), a
/// reply through a socket ref (later), fastlane and intercepted broadcasts
/// (shout, secret). The full callback surface is exercised in-process by
/// harness_test.cpp and phoenix_inproc_test.cpp.
class test_channel : public channel {
public:
  join_result join(const std::string& topic, const json::value&,
                   socket&) override {
    return join_result::ok(json::object{{"joined", topic}});
  }

  in_result handle_in(const std::string& event, const payload& p,
                      socket& s) override {
    if (event == "ping")
      return in_result::ok(p);
    if (event == "count")
      return in_result::ok(json::object{{"n", ++count_}});
    if (event == "shout" || event == "secret") {
      s.broadcast(event, p);
      return in_result::noreply();
    }
    if (event == "later") {
      auto r = s.ref();
      r.reply("ok", json::value{{"async", true}});
      return in_result::noreply();
    }
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

private:
  int count_ = 0;
};

class test_socket : public user_socket {
public:
  test_socket() {
    channel<test_channel>("room:*");
  }

  std::optional<json::object> connect(const transport::params& p,
                                      const transport::connect_info&) override {
    if (auto t = p.get("token"); t && *t == "bad")
      return std::nullopt;
    return json::object{};
  }
};

struct fixture {
  fenix::config cfg;
  fenix::system sys{cfg};
  channels::pubsub ps;
  caf::actor app;
  std::unique_ptr<transport::endpoint> ep;

  fixture() {
    auto [p, spec] = pubsub::make("test", 2);
    ps = p;
    supervisor_flags f;
    f.name = "test_app";
    auto a = start_supervisor(sys, f, {std::move(spec)});
    BOOST_REQUIRE(a);
    app = *a;
    transport::endpoint_config ec;
    auto [chan_pool, pool_spec] = fenix::channels::channel_pool::make();
    ec.children.push_back(std::move(pool_spec));
    ec.socket("/socket",
              phoenix_handler_factory(std::make_shared<test_socket>(), ps, chan_pool));
    auto e = transport::endpoint::start(sys, std::move(ec));
    BOOST_REQUIRE(e);
    ep = std::move(*e);
  }

  ~fixture() {
    ep->stop();
    caf::anon_send_exit(app, caf::exit_reason::user_shutdown);
  }

  raw_client connect(const std::string& query = "vsn=2.0.0") {
    raw_client c;
    BOOST_REQUIRE(c.connect(ep->port()));
    auto rep = c.handshake("/socket/websocket?" + query);
    BOOST_REQUIRE(rep);
    BOOST_REQUIRE_EQUAL(rep->status, 101);
    return c;
  }

  static json::value next(raw_client& c) {
    auto f = c.read_frame(5s);
    BOOST_REQUIRE_MESSAGE(f, "no frame within 5 s");
    BOOST_REQUIRE_EQUAL(int{f->op}, 1);
    return json::parse(f->payload);
  }

  static bool silent(raw_client& c, std::chrono::milliseconds d = 200ms) {
    return !c.read_frame(d);
  }

  static void send(raw_client& c, const json::value& v) {
    BOOST_REQUIRE(c.send_text(json::serialize(v)));
  }

  static json::value frame(json::value jr, json::value r, std::string topic,
                           std::string event, json::value payload) {
    return json::array{jr, r, json::value(topic), json::value(event), payload};
  }

  static json::value reply(json::value jr, json::value r, std::string topic,
                           std::string status, json::value response) {
    return frame(jr, r, topic, "phx_reply",
                 json::object{{"status", status}, {"response", response}});
  }

  void join(raw_client& c, const std::string& topic, const std::string& jr,
            json::value payload = json::object{}) {
    json::value j(jr);
    send(c, frame(j, j, topic, "phx_join", payload));
    BOOST_TEST(next(c)
               == reply(j, j, topic, "ok", json::object{{"joined", topic}}));
  }
};

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
