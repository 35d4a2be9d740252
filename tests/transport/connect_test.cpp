// Connect decisions: the handler factory runs in the connection actor, on a
// CAF worker, never on an io thread; the connections supervisor starts
// that actor. Real sockets on 127.0.0.1, a real actor system.

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include <boost/json.hpp>

#include "fixture.hpp"
#include "raw_client.hpp"
#include "supervision/supervisor.hpp"
#include "transport/echo_handler.hpp"

using namespace fenix::test;
namespace json = boost::json;

namespace {

const std::vector<std::string> upgrade_headers{
  "Upgrade: websocket", "Connection: Upgrade",
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"};

/// A factory wrapper that takes 200 ms for connects with `slow=1`, as an
/// authentication against a slow service would, and tells the test when
/// it starts and ends.
class slow_gate {
public:
  static constexpr auto delay = 200ms;

  handler_factory wrap(handler_factory inner) {
    return [this, inner = std::move(inner)](const params& ps,
                                            const connect_info& info) {
      if (ps.contains("slow")) {
        {
          std::lock_guard<std::mutex> guard{mtx_};
          ++entered_;
        }
        cv_.notify_all();
        std::this_thread::sleep_for(delay);
        {
          std::lock_guard<std::mutex> guard{mtx_};
          ++left_;
        }
        cv_.notify_all();
      }
      return inner(ps, info);
    };
  }

  bool wait_entered(size_t n = 1) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, 5s, [&] { return entered_ >= n; });
  }

  bool wait_left(size_t n = 1) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, 5s, [&] { return left_ >= n; });
  }

  bool pending() {
    std::lock_guard<std::mutex> guard{mtx_};
    return left_ < entered_;
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  size_t entered_ = 0;
  size_t left_ = 0;
};

/// Echo round trips on `c` for as long as `gate` has a connect pending;
/// returns the slowest one. At least `min_trips` must complete.
std::chrono::microseconds echo_while_pending(raw_client& c, slow_gate& gate,
                                             size_t min_trips = 10) {
  using clock = std::chrono::steady_clock;
  std::chrono::microseconds worst{0};
  size_t trips = 0;
  while (gate.pending()) {
    auto t0 = clock::now();
    auto text = "ping " + std::to_string(trips);
    BOOST_REQUIRE(c.send_text(text));
    auto f = c.read_frame(2s);
    BOOST_REQUIRE(f);
    BOOST_REQUIRE_EQUAL(f->payload, text);
    worst = std::max(worst, std::chrono::duration_cast<std::chrono::microseconds>(
                              clock::now() - t0));
    ++trips;
  }
  BOOST_TEST((trips >= min_trips), trips << " round trips while pending");
  return worst;
}

size_t open_descriptors() {
  size_t n = 0;
  for ([[maybe_unused]] auto& entry :
       std::filesystem::directory_iterator{"/proc/self/fd"})
    ++n;
  return n;
}

/// The body of a long-poll answer: {"status", "token", "messages"}.
json::object lp_body(const http_reply& rep) {
  BOOST_REQUIRE_EQUAL(rep.status, 200);
  return json::parse(rep.body).as_object();
}

} // namespace

struct connect_fixture : endpoint_fixture {
  slow_gate gate;

  /// The fixture's endpoint with the echo handler behind the slow gate.
  void start_echo(socket_options opts = {}) {
    endpoint_config c = config();
    c.mounts.clear();
    c.socket("/socket", gate.wrap(echo_factory()), std::move(opts));
    start(std::move(c));
  }

  struct slow_connect {
    raw_client client;
    http_reply reply;
    std::chrono::microseconds worst{0}; // slowest echo while it was pending
  };

