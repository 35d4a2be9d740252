// Channels as actors: typed handle_info clauses, handle_call, DOWN and EXIT
// of the channel's own monitors and links, unmatched messages, and the
// channel server's hooks guarded against user code.

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <caf/all.hpp>

#include "actors/metrics.hpp"
#include "channels/channel.hpp"
#include "channels/socket.hpp"
#include "tests/channels/phoenix_fixture.hpp"

using namespace fenix;
using namespace fenix::channels;
using namespace std::chrono_literals;
namespace json = boost::json;
using fenix::test::raw_client;

namespace {

using after_join_atom = caf::atom_constant<caf::atom("afterjoin")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using quit_atom = caf::atom_constant<caf::atom("quit")>;

/// The channel actor of the last join, for requests from the test.
std::mutex last_mtx;
caf::actor last_channel;

caf::actor take_last_channel() {
  std::lock_guard<std::mutex> guard{last_mtx};
  return std::exchange(last_channel, caf::actor{});
}

int64_t int_field(const payload& p, const char* key) {
  if (auto v = std::get_if<json::value>(&p))
    if (auto o = v->if_object())
      if (auto x = o->if_contains(key); x && x->is_number())
        return x->to_number<int64_t>();
  return 0;
}

/// Links `self` to a helper that fails at once.
void link_failing_helper(caf::event_based_actor* self) {
  auto helper = self->spawn([](caf::event_based_actor* h, int) -> caf::behavior {
    return {[h](quit_atom) {
      h->quit(caf::make_error(caf::sec::runtime_error, "helper failed"));
    }};
  }, 0); // an argument: CAF 0.17 derefs a null tuple for none (UBSan)
  self->link_to(helper);
  self->send(helper, quit_atom::value);
}

class actor_channel : public channel {
public:
  join_result join(const std::string&, const json::value&, socket& s) override {
    {
      std::lock_guard<std::mutex> guard{last_mtx};
      last_channel = caf::actor_cast<caf::actor>(s.self());
    }
    s.self()->send(s.self(), after_join_atom::value);
    return join_result::ok();
  }

  caf::message_handler handle_info(socket& s) override {
    return {
      [&s](after_join_atom) -> info_result {
        s.push("after_join", json::object{});
        return info_result::noreply();
      },
      [this, &s](tick_atom, int n) -> info_result {
        ticks_ += n;
        s.push("tick", json::object{{"n", n}, {"total", ticks_}});
        return info_result::noreply();
      },
      // A clause that returns nothing is a noreply.
      [&s](const std::string& text) {
        s.push("text", json::object{{"text", text}});
      },
      [&s](caf::down_msg& dm) -> info_result {
        s.push("down", json::object{{"normal", !dm.reason}});
        return info_result::noreply();
      },
      [&s](caf::exit_msg& em) -> info_result {
        s.push("exit", json::object{{"reason", s.self()->system().render(
                                                 em.reason)}});
        return info_result::noreply();
      },
      [&s](broadcast_atom, const broadcast_msg& msg) -> info_result {
        s.push("extra", json::object{{"topic", msg.topic},
                                     {"event", msg.event}});
        return info_result::noreply();
      },
      [](quit_atom) -> info_result {
        return info_result::stop(stop_reason::shutdown("asked"));
      },
    };
  }

  caf::message_handler handle_call(socket&) override {
    return {
      [this](caf::get_atom) { return ticks_; },
      [this](caf::put_atom, int n) {
        ticks_ = n;
        return std::string{"set"};
      },
    };
  }

