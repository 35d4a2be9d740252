#include "actors/tree.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <caf/all.hpp>

#include "actors/actor.hpp"
#include "actors/system.hpp"
#include "tests/common/actor_fixture.hpp"
#include "tests/common/printers.hpp"

using namespace fenix;
using namespace std::chrono_literals;

namespace {

caf::behavior echo(caf::event_based_actor*) {
  return {[](int x) { return x; }};
}

using fixture = fenix::test::actor_fixture;

} // namespace

BOOST_FIXTURE_TEST_SUITE(tree_suite, fixture)

BOOST_AUTO_TEST_CASE(fenix_actors_record_themselves_and_count_messages) {
  auto a = spawn_fn(sys, echo);
  for (int i = 0; i < 5; ++i)
    self->request(a, 10s, i).receive([&](int x) { BOOST_TEST(x == i); },
                                     [](caf::error&) { BOOST_FAIL("no"); });
  auto node = sys.tree().find(a.id());
  BOOST_REQUIRE(node);
  BOOST_TEST(sys.tree().handle(a.id()) == a);
  BOOST_TEST(node->messages.load() == 5u);
  BOOST_TEST(node->mailbox.load() == 0);
  BOOST_TEST(to_string(node->get_state()) == std::string{"running"});
  kill_and_wait(a);
  BOOST_TEST(!sys.tree().find(a.id())); // removed when it exited
}

BOOST_AUTO_TEST_CASE(merge_details_appends_replaces_and_keeps_nesting_apart) {
  auto a = spawn_fn(sys, echo);
  self->request(a, 10s, 1).receive([](int) {}, [](caf::error&) {});
  auto& tree = sys.tree();
  auto details = [&] {
    auto snap = tree.snapshot(a.id());
    BOOST_REQUIRE(snap);
    return snap->details;
  };
  tree.merge_details(a.id(), {{"transport", "websocket"}, {"n", 1}});
  tree.merge_details(a.id(), {{"topics", boost::json::array{}},
                              {"we\"ird", "k"}}); // appended
  tree.merge_details(a.id(), {{"topics", boost::json::array{"a", "b"}}});
  tree.merge_details(a.id(), {{"inner", {{"n", 7}, {"transport", "x"}}}});
  // "n" exists nested now and at the top: replacing the top-level one must
  // leave the nested one alone.
  tree.merge_details(a.id(), {{"n", 2}});
  auto d = details();
  BOOST_TEST(d.size() == 5u);
  BOOST_TEST(d.at("transport").as_string() == "websocket");
  BOOST_TEST(d.at("n").as_int64() == 2);
  BOOST_TEST(d.at("we\"ird").as_string() == "k");
  BOOST_TEST(d.at("topics") == (boost::json::array{"a", "b"}));
  BOOST_TEST(d.at("inner").at("n").as_int64() == 7);
  BOOST_TEST(d.at("inner").at("transport").as_string() == "x");
  // a key only present nested is added at the top level
  tree.merge_details(a.id(), {{"inner", {{"n", 8}, {"z", 0}}}});
  tree.merge_details(a.id(), {{"z", 1}, {"m", 3}});
  d = details();
  BOOST_TEST(d.at("inner").at("n").as_int64() == 8);
  BOOST_TEST(d.at("inner").at("z").as_int64() == 0);
  BOOST_TEST(!d.at("inner").as_object().contains("transport"));
  BOOST_TEST(d.at("z").as_int64() == 1);
  BOOST_TEST(d.at("m").as_int64() == 3);
  // Strings that look like structure, escapes ending in a backslash.
  std::string tricky = "a\\\"},\"n\":{[\\";
  tree.merge_details(a.id(), {{"s", tricky}, {"arr", {1, {{"n", "]"}}, "}"}}});
  tree.merge_details(a.id(), {{"n", 4}, {"s", tricky + "!"}});
  d = details();
  BOOST_TEST(d.at("n").as_int64() == 4);
  BOOST_TEST(d.at("s").as_string() == tricky + "!");
  BOOST_TEST(d.at("arr").as_array().size() == 3u);
  BOOST_TEST(d.at("inner").at("z").as_int64() == 0);
  tree.set_details(a.id(), {});
  tree.merge_details(a.id(), {{"x", true}});
  BOOST_TEST(details().size() == 1u);
  // place with details merges too, and sets where the actor hangs
  details_writer w;
  w.raw("x", "false").str("t", "room:a");
  tree.place(a.id(), "room:a", "channel", 0, w);
  auto snap = tree.snapshot(a.id());
  BOOST_REQUIRE(snap);
  BOOST_TEST(snap->name == "room:a");
  BOOST_TEST(snap->kind == "channel");
  BOOST_TEST(snap->details.size() == 2u);
  BOOST_TEST(snap->details.at("x").as_bool() == false);
  BOOST_TEST(snap->details.at("t").as_string() == "room:a");
  kill_and_wait(a);
}

