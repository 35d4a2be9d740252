// WebSocket transport end to end: real sockets on 127.0.0.1, a real actor
// system, the endpoint's supervision subtree.

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <ctime>
#include <thread>

#include <caf/send.hpp>

#include "beast_client.hpp"
#include "fixture.hpp"
#include "raw_client.hpp"
#include "supervision/supervisor.hpp"
#include "transport/detail/crypto.hpp"
#include "transport/echo_handler.hpp"

using namespace fenix::test;


BOOST_FIXTURE_TEST_SUITE(websocket, endpoint_fixture)

BOOST_AUTO_TEST_CASE(upgrade_and_echo_with_an_independent_client) {
  endpoint_config c;
  c.socket("/socket", echo_factory());
  start(std::move(c));
  auto client = beast_client::connect(port());
  BOOST_REQUIRE(client);
  BOOST_TEST(client->write("hello"));
  auto m = client->read();
  BOOST_REQUIRE(m);
  BOOST_TEST(m->text);
  BOOST_TEST(m->data == "hello");
  std::string bin("\x00\xff\x10", 3);
  BOOST_TEST(client->write(bin, false));
  m = client->read();
  BOOST_REQUIRE(m);
  BOOST_TEST(!m->text);
  BOOST_TEST(m->data == bin);
  std::string big(300000, 'q');
  BOOST_TEST(client->write(big));
  m = client->read();
  BOOST_REQUIRE(m);
  BOOST_TEST(m->data.size() == big.size());
  BOOST_TEST(client->ping("are you there"));
  BOOST_TEST(client->close(1000));
  BOOST_TEST(wait_until([&] { return ep->stats().connections == 0; }));
}

BOOST_AUTO_TEST_CASE(handshake_reply_and_fragmented_echo) {
  start();
  raw_client c;
  BOOST_REQUIRE(c.connect(port()));
  auto rep = c.handshake();
  BOOST_REQUIRE(rep);
  BOOST_TEST(rep->status == 101);
  BOOST_REQUIRE(rep->header("sec-websocket-accept"));
  BOOST_TEST(*rep->header("sec-websocket-accept")
             == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  BOOST_TEST(!rep->header("sec-websocket-protocol"));
  BOOST_TEST(c.send_frame(0x1, "frag", false));
  BOOST_TEST(c.send_frame(0x9, "in-between"));
  BOOST_TEST(c.send_frame(0x0, "mented"));
  auto pong = c.read_frame();
  BOOST_REQUIRE(pong);
  BOOST_TEST(pong->op == 0xA);
  BOOST_TEST(pong->payload == "in-between");
  auto echo = c.read_frame();
  BOOST_REQUIRE(echo);
  BOOST_TEST(echo->op == 0x1);
  BOOST_TEST(echo->payload == "fragmented");
  // Client-initiated close: the code is echoed, then TCP ends.
  BOOST_TEST(c.send_close(1000, "done"));
  auto code = c.read_close();
  BOOST_REQUIRE(code);
  BOOST_TEST(*code == 1000);
  BOOST_TEST(c.wait_eof());
  BOOST_REQUIRE(ev->wait_closes(1));
  BOOST_TEST(ev->closes[0].code == 1000);
  BOOST_TEST(ev->closes[0].reason == "done");
  BOOST_TEST((ev->closes[0].by == closed_by::client));
}

BOOST_AUTO_TEST_CASE(http_behaviour_cases) {
  start();
  auto p = port();
  // Unknown path.
  auto r = http_call(p, "GET", "/nope");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 404);
  // Non-GET on the WebSocket path: 400, empty body.
  r = http_call(p, "POST", "/socket/websocket");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 400);
  BOOST_TEST(r->body.empty());
  // Plain GET without upgrade: 400 with an explanation.
  r = http_call(p, "GET", "/socket/websocket");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 400);
  BOOST_TEST(r->body.find("upgrade") != std::string::npos);
  // Wrong version, missing key.
  r = http_call(p, "GET", "/socket/websocket",
                {"Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                 "Sec-WebSocket-Version: 8"});
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 400);
  BOOST_TEST(r->body.find("sec-websocket-version") != std::string::npos);
  r = http_call(p, "GET", "/socket/websocket",
                {"Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Version: 13"});
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 400);
  BOOST_TEST(r->body.find("sec-websocket-key") != std::string::npos);
  // Refused connect: 403, empty body, no upgrade; it wins over a bad upgrade.
  raw_client c;
  BOOST_REQUIRE(c.connect(p));
  auto rep = c.handshake("/socket/websocket?reject=1");
  BOOST_REQUIRE(rep);
  BOOST_TEST(rep->status == 403);
  BOOST_TEST(rep->body.empty());
  r = http_call(p, "GET", "/socket/websocket?reject=1");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 403);
  BOOST_TEST(ep->stats().refused == 2u);
  BOOST_TEST(ep->stats().connections == 0u);
}