  in_result handle_in(const std::string& event, const payload& p,
                      socket& s) override {
    auto self = s.self();
    if (event == "ping")
      return in_result::ok(p);
    if (event == "tick") {
      self->send(self, tick_atom::value, static_cast<int>(int_field(p, "n")));
      return in_result::noreply();
    }
    if (event == "text") {
      self->send(self, std::string{"hello"});
      return in_result::noreply();
    }
    if (event == "unmatched") {
      self->send(self, 3.5); // no clause takes a double
      return in_result::noreply();
    }
    if (event == "watch") {
      // A helper that ends when told: its DOWN reaches handle_info.
      auto helper = self->spawn([](caf::event_based_actor* h, int) -> caf::behavior {
        return {[h](quit_atom) { h->quit(); }};
      }, 0); // an argument: CAF 0.17 derefs a null tuple for none (UBSan)
      self->monitor(helper);
      self->send(helper, quit_atom::value);
      return in_result::noreply();
    }
    if (event == "link") {
      // A linked helper that crashes: the channel traps the exit.
      link_failing_helper(self);
      return in_result::noreply();
    }
    if (event == "subscribe") {
      s.subscribe("extra:" + payload_field(p, "name"));
      return in_result::ok();
    }
    if (event == "quit_later") {
      self->send(self, quit_atom::value);
      return in_result::noreply();
    }
    if (event == "become") {
      self->become([](int) {});
      return in_result::noreply();
    }
    if (event == "set_down_handler") {
      self->set_down_handler([](caf::down_msg&) {});
      return in_result::noreply();
    }
    return channel::handle_in(event, p, s);
  }

private:
  int ticks_ = 0;
};

/// A channel that traps nothing itself: a linked crash kills it.
class plain_channel : public channel {
public:
  join_result join(const std::string&, const json::value&, socket&) override {
    return join_result::ok();
  }

  in_result handle_in(const std::string& event, const payload& p,
                      socket& s) override {
    if (event == "link") {
      link_failing_helper(s.self());
      return in_result::noreply();
    }
    return in_result::ok(p);
  }
};

class actor_socket : public user_socket {
public:
  actor_socket() {
    channel<actor_channel>("actor:*");
    channel<plain_channel>("plain:*");
  }

