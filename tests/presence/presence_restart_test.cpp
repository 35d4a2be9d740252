// A Presence tracker shard killed under live channels: its supervisor
// restarts it, the successor rebuilds what the channels track (same metas
// and phx_refs), reports the leaves it missed, applies the operations that
// were queued for the dead shard, and answers lists that met the restart.
// Clients are checked through a phoenix.js-like model of what they were
// sent (presence_fixture.hpp), which must end equal to Presence.list.
#include "actors/actor.hpp"
#include "tests/presence/presence_fixture.hpp"

using namespace fenix::test::presence_fixture;

namespace {

using clock_type = std::chrono::steady_clock;

std::vector<std::string> keys(const json::object& list) {
  std::vector<std::string> out;
  for (auto& kv : list)
    out.emplace_back(kv.key());
  std::sort(out.begin(), out.end());
  return out;
}

std::function<bool(const json::object&)> has_keys(std::vector<std::string> ks) {
  std::sort(ks.begin(), ks.end());
  return [ks](const json::object& l) { return keys(l) == ks; };
}

/// The phx_ref of the only meta of `key`.
std::string ref_of(const json::object& list, const std::string& key) {
  auto entry = list.if_contains(key);
  BOOST_REQUIRE_MESSAGE(entry, key << " is not in " << json::serialize(list));
  auto& ms = entry->at("metas").as_array();
  BOOST_REQUIRE_EQUAL(ms.size(), 1u);
  return str(ms[0].at("phx_ref"));
}

/// An actor that only exists to own a presence.
caf::behavior idle_owner(caf::event_based_actor*) {
  return {[](int) {}};
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(presence_restart_suite, fixture)

BOOST_AUTO_TEST_CASE(
    a_killed_tracker_comes_back_with_the_live_presences_and_the_leave_it_missed) {
  const std::string topic = "room:restart";
  auto ann = member(topic, "ann");
  auto ben = member(topic, "ben");
  auto cy = member(topic, "cy");
  auto before =
      list_when(topic, has_keys({"ann", "ben", "cy"}), clock_type::now() + 5s);
  BOOST_REQUIRE(keys(before) == (std::vector<std::string>{"ann", "ben", "cy"}));
  BOOST_REQUIRE(ann->converges_to(before));
  BOOST_REQUIRE(cy->converges_to(before));

  auto dan = fenix::spawn_fn(sys.sys(), idle_owner);
  auto old = tracker();
  BOOST_REQUIRE(old);
  auto killed_at = clock_type::now();
  caf::anon_send_exit(old, caf::exit_reason::kill);
  // Both reach the tracker behind the kill, so the old one handles
  // neither: ben's channel ends (its DOWN would have been the leave), and
  // dan's track waits in the inbox for the successor.
  ben->ws.close();
  pres.track(dan, topic, "dan", json::object{{"status", "online"}});

  auto next = successor_of(old, killed_at + 1s);
  BOOST_TEST(next.id() != old.id());
  // The diffs come within 1 s of the kill: ben's leave with the ref the
  // clients hold, and dan's join.
  auto left = [killed_at] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        killed_at + 1s - clock_type::now());
  };
  for (auto* c : {ann.get(), cy.get()}) {
    auto gone = c->take(diff_with(topic, "leaves", "ben"),
                        "ben's leave within 1 s of the kill", left());
    BOOST_TEST(str(metas(gone, "leaves", "ben")[0].at("phx_ref")) ==
               ref_of(before, "ben"));
    c->take(diff_with(topic, "joins", "dan"),
            "dan's join within 1 s of the kill", left());
  }
  auto after = pres.list(sys, topic);
  BOOST_REQUIRE(keys(after) == (std::vector<std::string>{"ann", "cy", "dan"}));
  // Restored, not tracked anew: the clients' refs stay valid.
  BOOST_TEST(ref_of(after, "ann") == ref_of(before, "ann"));
  BOOST_TEST(ref_of(after, "cy") == ref_of(before, "cy"));
  BOOST_TEST(listed_meta(topic, "dan").at("status") == json::value("online"));