BOOST_AUTO_TEST_CASE(origin_check) {
  socket_options opts;
  opts.check_origin = origin_policy::list({"//example.com", "https://*.good.org"});
  start(opts);
  auto try_origin = [&](const std::string& origin) {
    raw_client c;
    BOOST_REQUIRE(c.connect(port()));
    std::vector<std::string> hs;
    if (!origin.empty())
      hs.push_back("Origin: " + origin);
    auto rep = c.handshake("/socket/websocket", hs);
    BOOST_REQUIRE(rep);
    return rep->status;
  };
  BOOST_TEST(try_origin("") == 101); // no Origin header: allowed
  BOOST_TEST(try_origin("http://example.com:8080") == 101);
  BOOST_TEST(try_origin("https://deep.sub.good.org") == 101);
  BOOST_TEST(try_origin("http://sub.good.org") == 403);
  BOOST_TEST(try_origin("http://evil.com") == 403);
  BOOST_TEST(try_origin("null") == 403);
}

BOOST_AUTO_TEST_CASE(subprotocols) {
  socket_options opts;
  opts.subprotocols = {"mqtt", "v2.echo"};
  endpoint_config c = config(opts);
  // A second mount without a list, and one in auth-token mode.
  c.socket("/plain", factory());
  socket_options auth;
  auth.auth_token = true;
  c.socket("/auth", factory(), auth);
  start(std::move(c));
  auto offer = [&](const std::string& target, const std::string& protos,
                   std::string* chosen) {
    raw_client cl;
    BOOST_REQUIRE(cl.connect(port()));
    auto rep = cl.handshake(target, {"Sec-WebSocket-Protocol: " + protos});
    BOOST_REQUIRE(rep);
    if (auto h = rep->header("sec-websocket-protocol"))
      *chosen = *h;
    else
      chosen->clear();
    return rep->status;
  };
  std::string chosen;
  // The first server entry the client offers wins.
  BOOST_TEST(offer("/socket/websocket", "v2.echo, mqtt", &chosen) == 101);
  BOOST_TEST(chosen == "mqtt");
  BOOST_TEST(offer("/socket/websocket", "other", &chosen) == 403);
  // No list configured: the header is ignored.
  BOOST_TEST(offer("/plain/websocket", "whatever", &chosen) == 101);
  BOOST_TEST(chosen.empty());
  // Auth token: phoenix.js sends the token as a subprotocol.
  auto b64 = fenix::transport::detail::base64_encode("s3cr3t-token");
  while (!b64.empty() && b64.back() == '=')
    b64.pop_back();
  BOOST_TEST(offer("/auth/websocket", "phoenix, base64url.bearer.phx." + b64,
                   &chosen)
             == 101);
  BOOST_TEST(chosen == "phoenix");
  std::lock_guard<std::mutex> guard{ev->mtx};
  BOOST_REQUIRE_EQUAL(ev->tokens.size(), 1u);
  BOOST_TEST(ev->tokens[0] == "s3cr3t-token");
}