  /// Sends a request that the slow gate holds up, from a new client, and
  /// meanwhile measures echo round trips on `fast`. Up to three attempts:
  /// on a shared 2-core machine any single round trip may wait for a
  /// preempted thread, while a connect decided on the io thread stalls
  /// every attempt for the whole delay. Returns the first attempt without
  /// a round trip over 50 ms, else the last.
  slow_connect connect_slowly(raw_client& fast, const std::string& target,
                              const std::vector<std::string>& headers) {
    for (size_t attempt = 1;; ++attempt) {
      slow_connect x;
      BOOST_REQUIRE(x.client.connect(port()));
      auto t0 = std::chrono::steady_clock::now();
      BOOST_REQUIRE(x.client.send_request("GET", target, headers));
      BOOST_REQUIRE(gate.wait_entered(attempt));
      x.worst = echo_while_pending(fast, gate);
      auto rep = x.client.read_http(5s);
      BOOST_REQUIRE(rep);
      BOOST_TEST((std::chrono::steady_clock::now() - t0 >= slow_gate::delay));
      x.reply = std::move(*rep);
      if (x.worst < 50ms || attempt == 3)
        return x;
    }
  }

  /// Waits until the connections supervisor has no child left.
  bool no_connection_actors() {
    auto conns = connections();
    return wait_until([&] {
      auto n = conns.count_children();
      return n && n->active == 0;
    });
  }
};

BOOST_FIXTURE_TEST_SUITE(connect, connect_fixture)

BOOST_AUTO_TEST_CASE(a_slow_websocket_connect_holds_up_no_other_connection) {
  start_echo();
  auto fast = open_ws(port());
  BOOST_REQUIRE(fast.send_text("warm up"));
  BOOST_REQUIRE(fast.read_frame());
  auto x = connect_slowly(fast, "/socket/websocket?slow=1", upgrade_headers);
  BOOST_TEST((x.worst < 50ms), x.worst.count() << " us");
  BOOST_TEST(x.reply.status == 101);
  auto& slow = x.client;
  BOOST_TEST(slow.send_text("worth the wait"));
  auto f = slow.read_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->payload == "worth the wait");
}

BOOST_AUTO_TEST_CASE(a_slow_longpoll_connect_holds_up_no_other_connection) {
  socket_options opts;
  opts.longpoll.enabled = true;
  opts.longpoll.window = 300ms;
  start_echo(opts);
  auto fast = open_ws(port());
  auto x = connect_slowly(fast, "/socket/longpoll?vsn=2.0.0&slow=1", {});
  BOOST_TEST((x.worst < 50ms), x.worst.count() << " us");
  auto hs = lp_body(x.reply);
  BOOST_TEST(hs.at("status").as_int64() == 410);
  std::string token{hs.at("token").as_string()};
  BOOST_REQUIRE(!token.empty());
  // The session works: a POST reaches the handler, its echo the next GET.
  auto tq = "/socket/longpoll?vsn=2.0.0&token=" + token;
  auto post = http_call(port(), "POST", tq, {}, "[\"slow\"]");
  BOOST_REQUIRE(post);
  BOOST_TEST(lp_body(*post).at("status").as_int64() == 200);
  auto poll = http_call(port(), "GET", tq);
  BOOST_REQUIRE(poll);
  auto body = lp_body(*poll);
  BOOST_TEST(body.at("status").as_int64() == 200);
  BOOST_REQUIRE_EQUAL(body.at("messages").as_array().size(), 1u);
  BOOST_TEST(body.at("messages").as_array()[0].as_string() == "[\"slow\"]");
}

BOOST_AUTO_TEST_CASE(frames_sent_with_the_upgrade_request_reach_the_handler) {
  // The client does not wait for the 101: its first frames may arrive in
  // the same segment as the request. They reach the handler, once it
  // exists, in order.
  start_echo();
  raw_client c;
  BOOST_REQUIRE(c.connect(port()));
  BOOST_REQUIRE(
    c.send_request("GET", "/socket/websocket?slow=1", upgrade_headers));
  for (auto text : {"a", "b", "c"})
    BOOST_REQUIRE(c.send_text(text));
  auto rep = c.read_http(5s);
  BOOST_REQUIRE(rep);
  BOOST_REQUIRE_EQUAL(rep->status, 101);
  for (auto text : {"a", "b", "c"}) {
    auto f = c.read_frame();
    BOOST_REQUIRE(f);
    BOOST_TEST(f->payload == text);
  }
}

