// The Phoenix socket's protocol behaviour (protocol.md 2.4-2.17) through
// the in-process harness: the real socket handler, channel servers and
// PubSub, without a network. What depends on the transport itself (frames
// written by the real outbound queue, fan-out to real connections, HTTP
// refusals, transport details in the tree) stays in phoenix_test.cpp.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <caf/all.hpp>

#include "channels/testing/channel_test.hpp"
#include "tests/channels/harness_channel.hpp"
#include "tests/common/printers.hpp"

using namespace fenix;
using namespace fenix::channels;
using namespace std::chrono_literals;
namespace json = boost::json;
using testing::channel_test;
using testing::frame_kind;
using testing::pattern;

namespace {

struct fixture {
  channel_test t{std::make_shared<test::harness_socket>()};
};

/// A hand-made V2 client frame.
std::string frame(json::value jr, json::value r, const std::string& topic,
                  const std::string& event,
                  json::value payload = json::object{}) {
  return json::serialize(
      json::array{jr, r, json::value(topic), json::value(event), payload});
}

const json::object unmatched{{"reason", "unmatched topic"}};

} // namespace

BOOST_FIXTURE_TEST_SUITE(phoenix_inproc_suite, fixture)

BOOST_AUTO_TEST_CASE(heartbeat_and_unmatched_topics) {
  auto s = t.connect();
  auto hb = t.heartbeat(s);
  BOOST_TEST(hb.ok());
  BOOST_TEST(hb.topic == "phoenix");
  BOOST_TEST(hb.join_ref.is_null());
  BOOST_TEST(hb.value() == json::object{});
  auto j = t.join(s, "other:x");
  BOOST_TEST(j.status == "error");
  BOOST_TEST(j.value() == unmatched);
  BOOST_TEST(j.join_ref.is_null());
  auto r = t.assert_reply(t.push(s, "room:never", "ping"), "error",
                          pattern::exactly(unmatched));
  BOOST_TEST(r.join_ref.is_null());
  // a leave of an unjoined topic is answered ok, join_ref echoed
  auto ref = t.make_ref();
  t.send_text(s, frame("3", ref, "room:never", "phx_leave"));
  auto l = t.assert_reply(ref, "ok", pattern::exactly(json::object{}));
  BOOST_TEST(l.join_ref == "3");
}

BOOST_AUTO_TEST_CASE(replies_keep_order_and_refs_are_opaque) {
  auto s = t.connect();
  auto j = t.join(s, "room:a");
  std::vector<json::value> refs;
  for (int i = 0; i < 50; ++i)
    refs.push_back(t.push(s, "room:a", "count"));
  auto last = j.seq;
  for (int i = 0; i < 50; ++i) {
    auto r = t.assert_reply(refs[i], "ok", json::object{{"n", i + 1}});
    BOOST_TEST(r.seq > last);
    last = r.seq;
  }
  // null join_ref accepted; refs are echoed as sent, numbers too
  t.send_text(s, frame(nullptr, 42, "room:a", "ping", json::object{{"x", 1}}));
  auto r = t.assert_reply(42, "ok", pattern::exactly({{"x", 1}}));
  BOOST_TEST(r.join_ref == j.join_ref);
  // stale join_ref: dropped, no reply
  auto stale = t.make_ref();
  t.send_text(s, frame("stale", stale, "room:a", "ping"));
  t.refute_reply(stale);
}

BOOST_AUTO_TEST_CASE(
    a_channel_that_dies_in_its_join_fails_it_and_frames_queue) {
  // The socket holds this connection's later frames while a join runs
  // (Phoenix's socket process blocks in it). A channel that dies before it
  // answers must fail the join at once, by its DOWN, and release them in
  // order.
  auto s = t.connect();
  auto r1 = t.make_ref();
  auto r2 = t.make_ref();
  auto r3 = t.make_ref();
  auto r4 = t.make_ref();
  t.send_text(s, frame(r1, r1, "room:d", "phx_join", {{"die", "yes"}}));
  t.send_text(s, frame(nullptr, r2, "phoenix", "heartbeat"));
  t.send_text(s, frame(r3, r3, "room:e", "phx_join"));
  t.send_text(s, frame(r3, r4, "room:e", "ping", {{"n", 4}}));
  auto died =
      t.assert_reply(r1, "error", json::object{{"reason", "join crashed"}});
  auto hb = t.assert_reply(r2, "ok");
  auto joined = t.assert_reply(r3, "ok", json::object{{"joined", "room:e"}});
  auto ping = t.assert_reply(r4, "ok", json::object{{"n", 4}});
  BOOST_TEST(died.seq < hb.seq);
  BOOST_TEST(hb.seq < joined.seq);
  BOOST_TEST(joined.seq < ping.seq);
  // the failed topic is not joined
  t.assert_reply(t.push(s, "room:d", "ping"), "error", unmatched);
}

BOOST_AUTO_TEST_CASE(duplicate_join_replies_then_closes_the_old_one) {
  auto s = t.connect();
  auto first = t.join(s, "room:d");
  auto second = t.join(s, "room:d");
  BOOST_TEST(second.ok());
  auto closed = t.assert_push(s, "phx_close");
  BOOST_TEST(closed.join_ref == first.join_ref);
  BOOST_TEST(closed.seq > second.seq);
  auto r = t.assert_reply(t.push(s, "room:d", "ping"), "ok");
  BOOST_TEST(r.join_ref == second.join_ref);
}