BOOST_AUTO_TEST_CASE(ping_is_answered_with_pong) {
  start();
  auto c = open_ws(port());
  BOOST_TEST(c.send_frame(0x9, "12345"));
  auto f = c.read_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->op == 0xA);
  BOOST_TEST(f->payload == "12345");
  // An unsolicited pong is ignored.
  BOOST_TEST(c.send_frame(0xA, "x"));
  BOOST_TEST(c.send_text("still here"));
  f = c.read_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->payload == "still here");
}

BOOST_AUTO_TEST_CASE(idle_timeout_closes_with_1001) {
  socket_options opts;
  opts.idle_timeout = 600ms;
  start(opts);
  auto c = open_ws(port());
  auto busy = open_ws(port());
  auto t0 = std::chrono::steady_clock::now();
  // The busy client keeps talking: any frame resets its timer.
  std::optional<uint16_t> code;
  std::thread idle_reader{[&] { code = c.read_close(5s); }};
  for (int i = 0; i < 15; ++i) {
    BOOST_TEST(busy.send_frame(0x9, "hb"));
    BOOST_TEST(busy.read_frame().has_value());
    std::this_thread::sleep_for(100ms); // simulated heartbeat interval
  }
  idle_reader.join();
  auto waited = std::chrono::steady_clock::now() - t0;
  BOOST_REQUIRE(code);
  BOOST_TEST(*code == 1001);
  BOOST_TEST((waited >= 500ms)); // tick resolution: 50 ms
  BOOST_TEST(c.wait_eof());
  BOOST_TEST(ep->stats().idle_timeouts == 1u);
  BOOST_TEST(busy.send_text("alive"));
  auto f = busy.read_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->payload == "alive");
}

BOOST_AUTO_TEST_CASE(oversized_message_closes_with_1009) {
  socket_options opts;
  opts.max_frame_size = 1000;
  start(opts);
  auto c = open_ws(port());
  BOOST_TEST(c.send_text(std::string(1000, 'a'))); // exactly the limit: ok
  auto f = c.read_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->payload.size() == 1000u);
  BOOST_TEST(c.send_text(std::string(1001, 'a')));
  auto code = c.read_close();
  BOOST_REQUIRE(code);
  BOOST_TEST(*code == 1009);
  BOOST_TEST(c.wait_eof());
  // Fragments count together.
  auto d = open_ws(port());
  BOOST_TEST(d.send_frame(0x2, std::string(600, 'b'), false));
  BOOST_TEST(d.send_frame(0x0, std::string(600, 'b')));
  code = d.read_close();
  BOOST_REQUIRE(code);
  BOOST_TEST(*code == 1009);
}

BOOST_AUTO_TEST_CASE(invalid_utf8_closes_with_1007) {
  start();
  auto c = open_ws(port());
  BOOST_TEST(c.send_text("\xce\xba\xff"));
  auto code = c.read_close();
  BOOST_REQUIRE(code);
  BOOST_TEST(*code == 1007);
  // Split across fragments: valid text survives, a broken tail does not.
  auto d = open_ws(port());
  BOOST_TEST(d.send_frame(0x1, "\xe2\x82", false));
  BOOST_TEST(d.send_frame(0x0, "\xac"));
  auto f = d.read_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->payload == "\xe2\x82\xac");
  BOOST_TEST(d.send_frame(0x1, "\xe2\x82", false));
  BOOST_TEST(d.send_frame(0x0, "\x41"));
  code = d.read_close();
  BOOST_REQUIRE(code);
  BOOST_TEST(*code == 1007);
  BOOST_REQUIRE(ev->wait_closes(2));
  BOOST_TEST(ep->stats().protocol_errors == 2u);
}

