// The /_fenix routes, /metrics and fenixctl against a real endpoint on
// 127.0.0.1 with channels, PubSub and a supervised application, driven
// through real sockets (tests/transport/raw_client).
#include <array>
#include <cstdio>
#include <memory>
#include <thread>

#include <sys/wait.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <caf/all.hpp>

#include "actors/metrics.hpp"
#include "actors/system.hpp"
#include "channels/pubsub.hpp"
#include "channels/socket.hpp"
#include "supervision/supervisor.hpp"
#include "tests/common/printers.hpp"
#include "tests/inspect/prometheus_check.hpp"
#include "tests/transport/raw_client.hpp"
#include "transport/endpoint.hpp"
#include "transport/inspect/inspect.hpp"

using namespace fenix;
using namespace fenix::channels;
using namespace std::chrono_literals;
namespace json = boost::json;
using fenix::test::http_call;
using fenix::test::raw_client;

namespace {

const std::string token = "s3cret-token";
const std::string auth = "Authorization: Bearer " + token;

class room_channel : public channel {
public:
  join_result join(const std::string& topic, const json::value&,
                   socket&) override {
    return join_result::ok(json::object{{"joined", topic}});
  }

  in_result handle_in(const std::string& event, const payload& p,
                      socket& s) override {
    if (event == "crash")
      throw std::runtime_error("crash requested");
    if (event == "shout") {
      s.broadcast("shout", p);
      return in_result::noreply();
    }
    return in_result::ok(p);
  }
};

class test_socket : public user_socket {
public:
  test_socket() {
    channel<room_channel>("room:*");
    channel<room_channel>("safe:*", restart_policy::transient);
  }

  std::optional<json::object> connect(const transport::params&,
                                      const transport::connect_info&) override {
    return json::object{};
  }

  std::optional<std::string> id(const json::object&) const override {
    return std::nullopt;
  }
};

/// Waits (bounded) for a condition no reply can announce, e.g. an actor
/// leaving the tree after its client closed.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

/// Depth-first search in a JSON tree.
const json::object* find_node(const json::value& v,
                              const std::function<bool(const json::object&)>& p) {
  auto& o = v.as_object();
  if (p(o))
    return &o;
  for (auto& c : o.at("children").as_array())
    if (auto r = find_node(c, p))
      return r;
  return nullptr;
}

const json::object* by_name(const json::value& v, const std::string& name) {
  return find_node(v, [&](const json::object& o) {
    return o.at("name").as_string() == name;
  });
}

size_t count_kind(const json::value& v, const std::string& kind) {
  auto& o = v.as_object();
  size_t n = o.at("kind").as_string() == kind ? 1 : 0;
  for (auto& c : o.at("children").as_array())
    n += count_kind(c, kind);
  return n;
}

struct fixture {
  fenix::config cfg;
  fenix::system sys{cfg};
  channels::pubsub ps;
  caf::actor app;
  std::unique_ptr<inspection::inspector> insp;
  std::unique_ptr<transport::endpoint> ep;

  fixture() {
    auto [p, spec] = pubsub::make("inspect", 2);
    ps = p;
    supervisor_flags f;
    f.name = "inspect_app";
    auto a = start_supervisor(sys, f, {std::move(spec)});
    BOOST_REQUIRE(a);
    app = *a;
    transport::endpoint_config ec;
    auto [chan_pool, pool_spec] = fenix::channels::channel_pool::make();
    ec.children.push_back(std::move(pool_spec));
    ec.name = "TestEndpoint";
    ec.socket("/socket",
              phoenix_handler_factory(std::make_shared<test_socket>(), ps, chan_pool));
    inspection::options io;
    io.access.token = token;
    io.root_name = "inspect_test";
    insp = std::make_unique<inspection::inspector>(sys, io);
    insp->mount(ec);
    auto e = transport::endpoint::start(sys, std::move(ec));
    BOOST_REQUIRE(e);
    ep = std::move(*e);
    insp->attach(*ep);
  }