  std::optional<json::object> connect(const transport::params&,
                                      const transport::connect_info&) override {
    return json::object{};
  }
};

using fixture = fenix::test::phoenix_fixture<actor_socket>;

json::value push_frame(const std::string& topic, const std::string& event,
                       json::value payload) {
  return fixture::frame("1", nullptr, topic, event, std::move(payload));
}

/// Joins `topic` (join_ref "1") and reads the after_join push if any.
void join_actor(raw_client& c, const std::string& topic) {
  fixture::send(c, fixture::frame("1", "1", topic, "phx_join",
                                  json::object{}));
  BOOST_TEST(fixture::next(c)
             == fixture::reply("1", "1", topic, "ok", json::object{}));
}

int64_t counter_value(const char* name) {
  for (auto& m : metrics::global().collect())
    if (m.name == name)
      return m.value;
  return 0;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(channel_actor_suite, fixture)

BOOST_AUTO_TEST_CASE(typed_handle_info_clauses_with_arguments) {
  auto c = connect();
  join_actor(c, "actor:1");
  BOOST_TEST(next(c) == push_frame("actor:1", "after_join", json::object{}));
  send(c, frame("1", "2", "actor:1", "tick", json::object{{"n", 4}}));
  BOOST_TEST(next(c) == push_frame("actor:1", "tick",
                                   json::object{{"n", 4}, {"total", 4}}));
  send(c, frame("1", "3", "actor:1", "tick", json::object{{"n", 3}}));
  BOOST_TEST(next(c) == push_frame("actor:1", "tick",
                                   json::object{{"n", 3}, {"total", 7}}));
  send(c, frame("1", "4", "actor:1", "text", json::object{}));
  BOOST_TEST(next(c)
             == push_frame("actor:1", "text", json::object{{"text", "hello"}}));
}

BOOST_AUTO_TEST_CASE(unmatched_messages_are_dropped_and_counted) {
  auto c = connect();
  join_actor(c, "actor:2");
  next(c); // after_join
  auto before = counter_value("fenix_channel_unhandled_messages_total");
  send(c, frame("1", "2", "actor:2", "unmatched", json::object{}));
  // The channel lives on: the next event is answered, after the drop.
  send(c, frame("1", "3", "actor:2", "ping", json::object{{"x", 1}}));
  BOOST_TEST(next(c)
             == reply("1", "3", "actor:2", "ok", json::object{{"x", 1}}));
  BOOST_TEST(counter_value("fenix_channel_unhandled_messages_total")
             == before + 1);
}

BOOST_AUTO_TEST_CASE(handle_call_answers_requests) {
  auto c = connect();
  join_actor(c, "actor:3");
  next(c); // after_join: the join ran, the handle is set
  auto chan = take_last_channel();
  BOOST_REQUIRE(chan);
  send(c, frame("1", "2", "actor:3", "tick", json::object{{"n", 5}}));
  next(c);
  caf::scoped_actor self{sys};
  int got = -1;
  self->request(chan, 5s, caf::get_atom::value)
    .receive([&](int n) { got = n; },
             [&](caf::error& e) { BOOST_FAIL(sys.sys().render(e)); });
  BOOST_TEST(got == 5);
  std::string answer;
  self->request(chan, 5s, caf::put_atom::value, 42)
    .receive([&](const std::string& s) { answer = s; },
             [&](caf::error& e) { BOOST_FAIL(sys.sys().render(e)); });
  BOOST_TEST(answer == "set");
  self->request(chan, 5s, caf::get_atom::value)
    .receive([&](int n) { got = n; },
             [&](caf::error& e) { BOOST_FAIL(sys.sys().render(e)); });
  BOOST_TEST(got == 42);
  // A request no clause takes gets an error, and the channel lives on.
  bool refused = false;
  self->request(chan, 5s, 1.5)
    .receive([&](const caf::message&) {},
             [&](caf::error& e) {
               refused = e == caf::sec::unexpected_message;
             });
  BOOST_TEST(refused);
  send(c, frame("1", "3", "actor:3", "ping", json::object{}));
  BOOST_TEST(next(c) == reply("1", "3", "actor:3", "ok", json::object{}));
}

BOOST_AUTO_TEST_CASE(down_and_exit_of_the_channels_own_actors_reach_it) {
  auto c = connect();
  join_actor(c, "actor:4");
  next(c);
  send(c, frame("1", "2", "actor:4", "watch", json::object{}));
  BOOST_TEST(next(c)
             == push_frame("actor:4", "down", json::object{{"normal", true}}));
  send(c, frame("1", "3", "actor:4", "link", json::object{}));
  auto exit = next(c);
  BOOST_TEST(exit.as_array()[3] == "exit");
  BOOST_TEST(std::string_view{exit.as_array()[4].at("reason").as_string()}
               .find("helper failed")
             != std::string_view::npos);
  // Still joined.
  send(c, frame("1", "4", "actor:4", "ping", json::object{}));
  BOOST_TEST(next(c) == reply("1", "4", "actor:4", "ok", json::object{}));
}

BOOST_AUTO_TEST_CASE(an_unhandled_linked_crash_kills_the_channel) {
  auto c = connect();
  join_actor(c, "plain:1");
  send(c, frame("1", "2", "plain:1", "link", json::object{}));
  BOOST_TEST(next(c) == frame("1", "1", "plain:1", "phx_error",
                              json::object{{"reason", "channel_crash"}}));
}

BOOST_AUTO_TEST_CASE(info_clauses_may_stop_the_channel) {
  auto c = connect();
  join_actor(c, "actor:5");
  next(c);
  send(c, frame("1", "2", "actor:5", "quit_later", json::object{}));
  BOOST_TEST(next(c) == frame("1", "1", "actor:5", "phx_close", json::object{}));
}

BOOST_AUTO_TEST_CASE(extra_subscriptions_deliver_to_handle_info) {
  auto c = connect();
  join_actor(c, "actor:6");
  next(c);
  send(c, frame("1", "2", "actor:6", "subscribe", json::object{{"name", "a"}}));
  BOOST_TEST(next(c) == reply("1", "2", "actor:6", "ok", json::object{}));
  // The subscribe message to the shard left before the reply: a broadcast
  // published after the reply reaches the channel.
  ps.broadcast("extra:a", "news", make_payload(json::object{}));
  BOOST_TEST(next(c) == push_frame("actor:6", "extra",
                                   json::object{{"topic", "extra:a"},
                                                {"event", "news"}}));
}

BOOST_AUTO_TEST_CASE(become_or_replaced_hooks_crash_the_channel_loudly) {
  for (auto event : {"become", "set_down_handler"}) {
    auto c = connect();
    join_actor(c, "actor:7");
    next(c);
    send(c, frame("1", "2", "actor:7", event, json::object{}));
    BOOST_TEST(next(c) == frame("1", "1", "actor:7", "phx_error",
                                json::object{{"reason", "channel_crash"}}),
               event);
  }
}

BOOST_AUTO_TEST_SUITE_END()