  // Both clients end with the server's list, and nothing else changed
  // for them (no leave of a live presence).
  for (auto* c : {ann.get(), cy.get()}) {
    BOOST_TEST(c->converges_to(after));
    BOOST_TEST(c->none(diff_with(topic, "leaves", "ann"), 0ms));
    BOOST_TEST(c->none(diff_with(topic, "leaves", "cy"), 0ms));
  }
  caf::anon_send_exit(dan, caf::exit_reason::kill);
}

BOOST_AUTO_TEST_CASE(
    after_a_restart_joins_updates_and_untracks_diff_against_the_restored_presences) {
  const std::string topic = "room:after";
  auto ann = member(topic, "ann");
  auto ben = member(topic, "ben");
  auto before =
      list_when(topic, has_keys({"ann", "ben"}), clock_type::now() + 5s);
  BOOST_REQUIRE(ben->converges_to(before));
  auto old = tracker();
  caf::anon_send_exit(old, caf::exit_reason::kill);
  successor_of(old, clock_type::now() + 1s);

  // A newcomer's presence_state has everyone.
  auto eve = member(topic, "eve");
  auto& seen = eve->presence.view;
  BOOST_TEST(seen.contains("ann"));
  BOOST_TEST(seen.contains("ben"));
  BOOST_TEST(ref_of(seen, "ann") == ref_of(before, "ann"));

  // An update replaces the restored meta: phx_ref_prev is its ref.
  push(*ann, topic, "update", {{"status", "away"}});
  auto upd = ben->take(diff_with(topic, "leaves", "ann"), "ann's update");
  BOOST_TEST(str(metas(upd, "leaves", "ann")[0].at("phx_ref")) ==
             ref_of(before, "ann"));
  BOOST_TEST(str(metas(upd, "joins", "ann")[0].at("phx_ref_prev")) ==
             ref_of(before, "ann"));

  // An untrack leaves with the restored ref.
  push(*ben, topic, "untrack");
  auto gone = ann->take(diff_with(topic, "leaves", "ben"), "ben's untrack");
  BOOST_TEST(str(metas(gone, "leaves", "ben")[0].at("phx_ref")) ==
             ref_of(before, "ben"));

  // ben's untrack diff is out: the tracker has applied everything.
  auto final_list = pres.list(sys, topic);
  BOOST_REQUIRE(keys(final_list) == (std::vector<std::string>{"ann", "eve"}));
  BOOST_TEST(final_list.at("ann").at("metas").at(0).at("status") ==
             json::value("away"));
  for (auto* c : {ann.get(), ben.get(), eve.get()})
    BOOST_TEST(c->converges_to(final_list));
}

BOOST_AUTO_TEST_CASE(
    a_list_that_meets_the_restart_is_answered_by_the_successor) {
  const std::string topic = "room:list";
  auto ann = member(topic, "ann");
  list_when(topic, has_keys({"ann"}), clock_type::now() + 5s);

  // Blocking: the request queues behind the kill (or finds no shard).
  auto old = tracker();
  caf::anon_send_exit(old, caf::exit_reason::kill);
  auto l = pres.list(sys, topic);
  BOOST_TEST(keys(l) == (std::vector<std::string>{"ann"}));

  // From inside an actor, as a channel lists after its join.
  auto next = successor_of(old, clock_type::now() + 1s);
  caf::scoped_actor self{sys.sys()};
  auto probe = fenix::spawn_fn(
    sys.sys(), [p = pres, topic](caf::event_based_actor* me) -> caf::behavior {
      return {[=](const caf::actor& victim, const caf::actor& reply_to) {
        me->send_exit(victim, caf::exit_reason::kill);
        p.list(me, topic, [=](const json::object& got) {
          me->send(reply_to, json::serialize(got));
        });
      }};
    });
  self->send(probe, next, caf::actor{self});
  bool answered = false;
  self->receive(
      [&](const std::string& got) {
        answered = true;
        BOOST_TEST(keys(json::parse(got).as_object()) ==
                   (std::vector<std::string>{"ann"}));
      },
      caf::after(std::chrono::seconds{5}) >> [] {});
  BOOST_TEST(answered);
  caf::anon_send_exit(probe, caf::exit_reason::kill);
  BOOST_TEST(ann->converges_to(pres.list(sys, topic)));
}

BOOST_AUTO_TEST_SUITE_END()
