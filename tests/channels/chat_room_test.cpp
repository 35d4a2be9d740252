// ChannelTest-style tests of the chat demo's room channel
// (apps/chat/room_channel.cpp) with its real socket, history actor and
// Presence, in-process through the channel harness.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "apps/chat/chat.hpp"
#include "apps/chat/history.hpp"
#include "channels/testing/channel_test.hpp"
#include "tests/common/printers.hpp"

using namespace fenix::channels;
namespace json = boost::json;
using testing::channel_test;
using testing::frame_kind;
using testing::pattern;

namespace {

testing::options with_presence() {
  testing::options opts;
  opts.presence = true;
  return opts;
}

struct fixture {
  channel_test t{with_presence()};
  chat::history history;

  fixture() {
    auto [h, spec] = chat::history::make(t.pubsub());
    history = h;
    t.start_child(std::move(spec));
    t.use_socket(chat::make_user_socket(t.presence(), history));
  }

  /// Joins `room` as `name`, the way the page does.
  testing::client_frame join(const testing::test_socket& s,
                             const std::string& room, const std::string& name) {
    return t.subscribe_and_join(s, room, json::object{{"name", name}});
  }

  /// A presence map pattern (state, or a diff's joins or leaves): `key`
  /// with one meta whose `typing` is `typing`.
  static json::object typing_meta(const std::string& key, bool typing) {
    return json::object{
        {key, {{"metas", json::array{json::object{{"typing", typing}}}}}}};
  }

