#include "channels/presence_state.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <ostream>
#include <set>
#include <string>

using namespace fenix::channels;
namespace json = boost::json;

namespace fenix::channels {

// Lets BOOST_TEST print replica ids (found by ADL).
std::ostream& operator<<(std::ostream& os, const replica_id& r) {
  return os << r.name << '/' << r.vsn;
}

} // namespace fenix::channels

namespace {

json::object obj(std::string_view s) {
  return json::parse(json::string_view{s.data(), s.size()}).as_object();
}

std::string ref_of(const json::value& meta) {
  return std::string{meta.at("phx_ref").as_string()};
}

/// A list with each key's metas sorted by phx_ref: replicas order metas
/// differently, phoenix.js does not care.
json::value normalized(json::object list) {
  for (auto& kv : list) {
    auto& metas = kv.value().as_object()["metas"].as_array();
    std::sort(metas.begin(), metas.end(),
              [](const json::value& x, const json::value& y) {
                return ref_of(x) < ref_of(y);
              });
  }
  return list;
}

void require_converged(const presence_state& a, const presence_state& b,
                       std::string_view topic) {
  BOOST_TEST(normalized(a.list(topic)) == normalized(b.list(topic)),
             json::serialize(a.list(topic))
                 << " vs " << json::serialize(b.list(topic)));
}

const replica_id node_a{"a@host", 1};
const replica_id node_b{"b@host", 7};
const replica_id node_c{"c@host", 3};

} // namespace

// -- local operations and shapes ----------------------------------------------

BOOST_AUTO_TEST_SUITE(presence_local)

BOOST_AUTO_TEST_CASE(track_list_and_diff_shapes) {
  presence_state s{node_a};
  auto c = s.track("room:1", 11, "alice", obj(R"({"online_at":5})"));
  BOOST_TEST_REQUIRE(c.has_value());
  BOOST_TEST_REQUIRE(c->joins.size() == 1u);
  BOOST_TEST(c->leaves.empty());
  const auto& e = c->joins.front();
  BOOST_TEST(e.topic == "room:1");
  BOOST_TEST(e.owner == 11u);
  BOOST_TEST(e.key == "alice");
  BOOST_TEST(e.phx_ref().size() == 16u);
  BOOST_TEST(e.tag.replica == node_a);
  BOOST_TEST(e.tag.clock == 1u);

  auto meta = json::object{{"online_at", 5}, {"phx_ref", e.phx_ref()}};
  BOOST_TEST(s.list("room:1") ==
             (json::object{{"alice", json::object{{"metas", {meta}}}}}));
  BOOST_TEST(
      make_diff(*c, "room:1") ==
      (json::object{
          {"joins", json::object{{"alice", json::object{{"metas", {meta}}}}}},
          {"leaves", json::object{}}}));
  BOOST_TEST(json::serialize(make_diff(*c, "other")) ==
             R"({"joins":{},"leaves":{}})");
  BOOST_TEST(s.list("room:2").empty());
  BOOST_TEST(s.size() == 1u);
  BOOST_TEST(s.size("room:1") == 1u);
  BOOST_TEST(s.clock() == 1u);
}

BOOST_AUTO_TEST_CASE(same_key_from_two_owners_is_two_metas) {
  presence_state s{node_a};
  auto c1 = s.track("t", 1, "u", obj(R"({"device":"phone"})"));
  auto c2 = s.track("t", 2, "u", obj(R"({"device":"laptop"})"));
  BOOST_TEST_REQUIRE((c1 && c2));
  auto list = s.list("t");
  BOOST_TEST(list.size() == 1u);
  BOOST_TEST(list["u"].as_object()["metas"].as_array().size() == 2u);
  BOOST_TEST(c1->joins[0].phx_ref() != c2->joins[0].phx_ref());

  auto left = s.untrack("t", 1, "u");
  BOOST_TEST_REQUIRE(left.leaves.size() == 1u);
  BOOST_TEST(left.leaves[0].meta.at("device") == "phone");
  BOOST_TEST(json::serialize(make_diff(left, "t")) ==
             R"({"joins":{},"leaves":{"u":{"metas":[{"device":"phone",)"
             R"("phx_ref":")" +
                 std::string{c1->joins[0].phx_ref()} + R"("}]}}})");
  auto metas = s.list("t")["u"].as_object()["metas"].as_array();
  BOOST_TEST_REQUIRE(metas.size() == 1u);
  BOOST_TEST(metas[0].at("device") == "laptop");
  s.untrack("t", 2, "u");
  BOOST_TEST(s.list("t").empty());
  BOOST_TEST(s.size() == 0u);
}

