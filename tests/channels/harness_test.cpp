// The in-process channel harness (channels/testing) against a channel that
// uses every callback: what a test sees through it, and that its
// assertions fail when they should.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <caf/all.hpp>

#include "actors/system.hpp"
#include "actors/tree.hpp"
#include "channels/testing/channel_test.hpp"
#include "tests/channels/harness_channel.hpp"
#include "tests/common/printers.hpp"

using namespace fenix;
using namespace fenix::channels;
using namespace std::chrono_literals;
namespace json = boost::json;
using testing::channel_test;
using testing::failure;
using testing::frame_kind;
using testing::pattern;

namespace {

struct fixture {
  channel_test t{std::make_shared<test::harness_socket>()};
};

/// Runs `f`, which must throw `failure`; returns its message.
template <class F>
std::string failure_of(F&& f) {
  try {
    f();
  } catch (const failure& e) {
    return e.what();
  }
  BOOST_FAIL("no testing::failure thrown");
  return {};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(harness_suite, fixture)

BOOST_AUTO_TEST_CASE(join_ok_error_crash_and_unmatched) {
  auto s = t.connect();
  auto ok = t.join(s, "room:a");
  BOOST_TEST(ok.ok());
  BOOST_TEST(ok.value() == (json::object{{"joined", "room:a"}}));
  BOOST_TEST(ok.join_ref == ok.ref); // as phoenix.js sends it
  auto refused = t.join(s, "room:x", json::object{{"fail", "yes"}});
  BOOST_TEST(refused.status == "error");
  BOOST_TEST(refused.value() == (json::object{{"reason", "refused"}}));
  auto crashed = t.join(s, "room:y", json::object{{"crash", "yes"}});
  BOOST_TEST(crashed.status == "error");
  BOOST_TEST(crashed.value() == (json::object{{"reason", "join crashed"}}));
  auto unmatched = t.join(s, "other:x");
  BOOST_TEST(unmatched.status == "error");
  BOOST_TEST(unmatched.join_ref.is_null());
  BOOST_TEST(unmatched.value() ==
             (json::object{{"reason", "unmatched topic"}}));
  // A refused topic is not joined.
  auto ref = t.push(s, "room:x", "ping");
  t.assert_reply(ref, "error", json::object{{"reason", "unmatched topic"}});
}

BOOST_AUTO_TEST_CASE(replies_carry_the_ref_and_join_ref) {
  auto s = t.connect();
  auto j = t.join(s, "room:a");
  auto ref = t.push(s, "room:a", "ping", json::object{{"x", 1}});
  auto r = t.assert_reply(ref, "ok", json::object{{"x", 1}});
  BOOST_TEST(r.join_ref == j.join_ref);
  BOOST_TEST(r.topic == "room:a");
  BOOST_TEST(r.wire ==
             json::serialize(json::array{
                 j.join_ref, ref, "room:a", "phx_reply",
                 json::object{{"status", "ok"},
                              {"response", json::object{{"x", 1}}}}}));
  // noreply: nothing comes back
  auto quiet = t.push(s, "room:a", "nothing");
  t.refute_reply(quiet);
  // asynchronous reply through a socket_ref
  auto later = t.push(s, "room:a", "later");
  t.assert_reply(later, "ok", json::object{{"async", true}});
}

BOOST_AUTO_TEST_CASE(handle_info_pushes_after_the_join_reply) {
  auto s = t.connect();
  auto j = t.join(s, "room:g", json::object{{"greet", "yes"}});
  auto w = t.assert_push("welcome", json::object{{"topic", "room:g"}});
  BOOST_TEST(w.seq > j.seq);
  BOOST_TEST((w.kind == frame_kind::push));
  BOOST_TEST(w.join_ref == j.join_ref);
  BOOST_TEST(w.ref.is_null());
  // typed clauses with arguments, from outside the channel
  t.send_info(s, "room:g", test::tick_atom::value, 7);
  t.assert_push(s, "tick", json::object{{"n", 7}});
}

BOOST_AUTO_TEST_CASE(handle_call_answers_requests) {
  auto s = t.connect(json::object{{"user", "ada"}});
  t.join(s, "room:a");
  for (int i = 1; i <= 3; ++i)
    t.assert_reply(t.push(s, "room:a", "count"), "ok", json::object{{"n", i}});
  BOOST_TEST(t.call<int>(s, "room:a", caf::get_atom::value) == 3);
  BOOST_TEST(t.call<std::string>(s, "room:a", caf::get_atom::value,
                                 std::string{"user"}) == "ada");
  // no handle_call clause for it: the requester gets an error
  auto msg =
      failure_of([&] { t.call<int>(s, "room:a", caf::put_atom::value); });
  BOOST_TEST(contains(msg, "room:a"));
}

BOOST_AUTO_TEST_CASE(broadcasts_reach_every_subscriber) {
  auto a = t.connect();
  auto b = t.connect();
  t.subscribe_and_join(a, "room:b");
  t.join(b, "room:b");
  t.push(a, "room:b", "shout", json::object{{"m", 1}});
  auto seen = t.assert_broadcast("room:b", "shout", json::object{{"m", 1}});
  BOOST_TEST(seen.value() == (json::object{{"m", 1}}));
  for (auto* s : {&a, &b}) {
    auto f = t.assert_push(*s, "shout", json::object{{"m", 1}});
    BOOST_TEST((f.kind == frame_kind::broadcast));
    BOOST_TEST(f.join_ref.is_null());
  }
  // broadcast_from: everyone but the sender
  t.push(a, "room:b", "others", json::object{{"m", 2}});
  t.assert_push(b, "others", json::object{{"m", 2}});
  t.assert_broadcast("room:b", "others");
  t.refute_push(a, "others");
}

BOOST_AUTO_TEST_CASE(intercepted_events_go_through_handle_out) {
  auto a = t.connect();
  auto b = t.connect();
  auto ja = t.subscribe_and_join(a, "room:i");
  auto jb = t.join(b, "room:i");
  t.push(a, "room:i", "secret", json::object{{"m", 2}});
  // PubSub carries the original; each channel pushes its own version
  t.assert_broadcast("room:i", "secret", pattern::exactly({{"m", 2}}));
  for (auto [s, jr] :
       {std::pair{&a, ja.join_ref}, std::pair{&b, jb.join_ref}}) {
    auto f = t.assert_push(*s, "secret",
                           pattern::exactly({{"m", 2}, {"out", true}}));
    BOOST_TEST((f.kind == frame_kind::push));
    BOOST_TEST(f.join_ref == jr);
  }
}

BOOST_AUTO_TEST_CASE(leave_replies_then_closes) {
  auto s = t.connect();
  auto j = t.join(s, "room:bye");
  auto r = t.leave(s, "room:bye");
  BOOST_TEST(r.ok());
  auto closed = t.assert_push(s, "phx_close");
  BOOST_TEST(closed.seq > r.seq);
  BOOST_TEST(closed.join_ref == j.join_ref);
  BOOST_TEST(closed.ref == j.join_ref);
  // terminate runs after the close and may still push
  auto bye = t.assert_push(s, "you_left");
  BOOST_TEST(bye.seq > closed.seq);
  auto ref = t.push(s, "room:bye", "ping");
  t.assert_reply(ref, "error", json::object{{"reason", "unmatched topic"}});
}

BOOST_AUTO_TEST_CASE(crashes_become_phx_error_and_stay_in_their_topic) {
  auto s = t.connect();
  auto j = t.join(s, "room:c");
  t.join(s, "room:other");
  t.push(s, "room:c", "crash");
  auto e =
      t.assert_push("phx_error", json::object{{"reason", "channel_crash"}});
  BOOST_TEST(e.topic == "room:c");
  BOOST_TEST(e.ref == j.join_ref);
  t.assert_reply(t.push(s, "room:other", "ping"), "ok");
  // a handle_info clause that throws crashes the channel the same way
  t.send_info(s, "room:other", test::crash_atom::value);
  t.assert_push("phx_error", json::object{{"reason", "channel_crash"}});
  BOOST_TEST(t.heartbeat(s).ok());
}

BOOST_AUTO_TEST_CASE(close_ends_the_connection_and_its_channels) {
  auto s = t.connect();
  t.join(s, "room:a");
  t.join(s, "room:b");
  auto chan = t.channel_actor(s, "room:a");
  t.close(s);
  auto why = t.assert_closed(s);
  BOOST_TEST(why.code == 1000);
  BOOST_TEST((why.by == transport::closed_by::client));
  // close returned after the channels ended: a request finds nobody
  auto msg =
      failure_of([&] { t.call<int>(s, "room:a", caf::get_atom::value); });
  BOOST_TEST(contains(msg, "failed"));
  caf::scoped_actor self{t.system().sys()};
  self->monitor(chan);
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; }, caf::after(0s) >> [] {});
  BOOST_TEST(down);
}

