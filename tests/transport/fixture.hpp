#pragma once

// Shared by the transport integration tests: a fenix system, an endpoint on
// an ephemeral port and a scriptable socket handler.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/atom.hpp>
#include <caf/message.hpp>

#include "actors/actor.hpp"
#include "actors/system.hpp"
#include "supervision/supervisor.hpp"
#include "transport/endpoint.hpp"
#include "transport/socket_handler.hpp"
#include "tests/transport/raw_client.hpp"

namespace fenix::test {

using namespace std::chrono_literals;
using namespace fenix::transport;

/// Waits (bounded) for a condition nobody can notify us about, e.g. an
/// actor showing up in the tree.
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

/// What the test handlers saw, for the test thread to wait on.
struct events {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<close_info> closes;
  std::vector<caf::actor> opened;
  std::vector<std::string> tokens; // auth tokens seen by the factory
  std::vector<outlet_ptr> outlets; // of every opened connection

  void add_close(close_info x) {
    std::lock_guard<std::mutex> guard{mtx};
    closes.push_back(std::move(x));
    cv.notify_all();
  }

  void add_open(caf::actor x, outlet_ptr out = nullptr) {
    std::lock_guard<std::mutex> guard{mtx};
    opened.push_back(std::move(x));
    outlets.push_back(std::move(out));
    cv.notify_all();
  }

  bool wait_closes(size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_for(guard, timeout, [&] { return closes.size() >= n; });
  }

  bool wait_opened(size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_for(guard, timeout, [&] { return opened.size() >= n; });
  }
};

/// Echo plus commands: "blast N SIZE" pushes N numbered frames of SIZE
/// bytes in one turn, "replies N SIZE" sends them as replies and then
/// pushes "end", "throw" throws, "close CODE" closes, "binary"
/// answers with a binary frame. `(put_atom, string)` messages are pushed
/// as "put:<s>", any lone string as "info:<s>".
class test_handler : public socket_handler {
public:
  explicit test_handler(std::shared_ptr<events> ev) : ev_(std::move(ev)) {
    // nop
  }

  caf::message_handler make_handlers(connection& conn) override {
    return {
      [&conn](caf::put_atom, const std::string& s) {
        conn.push_text("put:" + s);
      },
    };
  }

  void on_open(connection& conn) override {
    ev_->add_open(caf::actor_cast<caf::actor>(conn.self()), conn.outlet());
  }

  void on_text(connection& conn, std::string& text) override {
    if (text.rfind("blast ", 0) == 0) {
      auto [n, size] = counts(text.substr(6));
      for (size_t i = 0; i < n; ++i)
        if (!conn.push_text(numbered(i, size)))
          break;
    } else if (text.rfind("replies ", 0) == 0) {
      // Like blast, as replies (outlet::send_reply), then one plain push.
      auto [n, size] = counts(text.substr(8));
      auto out = conn.outlet();
      for (size_t i = 0; i < n; ++i)
        out->send_reply(frame::make(opcode::text, numbered(i, size)));
      conn.push_text("end");
    } else if (text == "throw") {
      throw std::runtime_error("boom");
    } else if (text.rfind("close ", 0) == 0) {
      conn.close(static_cast<uint16_t>(std::stoi(text.substr(6))), "bye");
    } else if (text == "binary") {
      conn.push_binary(std::string("\x00\x01\x02", 3));
    } else {
      conn.push_text(text);
    }
  }

  void on_binary(connection& conn, std::string& data) override {
    // Long-poll cannot carry binary frames: say so in text.
    if (!conn.push_binary(data))
      conn.push_text("binary-dropped:" + std::to_string(data.size()));
  }

  bool on_message(connection& conn, caf::message& msg) override {
    if (msg.match_elements<std::string>()) {
      conn.push_text("info:" + msg.get_as<std::string>(0));
      return true;
    }
    return false;
  }

  void on_close(connection&, const close_info& why) override {
    ev_->add_close(why);
  }

private:
  /// "N SIZE" -> {N, SIZE}.
  static std::pair<size_t, size_t> counts(const std::string& args) {
    auto sp = args.find(' ');
    return {std::stoul(args.substr(0, sp)), std::stoul(args.substr(sp + 1))};
  }