BOOST_AUTO_TEST_CASE(duplicate_track_and_missing_untrack) {
  presence_state s{node_a};
  BOOST_TEST(s.track("t", 1, "k", {}).has_value());
  BOOST_TEST(!s.track("t", 1, "k", {}).has_value());
  BOOST_TEST(s.track("t", 1, "k2", {}).has_value());
  BOOST_TEST(s.track("t2", 1, "k", {}).has_value());
  BOOST_TEST(s.untrack("t", 9, "k").empty());
  BOOST_TEST(s.untrack("nope", 1, "k").empty());
  BOOST_TEST(!s.update("t", 9, "k", {}).has_value());
  BOOST_TEST(s.size() == 3u);
}

BOOST_AUTO_TEST_CASE(update_is_remove_plus_add) {
  presence_state s{node_a};
  auto c = s.track("t", 1, "u", obj(R"({"status":"away"})"));
  auto old_ref = std::string{c->joins[0].phx_ref()};
  auto u = s.update("t", 1, "u", obj(R"({"status":"busy"})"));
  BOOST_TEST_REQUIRE(u.has_value());
  BOOST_TEST_REQUIRE(u->joins.size() == 1u);
  BOOST_TEST_REQUIRE(u->leaves.size() == 1u);
  auto new_ref = std::string{u->joins[0].phx_ref()};
  BOOST_TEST(new_ref != old_ref);
  auto new_meta = json::object{
      {"status", "busy"}, {"phx_ref", new_ref}, {"phx_ref_prev", old_ref}};
  auto old_meta = json::object{{"status", "away"}, {"phx_ref", old_ref}};
  BOOST_TEST(
      make_diff(*u, "t") ==
      (json::object{
          {"joins", json::object{{"u", json::object{{"metas", {new_meta}}}}}},
          {"leaves",
           json::object{{"u", json::object{{"metas", {old_meta}}}}}}}));
  BOOST_TEST(s.list("t") ==
             (json::object{{"u", json::object{{"metas", {new_meta}}}}}));
  BOOST_TEST(*s.get("t", 1, "u") == new_meta);
}

BOOST_AUTO_TEST_CASE(leave_owner_removes_everything_it_tracked) {
  presence_state s{node_a};
  s.track("room:1", 1, "a", {});
  s.track("room:2", 1, "a", {});
  s.track("room:1", 1, "b", {});
  s.track("room:1", 2, "a", obj(R"({"who":2})"));
  auto c = s.leave_owner(1);
  BOOST_TEST(c.leaves.size() == 3u);
  BOOST_TEST(c.joins.empty());
  auto diffs = make_diffs(c);
  BOOST_TEST(diffs.size() == 2u);
  BOOST_TEST(diffs["room:1"]["leaves"].as_object().size() == 2u);
  BOOST_TEST(diffs["room:1"]["joins"].as_object().empty());
  BOOST_TEST(diffs["room:2"]["leaves"].as_object().size() == 1u);
  auto list = s.list("room:1");
  BOOST_TEST(list.size() == 1u);
  BOOST_TEST(list["a"].as_object()["metas"].as_array()[0].at("who") == 2);
  BOOST_TEST(s.list("room:2").empty());
  BOOST_TEST(s.leave_owner(1).empty());
  BOOST_TEST(s.size() == 1u);
}

