#pragma once

// A Phoenix endpoint on a free port with a user socket of the test's, and
// the raw-frame helpers its tests share.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <caf/all.hpp>

#include "actors/system.hpp"
#include "channels/channel_pool.hpp"
#include "channels/pubsub.hpp"
#include "channels/socket.hpp"
#include "supervision/supervisor.hpp"
#include "tests/transport/raw_client.hpp"
#include "transport/endpoint.hpp"

namespace fenix::test {

using namespace std::chrono_literals;

template <class UserSocket>
struct phoenix_fixture {
  fenix::config cfg;
  fenix::system sys{cfg};
  channels::pubsub ps;
  caf::actor app;
  std::unique_ptr<transport::endpoint> ep;

  explicit phoenix_fixture(size_t shards = 2) {
    auto [p, spec] = channels::pubsub::make("test", shards);
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
              channels::phoenix_handler_factory(std::make_shared<UserSocket>(), ps, chan_pool));
    auto e = transport::endpoint::start(sys, std::move(ec));
    BOOST_REQUIRE(e);
    ep = std::move(*e);
  }

  /// Waits until the tree shows the channel `name` restarted `n` times
  /// and running (every wait bounded).
  void await_channel(const std::string& name, uint32_t n) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto snap = sys.tree().snapshot(ep->supervisor().id()))
        if (auto ch = snap->find(name);
            ch && ch->kind == "channel" && ch->restarts == n
            && ch->state == actor_state::running)
          return;
      std::this_thread::yield();
    }
    BOOST_FAIL("channel " << name << " not restarted " << n << " times");
  }

  /// True if an actor named `name` is still in the tree after 5 s.
  bool await_gone(const std::string& name) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto snap = sys.tree().snapshot(ep->supervisor().id());
      if (!snap || !snap->find(name))
        return false;
      std::this_thread::yield();
    }
    return true;
  }

  ~phoenix_fixture() {
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

  static boost::json::value next(raw_client& c) {
    auto f = c.read_frame(5s);
    BOOST_REQUIRE_MESSAGE(f, "no frame within 5 s");
    BOOST_REQUIRE_EQUAL(int{f->op}, 1);
    return boost::json::parse(f->payload);
  }

  static bool silent(raw_client& c, std::chrono::milliseconds d = 200ms) {
    return !c.read_frame(d);
  }

  static void send(raw_client& c, const boost::json::value& v) {
    BOOST_REQUIRE(c.send_text(boost::json::serialize(v)));
  }

  static boost::json::value frame(boost::json::value jr, boost::json::value r, std::string topic,
                           std::string event, boost::json::value payload) {
    return boost::json::array{jr, r, boost::json::value(topic), boost::json::value(event), payload};
  }

  static boost::json::value reply(boost::json::value jr, boost::json::value r, std::string topic,
                           std::string status, boost::json::value response) {
    return frame(jr, r, topic, "phx_reply",
                 boost::json::object{{"status", status}, {"response", response}});
  }

  void join(raw_client& c, const std::string& topic, const std::string& jr,
            boost::json::value payload = boost::json::object{}) {
    boost::json::value j(jr);
    send(c, frame(j, j, topic, "phx_join", payload));
    BOOST_TEST(next(c)
               == reply(j, j, topic, "ok", boost::json::object{{"joined", topic}}));
  }
};


} // namespace fenix::test
