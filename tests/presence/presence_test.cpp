// Presence on the wire through a real endpoint and raw WebSocket clients
// (protocol.md 4.1-4.2): an update is the same key in `joins` (new meta,
// new phx_ref, phx_ref_prev = the old ref) and in `leaves` (old meta).
#include "tests/presence/presence_fixture.hpp"

using namespace fenix::test::presence_fixture;

BOOST_FIXTURE_TEST_SUITE(presence_update_suite, fixture)

BOOST_AUTO_TEST_CASE(update_is_a_join_with_phx_ref_prev_and_a_leave_of_the_old_meta) {
  const std::string topic = "room:update";
  auto ann = member(topic, "ann");
  auto ben = member(topic, "ben");
  // ann sees ben arrive; the tracked metas carry a phx_ref and no prev
  auto joined = ann->take(diff_with(topic, "joins", "ben"), "ben's join diff");
  BOOST_TEST(metas(joined, "joins", "ben")[0].as_object().contains("phx_ref"));
  auto first = listed_meta(topic, "ann");
  BOOST_TEST(!first.contains("phx_ref_prev"));
  auto ref0 = str(first.at("phx_ref"));

  push(*ann, topic, "update", {{"status", "away"}});
  // Both clients get one diff with ann in joins (new meta) and in leaves
  // (old meta).
  for (auto* c : {ann.get(), ben.get()}) {
    auto d = c->take(diff_with(topic, "leaves", "ann"), "ann's update diff");
    auto& payload = d.as_array()[4].as_object();
    BOOST_TEST(d.as_array()[0].is_null()); // a broadcast: no join_ref
    BOOST_REQUIRE(payload.at("joins").as_object().contains("ann"));
    auto& in = metas(d, "joins", "ann");
    auto& out = metas(d, "leaves", "ann");
    BOOST_REQUIRE_EQUAL(in.size(), 1u);
    BOOST_REQUIRE_EQUAL(out.size(), 1u);
    BOOST_TEST(in[0].at("status") == json::value("away"));
    BOOST_TEST(str(in[0].at("phx_ref_prev")) == ref0);
    BOOST_TEST(str(in[0].at("phx_ref")) != ref0);
    BOOST_TEST(out[0].at("status") == json::value("online"));
    BOOST_TEST(str(out[0].at("phx_ref")) == ref0);
    BOOST_TEST(payload.size() == 2u);
  }
  auto second = listed_meta(topic, "ann");
  BOOST_TEST(second.at("status") == json::value("away"));
  BOOST_TEST(str(second.at("phx_ref_prev")) == ref0);
  auto ref1 = str(second.at("phx_ref"));
  BOOST_TEST(ref1 != ref0);

  // A second update chains: phx_ref_prev is the first update's ref.
  push(*ann, topic, "update", {{"status", "busy"}});
  auto d = ben->take(diff_with(topic, "joins", "ann"), "the second update diff");
  BOOST_TEST(str(metas(d, "joins", "ann")[0].at("phx_ref_prev")) == ref1);
  BOOST_TEST(str(metas(d, "leaves", "ann")[0].at("phx_ref")) == ref1);
  BOOST_TEST(metas(d, "leaves", "ann")[0].at("status") == json::value("away"));
  auto third = listed_meta(topic, "ann");
  BOOST_TEST(third.at("status") == json::value("busy"));
  BOOST_TEST(str(third.at("phx_ref_prev")) == ref1);

  // ben is untouched by ann's updates.
  auto bens = listed_meta(topic, "ben");
  BOOST_TEST(bens.at("status") == json::value("online"));
  BOOST_TEST(!bens.contains("phx_ref_prev"));
}