  static json::object reason(const char* why) {
    return json::object{{"reason", why}};
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(chat_room_suite, fixture)

BOOST_AUTO_TEST_CASE(joins_are_validated) {
  auto s = t.connect();
  struct refused {
    std::string topic;
    json::value payload;
    const char* reason;
  };
  std::vector<refused> cases{
      {"room:", {{"name", "ada"}}, "invalid room name"},
      {"room:no spaces", {{"name", "ada"}}, "invalid room name"},
      {"room:" + std::string(33, 'r'), {{"name", "ada"}}, "invalid room name"},
      {"room:lobby", json::object{}, "name required"},
      {"room:lobby", {{"name", "   "}}, "name required"},
      {"room:lobby", {{"name", std::string(25, 'n')}}, "invalid name"},
      {"room:lobby", {{"name", "bad\x01name"}}, "invalid name"},
  };
  for (auto& c : cases) {
    BOOST_TEST_CONTEXT(c.topic << " " << json::serialize(c.payload)) {
      auto r = t.join(s, c.topic, c.payload);
      BOOST_TEST(r.status == "error");
      BOOST_TEST(r.value() == reason(c.reason));
    }
  }
  // a refused join leaves the topic unjoined
  t.assert_reply(t.push(s, "room:lobby", "new_msg", {{"body", "hi"}}), "error",
                 reason("unmatched topic"));
  // the name is trimmed
  auto ok = t.join(s, "room:lobby", {{"name", "  ada  "}});
  BOOST_TEST(ok.ok());
  BOOST_TEST(ok.value() == (json::object{{"name", "ada"}}));
}

BOOST_AUTO_TEST_CASE(after_join_history_and_presence_state_are_pushed) {
  auto s = t.connect();
  auto j = join(s, "room:lobby", "ada");
  auto hist = t.assert_push(s, "history",
                            pattern::exactly({{"messages", json::array{}}}));
  auto state = t.assert_push(s, "presence_state", typing_meta("ada", false));
  BOOST_TEST(hist.seq > j.seq);
  BOOST_TEST(state.seq > j.seq);
  BOOST_TEST((state.kind == frame_kind::push));
  auto& meta = state.value().at("ada").at("metas").at(0).as_object();
  BOOST_TEST(meta.at("phx_ref").is_string());
  BOOST_TEST(meta.at("online_at").is_int64());
  // the own track also travels as a diff to the topic
  t.assert_push(s, "presence_diff",
                json::object{{"joins", typing_meta("ada", false)}});
}

BOOST_AUTO_TEST_CASE(new_msg_replies_with_the_id_everyone_sees) {
  auto ada = t.connect();
  auto bob = t.connect();
  join(ada, "room:lobby", "ada");
  join(bob, "room:lobby", "bob");
  auto ref = t.push(ada, "room:lobby", "new_msg", {{"body", "  hello  "}});
  auto reply = t.assert_reply(
      ref, "ok",
      pattern::where(
          [](const json::value& v) { return v.at("id").is_string(); },
          "{id: <string>}"));
  auto id = reply.value().at("id");
  json::object msg{{"id", id}, {"user", "ada"}, {"body", "hello"}};
  // published once on the topic, and delivered to both tabs by the fastlane
  auto seen = t.assert_broadcast("room:lobby", "new_msg", msg);
  BOOST_TEST(seen.value().at("at").is_int64());
  for (auto* s : {&ada, &bob}) {
    auto f = t.assert_push(*s, "new_msg", msg);
    BOOST_TEST((f.kind == frame_kind::broadcast));
  }
  // published once
  t.refute_broadcast("room:lobby", "new_msg");
}

BOOST_AUTO_TEST_CASE(bad_messages_are_refused) {
  auto s = t.connect();
  join(s, "room:lobby", "ada");
  t.assert_reply(t.push(s, "room:lobby", "new_msg", {{"body", " \n "}}),
                 "error", pattern::exactly(reason("empty message")));
  t.assert_reply(
      t.push(s, "room:lobby", "new_msg", {{"body", std::string(2001, 'x')}}),
      "error", pattern::exactly(reason("message too long")));
  t.assert_reply(t.push(s, "room:lobby", "shout", {{"body", "x"}}), "error",
                 pattern::exactly(reason("unknown event")));
  t.refute_broadcast("room:lobby", "new_msg");
  BOOST_TEST(history.recent(t.system().sys(), "room:lobby").empty());
}

BOOST_AUTO_TEST_CASE(typing_travels_as_a_presence_update) {
  auto ada = t.connect();
  auto bob = t.connect();
  join(ada, "room:lobby", "ada");
  join(bob, "room:lobby", "bob");
  t.push(bob, "room:lobby", "typing", {{"typing", true}});
  // Presence's update: the same key leaves with the old meta and joins with
  // the new one
  auto diff =
      t.assert_push(ada, "presence_diff",
                    json::object{{"joins", typing_meta("bob", true)},
                                 {"leaves", typing_meta("bob", false)}});
  auto& joined = diff.value().at("joins").at("bob").at("metas").at(0);
  auto& left = diff.value().at("leaves").at("bob").at("metas").at(0);
  BOOST_TEST(joined.at("phx_ref_prev") == left.at("phx_ref"));
  // no change, no diff
  t.push(bob, "room:lobby", "typing", {{"typing", true}});
  t.refute_push(ada, "presence_diff",
                json::object{{"joins", typing_meta("bob", true)}});
  // sending a message stops typing
  t.assert_reply(t.push(bob, "room:lobby", "new_msg", {{"body", "done"}}),
                 "ok");
  t.assert_push(ada, "presence_diff",
                json::object{{"joins", typing_meta("bob", false)},
                             {"leaves", typing_meta("bob", true)}});
}

BOOST_AUTO_TEST_CASE(newcomers_get_the_history) {
  auto ada = t.connect();
  join(ada, "room:lobby", "ada");
  std::vector<json::value> ids;
  for (auto body : {"one", "two", "three"})
    ids.push_back(
        t.assert_reply(t.push(ada, "room:lobby", "new_msg", {{"body", body}}),
                       "ok")
            .value()
            .at("id"));
  auto bob = t.connect();
  join(bob, "room:lobby", "bob");
  auto hist = t.assert_push(
      bob, "history",
      json::object{
          {"messages", json::array{
                           json::object{{"id", ids[0]}, {"body", "one"}},
                           json::object{{"id", ids[1]}, {"body", "two"}},
                           json::object{{"id", ids[2]}, {"body", "three"}},
                       }}});
  BOOST_TEST(hist.value().at("messages").at(0).at("user") == "ada");
  // other rooms have their own
  auto eve = t.connect();
  join(eve, "room:other", "eve");
  t.assert_push(eve, "history",
                pattern::exactly({{"messages", json::array{}}}));
}

BOOST_AUTO_TEST_CASE(closing_a_tab_is_a_presence_leave) {
  auto ada = t.connect();
  auto bob = t.connect();
  join(ada, "room:lobby", "ada");
  join(bob, "room:lobby", "bob");
  t.assert_push(ada, "presence_diff",
                json::object{{"joins", typing_meta("bob", false)}});
  t.close(bob);
  auto diff =
      t.assert_push(ada, "presence_diff",
                    json::object{{"leaves", typing_meta("bob", false)}});
  BOOST_TEST(diff.value().at("joins").as_object().empty());
  BOOST_TEST(t.presence().list(t.system().sys(), "room:lobby").size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