BOOST_AUTO_TEST_CASE(protocol_errors_close_with_1002) {
  start();
  for (int variant = 0; variant < 3; ++variant) {
    auto c = open_ws(port());
    if (variant == 0)
      BOOST_TEST(c.send_frame(0x1, "unmasked", true, false));
    else if (variant == 1)
      BOOST_TEST(c.send_frame(0x1, "rsv", true, true, 4));
    else
      BOOST_TEST(c.send_frame(0x5, "opcode"));
    auto code = c.read_close();
    BOOST_REQUIRE(code);
    BOOST_TEST(*code == 1002);
    BOOST_TEST(c.wait_eof());
  }
}

BOOST_AUTO_TEST_CASE(handler_close_and_binary) {
  start();
  auto c = open_ws(port());
  BOOST_TEST(c.send_text("binary"));
  auto f = c.read_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->op == 0x2);
  BOOST_TEST(f->payload == std::string("\x00\x01\x02", 3));
  BOOST_TEST(c.send_text("close 4001"));
  auto code = c.read_close();
  BOOST_REQUIRE(code);
  BOOST_TEST(*code == 4001);
  BOOST_TEST(c.send_close(4001));
  BOOST_TEST(c.wait_eof());
  BOOST_REQUIRE(ev->wait_closes(1));
  BOOST_TEST(ev->closes[0].code == 4001);
  BOOST_TEST((ev->closes[0].by == closed_by::server));
}

BOOST_AUTO_TEST_CASE(actor_messages_reach_the_handler) {
  start();
  auto c = open_ws(port());
  BOOST_REQUIRE(ev->wait_opened(1));
  caf::actor conn;
  {
    std::lock_guard<std::mutex> guard{ev->mtx};
    conn = ev->opened[0];
  }
  // A typed handler from make_handlers, then the catch-all on_message.
  caf::anon_send(conn, caf::put_atom::value, std::string{"typed"});
  auto f = c.read_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->payload == "put:typed");
  caf::anon_send(conn, std::string{"loose"});
  f = c.read_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->payload == "info:loose");
}

BOOST_AUTO_TEST_CASE(a_throwing_handler_closes_only_its_connection) {
  start();
  auto good = open_ws(port());
  auto bad = open_ws(port());
  BOOST_TEST(bad.send_text("throw"));
  auto code = bad.read_close();
  BOOST_REQUIRE(code);
  BOOST_TEST(*code == 1011);
  BOOST_TEST(good.send_text("fine"));
  auto f = good.read_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->payload == "fine");
  auto fresh = open_ws(port());
  BOOST_TEST(fresh.send_text("new"));
  f = fresh.read_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->payload == "new");
}

BOOST_AUTO_TEST_CASE(connection_actors_live_in_the_tree) {
  start();
  auto connections_node = [&]() -> std::optional<fenix::actor_info> {
    for (auto& root : sys->tree().snapshot())
      if (root.name == "application")
        if (auto ep = root.find(std::string{"endpoint"}))
          if (auto x = ep->find(std::string{"connections"}))
            return *x;
    return std::nullopt;
  };
  BOOST_REQUIRE(connections_node());
  std::vector<raw_client> clients;
  for (int i = 0; i < 3; ++i)
    clients.push_back(open_ws(port()));
  // Placed by the supervisor, details set by the actor itself: both done.
  BOOST_REQUIRE(wait_until([&] {
    auto n = connections_node();
    if (!n || n->children.size() != 3)
      return false;
    for (auto& child : n->children)
      if (!child.details.contains("transport"))
        return false;
    return true;
  }));
  auto n = connections_node();
  for (auto& child : n->children) {
    BOOST_TEST(child.kind == "connection");
    BOOST_TEST(child.name.rfind("connection #", 0) == 0);
    BOOST_TEST(child.details.at("transport").as_string() == "websocket");
    BOOST_TEST(child.details.contains("peer"));
  }
  // The path from the root: application -> endpoint -> server ->
  // connections + listener.
  auto roots = sys->tree().snapshot();
  BOOST_REQUIRE_EQUAL(roots.size(), 1u);
  for (auto& root : roots) {
    BOOST_TEST(root.name == "application");
    BOOST_REQUIRE_EQUAL(root.children.size(), 1u);
    BOOST_TEST(root.children[0].name == "endpoint");
    BOOST_REQUIRE_EQUAL(root.children[0].children.size(), 1u);
    auto& server = root.children[0].children[0];
    BOOST_TEST(server.name.rfind("server http://127.0.0.1:", 0) == 0);
    BOOST_REQUIRE_EQUAL(server.children.size(), 2u);
    BOOST_TEST(server.children[0].name == "connections");
    BOOST_TEST(server.children[1].name == "listener");
  }
  clients.clear();
  BOOST_TEST(wait_until([&] {
    auto n = connections_node();
    return n && n->children.empty();
  }));
  BOOST_TEST(ev->wait_closes(3));
}