BOOST_AUTO_TEST_CASE(refused_connects) {
  BOOST_TEST(!t.try_connect({{"token", "bad"}}));
  BOOST_TEST(!t.try_connect({{"vsn", "3.0.0"}}));
  BOOST_TEST(contains(failure_of([&] {
                        t.connect({{"token", "bad"}});
                      }),
                      "refused"));
  BOOST_TEST(t.try_connect({{"token", "good"}}).has_value());
}

BOOST_AUTO_TEST_CASE(binary_payloads_round_trip) {
  auto s = t.connect();
  t.join(s, "echo");
  auto ref = t.push_binary(s, "echo", "bytes", std::string{"\x01\x02\x03", 3});
  auto r = t.assert_reply(ref, "ok");
  BOOST_TEST(r.binary);
  BOOST_TEST(std::get<binary_payload>(r.payload).bytes ==
             std::string("\x01\x02\x03", 3));
  BOOST_CHECK_THROW(r.value(), failure);
}

BOOST_AUTO_TEST_CASE(connections_and_channels_live_in_the_harness_tree) {
  auto s = t.connect();
  t.join(s, "room:t");
  auto chan = t.channel_actor(s, "room:t");
  auto snap = t.system().tree().snapshot(t.supervisor().id());
  BOOST_REQUIRE(snap);
  auto conn = snap->find("connection #" + std::to_string(s.connection().id()));
  BOOST_REQUIRE(conn);
  BOOST_TEST(conn->kind == "connection");
  BOOST_TEST(conn->details.at("protocol") == "phoenix");
  BOOST_TEST(conn->details.at("serializer") == "2.0.0");
  BOOST_TEST(conn->details.at("topics") == (json::array{"room:t"}));
  auto ch = snap->find("room:t");
  BOOST_REQUIRE(ch);
  BOOST_TEST(ch->id == chan.id());
  BOOST_TEST(ch->details.at("connection").to_number<caf::actor_id>() ==
             s.connection().id());
}