  ~fixture() {
    ep->stop();
    insp->detach(*ep);
    caf::anon_send_exit(app, caf::exit_reason::user_shutdown);
  }

  std::optional<test::http_reply> get(const std::string& target,
                                      std::vector<std::string> headers
                                      = {auth}) {
    return http_call(ep->port(), "GET", target, headers);
  }

  json::value get_json(const std::string& target) {
    auto r = get(target);
    BOOST_REQUIRE(r);
    BOOST_REQUIRE_MESSAGE(r->status == 200, target << " -> " << r->status
                                                   << " " << r->body);
    return json::parse(r->body);
  }

  raw_client connect() {
    raw_client c;
    BOOST_REQUIRE(c.connect(ep->port()));
    auto rep = c.handshake("/socket/websocket?vsn=2.0.0");
    BOOST_REQUIRE(rep);
    BOOST_REQUIRE_EQUAL(rep->status, 101);
    return c;
  }

  static json::value next(raw_client& c) {
    auto f = c.read_frame(5s);
    BOOST_REQUIRE_MESSAGE(f, "no frame within 5 s");
    return json::parse(f->payload);
  }

  static void send(raw_client& c, json::value jr, json::value r,
                   const std::string& topic, const std::string& event,
                   json::value payload = json::object{}) {
    json::array a{jr, r, json::value(topic), json::value(event), payload};
    BOOST_REQUIRE(c.send_text(json::serialize(a)));
  }

  void join(raw_client& c, const std::string& topic, const std::string& jr) {
    send(c, json::value(jr), json::value(jr), topic, "phx_join");
    auto rep = next(c);
    BOOST_REQUIRE(rep.as_array()[3] == "phx_reply");
    BOOST_REQUIRE(rep.as_array()[4].at("status") == "ok");
  }

  /// Number of connection nodes in the tree.
  size_t connections() {
    return count_kind(get_json("/_fenix/tree"), "connection");
  }
};

#ifdef FENIXCTL_PATH
struct run_result {
  int exit_code = -1;
  std::string out;
};

/// Runs fenixctl with these arguments, stdout and stderr together.
run_result fenixctl(const std::string& args) {
  run_result r;
  auto cmd = std::string{FENIXCTL_PATH} + " " + args + " 2>&1";
  auto pipe = popen(cmd.c_str(), "r");
  BOOST_REQUIRE(pipe);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0)
    r.out.append(buf.data(), n);
  auto status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}
#endif

} // namespace

BOOST_FIXTURE_TEST_SUITE(inspect_suite, fixture)

BOOST_AUTO_TEST_CASE(auth_is_required_and_reveals_nothing) {
  for (auto path : {"/_fenix/tree", "/_fenix/stats", "/_fenix/actors/1",
                    "/_fenix", "/_fenix/nope"}) {
    auto none = get(path, {});
    BOOST_REQUIRE(none);
    BOOST_TEST(none->status == 401);
    BOOST_TEST(none->body == "{\"error\":\"unauthorized\"}\n");
    BOOST_TEST(none->header("www-authenticate"));
    auto wrong = get(path, {"Authorization: Bearer " + token + "x"});
    BOOST_REQUIRE(wrong);
    BOOST_TEST(wrong->status == 401);
    BOOST_TEST(wrong->body == "{\"error\":\"unauthorized\"}\n");
    auto basic = get(path, {"Authorization: Basic " + token});
    BOOST_REQUIRE(basic);
    BOOST_TEST(basic->status == 401);
  }
  auto kill = http_call(ep->port(), "POST", "/_fenix/actors/1/kill", {});
  BOOST_REQUIRE(kill);
  BOOST_TEST(kill->status == 401);
  // The page itself loads without the token (it carries no data).
  auto page = get("/_fenix/dashboard", {});
  BOOST_REQUIRE(page);
  BOOST_TEST(page->status == 200);
  BOOST_TEST(page->body.find("<html") != std::string::npos);
  BOOST_TEST(page->header("content-security-policy"));
  // Metrics: loopback, no token by default.
  auto m = get("/metrics", {});
  BOOST_REQUIRE(m);
  BOOST_TEST(m->status == 200);
}

