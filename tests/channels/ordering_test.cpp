// Phoenix's ordering guarantees (protocol.md 2.17), each checked a thousand
// times in a loop against a topic that is being broadcast to without pause,
// to catch the races they rule out.

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <caf/all.hpp>

#include "channels/channel.hpp"
#include "channels/socket.hpp"
#include "tests/channels/phoenix_fixture.hpp"

using namespace fenix;
using namespace fenix::channels;
using namespace std::chrono_literals;
namespace json = boost::json;
using fenix::test::raw_client;

namespace {

constexpr int rounds = 1000;

/// BenchChannel's shape: shouts take the fastlane, pings are echoed.
class shout_channel : public channel {
public:
  join_result join(const std::string&, const json::value&, socket&) override {
    return join_result::ok();
  }

  in_result handle_in(const std::string& event, const payload& p,
                      socket& s) override {
    if (event == "shout") {
      s.broadcast("shout", p);
      return in_result::noreply();
    }
    if (event == "shout_and_reply") {
      // Phoenix's broadcast runs the dispatch in the caller: the copy
      // precedes the reply of the same callback.
      s.broadcast("shout", p);
      return in_result::ok(p);
    }
    return in_result::ok(p);
  }
};

class shout_socket : public user_socket {
public:
  shout_socket() {
    channel<shout_channel>("bench:*");
  }

  std::optional<json::object> connect(const transport::params&,
                                      const transport::connect_info&) override {
    return json::object{};
  }
};

using fixture = fenix::test::phoenix_fixture<shout_socket>;

/// Broadcasts `{"seq": n}` to a topic, one after the other without pause,
/// from its own thread, until stopped. Each broadcast is a request the
/// shard answers once it dispatched it, so the publisher never outruns it.
class publisher {
public:
  publisher(caf::actor_system& sys, pubsub ps, std::string topic)
      : thread_([this, &sys, ps, topic] {
          caf::scoped_actor self{sys, true};
          int64_t seq = 0;
          while (!stop_.load()) {
            broadcast_msg msg{topic, "tick",
                              make_payload(json::object{{"seq", ++seq}}),
                              {}, {}};
            auto shard = ps.route(msg, true);
            if (!shard)
              continue;
            self->request(shard, 5s, broadcast_atom::value, std::move(msg))
              .receive([] {}, [](caf::error&) {});
            sent_.store(seq);
          }
        }) {
    // nop
  }

  ~publisher() {
    stop();
  }

  void stop() {
    stop_.store(true);
    if (thread_.joinable())
      thread_.join();
  }