BOOST_AUTO_TEST_SUITE_END()

// -- the harness reports what went wrong -------------------------------------

BOOST_FIXTURE_TEST_SUITE(harness_failure_suite, fixture)

BOOST_AUTO_TEST_CASE(assert_push_times_out_and_lists_the_frames) {
  auto s = t.connect();
  t.join(s, "room:a", json::object{{"greet", "yes"}});
  auto start = std::chrono::steady_clock::now();
  auto msg = failure_of([&] { t.assert_push("nope", {}, 50ms); });
  auto waited = std::chrono::steady_clock::now() - start;
  BOOST_TEST(waited >= 50ms);
  BOOST_TEST(contains(msg, "assert_push(\"nope\""));
  BOOST_TEST(contains(msg, "50 ms"));
  // the unclaimed welcome push is listed; the taken join reply is not
  BOOST_TEST(contains(msg, "\"welcome\""));
  BOOST_TEST(!contains(msg, "phx_reply"));
  // a payload that does not match is no match either
  msg = failure_of([&] {
    t.assert_push("welcome", json::object{{"topic", "room:b"}}, 50ms);
  });
  BOOST_TEST(contains(msg, "{\"topic\":\"room:b\"}"));
  t.assert_push("welcome");
  // a frame is taken once
  BOOST_CHECK_THROW(t.assert_push("welcome", {}, 50ms), failure);
  BOOST_TEST(t.frames().size() == 2u);
  BOOST_TEST(contains(t.dump(), "taken"));
}