BOOST_AUTO_TEST_CASE(restore_keeps_the_meta_clients_hold) {
  // A tracker that restarts rebuilds from what its predecessor published.
  presence_state old{node_a};
  auto t = old.track("t", 1, "u", obj(R"({"n":1})"));
  auto u = old.update("t", 1, "u", obj(R"({"n":2})"));
  BOOST_TEST_REQUIRE((t && u));
  auto held = old.get("t", 1, "u");
  BOOST_TEST_REQUIRE(held != nullptr);

  presence_state s{replica_id{"a@host", 2}};
  BOOST_TEST(s.restore("t", 1, "u", held));
  BOOST_TEST(!s.restore("t", 1, "u", held));
  BOOST_TEST(!s.restore("t", 2, "u", nullptr));
  BOOST_TEST(s.list("t") == old.list("t"));
  BOOST_TEST(s.get("t", 1, "u") == held); // shared, not copied
  BOOST_TEST(s.clock() == 1u);

  // Later operations diff against the restored meta.
  auto next = s.update("t", 1, "u", obj(R"({"n":3})"));
  BOOST_TEST_REQUIRE(next.has_value());
  BOOST_TEST(next->leaves[0].phx_ref() == ref_of(*held));
  BOOST_TEST(next->joins[0].meta.at("phx_ref_prev") == held->at("phx_ref"));
  BOOST_TEST(next->joins[0].phx_ref() != ref_of(*held));
  BOOST_TEST(*held == *old.get("t", 1, "u")); // the held meta is unchanged
  auto gone = s.leave_owner(1);
  BOOST_TEST_REQUIRE(gone.leaves.size() == 1u);
  BOOST_TEST(gone.leaves[0].phx_ref() == next->joins[0].phx_ref());
  BOOST_TEST(s.size() == 0u);
}

BOOST_AUTO_TEST_CASE(get_by_key) {
  presence_state s{node_a};
  s.track("t", 1, "u", obj(R"({"n":1})"));
  s.track("t", 2, "u", obj(R"({"n":2})"));
  s.track("t", 3, "v", obj(R"({"n":3})"));
  s.track("t2", 4, "u", obj(R"({"n":4})"));
  auto u = s.get_by_key("t", "u");
  BOOST_TEST_REQUIRE(u.has_value());
  auto& metas = (*u)["metas"].as_array();
  BOOST_TEST_REQUIRE(metas.size() == 2u);
  BOOST_TEST(metas[0].at("n") == 1);
  BOOST_TEST(metas[1].at("n") == 2);
  BOOST_TEST(!s.get_by_key("t", "w").has_value());
  BOOST_TEST(!s.get_by_key("t3", "u").has_value());
  BOOST_TEST(s.get("t", 3, "v") != nullptr);
  BOOST_TEST(s.get("t", 3, "u") == nullptr);
}

BOOST_AUTO_TEST_CASE(diffs_carry_only_the_change) {
  presence_state s{node_a};
  for (uint64_t i = 0; i < 10000; ++i)
    s.track("big", i, "user:" + std::to_string(i), {});
  auto c = s.track("big", 10000, "user:new", {});
  BOOST_TEST_REQUIRE(c.has_value());
  auto diff = make_diff(*c, "big");
  BOOST_TEST(diff["joins"].as_object().size() == 1u);
  BOOST_TEST(diff["joins"].as_object().contains("user:new"));
  BOOST_TEST(diff["leaves"].as_object().empty());
  auto l = s.untrack("big", 5, "user:5");
  BOOST_TEST(make_diff(l, "big")["leaves"].as_object().size() == 1u);
  BOOST_TEST(s.size("big") == 10000u);
  BOOST_TEST(s.list("big").size() == 10000u);
}

BOOST_AUTO_TEST_SUITE_END()

// -- phx_ref ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(phx_ref_encoding) {
  BOOST_TEST(phx_ref_generator::encode(0, 0, 0) == "AAAAAAAAAAAAAAAA");
  BOOST_TEST(phx_ref_generator::encode(1, 2, 3) == "AAAAAQAAAAIAAAAD");
  BOOST_TEST(phx_ref_generator::encode(~0u, ~0u, ~0u) == "________________");
  BOOST_TEST(phx_ref_generator::encode(0xFBEFBEFB, 0xEFBEFBEF, 0xBE000000) ==
             "------------AAAA");

  phx_ref_generator a{node_a};
  phx_ref_generator a2{replica_id{"a@host", 2}};
  std::set<std::string> seen;
  size_t malformed = 0;
  for (int i = 0; i < 100000; ++i) {
    auto r = a.next();
    if (r.size() != 16 ||
        r.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            "abcdefghijklmnopqrstuvwxyz0123456789-_") !=
            std::string::npos)
      ++malformed;
    seen.insert(std::move(r));
  }
  BOOST_TEST(malformed == 0u);
  for (int i = 0; i < 1000; ++i)
    seen.insert(a2.next());
  BOOST_TEST(seen.size() == 101000u);
}