BOOST_AUTO_TEST_CASE(a_key_written_twice_keeps_its_last_value_once) {
  auto a = spawn_fn(sys, echo);
  self->request(a, 10s, 1).receive([](int) {}, [](caf::error&) {});
  auto& tree = sys.tree();
  auto node = tree.find(a.id());
  BOOST_REQUIRE(node);
  // The stored text is checked, not only a parse of it: a parser keeps one
  // of two equal keys, but a stale copy would come back on the next merge.
  auto count = [&](std::string_view key) {
    size_t n = 0;
    for (auto pos = node->details.find(key); pos != std::string::npos;
         pos = node->details.find(key, pos + 1))
      ++n;
    return n;
  };
  details_writer first; // the first write of an actor's details
  first.str("peer", "a").num("n", 1).str("peer", "b");
  tree.merge_details(a.id(), first);
  BOOST_TEST(count("\"peer\"") == 1u);
  BOOST_TEST(tree.snapshot(a.id())->details.at("peer").as_string() == "b");
  details_writer again; // a merge that repeats a key it also replaces
  again.str("peer", "c").open_array("t").item("x").close_array().str("peer",
                                                                      "d");
  tree.merge_details(a.id(), again);
  BOOST_TEST(count("\"peer\"") == 1u);
  BOOST_TEST(count("\"t\"") == 1u);
  details_writer later;
  later.str("peer", "e");
  tree.merge_details(a.id(), later);
  auto d = tree.snapshot(a.id())->details;
  BOOST_TEST(d.size() == 3u);
  BOOST_TEST(d.at("peer").as_string() == "e");
  BOOST_TEST(d.at("n").as_int64() == 1);
  BOOST_TEST(d.at("t") == (boost::json::array{"x"}));
  BOOST_TEST(count("\"peer\"") == 1u);
  kill_and_wait(a);
}

BOOST_AUTO_TEST_CASE(details_writer_writes_json_that_parses_back) {
  details_writer w;
  BOOST_TEST(w.empty());
  BOOST_TEST(w.text() == "{}");
  std::string nasty = "q\"b\\s/\n\r\t\b\f\x01\x1f end \xc3\xa9";
  w.str("s", nasty)
    .num("n", -42)
    .raw("r", "{\"a\":[1,null]}")
    .open_array("empty")
    .close_array()
    .open_array("topics")
    .item("room:a")
    .item(nasty)
    .close_array()
    .str("k\"ey", "v");
  auto jv = boost::json::parse(w.text());
  auto& o = jv.as_object();
  BOOST_TEST(o.size() == 6u);
  BOOST_TEST(o.at("s").as_string() == nasty);
  BOOST_TEST(o.at("n").as_int64() == -42);
  BOOST_TEST(o.at("r").at("a").as_array().size() == 2u);
  BOOST_TEST(o.at("empty").as_array().empty());
  BOOST_TEST(o.at("topics") == (boost::json::array{"room:a", nasty}));
  BOOST_TEST(o.at("k\"ey").as_string() == "v");
  // and merges member by member like a serialized object
  auto a = spawn_fn(sys, echo);
  self->request(a, 10s, 1).receive([](int) {}, [](caf::error&) {});
  sys.tree().merge_details(a.id(), w);
  details_writer w2;
  w2.open_array("topics").close_array().str("extra", nasty);
  sys.tree().merge_details(a.id(), w2);
  auto snap = sys.tree().snapshot(a.id());
  BOOST_REQUIRE(snap);
  BOOST_TEST(snap->details.size() == 7u);
  BOOST_TEST(snap->details.at("topics").as_array().empty());
  BOOST_TEST(snap->details.at("extra").as_string() == nasty);
  BOOST_TEST(snap->details.at("s").as_string() == nasty);
  kill_and_wait(a);
}