BOOST_AUTO_TEST_CASE(a_late_joiner_sees_the_updated_meta_in_presence_state) {
  const std::string topic = "room:late";
  auto ann = member(topic, "ann");
  push(*ann, topic, "update", {{"status", "away"}});
  ann->take(diff_with(topic, "leaves", "ann"), "ann's update diff");
  auto cy = std::make_unique<client>();
  BOOST_REQUIRE(cy->ws.connect(ep->port()));
  BOOST_REQUIRE_EQUAL(cy->ws.handshake("/socket/websocket?vsn=2.0.0")->status,
                      101);
  send(*cy, "9", "9", topic, "phx_join", json::object{{"name", "cy"}});
  auto state = cy->take(
    [topic](const json::value& v) {
      return is_event(topic, "presence_state")(v)
             && v.as_array()[4].as_object().contains("cy");
    },
    "cy's presence_state");
  auto& ms = state.as_array()[4].at("ann").at("metas").as_array();
  BOOST_REQUIRE_EQUAL(ms.size(), 1u);
  BOOST_TEST(ms[0].at("status") == json::value("away"));
  BOOST_TEST(ms[0].as_object().contains("phx_ref_prev"));
}

BOOST_AUTO_TEST_CASE(updating_an_untracked_key_changes_nothing) {
  const std::string topic = "room:nopresence";
  auto ann = member(topic, "ann");
  auto ben = member(topic, "ben");
  ann->take(diff_with(topic, "joins", "ben"), "ben's join diff");
  // Phoenix answers {:error, :nopresence}: no diff, no new key.
  push(*ann, topic, "update_other", {{"key", "ghost"}});
  BOOST_TEST(ben->none(is_event(topic, "presence_diff")));
  BOOST_TEST(!pres.list(sys, topic).contains("ghost"));
}

BOOST_AUTO_TEST_CASE(after_untrack_an_update_is_ignored_and_leave_carries_the_last_meta) {
  const std::string topic = "room:untrack";
  auto ann = member(topic, "ann");
  auto ben = member(topic, "ben");
  ann->take(diff_with(topic, "joins", "ben"), "ben's join diff");
  push(*ann, topic, "update", {{"status", "away"}});
  auto upd = ben->take(diff_with(topic, "leaves", "ann"), "ann's update diff");
  auto updated_ref = str(metas(upd, "joins", "ann")[0].at("phx_ref"));

  push(*ann, topic, "untrack");
  auto gone = ben->take(diff_with(topic, "leaves", "ann"), "ann's untrack diff");
  BOOST_TEST(gone.as_array()[4].at("joins").as_object().empty());
  auto& out = metas(gone, "leaves", "ann");
  BOOST_REQUIRE_EQUAL(out.size(), 1u);
  BOOST_TEST(str(out[0].at("phx_ref")) == updated_ref);
  BOOST_TEST(out[0].at("status") == json::value("away"));

  push(*ann, topic, "update", {{"status", "back"}});
  BOOST_TEST(ben->none(is_event(topic, "presence_diff")));
  BOOST_TEST(!pres.list(sys, topic).contains("ann"));
}

BOOST_AUTO_TEST_CASE(closing_the_socket_after_an_update_leaves_with_the_updated_meta) {
  const std::string topic = "room:close";
  auto ann = member(topic, "ann");
  auto ben = member(topic, "ben");
  ann->take(diff_with(topic, "joins", "ben"), "ben's join diff");
  push(*ben, topic, "update", {{"status", "away"}});
  auto upd = ann->take(diff_with(topic, "leaves", "ben"), "ben's update diff");
  auto updated_ref = str(metas(upd, "joins", "ben")[0].at("phx_ref"));
  ben->ws.close();
  auto gone = ann->take(diff_with(topic, "leaves", "ben"), "ben's leave diff");
  BOOST_TEST(gone.as_array()[4].at("joins").as_object().empty());
  BOOST_TEST(str(metas(gone, "leaves", "ben")[0].at("phx_ref")) == updated_ref);
  BOOST_TEST(!pres.list(sys, topic).contains("ben"));
}

BOOST_AUTO_TEST_SUITE_END()
