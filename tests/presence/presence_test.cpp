// Presence through a real endpoint and raw WebSocket clients: a small
// channel that tracks on join and calls `presence.update` / `untrack` on
// events, so the wire shows what Phoenix.Presence sends for each
// (protocol.md 4.1-4.2): an update is the same key in `joins` (new meta,
// new phx_ref, phx_ref_prev = the old ref) and in `leaves` (old meta).
#include <deque>
#include <functional>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <caf/all.hpp>

#include "actors/system.hpp"
#include "channels/presence.hpp"
#include "channels/pubsub.hpp"
#include "channels/socket.hpp"
#include "supervision/supervisor.hpp"
#include "tests/common/printers.hpp"
#include "tests/transport/raw_client.hpp"
#include "transport/endpoint.hpp"

using namespace fenix;
using namespace fenix::channels;
using namespace std::chrono_literals;
namespace json = boost::json;
using fenix::test::raw_client;

namespace {

using after_join_atom = caf::atom_constant<caf::atom("afterjoin")>;

/// Tracks `payload.name` with meta `{status: "online"}` after join; events:
/// "update" {status} -> presence.update, "untrack" -> presence.untrack,
/// "update_other" {key} -> update of a key this channel never tracked;
/// each replies ok once the call is made.
class presence_channel : public channel {
public:
  explicit presence_channel(presence p) : presence_(std::move(p)) {
    // nop
  }

  join_result join(const std::string& topic, const json::value& p,
                   socket& s) override {
    key_ = payload_field(p, "name");
    s.self()->send(s.self(), after_join_atom::value);
    return join_result::ok(json::object{{"joined", topic}});
  }

  caf::message_handler handle_info(socket& s) override {
    return {[this, &s](after_join_atom) {
      presence_.track(self(s), s.topic(), key_,
                      json::object{{"status", "online"}});
      presence_.list(s.self(), s.topic(), [&s](const json::object& state) {
        s.push("presence_state", state);
      });
    }};
  }

  in_result handle_in(const std::string& event, const payload& p,
                      socket& s) override {
    if (event == "update") {
      presence_.update(self(s), s.topic(), key_,
                       json::object{{"status", payload_field(p, "status")}});
      return in_result::ok();
    }
    if (event == "update_other") {
      presence_.update(self(s), s.topic(), payload_field(p, "key"),
                       json::object{{"status", "ghost"}});
      return in_result::ok();
    }
    if (event == "untrack") {
      presence_.untrack(self(s), s.topic(), key_);
      return in_result::ok();
    }
    return in_result::ok(p);
  }

private:
  static caf::actor self(socket& s) {
    return caf::actor_cast<caf::actor>(s.self());
  }

  presence presence_;
  std::string key_;
};

class presence_socket : public user_socket {
public:
  explicit presence_socket(presence p) {
    channel("room:*", [p] { return std::make_unique<presence_channel>(p); });
  }

  std::optional<json::object> connect(const transport::params&,
                                      const transport::connect_info&) override {
    return json::object{};
  }
};

/// A raw client plus the frames read but not yet taken.
struct client {
  raw_client ws;
  std::string join_ref; ///< of the one topic it joined
  std::deque<json::value> pending;

  /// The first frame (already read or arriving within `timeout`) that
  /// satisfies `pred`; fails the test otherwise.
  json::value take(const std::function<bool(const json::value&)>& pred,
                   const std::string& what,
                   std::chrono::milliseconds timeout = 5s) {
    for (auto i = pending.begin(); i != pending.end(); ++i)
      if (pred(*i)) {
        auto v = std::move(*i);
        pending.erase(i);
        return v;
      }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      std::optional<test::ws_frame> f;
      if (left > 0ms)
        f = ws.read_frame(left);
      if (!f) {
        std::string seen;
        for (auto& p : pending)
          seen += json::serialize(p) + "\n";
        BOOST_FAIL("no " << what << " within " << timeout.count()
                         << " ms; unclaimed frames:\n"
                         << seen);
      }
      BOOST_REQUIRE_EQUAL(int{f->op}, 1);
      auto v = json::parse(f->payload);
      if (pred(v))
        return v;
      pending.push_back(std::move(v));
    }
  }

  /// No frame satisfying `pred` is pending or arrives within `window`.
  bool none(const std::function<bool(const json::value&)>& pred,
            std::chrono::milliseconds window = 300ms) {
    for (auto& p : pending)
      if (pred(p))
        return false;
    auto deadline = std::chrono::steady_clock::now() + window;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left <= 0ms)
        return true;
      auto f = ws.read_frame(left);
      if (!f)
        return true;
      auto v = json::parse(f->payload);
      if (pred(v))
        return false;
      pending.push_back(std::move(v));
    }
  }
};

/// Matches `[_, _, topic, event, _]`.
std::function<bool(const json::value&)> is_event(std::string topic,
                                                 std::string event) {
  return [topic, event](const json::value& v) {
    auto a = v.if_array();
    return a && a->size() == 5 && (*a)[2] == json::value(topic)
           && (*a)[3] == json::value(event);
  };
}