BOOST_AUTO_TEST_CASE(snapshot_builds_the_tree_and_converts_to_json) {
  auto root = spawn_fn(sys, echo);
  auto c1 = spawn_fn(sys, echo);
  auto c2 = spawn_fn(sys, echo);
  for (auto& a : {root, c1, c2}) // initialized once they answered
    self->request(a, 10s, 1).receive([](int) {}, [](caf::error&) {});
  auto& tree = sys.tree();
  tree.place(root.id(), "app", "supervisor", 0);
  tree.place(c1.id(), "pubsub", "pubsub", root.id());
  tree.place(c2.id(), "conn", "connection", c1.id());
  tree.merge_details(c2.id(), boost::json::object{{"peer", "127.0.0.1:5"}});
  tree.find(c1.id())->restarts = 2;
  auto snap = tree.snapshot(root.id());
  BOOST_REQUIRE(snap);
  BOOST_TEST(snap->size() == 3u);
  BOOST_TEST(snap->children.size() == 1u);
  BOOST_TEST(snap->children[0].name == "pubsub");
  BOOST_TEST(snap->children[0].restarts == 2u);
  BOOST_TEST(snap->children[0].children[0].kind == "connection");
  BOOST_TEST(snap->find("conn")->details.at("peer").as_string()
             == "127.0.0.1:5");
  auto jv = boost::json::value_from(*snap);
  auto& obj = jv.as_object();
  BOOST_TEST(obj.at("name").as_string() == "app");
  BOOST_TEST(obj.at("kind").as_string() == "supervisor");
  BOOST_TEST(obj.at("state").as_string() == "running");
  BOOST_TEST(obj.contains("started_at"));
  BOOST_TEST(obj.contains("messages"));
  BOOST_TEST(obj.contains("mailbox"));
  auto& conn = obj.at("children").as_array()[0].at("children").as_array()[0];
  BOOST_TEST(conn.at("peer").as_string() == "127.0.0.1:5");
  BOOST_TEST(conn.at("parent").to_number<caf::actor_id>() == c1.id());
  // subtree
  auto sub = tree.snapshot(c1.id());
  BOOST_REQUIRE(sub);
  BOOST_TEST(sub->size() == 2u);
  // the forest has app as a root
  bool found = false;
  for (auto& r : tree.snapshot())
    found |= r.id == root.id();
  BOOST_TEST(found);
  auto text = render_tree(*snap);
  BOOST_TEST(text.find("app [supervisor") == 0u);
  BOOST_TEST(text.find("└─ conn [connection") != std::string::npos);
  // children of a dead parent become roots, the dead one disappears
  kill_and_wait(c1);
  BOOST_TEST(tree.snapshot(root.id())->size() == 1u);
  BOOST_TEST(!tree.snapshot(c1.id()));
  kill_and_wait(c2);
  kill_and_wait(root);
}

BOOST_AUTO_TEST_CASE(mailbox_size_is_sampled_by_the_actor) {
  // A gate actor that parks messages until released shows a backlog.
  auto gate = spawn_fn(sys, [](caf::event_based_actor* self) -> caf::behavior {
    return {[](double) {}, [=](caf::get_atom) {
      // busy: look at our own mailbox from inside, as CAF requires
      return static_cast<int>(self->mailbox().size());
    }};
  });
  for (int i = 0; i < 3; ++i)
    self->send(gate, 1.5);
  int seen = -1;
  self->request(gate, 10s, caf::get_atom::value)
    .receive([&](int n) { seen = n; }, [](caf::error&) {});
  BOOST_TEST(seen == 0);
  BOOST_TEST(sys.tree().find(gate.id())->messages.load() == 4u);
  kill_and_wait(gate);
}

BOOST_AUTO_TEST_SUITE_END()