BOOST_AUTO_TEST_CASE(assert_reply_checks_status_and_response) {
  auto s = t.connect();
  t.join(s, "room:a");
  auto ref = t.push(s, "room:a", "ping", json::object{{"x", 1}});
  auto msg = failure_of([&] { t.assert_reply(ref, "error"); });
  BOOST_TEST(contains(msg, "phx_reply"));
  ref = t.push(s, "room:a", "ping", json::object{{"x", 1}});
  BOOST_CHECK_THROW(t.assert_reply(ref, "ok", json::object{{"x", 2}}), failure);
  ref = t.push(s, "room:a", "ping", json::object{{"x", 1}});
  BOOST_CHECK_THROW(t.assert_reply(ref, "ok", pattern::exactly(json::object{})),
                    failure);
  auto quiet = t.push(s, "room:a", "nothing");
  BOOST_CHECK_THROW(t.assert_reply(quiet, "ok", {}, 50ms), failure);
  // refute_reply fails when the reply is there
  ref = t.push(s, "room:a", "ping");
  BOOST_CHECK_THROW(t.refute_reply(ref, 1s), failure);
}

BOOST_AUTO_TEST_CASE(refutes_fail_on_what_arrives) {
  auto s = t.connect();
  t.subscribe_and_join(s, "room:a");
  t.push(s, "room:a", "shout", json::object{{"m", 1}});
  BOOST_CHECK_THROW(t.refute_push("shout", {}, 1s), failure);
  BOOST_CHECK_THROW(t.refute_broadcast("room:a", "shout", {}, 1s), failure);
  // another payload is not refuted
  t.refute_push("shout", json::object{{"m", 2}});
  t.refute_broadcast("room:a", "shout", json::object{{"m", 2}});
}

BOOST_AUTO_TEST_CASE(broadcasts_need_a_subscription) {
  auto s = t.connect();
  t.join(s, "room:a");
  auto msg = failure_of([&] { t.assert_broadcast("room:a", "shout"); });
  BOOST_TEST(contains(msg, "not subscribed"));
  t.subscribe("room:a");
  t.push(s, "room:a", "shout", json::object{{"m", 1}});
  t.assert_broadcast("room:a", "shout");
  t.unsubscribe("room:a");
  t.push(s, "room:a", "shout", json::object{{"m", 2}});
  t.assert_push(s, "shout", json::object{{"m", 2}});
  BOOST_TEST(t.broadcasts().size() == 1u);
}

BOOST_AUTO_TEST_CASE(channel_actor_needs_a_joined_topic) {
  auto s = t.connect();
  t.join(s, "room:x", json::object{{"fail", "yes"}});
  auto msg = failure_of([&] { t.channel_actor(s, "room:x", 50ms); });
  BOOST_TEST(contains(msg, "no channel on \"room:x\""));
}