// -- replication --------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(presence_replication)

BOOST_AUTO_TEST_CASE(add_and_remove_on_a_are_seen_by_b) {
  presence_state a{node_a};
  presence_state b{node_b};
  auto t = a.track("t", 1, "u", obj(R"({"x":1})"));
  BOOST_TEST(a.has_delta());
  auto d1 = a.extract_delta();
  BOOST_TEST(!a.has_delta());
  BOOST_TEST(d1.origin == node_a);
  BOOST_TEST(d1.start == 0u);
  BOOST_TEST(d1.end == 1u);
  BOOST_TEST(d1.values.size() == 1u);
  BOOST_TEST(b.contiguous(d1));

  auto j = b.merge(d1);
  BOOST_TEST_REQUIRE(j.joins.size() == 1u);
  BOOST_TEST(j.leaves.empty());
  BOOST_TEST(j.joins[0].phx_ref() == t->joins[0].phx_ref());
  BOOST_TEST(j.joins[0].tag.replica == node_a);
  BOOST_TEST(make_diff(j, "t") == make_diff(*t, "t"));
  require_converged(a, b, "t");
  BOOST_TEST(b.context(node_a) == 1u);

  auto l = a.untrack("t", 1, "u");
  auto d2 = a.extract_delta();
  BOOST_TEST(d2.start == 1u);
  BOOST_TEST(d2.end == 2u);
  BOOST_TEST(d2.removed == std::vector<uint64_t>{1});
  BOOST_TEST(d2.values.empty());
  BOOST_TEST(b.contiguous(d2));
  auto bl = b.merge(d2);
  BOOST_TEST(bl.joins.empty());
  BOOST_TEST_REQUIRE(bl.leaves.size() == 1u);
  BOOST_TEST(make_diff(bl, "t") == make_diff(l, "t"));
  BOOST_TEST(b.list("t").empty());
  BOOST_TEST(b.context(node_a) == 2u);
  BOOST_TEST(b.cloud_size(node_a) == 0u);
}

BOOST_AUTO_TEST_CASE(add_and_remove_in_one_delta_never_show_up) {
  presence_state a{node_a};
  presence_state b{node_b};
  a.track("t", 1, "u", {});
  a.untrack("t", 1, "u");
  auto d = a.extract_delta();
  BOOST_TEST(d.values.empty());
  BOOST_TEST(d.removed.empty()); // clock 1 lies inside (start, end]
  BOOST_TEST(b.merge(d).empty());
  BOOST_TEST(b.context(node_a) == 2u);
}

BOOST_AUTO_TEST_CASE(update_on_a_is_an_update_on_b) {
  presence_state a{node_a};
  presence_state b{node_b};
  a.track("t", 1, "u", obj(R"({"s":"away"})"));
  b.merge(a.extract_delta());
  auto u = a.update("t", 1, "u", obj(R"({"s":"busy"})"));
  auto c = b.merge(a.extract_delta());
  BOOST_TEST(c.joins.size() == 1u);
  BOOST_TEST(c.leaves.size() == 1u);
  BOOST_TEST(make_diff(c, "t") == make_diff(*u, "t"));
  require_converged(a, b, "t");
}

BOOST_AUTO_TEST_CASE(concurrent_changes_converge) {
  presence_state a{node_a};
  presence_state b{node_b};
  a.track("t", 1, "u", obj(R"({"on":"a"})"));
  b.track("t", 1, "u", obj(R"({"on":"b"})")); // same owner id, other node
  a.track("t", 2, "v", {});
  auto da = a.extract_delta();
  auto db = b.extract_delta();
  BOOST_TEST(a.merge(db).joins.size() == 1u);
  BOOST_TEST(b.merge(da).joins.size() == 2u);
  require_converged(a, b, "t");
  BOOST_TEST(a.list("t")["u"].as_object()["metas"].as_array().size() == 2u);

  // Concurrently: A removes its "u" and adds "w", B updates its "u".
  a.untrack("t", 1, "u");
  a.track("t", 3, "w", {});
  b.update("t", 1, "u", obj(R"({"on":"b2"})"));
  da = a.extract_delta();
  db = b.extract_delta();
  auto at_b = b.merge(da);
  auto at_a = a.merge(db);
  BOOST_TEST(at_b.joins.size() == 1u);
  BOOST_TEST(at_b.leaves.size() == 1u);
  BOOST_TEST(at_a.joins.size() == 1u);
  BOOST_TEST(at_a.leaves.size() == 1u);
  require_converged(a, b, "t");
  auto metas = a.list("t")["u"].as_object()["metas"].as_array();
  BOOST_TEST_REQUIRE(metas.size() == 1u);
  BOOST_TEST(metas[0].at("on") == "b2");
  BOOST_TEST(a.context(node_b) == b.clock());
  BOOST_TEST(b.context(node_a) == a.clock());
}