BOOST_AUTO_TEST_CASE(many_concurrent_echo_connections) {
  endpoint_config c;
  c.socket("/socket", echo_factory());
  start(std::move(c));
  constexpr size_t n = 1000;
  std::vector<raw_client> clients(n);
  for (size_t i = 0; i < n; ++i) {
    BOOST_REQUIRE(clients[i].connect(port()));
    BOOST_REQUIRE(clients[i].send_request(
      "GET", "/socket/websocket",
      {"Upgrade: websocket", "Connection: Upgrade",
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
       "Sec-WebSocket-Version: 13"}));
  }
  for (auto& cl : clients) {
    auto rep = cl.read_http(10s);
    BOOST_REQUIRE(rep);
    BOOST_REQUIRE_EQUAL(rep->status, 101);
  }
  BOOST_TEST(wait_until([&] { return ep->stats().connections == n; }));
  for (size_t i = 0; i < n; ++i)
    BOOST_REQUIRE(clients[i].send_text("msg " + std::to_string(i)));
  for (size_t i = 0; i < n; ++i) {
    auto f = clients[i].read_frame(10s);
    BOOST_REQUIRE(f);
    BOOST_REQUIRE_EQUAL(f->payload, "msg " + std::to_string(i));
  }
  clients.clear();
  BOOST_TEST(wait_until([&] { return ep->stats().connections == 0; }, 10s));
}