  /// Frame `i` of a numbered series: its index, padded to `size` bytes
  /// with a letter that changes from frame to frame.
  static std::string numbered(size_t i, size_t size) {
    auto s = std::to_string(i);
    s.resize(std::max(size, s.size()), static_cast<char>('a' + i % 26));
    return s;
  }

  std::shared_ptr<events> ev_;
};

struct endpoint_fixture {
  fenix::config cfg;
  std::unique_ptr<fenix::system> sys;
  std::shared_ptr<events> ev = std::make_shared<events>();
  std::unique_ptr<endpoint> ep;

  endpoint_fixture() {
    cfg.log_level = "error";
    sys = std::make_unique<fenix::system>(cfg);
  }

  ~endpoint_fixture() {
    if (ep)
      ep->stop();
    ep.reset();
    ev.reset(); // drop actor handles before the system goes
    // Every actor of the endpoint must be gone now; report leftovers
    // instead of hanging in the actor system's destructor.
    auto& reg = sys->sys().registry();
    if (!wait_until([&] { return reg.running() == 0; }, 5s)) {
      std::string tree;
      for (auto& root : sys->tree().snapshot())
        tree += fenix::render_tree(root);
      BOOST_ERROR("actors still running after stop: " << reg.running()
                                                      << "\n" << tree);
      sys->sys().await_actors_before_shutdown(false);
    }
  }

  /// A factory refusing connects with `?reject=1`, recording auth tokens.
  handler_factory factory() {
    return [ev = ev](const params& ps, const connect_info& info)
             -> socket_handler_ptr {
      if (ps.contains("reject"))
        return nullptr;
      if (info.auth_token) {
        std::lock_guard<std::mutex> guard{ev->mtx};
        ev->tokens.push_back(*info.auth_token);
      }
      return std::make_unique<test_handler>(ev);
    };
  }

  /// Fast timers for tests.
  endpoint_config config(socket_options opts = {}) {
    endpoint_config c;
    c.tick = 50ms;
    c.close_linger = 500ms;
    c.drain_interval = 100ms;
    c.drain_timeout = 5s;
    c.socket("/socket", factory(), std::move(opts));
    return c;
  }

  void start(endpoint_config c) {
    auto res = endpoint::start(sys->sys(), std::move(c));
    if (!res)
      BOOST_FAIL("endpoint::start failed: " + sys->sys().render(res.error()));
    ep = std::move(*res);
  }

  void start(socket_options opts = {}) {
    start(config(std::move(opts)));
  }

  uint16_t port() const {
    return ep->port();
  }

  /// The endpoint's server supervisor (its only child in these tests).
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

  /// The tree's record of the server supervisor's child `name`.
  std::optional<fenix::actor_info> server_child(const std::string& name) {
    // application -> endpoint -> server -> connections + listener
    for (auto& root : sys->tree().snapshot())
      if (auto ep = root.name == "endpoint" ? &root : root.find("endpoint");
          ep && ep->children.size() == 1)
        for (auto& child : ep->children[0].children)
          if (child.name == name)
            return child;
    return std::nullopt;
  }
};

// -- helpers of the WebSocket tests -----------------------------------------

inline raw_client open_ws(uint16_t port, const std::string& target = "/socket/websocket") {
  raw_client c;
  BOOST_REQUIRE(c.connect(port));
  auto rep = c.handshake(target);
  BOOST_REQUIRE(rep);
  BOOST_REQUIRE_EQUAL(rep->status, 101);
  return c;
}

/// Reads `n` frames of the fixture's "blast" or "replies" commands: each
/// payload starts with its index.
inline void expect_numbered(raw_client& c, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    auto f = c.read_frame();
    BOOST_REQUIRE(f);
    auto digits = f->payload.find_first_not_of("0123456789");
    BOOST_REQUIRE_EQUAL(f->payload.substr(0, digits), std::to_string(i));
  }
}

/// The endpoint's counters once `n` more frames than in `before` went out.
/// Writers count after their syscall returns, so a client may have read
/// the frames before: wait (bounded) for the count.
inline endpoint_stats stats_after_frames(const endpoint& ep,
                                  const endpoint_stats& before, size_t n) {
  BOOST_TEST(wait_until(
    [&] { return ep.stats().frames_out - before.frames_out >= n; }));
  return ep.stats();
}


} // namespace fenix::test