BOOST_AUTO_TEST_CASE(out_of_order_deltas_keep_the_remove) {
  presence_state a{node_a};
  presence_state b{node_b};
  a.track("t", 1, "u", {});
  auto d1 = a.extract_delta();
  a.untrack("t", 1, "u");
  auto d2 = a.extract_delta();
  BOOST_TEST(!b.contiguous(d2));
  BOOST_TEST(d2.removed == std::vector<uint64_t>{1});
  // The removal covers dot 1 (the add) and dot 2 (the removal itself).
  BOOST_TEST(b.merge(d2).empty());
  BOOST_TEST(b.context(node_a) == 2u);
  BOOST_TEST(b.cloud_size(node_a) == 0u);
  // The add arrives late: its dot was already seen as removed.
  BOOST_TEST(b.contiguous(d1));
  BOOST_TEST(b.merge(d1).empty());
  BOOST_TEST(b.list("t").empty());
  BOOST_TEST(b.size() == 0u);
}

BOOST_AUTO_TEST_CASE(merges_are_idempotent) {
  presence_state a{node_a};
  presence_state b{node_b};
  a.track("t", 1, "u", {});
  a.track("t", 2, "v", {});
  auto d = a.extract_delta();
  BOOST_TEST(b.merge(d).joins.size() == 2u);
  BOOST_TEST(b.merge(d).empty());
  BOOST_TEST(b.merge(a.snapshot()).empty());
  BOOST_TEST(b.merge(a.snapshot()).empty());
  require_converged(a, b, "t");
  a.untrack("t", 1, "u");
  auto s = a.snapshot();
  BOOST_TEST(b.merge(s).leaves.size() == 1u);
  BOOST_TEST(b.merge(s).empty());
  BOOST_TEST(b.merge(d).empty()); // a stale delta changes nothing
  require_converged(a, b, "t");
  BOOST_TEST(b.size() == 1u);
}

BOOST_AUTO_TEST_CASE(own_delta_and_snapshot_are_ignored) {
  presence_state a{node_a};
  a.track("t", 1, "u", {});
  auto d = a.extract_delta();
  auto s = a.snapshot();
  BOOST_TEST(a.merge(d).empty());
  BOOST_TEST(a.merge(s).empty());
  BOOST_TEST(a.size() == 1u);
}

BOOST_AUTO_TEST_CASE(compaction_folds_the_cloud) {
  presence_state a{node_a};
  presence_state b{node_b};
  std::vector<presence_delta> deltas;
  for (uint64_t i = 1; i <= 4; ++i) {
    a.track("t", i, "k" + std::to_string(i), {});
    deltas.push_back(a.extract_delta());
  }
  BOOST_TEST(b.merge(deltas[3]).joins.size() == 1u);
  BOOST_TEST(b.merge(deltas[1]).joins.size() == 1u);
  BOOST_TEST(b.context(node_a) == 0u);
  BOOST_TEST(b.cloud_size(node_a) == 2u); // {2, 4}
  BOOST_TEST(b.merge(deltas[2]).joins.size() == 1u);
  BOOST_TEST(b.cloud_size(node_a) == 3u); // [2, 4]
  BOOST_TEST(b.merge(deltas[0]).joins.size() == 1u);
  BOOST_TEST(b.context(node_a) == 4u);
  BOOST_TEST(b.cloud_size(node_a) == 0u);
  require_converged(a, b, "t");
  auto clocks = b.clocks();
  BOOST_TEST(clocks.at(node_a) == 4u);
  BOOST_TEST(clocks.at(node_b) == 0u);
}