BOOST_AUTO_TEST_CASE(patterns_match_like_elixir_map_patterns) {
  using testing::subset_match;
  json::value actual{{"a", 1}, {"b", {{"c", 2}, {"d", 3}}}, {"l", {1, 2}}};
  BOOST_TEST(subset_match(json::object{}, actual));
  BOOST_TEST(subset_match(json::value{{"a", 1}}, actual));
  BOOST_TEST(subset_match(json::value{{"b", {{"c", 2}}}}, actual));
  BOOST_TEST(!subset_match(json::value{{"a", 2}}, actual));
  BOOST_TEST(!subset_match(json::value{{"z", 1}}, actual));
  BOOST_TEST(subset_match(json::value{{"l", {1, 2}}}, actual));
  BOOST_TEST(!subset_match(json::value{{"l", {1}}}, actual));
  BOOST_TEST(!subset_match(json::value(1), json::value("1")));
  BOOST_TEST(subset_match(json::array{json::object{{"k", 1}}},
                          json::array{json::object{{"k", 1}, {"x", 0}}}));
  BOOST_TEST(pattern{}.matches(message_payload{binary_payload{"x"}}));
  BOOST_TEST(
      !pattern{json::object{}}.matches(message_payload{binary_payload{"x"}}));
  BOOST_TEST(!pattern::exactly(json::object{}).matches(actual));
  auto even = pattern::where(
      [](const json::value& v) { return v.at("a").as_int64() % 2 == 0; },
      "a is even");
  BOOST_TEST(!even.matches(actual));
  BOOST_TEST(even.describe() == "a is even");
}

BOOST_AUTO_TEST_SUITE_END()

// -- the example of docs/channels.md ("Testing a channel") -----------------------

namespace {

using after_join_atom = caf::atom_constant<caf::atom("afterjoin")>;

class counter_channel : public channel {
public:
  join_result join(const std::string& topic, const json::value& params,
                   socket& s) override {
    if (payload_field(params, "user").empty())
      return join_result::error({{"reason", "user required"}});
    s.assigns()["user"] = payload_field(params, "user");
    s.self()->send(s.self(), after_join_atom::value);
    return join_result::ok({{"topic", topic}});
  }

  in_result handle_in(const std::string& event, const payload& p,
                      socket& s) override {
    if (event == "incr")
      return in_result::ok(json::object{{"n", ++n_}});
    if (event == "shout") {
      s.broadcast("shout", p);
      return in_result::noreply();
    }
    return channel::handle_in(event, p, s); // crash: phx_error
  }

  caf::message_handler handle_info(socket& s) override {
    return {[&s](after_join_atom) {
      s.push("welcome", json::object{{"user", s.assign_string("user")}});
    }};
  }

  caf::message_handler handle_call(socket&) override {
    return {[this](caf::get_atom) { return n_; }};
  }

private:
  int n_ = 0;
};

struct counter_socket : user_socket {
  counter_socket() { channel<counter_channel>("counter:*"); }
  std::optional<json::object> connect(const transport::params&,
                                      const transport::connect_info&) override {
    return json::object{};
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(docs_example_counter_channel) {
  testing::channel_test t{std::make_shared<counter_socket>()};
  auto s = t.connect();
  auto refused = t.join(s, "counter:a");
  BOOST_TEST(refused.status == "error");
  BOOST_TEST(refused.value() == (json::object{{"reason", "user required"}}));

  BOOST_TEST(t.subscribe_and_join(s, "counter:a", {{"user", "ada"}}).ok());
  t.assert_push("welcome", json::object{{"user", "ada"}});

  auto ref = t.push(s, "counter:a", "incr");
  t.assert_reply(ref, "ok", json::object{{"n", 1}});
  BOOST_TEST(t.call<int>(s, "counter:a", caf::get_atom::value) == 1);

  t.push(s, "counter:a", "shout", {{"hi", true}});
  t.assert_broadcast("counter:a", "shout", json::object{{"hi", true}});
  t.assert_push("shout", json::object{{"hi", true}});

  t.push(s, "counter:a", "nope");
  t.assert_push("phx_error", json::object{{"reason", "channel_crash"}});
}