BOOST_AUTO_TEST_CASE(no_token_no_inspector) {
  inspection::options io;
  BOOST_CHECK_THROW(inspection::inspector(sys, io), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(remote_peers_are_refused) {
  // Every peer in a test is loopback (127.0.0.2 included), so the
  // non-loopback case goes through a custom predicate on a second
  // endpoint: the same code path as a remote address.
  inspection::options io;
  io.access.token = token;
  io.access.allow_peer = [](std::string_view) { return false; };
  io.metrics_access.allow_peer = [](std::string_view) { return false; };
  inspection::inspector other{sys, io};
  transport::endpoint_config ec;
  ec.name = "OtherEndpoint";
  other.mount(ec);
  auto e = transport::endpoint::start(sys, std::move(ec));
  BOOST_REQUIRE(e);
  for (auto path : {"/_fenix/tree", "/_fenix/dashboard", "/metrics"}) {
    auto r = http_call((*e)->port(), "GET", path, {auth});
    BOOST_REQUIRE(r);
    BOOST_TEST(r->status == 403);
    BOOST_TEST(r->body == "{\"error\":\"forbidden\"}\n");
  }
  (*e)->stop();
}

BOOST_AUTO_TEST_CASE(tree_shape) {
  auto t = get_json("/_fenix/tree");
  auto& root = t.as_object();
  BOOST_TEST(root.at("name") == "inspect_test");
  BOOST_TEST(root.at("kind") == "system");
  for (auto key : {"id", "name", "kind", "state", "restarts", "started_at",
                   "messages", "mailbox", "children"})
    BOOST_TEST(root.contains(key), key);
  auto app_node = by_name(t, "inspect_app");
  BOOST_REQUIRE(app_node);
  BOOST_TEST(app_node->at("kind") == "supervisor");
  BOOST_TEST(app_node->at("strategy") == "one_for_one");
  BOOST_TEST(app_node->contains("max_restarts"));
  BOOST_TEST(app_node->contains("max_seconds"));
  auto pubsub_node = by_name(t, "pubsub:inspect");
  BOOST_REQUIRE(pubsub_node);
  BOOST_TEST(pubsub_node->at("children").as_array().size() == 2u);
  auto endpoint = by_name(t, "TestEndpoint");
  BOOST_REQUIRE(endpoint);
  BOOST_TEST(by_name(t, "listener"));
  BOOST_TEST(by_name(t, "connections"));
  for (auto& c : root.at("children").as_array()) {
    auto& o = c.as_object();
    BOOST_TEST(o.at("state") == "running");
    BOOST_TEST(o.at("started_at").as_int64() > 1600000000000);
    BOOST_TEST(o.at("children_count").to_number<uint64_t>() + 0
               == o.at("children").as_array().size());
  }
  BOOST_TEST(count_kind(t, "connection") == 0u);
  // Subtrees by name and by id, one actor, unknown ones.
  auto sub = get_json("/_fenix/tree?root=pubsub%3Ainspect");
  BOOST_TEST(sub.at("name") == "pubsub:inspect");
  auto id = std::to_string(pubsub_node->at("id").as_int64());
  auto by_id = get_json("/_fenix/tree?root=" + id);
  BOOST_TEST(by_id.at("name") == "pubsub:inspect");
  auto one = get_json("/_fenix/actors/" + id);
  BOOST_TEST(one.at("name") == "pubsub:inspect");
  BOOST_TEST(one.at("alive") == true);
  BOOST_TEST(one.at("children").as_array().size() == 2u);
  BOOST_TEST(one.at("children").as_array()[0].at("kind") == "pubsub_shard");
  BOOST_TEST(get("/_fenix/tree?root=nobody")->status == 404);
  BOOST_TEST(get("/_fenix/actors/999999")->status == 404);
  BOOST_TEST(get("/_fenix/nothing/here")->status == 404);
  BOOST_TEST(http_call(ep->port(), "POST", "/_fenix/tree", {auth})->status
             == 405);
  BOOST_TEST(get("/_fenix/actors/" + id + "/kill")->status == 405);
}

BOOST_AUTO_TEST_CASE(connections_and_channels_come_and_go) {
  auto a = connect();
  join(a, "room:lobby", "1");
  join(a, "safe:x", "2");
  auto b = connect();
  join(b, "room:lobby", "1");
  // Channels are placed in the tree before their join reply leaves, but
  // the connection actor may record its details just after the upgrade.
  BOOST_REQUIRE(eventually([&] { return connections() == 2; }));
  auto t = get_json("/_fenix/tree");
  BOOST_TEST(count_kind(t, "channel") == 3u);
  auto conn = find_node(t, [](const json::object& o) {
    return o.at("kind") == "connection"
           && o.at("topics").as_array().size() == 2;
  });
  BOOST_REQUIRE(conn);
  BOOST_TEST(conn->at("transport") == "websocket");
  BOOST_TEST(conn->at("serializer") == "2.0.0");
  BOOST_TEST(std::string_view{conn->at("peer").as_string()}.substr(0, 10)
             == "127.0.0.1:");
  auto& topics = conn->at("topics").as_array();
  BOOST_TEST(topics.size() == 2u);
  auto chan = find_node(t, [](const json::object& o) {
    return o.at("kind") == "channel" && o.at("topic") == "safe:x";
  });
  BOOST_REQUIRE(chan);
  BOOST_TEST(chan->at("join_ref") == "2");
  BOOST_TEST(chan->at("restart") == "transient");
  // Channels live under supervisors (a transient route's own, under a
  // partition of the endpoint's channel supervisors) and name their
  // connection.
  BOOST_TEST(chan->at("connection") == conn->at("id"));
  auto chan_sup = find_node(t, [&](const json::object& o) {
    return o.at("id") == chan->at("parent");
  });
  BOOST_REQUIRE(chan_sup);
  BOOST_TEST(chan_sup->at("name") == "transient safe:x");
  BOOST_TEST(chan_sup->at("kind") == "supervisor");
  // Stats agree.
  auto s = get_json("/_fenix/stats");
  BOOST_TEST(s.at("connections").to_number<uint64_t>() == 2u);
  BOOST_TEST(s.at("channel_servers").as_int64() == 3);
  BOOST_TEST(s.at("topics").to_number<uint64_t>() == 2u);
  for (auto key : {"channels", "messages_in_per_s", "messages_out_per_s",
                   "queue_drops", "totals", "actors_by_kind"})
    BOOST_TEST(s.as_object().contains(key), key);
  // Collapsing long child lists.
  auto c1 = get_json("/_fenix/tree?root=connections&max_children=1");
  BOOST_TEST(c1.at("children").as_array().size() == 1u);
  BOOST_TEST(c1.at("children_count").to_number<uint64_t>() == 2u);
  BOOST_TEST(c1.at("omitted").at("connection").as_int64() == 1);
  // Leaving a channel removes it; closing a connection removes it all.
  send(a, "1", "3", "room:lobby", "phx_leave");
  auto left = next(a);
  BOOST_TEST(left.as_array()[3] == "phx_reply");
  BOOST_TEST(eventually(
    [&] { return count_kind(get_json("/_fenix/tree"), "channel") == 2; }));
  b.send_close(1000);
  b.wait_eof(5s);
  BOOST_TEST(eventually([&] { return connections() == 1; }));
  a.close();
  BOOST_TEST(eventually([&] { return connections() == 0; }));
  BOOST_TEST(count_kind(get_json("/_fenix/tree"), "channel") == 0u);
}

BOOST_AUTO_TEST_CASE(crash_and_kill_are_counted) {
  // A transient channel that crashes is restarted by its supervisor:
  // restarts 1.
  auto a = connect();
  join(a, "safe:boom", "1");
  send(a, "1", "2", "safe:boom", "crash");
  BOOST_TEST(eventually([&] {
    auto t = get_json("/_fenix/tree");
    auto c = find_node(t, [](const json::object& o) {
      return o.at("kind") == "channel" && o.at("topic") == "safe:boom";
    });
    return c && c->at("restarts").as_int64() == 1;
  }));
  // Killing a PubSub shard: its supervisor restarts it.
  auto t = get_json("/_fenix/tree?root=pubsub%3Ainspect");
  BOOST_TEST(t.at("child_restarts").as_int64() == 0);
  auto shard = t.at("children").as_array()[0].at("id").as_int64();
  auto k = http_call(ep->port(), "POST",
                     "/_fenix/actors/" + std::to_string(shard) + "/kill",
                     {auth});
  BOOST_REQUIRE(k);
  BOOST_TEST(k->status == 200);
  auto killed = json::parse(k->body);
  BOOST_TEST(killed.at("killed") == true);
  BOOST_TEST(killed.at("id").as_int64() == shard);
  BOOST_TEST(eventually([&] {
    auto p = get_json("/_fenix/tree?root=pubsub%3Ainspect");
    auto& kids = p.at("children").as_array();
    return p.at("child_restarts").as_int64() == 1 && kids.size() == 2
           && kids[0].at("id").as_int64() != shard;
  }));
  auto p = get_json("/_fenix/tree?root=pubsub%3Ainspect");
  int64_t restarts = 0;
  for (auto& c : p.at("children").as_array())
    restarts += c.at("restarts").as_int64();
  BOOST_TEST(restarts >= 1);
  BOOST_TEST(get("/_fenix/actors/" + std::to_string(shard))->status == 404);
  // ...and /metrics counts it by supervisor.
  auto m = get("/metrics", {});
  BOOST_REQUIRE(m);
  auto parsed = test::check_prometheus(m->body);
  BOOST_TEST(parsed.value("fenix_supervisor_restarts_total",
                          {{"supervisor", "pubsub:inspect"}})
             >= 1.0);
  // Unknown ids cannot be killed.
  BOOST_TEST(http_call(ep->port(), "POST", "/_fenix/actors/999999/kill",
                       {auth})
               ->status
             == 404);
}

BOOST_AUTO_TEST_CASE(metrics_follow_the_format) {
  auto a = connect();
  join(a, "room:m", "1");
  send(a, "1", "2", "room:m", "ping", json::object{{"x", 1}});
  next(a);
  BOOST_REQUIRE(eventually([&] { return connections() == 1; }));
  // A label value that needs escaping, through the layers' registry.
  bump(metrics::global().get("fenix_supervisor_restarts_total",
                             "Child restarts performed, by supervisor",
                             metrics::kind::counter,
                             "supervisor=\"we \"ird\\\""));
  auto m = get("/metrics", {});
  BOOST_REQUIRE(m);
  BOOST_TEST(m->status == 200);
  BOOST_TEST(*m->header("content-type")
             == "text/plain; version=0.0.4; charset=utf-8");
  auto r = test::check_prometheus(m->body);
  for (auto& e : r.errors)
    BOOST_ERROR(e);
  BOOST_TEST(r.value("fenix_connections") == 1.0);
  BOOST_TEST(r.value("fenix_actors", {{"kind", "connection"}}) == 1.0);
  BOOST_TEST(r.value("fenix_actors", {{"kind", "channel"}}) == 1.0);
  BOOST_TEST(r.value("fenix_channel_joins_total") >= 1.0);
  BOOST_TEST(r.value("fenix_channel_messages_in_total") >= 1.0);
  BOOST_TEST(r.value("fenix_channel_messages_out_total") >= 1.0);
  BOOST_TEST(r.value("fenix_topics") == 1.0);
  BOOST_TEST(r.value("fenix_supervisor_restarts_total",
                     {{"supervisor", "we \"ird\\"}})
             == 1.0);
  for (auto name : {"fenix_pubsub_broadcasts_total",
                    "fenix_pubsub_deliveries_total", "fenix_queue_drops_total",
                    "fenix_frames_in_total", "fenix_frames_out_total",
                    "fenix_channels"})
    BOOST_TEST(!r.type(name).empty(), name);
  BOOST_TEST(r.type("fenix_queue_drops_total") == "counter");
  BOOST_TEST(r.type("fenix_connections") == "gauge");
}

#ifdef FENIXCTL_PATH

BOOST_AUTO_TEST_CASE(fenixctl_tree_stats_kill) {
  auto url = "--url http://127.0.0.1:" + std::to_string(ep->port());
  auto a = connect();
  join(a, "room:ctl", "1");
  BOOST_REQUIRE(eventually([&] { return connections() == 1; }));
  auto tree = fenixctl(url + " --token " + token + " tree");
  BOOST_TEST(tree.exit_code == 0, tree.out);
  BOOST_TEST(tree.out.find("inspect_test") == 0u, tree.out);
  BOOST_TEST(tree.out.find("├─ ") != std::string::npos, tree.out);
  BOOST_TEST(tree.out.find("pubsub:inspect [pubsub") != std::string::npos,
             tree.out);
  BOOST_TEST(tree.out.find("[connection") != std::string::npos, tree.out);
  BOOST_TEST(tree.out.find("room:ctl [channel") != std::string::npos,
             tree.out);
  // Collapsing: with a threshold of 1, the second shard is summarized.
  auto small = fenixctl(url + " --token " + token
                        + " tree --root pubsub:inspect --max-children 1");
  BOOST_TEST(small.exit_code == 0, small.out);
  BOOST_TEST(small.out.find("… 1 more pubsub_shard") != std::string::npos,
             small.out);
  auto stats = fenixctl(url + " --token " + token + " stats");
  BOOST_TEST(stats.exit_code == 0, stats.out);
  BOOST_TEST(stats.out.find("connections") != std::string::npos, stats.out);
  // Kill through fenixctl: the shard's supervisor restarts it.
  auto p = get_json("/_fenix/tree?root=pubsub%3Ainspect");
  auto before = p.at("child_restarts").as_int64();
  auto shard = p.at("children").as_array()[1].at("id").as_int64();
  auto k = fenixctl(url + " --token " + token + " kill "
                    + std::to_string(shard));
  BOOST_TEST(k.exit_code == 0, k.out);
  BOOST_TEST(eventually([&] {
    return get_json("/_fenix/tree?root=pubsub%3Ainspect")
             .at("child_restarts")
             .as_int64()
           > before;
  }));
  // Errors: wrong token, unknown actor, nobody listening, bad usage.
  auto bad = fenixctl(url + " --token nope tree");
  BOOST_TEST(bad.exit_code == 4, bad.out);
  BOOST_TEST(bad.out.find("401") != std::string::npos, bad.out);
  auto missing = fenixctl(url + " --token " + token + " kill 999999");
  BOOST_TEST(missing.exit_code == 1, missing.out);
  BOOST_TEST(missing.out.find("404") != std::string::npos, missing.out);
  // A port nobody listens on: bind one, learn it, close it.
  auto refused = fenixctl("--url http://127.0.0.1:1 --token x tree");
  BOOST_TEST(refused.exit_code == 3, refused.out);
  BOOST_TEST(refused.out.find("refused") != std::string::npos, refused.out);
  auto usage = fenixctl("frobnicate");
  BOOST_TEST(usage.exit_code == 2, usage.out);
}

#endif

BOOST_AUTO_TEST_SUITE_END()