namespace {

/// Many pipelined echoes on `clients`, each answered in order.
void pipelined_echo(std::vector<raw_client>& clients, int rounds, int depth) {
  for (int r = 0; r < rounds; ++r) {
    for (auto& cl : clients)
      for (int k = 0; k < depth; ++k)
        BOOST_REQUIRE(cl.send_text("m" + std::to_string(k)));
    for (auto& cl : clients)
      for (int k = 0; k < depth; ++k) {
        auto f = cl.read_frame(5s);
        BOOST_REQUIRE(f);
        BOOST_REQUIRE_EQUAL(f->payload, "m" + std::to_string(k));
      }
  }
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

} // namespace

BOOST_AUTO_TEST_CASE(io_threads_that_block_at_once_serve_everything) {
  // io_spin_us = 0: the io threads block in epoll as soon as they run out
  // of handlers (the plain io_context::run path), one thread and two.
  for (size_t threads : {1, 2}) {
    BOOST_TEST_CONTEXT("io threads: " << threads) {
      endpoint_config c;
      c.io_threads = threads;
      c.io_spin_us = 0;
      c.socket("/socket", echo_factory());
      start(std::move(c));
      std::vector<raw_client> clients;
      for (size_t i = 0; i < 5; ++i)
        clients.push_back(open_ws(port()));
      pipelined_echo(clients, 50, 4);
      ep->stop();
    }
  }
}

BOOST_AUTO_TEST_CASE(an_idle_io_thread_stops_spinning) {
  // After its spin time an io thread with nothing to do must block, not
  // keep polling: an idle server costs no CPU. A thread that kept spinning
  // would use about the whole window (it yields only to runnable threads,
  // and nothing else runs here).
  endpoint_config c;
  c.io_spin_us = 2000;
  c.socket("/socket", echo_factory());
  start(std::move(c));
  auto cl = open_ws(port());
  BOOST_REQUIRE(cl.send_text("wake"));
  BOOST_REQUIRE(cl.read_frame(5s));
  std::this_thread::sleep_for(50ms); // past the spin time
  auto cpu0 = process_cpu_seconds();
  auto wall0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(300ms);
  auto cpu = process_cpu_seconds() - cpu0;
  std::chrono::duration<double> wall = std::chrono::steady_clock::now() - wall0;
  BOOST_TEST(cpu < 0.3 * wall.count(),
             "process CPU " << cpu << " s in " << wall.count() << " s idle");
  // And it still wakes for the next frame.
  BOOST_REQUIRE(cl.send_text("again"));
  auto f = cl.read_frame(5s);
  BOOST_REQUIRE(f);
  BOOST_TEST(f->payload == "again");
}

BOOST_AUTO_TEST_CASE(pipelined_echo_on_two_io_threads) {
  // Regression: a spurious readiness wake-up once made read_some block an
  // io thread (the socket was not in user non-blocking mode), stalling
  // whole connections. Many pipelined messages on two io threads hit it.
  // Both threads spin before they block (only one at a time polls).
  endpoint_config c;
  c.io_threads = 2;
  c.socket("/socket", echo_factory());
  start(std::move(c));
  constexpr size_t conns = 20;
  constexpr int rounds = 200;
  constexpr int depth = 4;
  std::vector<raw_client> clients;
  for (size_t i = 0; i < conns; ++i)
    clients.push_back(open_ws(port()));
  pipelined_echo(clients, rounds, depth);
}

BOOST_AUTO_TEST_CASE(max_connections_answers_503) {
  socket_options opts;
  opts.max_connections = 2;
  start(opts);
  auto a = open_ws(port());
  auto b = open_ws(port());
  raw_client c;
  BOOST_REQUIRE(c.connect(port()));
  auto rep = c.handshake();
  BOOST_REQUIRE(rep);
  BOOST_TEST(rep->status == 503);
}

BOOST_AUTO_TEST_CASE(drain_delivers_queued_frames_then_closes_with_1012) {
  start();
  std::vector<raw_client> clients;
  for (int i = 0; i < 5; ++i)
    clients.push_back(open_ws(port()));
  // Queue a lot for the first client (one handler turn: once its first
  // frame arrives, all 2000 are queued), then stop: the close frame must
  // follow every queued frame.
  BOOST_TEST(clients[0].send_text("blast 2000 512"));
  auto first = clients[0].read_frame();
  BOOST_REQUIRE(first);
  BOOST_REQUIRE(ev->wait_opened(5));
  std::thread stopper{[&] { ep->stop(); }};
  size_t data = 1;
  auto code = clients[0].read_close(10s, &data);
  BOOST_REQUIRE(code);
  BOOST_TEST(*code == 1012);
  BOOST_TEST(data == 2000u);
  for (size_t i = 1; i < clients.size(); ++i) {
    auto c = clients[i].read_close(10s);
    BOOST_REQUIRE(c);
    BOOST_TEST(*c == 1012);
    clients[i].send_close(1012);
  }
  clients[0].send_close(1012);
  stopper.join();
  BOOST_TEST(ep->stats().connections == 0u);
  BOOST_REQUIRE(ev->wait_closes(5));
  // New connects are refused once stopped.
  raw_client late;
  BOOST_TEST(!late.connect(port()));
}

BOOST_AUTO_TEST_SUITE_END()