namespace {

/// Greets in on_open and, with `?bye=CODE`, closes right there: before
/// the I/O side has written the 101, possibly.
class greeter : public socket_handler {
public:
  explicit greeter(std::optional<uint16_t> bye) : bye_(bye) {
    // nop
  }

  void on_open(connection& conn) override {
    conn.push_text("welcome");
    if (bye_)
      conn.close(*bye_, "bye");
  }

  void on_text(connection& conn, std::string& text) override {
    conn.push_text(text);
  }

private:
  std::optional<uint16_t> bye_;
};

} // namespace

BOOST_AUTO_TEST_CASE(what_on_open_pushes_and_closes_follows_the_101) {
  endpoint_config c = config();
  c.mounts.clear();
  c.socket("/socket", [](const params& ps, const connect_info&) {
    std::optional<uint16_t> bye;
    if (auto x = ps.get("bye"))
      bye = static_cast<uint16_t>(std::stoi(*x));
    return std::make_unique<greeter>(bye);
  });
  start(std::move(c));
  // Many times: the close may reach the I/O side before or after the 101.
  for (int i = 0; i < 20; ++i) {
    BOOST_TEST_CONTEXT("round " << i) {
      auto stay = open_ws(port());
      auto f = stay.read_frame();
      BOOST_REQUIRE(f);
      BOOST_TEST(f->payload == "welcome");
      auto leave = open_ws(port(), "/socket/websocket?bye=4000");
      f = leave.read_frame();
      BOOST_REQUIRE(f);
      BOOST_TEST(f->payload == "welcome");
      auto code = leave.read_close();
      BOOST_REQUIRE(code);
      BOOST_TEST(*code == 4000);
    }
  }
}

BOOST_AUTO_TEST_CASE(connection_actors_are_children_of_the_connections_supervisor) {
  start();
  auto c = open_ws(port());
  BOOST_REQUIRE(ev->wait_opened(1));
  caf::actor conn;
  {
    std::lock_guard<std::mutex> guard{ev->mtx};
    conn = ev->opened[0];
  }
  auto kids = connections().which_children();
  BOOST_REQUIRE(kids);
  BOOST_REQUIRE_EQUAL(kids->size(), 1u);
  BOOST_TEST(((*kids)[0].child == conn));
  BOOST_TEST((*kids)[0].id.rfind("connection #", 0) == 0u);
  BOOST_TEST(((*kids)[0].restart == fenix::restart_type::temporary));
}

BOOST_AUTO_TEST_CASE(refused_and_throwing_connects_answer_403) {
  socket_options opts;
  opts.longpoll.enabled = true;
  endpoint_config c = config();
  c.mounts.clear();
  c.socket("/socket",
           [f = factory()](const params& ps, const connect_info& info) {
             if (ps.contains("throw"))
               throw std::runtime_error("auth service down");
             return f(ps, info);
           },
           opts);
  start(std::move(c));
  for (auto query : {"reject=1", "throw=1"}) {
    BOOST_TEST_CONTEXT(query) {
      raw_client cl;
      BOOST_REQUIRE(cl.connect(port()));
      auto rep = cl.handshake(std::string{"/socket/websocket?"} + query);
      BOOST_REQUIRE(rep);
      BOOST_TEST(rep->status == 403);
      BOOST_TEST(rep->body.empty());
      auto lp = http_call(port(), "GET",
                          std::string{"/socket/longpoll?vsn=2.0.0&"} + query);
      BOOST_REQUIRE(lp);
      BOOST_TEST(lp_body(*lp).at("status").as_int64() == 403);
    }
  }
  BOOST_TEST(ep->stats().refused == 4u);
  BOOST_TEST(ep->stats().connections == 0u);
  BOOST_TEST(no_connection_actors());
  BOOST_TEST(ev->opened.empty());
}