  int64_t sent() const {
    return sent_.load();
  }

private:
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> sent_{0};
  std::thread thread_;
};

bool is_event(const json::value& f, const char* event) {
  return f.as_array()[3] == event;
}

/// Joins and leaves `topic` a thousand times on one connection while it is
/// broadcast to (as `event`): every join's reply comes first, its leave's
/// reply and phx_close last.
void join_and_leave(raw_client& c, const std::string& topic,
                    const char* event) {
  for (int i = 0; i < rounds; ++i) {
    auto jr = json::value(std::to_string(i));
    fixture::send(c, fixture::frame(jr, jr, topic, "phx_join", json::object{}));
    auto first = fixture::next(c);
    BOOST_REQUIRE_MESSAGE(is_event(first, "phx_reply")
                            && first.as_array()[1] == jr,
                          "round " << i << ": got " << first
                                   << " before the join reply");
    BOOST_REQUIRE(is_event(fixture::next(c), event));
    fixture::send(c, fixture::frame(jr, "leave", topic, "phx_leave",
                                    json::object{}));
    for (;;) {
      auto f = fixture::next(c);
      if (is_event(f, "phx_reply")) {
        BOOST_REQUIRE(f.as_array()[1] == "leave");
        break;
      }
      BOOST_REQUIRE_MESSAGE(is_event(f, event), "round " << i << ": " << f);
    }
    // phx_close follows the leave reply; then nothing of this join.
    auto close = fixture::next(c);
    BOOST_REQUIRE_MESSAGE(is_event(close, "phx_close"),
                          "round " << i << ": " << close);
  }
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(ordering_suite, fixture)

BOOST_AUTO_TEST_CASE(the_join_reply_precedes_every_broadcast_of_the_join) {
  publisher pub{sys, ps, "bench:hot"};
  // Broadcasts are flowing before the first join.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (pub.sent() < 10 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  BOOST_REQUIRE(pub.sent() >= 10);
  int ticks = 0;
  for (int i = 0; i < rounds; ++i) {
    auto c = connect();
    send(c, frame("1", "1", "bench:hot", "phx_join", json::object{}));
    auto first = next(c);
    BOOST_REQUIRE_MESSAGE(is_event(first, "phx_reply"),
                          "round " << i << ": got " << first
                                   << " before the join reply");
    // Joined: broadcasts follow (the topic never goes quiet).
    auto second = next(c);
    BOOST_REQUIRE(is_event(second, "tick"));
    ++ticks;
    c.close();
  }
  BOOST_TEST(ticks == rounds);
}

BOOST_AUTO_TEST_CASE(after_a_leave_reply_no_broadcast_of_that_join_arrives) {
  publisher pub{sys, ps, "bench:hot"};
  auto c = connect();
  join_and_leave(c, "bench:hot", "tick");
}

BOOST_AUTO_TEST_CASE(rejoins_while_a_channel_shouts_see_the_reply_first) {
  // The publisher is a channel this time (broadcasts with an origin).
  auto shouter = connect();
  send(shouter, frame("s", "s", "bench:loud", "phx_join", json::object{}));
  BOOST_REQUIRE(is_event(next(shouter), "phx_reply"));
  std::atomic<bool> stop{false};
  std::thread loud{[&] {
    int n = 0;
    while (!stop.load()) {
      if (!shouter.send_text(json::serialize(frame(
            "s", nullptr, "bench:loud", "shout", json::object{{"n", ++n}}))))
        return;
      if (!shouter.read_frame(5s)) // its own copy: one in flight at a time
        return;
    }
  }};
  auto c = connect();
  join_and_leave(c, "bench:loud", "shout");
  stop.store(true);
  loud.join();
}

BOOST_AUTO_TEST_CASE(a_channels_own_broadcast_precedes_its_later_reply) {
  auto c = connect();
  send(c, frame("1", "1", "bench:own", "phx_join", json::object{}));
  BOOST_REQUIRE(is_event(next(c), "phx_reply"));
  for (int i = 0; i < rounds; ++i) {
    // shout then ping: the shout's copy before the ping's reply.
    send(c, frame("1", nullptr, "bench:own", "shout", json::object{{"i", i}}));
    send(c, frame("1", json::value(std::to_string(i)), "bench:own", "ping",
                  json::object{{"i", i}}));
    auto a = next(c);
    BOOST_REQUIRE_MESSAGE(is_event(a, "shout"), "round " << i << ": " << a);
    BOOST_REQUIRE(a.as_array()[4] == (json::object{{"i", i}}));
    auto b = next(c);
    BOOST_REQUIRE_MESSAGE(is_event(b, "phx_reply"), "round " << i << ": " << b);
    BOOST_REQUIRE(b.as_array()[1] == json::value(std::to_string(i)));
    // Within one callback: broadcast, then reply.
    send(c, frame("1", json::value("r" + std::to_string(i)), "bench:own",
                  "shout_and_reply", json::object{{"j", i}}));
    auto x = next(c);
    BOOST_REQUIRE_MESSAGE(is_event(x, "shout"), "round " << i << ": " << x);
    auto y = next(c);
    BOOST_REQUIRE_MESSAGE(is_event(y, "phx_reply"), "round " << i << ": " << y);
  }
}

BOOST_AUTO_TEST_CASE(a_duplicate_join_delivers_each_broadcast_once) {
  publisher pub{sys, ps, "bench:dup"};
  auto c = connect();
  send(c, frame("0", "0", "bench:dup", "phx_join", json::object{}));
  std::set<int64_t> seen;
  int64_t dups = 0;
  auto take = [&](const json::value& f) {
    if (is_event(f, "tick"))
      if (!seen.insert(f.as_array()[4].at("seq").as_int64()).second)
        ++dups;
  };
  // Reads up to the reply of join `jr`, then to the old join's phx_close.
  auto await_join = [&](int jr, bool replaced) {
    auto ref = json::value(std::to_string(jr));
    for (;;) {
      auto f = next(c);
      take(f);
      if (is_event(f, "phx_reply") && f.as_array()[1] == ref)
        break;
      BOOST_REQUIRE_MESSAGE(!is_event(f, "phx_close"),
                            "phx_close before the new join's reply: " << f);
    }
    if (!replaced)
      return;
    auto old = json::value(std::to_string(jr - 1));
    for (;;) {
      auto f = next(c);
      take(f);
      if (is_event(f, "phx_close")) {
        BOOST_REQUIRE(f.as_array()[0] == old);
        return;
      }
    }
  };
  // Every round replaces a join that broadcasts are reaching.
  auto await_tick = [&] {
    for (;;) {
      auto f = next(c);
      take(f);
      if (is_event(f, "tick"))
        return;
    }
  };
  await_join(0, false);
  await_tick();
  for (int i = 1; i <= rounds; ++i) {
    auto jr = json::value(std::to_string(i));
    send(c, frame(jr, jr, "bench:dup", "phx_join", json::object{}));
    await_join(i, true);
    await_tick();
  }
  pub.stop();
  // Drain what is on its way: a final heartbeat's reply comes after it.
  send(c, frame(nullptr, "hb", "phoenix", "heartbeat", json::object{}));
  for (;;) {
    auto f = next(c);
    if (is_event(f, "phx_reply") && f.as_array()[1] == "hb")
      break;
    take(f);
  }
  BOOST_TEST(dups == 0);
  BOOST_TEST(seen.size() > static_cast<size_t>(rounds));
}

BOOST_AUTO_TEST_SUITE_END()