/// A presence_diff on `topic` whose `side` ("joins"/"leaves") has `key`.
std::function<bool(const json::value&)>
diff_with(std::string topic, std::string side, std::string key) {
  auto ev = is_event(topic, "presence_diff");
  return [ev, side, key](const json::value& v) {
    if (!ev(v))
      return false;
    auto& p = v.as_array()[4].as_object();
    return p.at(side).as_object().contains(key);
  };
}

const json::array& metas(const json::value& diff, const char* side,
                         const std::string& key) {
  return diff.as_array()[4]
    .as_object()
    .at(side)
    .as_object()
    .at(key)
    .as_object()
    .at("metas")
    .as_array();
}

std::string str(const json::value& v) {
  return std::string{v.as_string()};
}

struct fixture {
  fenix::config cfg;
  fenix::system sys{cfg};
  channels::pubsub ps;
  channels::presence pres;
  caf::actor app;
  std::unique_ptr<transport::endpoint> ep;
  int refs = 0;

  fixture() {
    auto [p, ps_spec] = pubsub::make("presence_test", 1);
    ps = p;
    auto [pr, pr_spec] = presence::make("presence_test", ps);
    pres = pr;
    supervisor_flags f;
    f.name = "presence_test_app";
    auto a = start_supervisor(sys, f, {std::move(ps_spec), std::move(pr_spec)});
    BOOST_REQUIRE(a);
    app = *a;
    transport::endpoint_config ec;
    auto [chan_pool, pool_spec] = fenix::channels::channel_pool::make();
    ec.children.push_back(std::move(pool_spec));
    ec.socket("/socket", phoenix_handler_factory(
                           std::make_shared<presence_socket>(pres), ps, chan_pool));
    auto e = transport::endpoint::start(sys, std::move(ec));
    BOOST_REQUIRE(e);
    ep = std::move(*e);
  }

  ~fixture() {
    ep->stop();
    caf::anon_send_exit(app, caf::exit_reason::user_shutdown);
  }

  std::string next_ref() {
    return std::to_string(++refs);
  }

  /// Connects, joins `topic` as `name`, waits for the join reply and the
  /// presence_state listing `name`; returns the client.
  std::unique_ptr<client> member(const std::string& topic,
                                 const std::string& name) {
    auto c = std::make_unique<client>();
    BOOST_REQUIRE(c->ws.connect(ep->port()));
    auto rep = c->ws.handshake("/socket/websocket?vsn=2.0.0");
    BOOST_REQUIRE(rep);
    BOOST_REQUIRE_EQUAL(rep->status, 101);
    auto ref = next_ref();
    c->join_ref = ref;
    send(*c, ref, ref, topic, "phx_join", json::object{{"name", name}});
    auto reply = c->take(
      [ref](const json::value& v) {
        return v.as_array()[1] == json::value(ref);
      },
      "the join reply");
    BOOST_TEST(reply.as_array()[4].at("status") == json::value("ok"));
    c->take(
      [topic, name](const json::value& v) {
        return is_event(topic, "presence_state")(v)
               && v.as_array()[4].as_object().contains(name);
      },
      "presence_state with " + name);
    // The client's own track is broadcast to it too (before or after the
    // presence_state: protocol.md 4.3).
    c->take(diff_with(topic, "joins", name), name + "'s own join diff");
    return c;
  }

  void send(client& c, const std::string& join_ref, const std::string& ref,
            const std::string& topic, const std::string& event,
            json::object payload) {
    json::array frame{json::value(join_ref), json::value(ref),
                      json::value(topic), json::value(event),
                      json::value(std::move(payload))};
    BOOST_REQUIRE(c.ws.send_text(json::serialize(frame)));
  }

  /// Pushes `event` on the client's joined topic and waits for its ok
  /// reply.
  void push(client& c, const std::string& topic, const std::string& event,
            json::object payload = {}) {
    auto ref = next_ref();
    send(c, c.join_ref, ref, topic, event, std::move(payload));
    auto reply = c.take(
      [ref](const json::value& v) {
        return v.as_array()[1] == json::value(ref)
               && v.as_array()[3] == json::value("phx_reply");
      },
      "the reply to " + event);
    BOOST_TEST(reply.as_array()[4].at("status") == json::value("ok"));
  }

  /// The only meta of `key` in the blocking Presence.list.
  json::object listed_meta(const std::string& topic, const std::string& key) {
    auto l = pres.list(sys, topic);
    auto entry = l.if_contains(key);
    BOOST_REQUIRE_MESSAGE(entry, key << " is not listed in "
                                     << json::serialize(l));
    auto& ms = entry->at("metas").as_array();
    BOOST_REQUIRE_EQUAL(ms.size(), 1u);
    return ms[0].as_object();
  }
};

} // namespace

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
