#pragma once

// The presence tests' endpoint, channel and raw clients: a small channel
// that tracks on join and calls `presence.update` / `untrack` on events,
// behind a real endpoint, driven by raw WebSocket clients that also keep
// a phoenix.js-like model of the presence they were sent.

#include <algorithm>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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

namespace fenix::test::presence_fixture {

using namespace fenix::channels;
using namespace std::chrono_literals;
namespace json = boost::json;
using fenix::test::raw_client;

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

/// What phoenix.js's Presence makes of the presence frames of one topic
/// (protocol.md 4.5): `presence_state` replaces the view (diffs that came
/// first are held and applied after it), `presence_diff` is syncDiff:
/// joins replace metas by phx_ref and keep the others, leaves remove metas
/// by phx_ref and drop keys left with none.
struct presence_model {
  json::object view;
  bool synced = false;
  std::vector<json::object> held;

  void on_frame(const json::value& v) {
    auto a = v.if_array();
    if (!a || a->size() != 5 || !(*a)[4].is_object())
      return;
    auto& event = (*a)[3];
    if (event == json::value("presence_state")) {
      view = (*a)[4].as_object();
      synced = true;
      for (auto& d : held)
        sync_diff(d);
      held.clear();
    } else if (event == json::value("presence_diff")) {
      if (synced)
        sync_diff((*a)[4].as_object());
      else
        held.push_back((*a)[4].as_object());
    }
  }

  static std::vector<std::string> refs(const json::value& entry) {
    std::vector<std::string> out;
    for (auto& m : entry.at("metas").as_array())
      out.emplace_back(m.at("phx_ref").as_string());
    return out;
  }

  void sync_diff(const json::object& diff) {
    for (auto& [key, joined] : diff.at("joins").as_object()) {
      json::value next = joined;
      if (auto cur = view.if_contains(key)) {
        auto fresh = refs(next);
        json::array kept;
        for (auto& m : cur->at("metas").as_array())
          if (std::find(fresh.begin(), fresh.end(),
                        std::string{m.at("phx_ref").as_string()}) ==
              fresh.end())
            kept.push_back(m);
        auto& ms = next.as_object()["metas"].as_array();
        ms.insert(ms.begin(), kept.begin(), kept.end());
      }
      view[key] = std::move(next);
    }
    for (auto& [key, left] : diff.at("leaves").as_object()) {
      auto cur = view.if_contains(key);
      if (!cur)
        continue;
      auto gone = refs(left);
      auto& ms = cur->as_object()["metas"].as_array();
      json::array rest;
      for (auto& m : ms)
        if (std::find(gone.begin(), gone.end(),
                      std::string{m.at("phx_ref").as_string()}) == gone.end())
          rest.push_back(m);
      ms = std::move(rest);
      if (ms.empty())
        view.erase(key);
    }
  }
};

/// A presence list with each key's metas sorted by phx_ref (the order of
/// metas under a key is not part of the protocol).
inline json::value normalized(json::object list) {
  for (auto& kv : list) {
    auto& ms = kv.value().as_object()["metas"].as_array();
    std::sort(
        ms.begin(), ms.end(), [](const json::value& x, const json::value& y) {
          return x.at("phx_ref").as_string() < y.at("phx_ref").as_string();
        });
  }
  return list;
}

/// A raw client plus the frames read but not yet taken, and its presence
/// model, fed with every frame in the order it arrived.
struct client {
  raw_client ws;
  std::string join_ref; ///< of the one topic it joined
  std::deque<json::value> pending;
  presence_model presence;

  std::optional<json::value> read(std::chrono::milliseconds timeout) {
    auto f = ws.read_frame(timeout);
    if (!f)
      return std::nullopt;
    BOOST_REQUIRE_EQUAL(int{f->op}, 1);
    auto v = json::parse(f->payload);
    presence.on_frame(v);
    return v;
  }

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
      std::optional<json::value> v;
      if (left > 0ms)
        v = read(left);
      if (!v) {
        std::string seen;
        for (auto& p : pending)
          seen += json::serialize(p) + "\n";
        BOOST_FAIL("no " << what << " within " << timeout.count()
                         << " ms; unclaimed frames:\n"
                         << seen);
      }
      if (pred(*v))
        return std::move(*v);
      pending.push_back(std::move(*v));
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
      auto v = read(left);
      if (!v)
        return true;
      if (pred(*v))
        return false;
      pending.push_back(std::move(*v));
    }
  }

  /// Reads until the presence model shows exactly `expected` (compared
  /// normalized), within `timeout`; the frames stay available to `take`.
  bool converges_to(const json::object& expected,
                    std::chrono::milliseconds timeout = 3s) {
    auto want = normalized(expected);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (presence.synced && normalized(presence.view) == want)
        return true;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms)
        break;
      auto v = read(left);
      if (!v)
        break;
      pending.push_back(std::move(*v));
    }
    BOOST_TEST_MESSAGE("presence view " << json::serialize(presence.view)
                                        << " != " << json::serialize(want));
    return false;
  }
};

/// Matches `[_, _, topic, event, _]`.
inline std::function<bool(const json::value&)> is_event(std::string topic,
                                                 std::string event) {
  return [topic, event](const json::value& v) {
    auto a = v.if_array();
    return a && a->size() == 5 && (*a)[2] == json::value(topic)
           && (*a)[3] == json::value(event);
  };
}

/// A presence_diff on `topic` whose `side` ("joins"/"leaves") has `key`.
inline std::function<bool(const json::value&)>
diff_with(std::string topic, std::string side, std::string key) {
  auto ev = is_event(topic, "presence_diff");
  return [ev, side, key](const json::value& v) {
    if (!ev(v))
      return false;
    auto& p = v.as_array()[4].as_object();
    return p.at(side).as_object().contains(key);
  };
}

inline const json::array& metas(const json::value& diff, const char* side,
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

inline std::string str(const json::value& v) {
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

  /// The tracker shard serving now: the presence supervisor's child.
  caf::actor tracker() {
    auto psup = supervisor_ref{sys, app}.child("presence:presence_test");
    BOOST_REQUIRE(psup);
    return supervisor_ref{sys, psup}.child("tracker 0");
  }

  /// The shard its supervisor started in place of `old`, asked until
  /// `deadline`.
  caf::actor successor_of(const caf::actor& old,
                          std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      if (auto t = tracker(); t && t != old)
        return t;
      BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                            "no tracker replaced #" << old.id() << " in time");
      std::this_thread::sleep_for(2ms);
    }
  }

  /// Polls Presence.list until `pred` holds for it or `deadline` passes;
  /// returns the last list.
  json::object list_when(const std::string& topic,
                         const std::function<bool(const json::object&)>& pred,
                         std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      auto l = pres.list(sys, topic);
      if (pred(l) || std::chrono::steady_clock::now() >= deadline)
        return l;
      std::this_thread::sleep_for(2ms);
    }
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

} // namespace fenix::test::presence_fixture