BOOST_AUTO_TEST_CASE(a_client_that_leaves_while_its_connect_is_decided_leaks_nothing) {
  endpoint_config c = config();
  c.mounts.clear();
  c.socket("/socket", gate.wrap(factory()));
  start(std::move(c));
  auto fds = open_descriptors();
  // Accepted after the client left: the handler opens and hears at once
  // that the network dropped the connection.
  {
    raw_client cl;
    BOOST_REQUIRE(cl.connect(port()));
    BOOST_REQUIRE(
      cl.send_request("GET", "/socket/websocket?slow=1", upgrade_headers));
    BOOST_REQUIRE(gate.wait_entered(1));
  }
  BOOST_REQUIRE(ev->wait_closes(1));
  {
    std::lock_guard<std::mutex> guard{ev->mtx};
    BOOST_TEST(ev->closes[0].code == 1006);
    BOOST_TEST((ev->closes[0].by == closed_by::network));
  }
  // Refused after the client left.
  {
    raw_client cl;
    BOOST_REQUIRE(cl.connect(port()));
    BOOST_REQUIRE(cl.send_request("GET", "/socket/websocket?slow=1&reject=1",
                                  upgrade_headers));
    BOOST_REQUIRE(gate.wait_entered(2));
  }
  BOOST_REQUIRE(gate.wait_left(2));
  BOOST_TEST(wait_until([&] { return ep->stats().refused == 1; }));
  BOOST_TEST(no_connection_actors());
  BOOST_TEST(wait_until([&] { return ep->stats().connections == 0; }));
  BOOST_TEST(wait_until([&] { return open_descriptors() == fds; }),
             open_descriptors() << " descriptors open, " << fds << " before");
}

BOOST_AUTO_TEST_CASE(without_a_connections_supervisor_connects_are_closed) {
  socket_options opts;
  opts.longpoll.enabled = true;
  start(opts);
  auto srv = server();
  BOOST_REQUIRE(!srv.terminate_child("connections"));
  // The listener still accepts, but no connection actor can start: the
  // WebSocket closes with 1013 (try again later) right after its 101, a
  // long-poll handshake gets status 500. Nothing was opened.
  auto c = open_ws(port());
  auto code = c.read_close();
  BOOST_REQUIRE(code);
  BOOST_TEST(*code == 1013);
  auto lp = http_call(port(), "GET", "/socket/longpoll?vsn=2.0.0");
  BOOST_REQUIRE(lp);
  BOOST_TEST(lp_body(*lp).at("status").as_int64() == 500);
  BOOST_TEST(ev->opened.empty());
  // Back again: connects open.
  BOOST_REQUIRE(srv.restart_child("connections"));
  auto d = open_ws(port());
  BOOST_TEST(d.send_text("back"));
  auto f = d.read_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->payload == "back");
}

BOOST_AUTO_TEST_CASE(a_connect_pending_when_the_endpoint_stops_is_drained) {
  start_echo();
  raw_client slow;
  BOOST_REQUIRE(slow.connect(port()));
  BOOST_REQUIRE(
    slow.send_request("GET", "/socket/websocket?slow=1", upgrade_headers));
  BOOST_REQUIRE(gate.wait_entered());
  auto t0 = std::chrono::steady_clock::now();
  std::thread stopper{[&] { ep->stop(); }};
  auto rep = slow.read_http(5s);
  BOOST_REQUIRE(rep);
  BOOST_TEST(rep->status == 101);
  auto code = slow.read_close(5s);
  BOOST_REQUIRE(code);
  BOOST_TEST(*code == 1012);
  slow.send_close(1012);
  stopper.join();
  // Drained, not left open until the drain timeout (5 s here).
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 2s));
}

BOOST_AUTO_TEST_SUITE_END()