BOOST_AUTO_TEST_CASE(snapshot_repairs_a_missed_delta) {
  presence_state a{node_a};
  presence_state b{node_b};
  a.track("t", 1, "x", {});
  a.track("t", 2, "gone", {});
  b.merge(a.extract_delta());
  a.track("t", 3, "y", {});
  a.untrack("t", 2, "gone");
  a.extract_delta(); // lost on the way to B
  a.track("t", 4, "z", {});
  auto d3 = a.extract_delta();
  BOOST_TEST(!b.contiguous(d3));
  BOOST_TEST(b.merge(d3).joins.size() == 1u);
  BOOST_TEST(b.size() == 3u); // x, gone, z: y and the removal are missing
  BOOST_TEST(b.cloud_size(node_a) > 0u);

  auto c = b.merge(a.snapshot());
  BOOST_TEST_REQUIRE(c.joins.size() == 1u);
  BOOST_TEST(c.joins[0].key == "y");
  BOOST_TEST_REQUIRE(c.leaves.size() == 1u);
  BOOST_TEST(c.leaves[0].key == "gone");
  require_converged(a, b, "t");
  BOOST_TEST(b.context(node_a) == a.clock());
  BOOST_TEST(b.cloud_size(node_a) == 0u);
}

BOOST_AUTO_TEST_CASE(snapshots_relay_third_replicas) {
  presence_state a{node_a};
  presence_state b{node_b};
  presence_state c{node_c};
  a.track("t", 1, "from_a", {});
  b.track("t", 1, "from_b", {});
  b.merge(a.extract_delta());
  // C hears of A's presence through B.
  BOOST_TEST(c.merge(b.snapshot()).joins.size() == 2u);
  BOOST_TEST(c.context(node_a) == 1u);
  // A's own presence coming back through B changes nothing at A.
  BOOST_TEST(a.merge(b.snapshot()).joins.size() == 1u);
  BOOST_TEST(a.size() == 2u);
  // A's later removal reaches C directly.
  a.untrack("t", 1, "from_a");
  auto d = a.extract_delta();
  BOOST_TEST(c.contiguous(d));
  BOOST_TEST(c.merge(d).leaves.size() == 1u);
  // A stale snapshot of B (still holding A's presence) does not revive it.
  BOOST_TEST(c.merge(b.snapshot()).empty());
  BOOST_TEST(b.merge(d).leaves.size() == 1u);
  require_converged(a, b, "t");
  require_converged(b, c, "t");
}

BOOST_AUTO_TEST_CASE(leave_owner_replicates) {
  presence_state a{node_a};
  presence_state b{node_b};
  a.track("t1", 1, "u", {});
  a.track("t2", 1, "u", {});
  a.track("t2", 2, "v", {});
  b.merge(a.extract_delta());
  a.leave_owner(1);
  auto d = a.extract_delta();
  BOOST_TEST(d.removed.size() == 2u);
  auto c = b.merge(d);
  BOOST_TEST(c.leaves.size() == 2u);
  BOOST_TEST(make_diffs(c).size() == 2u);
  require_converged(a, b, "t1");
  require_converged(a, b, "t2");
}

BOOST_AUTO_TEST_CASE(replica_down_up_and_permdown) {
  presence_state a{node_a};
  presence_state b{node_b};
  a.track("t", 1, "u", {});
  b.track("t", 1, "w", {});
  b.merge(a.extract_delta());
  auto down = b.replica_down(node_a);
  BOOST_TEST(down.leaves.size() == 1u);
  BOOST_TEST(b.list("t").size() == 1u); // only B's own
  BOOST_TEST(!b.get_by_key("t", "u").has_value());
  BOOST_TEST(b.replica_down(node_a).empty());
  auto up = b.replica_up(node_a);
  BOOST_TEST(up.joins.size() == 1u);
  BOOST_TEST(b.list("t").size() == 2u);
  BOOST_TEST(b.replica_down(node_b).empty()); // never itself

  auto gone = b.remove_replica(node_a);
  BOOST_TEST(gone.leaves.size() == 1u);
  BOOST_TEST(b.size() == 1u);
  BOOST_TEST(b.context(node_a) == 0u);
  // Down then permdown: the leaves were already reported at down.
  presence_state c{node_c};
  c.merge(b.snapshot());
  c.replica_down(node_b);
  BOOST_TEST(c.remove_replica(node_b).empty());
  BOOST_TEST(c.size() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
