// Connect decisions: the handler factory runs in the connection actor, on a
// CAF worker, never on an io thread; the connections supervisor starts
// that actor. Real sockets on 127.0.0.1, a real actor system.

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include <boost/json.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "fixture.hpp"
#include "raw_client.hpp"
#include "supervision/supervisor.hpp"
#include "transport/detail/connection_actor.hpp"
#include "transport/echo_handler.hpp"

using namespace fenix::test;
namespace json = boost::json;
namespace td = fenix::transport::detail;

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

raw_client open_ws(uint16_t port, const std::string& target = "/socket/websocket") {
  raw_client c;
  BOOST_REQUIRE(c.connect(port));
  auto rep = c.handshake(target);
  BOOST_REQUIRE(rep);
  BOOST_REQUIRE_EQUAL(rep->status, 101);
  return c;
}

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

  fenix::supervisor_ref server() {
    fenix::supervisor_ref ep_sup{sys->sys(), ep->supervisor()};
    auto top = ep_sup.which_children();
    BOOST_REQUIRE(top && top->size() == 1);
    return fenix::supervisor_ref{sys->sys(), (*top)[0].child};
  }

  fenix::supervisor_ref connections() {
    auto conns = server().child("connections");
    BOOST_REQUIRE(conns);
    return fenix::supervisor_ref{sys->sys(), conns};
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

// -- the gate on its own ------------------------------------------------------

namespace {

/// A link that records what the connection actor sends out.
class recording_link : public outlet {
public:
  bool send(frame_ptr) override {
    return true;
  }
  void close(uint16_t, std::string_view) override {
    // nop
  }
};

/// What a connect's `done` was called with, and how often.
struct outcome {
  std::mutex mtx;
  std::condition_variable cv;
  int calls = 0;
  td::verdict v = td::verdict::accepted;
  std::unique_ptr<td::peer> p;

  td::connect_done done() {
    return [this](td::verdict x, std::unique_ptr<td::peer> y) {
      std::lock_guard<std::mutex> guard{mtx};
      ++calls;
      v = x;
      p = std::move(y);
      cv.notify_all();
    };
  }

  bool wait() {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_for(guard, 5s, [&] { return calls > 0; });
  }
};

td::connect_request request(outcome& out, bool with_link = true) {
  td::connect_request req;
  req.info.transport = "websocket";
  req.info.query = "a=1";
  if (with_link)
    req.out = std::make_shared<recording_link>();
  req.id = 7;
  req.done = out.done();
  return req;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(gate, endpoint_fixture)

BOOST_AUTO_TEST_CASE(without_a_supervisor_a_connect_is_unavailable_at_once) {
  auto slot = std::make_shared<td::supervisor_slot>();
  auto g = td::make_gate(factory(), slot);
  outcome out;
  g->connect(request(out));
  BOOST_TEST(out.calls == 1); // before connect returned
  BOOST_TEST((out.v == td::verdict::unavailable));
  BOOST_TEST(!out.p);
}

BOOST_AUTO_TEST_CASE(a_connect_sent_to_a_dead_supervisor_is_unavailable) {
  // The slot still names a supervisor that is gone (its successor is not
  // up yet): the start request is dropped, and so is the connect in it.
  fenix::supervisor_flags f;
  f.dynamic = true;
  auto sup = fenix::spawn_supervisor(sys->sys(), f, {});
  {
    caf::scoped_actor self{sys->sys(), true};
    self->monitor(sup);
    self->send_exit(sup, caf::exit_reason::kill);
    self->receive([](caf::down_msg&) {},
                  caf::after(5s) >> [] { BOOST_FAIL("no DOWN"); });
  }
  auto slot = std::make_shared<td::supervisor_slot>();
  slot->set(sup);
  auto factory_runs = std::make_shared<std::atomic<int>>(0);
  auto g = td::make_gate(
    [factory_runs](const params&, const connect_info&) -> socket_handler_ptr {
      ++*factory_runs;
      return nullptr;
    },
    slot);
  outcome out;
  g->connect(request(out));
  BOOST_REQUIRE(out.wait());
  BOOST_TEST(out.calls == 1);
  BOOST_TEST((out.v == td::verdict::unavailable));
  BOOST_TEST(*factory_runs == 0);
  slot->set(caf::actor{});
}

namespace {

/// Stands in for the connections supervisor: runs each start it is sent
/// and tells `test` which child it spawned, then how that child ended.
caf::behavior fake_supervisor(caf::event_based_actor* self, caf::actor test) {
  self->set_down_handler([=](caf::down_msg& dm) {
    self->send(test, std::move(dm.reason));
  });
  return {
    [=](fenix::start_atom, fenix::child_spec& spec) {
      auto child = spec.start(self->system());
      BOOST_REQUIRE(child && *child);
      self->monitor(*child);
      self->send(test, spec.id, spec.ack == fenix::start_ack::adopt, *child);
    },
  };
}

} // namespace

BOOST_AUTO_TEST_CASE(the_supervisor_spawns_the_actor_that_runs_the_factory) {
  caf::scoped_actor self{sys->sys(), true};
  auto sup = sys->sys().spawn(fake_supervisor, caf::actor{self});
  auto slot = std::make_shared<td::supervisor_slot>();
  slot->set(sup);
  struct seen {
    std::string query;
    std::thread::id thread;
  };
  auto s = std::make_shared<seen>();
  auto g = td::make_gate(
    [s, ev = ev](const params& ps, const connect_info& info)
      -> socket_handler_ptr {
      s->query = info.query;
      s->thread = std::this_thread::get_id();
      if (ps.contains("throw"))
        throw std::runtime_error("boom");
      if (ps.contains("reject"))
        return nullptr;
      return std::make_unique<test_handler>(ev);
    },
    slot);
  auto started = [&]() -> caf::actor {
    caf::actor child;
    self->receive(
      [&](const std::string& id, bool spawned, caf::actor& x) {
        BOOST_TEST(id == "connection #7");
        BOOST_TEST(spawned); // started when its start returned
        child = std::move(x);
      },
      caf::after(5s) >> [] { BOOST_FAIL("no start"); });
    return child;
  };
  auto ended = [&] {
    std::string reason = "no DOWN";
    self->receive([&](caf::error& e) { reason = sys->sys().render(e); },
                  caf::after(5s) >> [] {});
    return reason;
  };
  auto none = sys->sys().render(caf::error{});
  // Accepted: a peer, fed once the handler is open.
  {
    outcome out;
    g->connect(request(out));
    auto child = started();
    BOOST_REQUIRE(out.wait());
    BOOST_TEST((out.v == td::verdict::accepted));
    BOOST_REQUIRE(out.p);
    BOOST_TEST(s->query == "a=1");
    BOOST_TEST((s->thread != std::this_thread::get_id()));
    BOOST_REQUIRE(ev->wait_opened(1));
    BOOST_TEST((ev->opened[0] == child));
    out.p->on_closed(close_info{1000, "done", closed_by::client});
    BOOST_REQUIRE(ev->wait_closes(1));
    out.p.reset();
    BOOST_TEST(ended() == none);
  }
  // Refused, thrown, accepted without a link (only decided): no handler
  // opens and the actor ends normally.
  struct {
    const char* query;
    bool with_link;
    td::verdict expected;
  } cases[] = {{"reject=1", true, td::verdict::refused},
               {"throw=1", true, td::verdict::refused},
               {"a=1", false, td::verdict::accepted}};
  for (auto& x : cases) {
    BOOST_TEST_CONTEXT(x.query << (x.with_link ? "" : ", no link")) {
      outcome out;
      auto req = request(out, x.with_link);
      req.info.query = x.query;
      g->connect(std::move(req));
      started();
      BOOST_REQUIRE(out.wait());
      BOOST_TEST((out.v == x.expected));
      BOOST_TEST(!out.p);
      BOOST_TEST(ended() == none);
    }
  }
  BOOST_TEST(ev->opened.size() == 1u);
  BOOST_TEST(slot->wait_no_actors(5s));
  slot->set(caf::actor{});
  self->send_exit(sup, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