BOOST_AUTO_TEST_CASE(stop_with_a_reply_then_phx_close) {
  auto s = t.connect();
  auto j = t.join(s, "room:s");
  auto r = t.assert_reply(t.push(s, "room:s", "stop"), "ok");
  auto closed = t.assert_push(s, "phx_close", pattern::exactly(json::object{}));
  BOOST_TEST(closed.seq > r.seq);
  BOOST_TEST(closed.ref == j.join_ref);
  t.refute_push(s, "phx_error");
}

BOOST_AUTO_TEST_CASE(transient_channels_restart_invisibly) {
  auto s = t.connect();
  auto j = t.join(s, "safe:1");
  t.assert_reply(t.push(s, "safe:1", "count"), "ok", json::object{{"n", 1}});
  auto chan = t.channel_actor(s, "safe:1");
  // Events that reach the dying channel are lost (in flight); once its
  // supervisor restarted it and it rejoined, the connection routes to the
  // new one.
  for (int restart = 1; restart <= 2; ++restart) {
    t.push(s, "safe:1", "crash");
    chan = t.await_restart(s, "safe:1", chan);
    // the server rejoined with the original payload: state is fresh, the
    // join_ref unchanged, no phx_error
    auto r = t.assert_reply(t.push(s, "safe:1", "count"), "ok",
                            json::object{{"n", 1}});
    BOOST_TEST(r.join_ref == j.join_ref);
  }
  t.refute_push(s, "phx_error");
  // past the intensity (2 restarts): phx_error, and the topic is gone
  t.push(s, "safe:1", "crash");
  auto e =
      t.assert_push(s, "phx_error", json::object{{"reason", "channel_crash"}});
  BOOST_TEST(e.ref == j.join_ref);
  t.assert_reply(t.push(s, "safe:1", "count"), "error", unmatched);
}

BOOST_AUTO_TEST_CASE(channel_limit_is_100) {
  auto s = t.connect();
  for (int i = 0; i < 100; ++i)
    BOOST_REQUIRE(t.join(s, "room:" + std::to_string(i)).ok());
  auto over = t.join(s, "room:100");
  BOOST_TEST(over.status == "error");
  BOOST_TEST(over.value() ==
             (json::object{{"reason", "too many channels joined"}}));
}

BOOST_AUTO_TEST_CASE(broadcasts_fastlane_and_intercepts_in_each_serializer) {
  auto a = t.connect();
  auto b = t.connect({{"vsn", "1.0.0"}});
  auto ja = t.join(a, "room:b");
  auto jb = t.join(b, "room:b");
  BOOST_TEST(jb.ok());
  // V1 never sends join_ref
  BOOST_TEST(json::parse(jb.wire) ==
             (json::object{
                 {"topic", "room:b"},
                 {"event", "phx_reply"},
                 {"ref", jb.ref},
                 {"payload",
                  {{"status", "ok"}, {"response", {{"joined", "room:b"}}}}}}));
  t.push(a, "room:b", "shout", json::object{{"m", 1}});
  auto fa = t.assert_push(a, "shout", pattern::exactly({{"m", 1}}));
  BOOST_TEST((fa.kind == frame_kind::broadcast));
  BOOST_TEST(fa.wire == frame(nullptr, nullptr, "room:b", "shout", {{"m", 1}}));
  auto fb = t.assert_push(b, "shout");
  BOOST_TEST(json::parse(fb.wire) == (json::object{{"topic", "room:b"},
                                                   {"event", "shout"},
                                                   {"ref", nullptr},
                                                   {"payload", {{"m", 1}}}}));
  // intercepted: a push per subscriber carrying its join_ref
  t.push(a, "room:b", "secret", json::object{{"m", 2}});
  auto sa = t.assert_push(a, "secret", json::object{{"m", 2}});
  BOOST_TEST((sa.kind == frame_kind::push));
  BOOST_TEST(sa.join_ref == ja.join_ref);
  auto sb = t.assert_push(b, "secret", json::object{{"m", 2}});
  BOOST_TEST(!json::parse(sb.wire).as_object().contains("join_ref"));
}

BOOST_AUTO_TEST_CASE(disconnect_by_socket_id_closes_with_1001) {
  auto a1 = t.connect({{"user", "7"}});
  auto a2 = t.connect({{"user", "7"}});
  auto other = t.connect({{"user", "8"}});
  t.join(other, "room:k");
  // Each connection subscribes to its id topic as it opens; a heartbeat
  // reply comes after that, so the kick below reaches PubSub later.
  t.heartbeat(a1);
  t.heartbeat(a2);
  t.push(other, "room:k", "kick", json::object{{"user", "7"}});
  for (auto* s : {&a1, &a2}) {
    auto why = t.assert_closed(*s);
    BOOST_TEST(why.code == 1001);
    BOOST_TEST((why.by == transport::closed_by::server));
  }
  t.assert_reply(t.push(other, "room:k", "ping"), "ok");
}

BOOST_AUTO_TEST_CASE(malformed_frames_drop_only_that_connection) {
  auto bad = t.connect();
  auto good = t.connect();
  t.join(good, "room:g");
  t.send_text(bad, "{\"not\":\"an array\"}");
  BOOST_TEST(t.assert_closed(bad).code == 1011);
  t.assert_reply(t.push(good, "room:g", "ping"), "ok");
  BOOST_CHECK_THROW(t.assert_closed(good, 50ms), testing::failure);
}

BOOST_AUTO_TEST_SUITE_END()
