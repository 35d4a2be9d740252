#pragma once

// The state behind a channel_test, shared by its translation units
// (channel_test.cpp: setup, connections, client messages; assertions.cpp:
// waits and assertions).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/serialize.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/system.hpp"
#include "channels/serializer.hpp"
#include "channels/testing/channel_test.hpp"
#include "channels/testing/detail/inbox.hpp"
#include "channels/testing/detail/test_connection.hpp"
#include "supervision/supervisor.hpp"

namespace fenix::channels::testing::detail {

using clock = std::chrono::steady_clock;

/// Starting and stopping the harness's supervisor is not what a test
/// asserts on; it gets a generous bound of its own.
constexpr duration setup_timeout{10000};

/// Failure messages list at most this many frames.
constexpr size_t max_listed = 30;

inline std::string ms(duration d) {
  return std::to_string(d.count()) + " ms";
}

inline std::string quote(const std::string& s) {
  return boost::json::serialize(boost::json::value(s));
}

/// The test's own PubSub subscriber (Phoenix's test process subscribed to
/// a topic): records what it sees.
caf::behavior observer(caf::event_based_actor*, std::shared_ptr<inbox> box);

} // namespace fenix::channels::testing::detail

namespace fenix::channels::testing {

struct channel_test::impl {
  // Declared first, so destroyed last: everything below refers to it.
  std::unique_ptr<fenix::config> own_cfg;
  std::unique_ptr<fenix::system> own_sys;
  fenix::system* sys = nullptr;
  options opts;
  channels::pubsub ps;
  channels::presence pr;
  channel_pool pool;
  caf::actor sup;
  caf::actor app;
  caf::actor conns;
  caf::actor observer;
  std::shared_ptr<user_socket> us;
  std::shared_ptr<detail::inbox> box = std::make_shared<detail::inbox>();
  std::unique_ptr<caf::scoped_actor> self;
  uint64_t refs = 0;
  size_t sockets = 0;
  /// Per socket: the serializer it negotiated (the client speaks it too).
  std::map<size_t, const serializer*> sers;
  /// The join_ref of each (socket, topic) the test joined, as phoenix.js
  /// keeps one per channel object.
  std::map<std::pair<size_t, std::string>, boost::json::value> join_refs;

  duration or_default(const std::optional<duration>& t) const {
    return t ? *t : opts.timeout;
  }

  duration or_refute(const std::optional<duration>& t) const {
    return t ? *t : opts.refute_timeout;
  }

  /// Starts the supervisor and the observer in `s`.
  void start(fenix::system& s);
  void stop();
  /// Waits for the DOWN of every actor in `pending` (already monitored).
  bool await_down(std::vector<caf::actor_addr> pending,
                  detail::clock::time_point deadline);
  const serializer& ser_of(const test_socket& s) const;
  /// Sends one client message in the socket's wire format.
  void send(const test_socket& s, const boost::json::value& join_ref,
            const boost::json::value& ref, const std::string& topic,
            const std::string& event, const boost::json::value& payload);
  boost::json::value join_ref_of(const test_socket& s,
                                 const std::string& topic);

  /// The frames nobody took yet (of `socket`, or all for 0), for failure
  /// messages. Call with the inbox locked.
  std::string unclaimed(size_t socket) const {
    std::string out;
    size_t n = 0;
    for (auto& e : box->frames) {
      if (e.taken || (socket != 0 && e.value.socket != socket))
        continue;
      if (n++ < detail::max_listed)
        out += "\n  " + e.value.describe();
    }
    if (n > detail::max_listed)
      out += "\n  ... and " + std::to_string(n - detail::max_listed) + " more";
    if (n == 0)
      out = " none";
    return out;
  }

  std::string unclaimed_broadcasts(const std::string& topic) const {
    std::string out;
    size_t n = 0;
    for (auto& e : box->broadcasts) {
      if (e.taken || e.value.topic != topic)
        continue;
      if (n++ < detail::max_listed)
        out += "\n  " + e.value.describe();
    }
    if (n == 0)
      out = " none";
    return out;
  }

  /// The first untaken entry of `list` that `pred` accepts, waiting up to
  /// `timeout` for it; taken if `take`.
  template <class List, class Pred>
  auto find_in(List& list, Pred pred, duration timeout, bool take)
    -> std::optional<std::decay_t<decltype(list.front().value)>> {
    std::optional<std::decay_t<decltype(list.front().value)>> out;
    box->await(detail::clock::now() + timeout, [&] {
      for (auto& e : list) {
        if (!e.taken && pred(e.value)) {
          if (take)
            e.taken = true;
          out = e.value;
          return true;
        }
      }
      return false;
    });
    return out;
  }

  /// The first untaken frame `pred` accepts (see find_in). On a miss,
  /// `*missing` lists the untaken frames (of `socket`, or all for 0).
  template <class Pred>
  std::optional<client_frame> find(Pred pred, duration timeout, bool take,
                                   size_t socket, std::string* missing) {
    auto out = find_in(box->frames, pred, timeout, take);
    if (!out && missing)
      *missing = box->locked([&] { return unclaimed(socket); });
    return out;
  }

  template <class Pred>
  std::optional<observed_broadcast> find_broadcast(Pred pred, duration timeout,
                                                   bool take) {
    return find_in(box->broadcasts, pred, timeout, take);
  }

  /// The channel the connection of `s` recorded for `topic` (other than
  /// `*not_this`, if given).
  caf::actor await_channel(const test_socket& s, const std::string& topic,
                           const caf::actor* not_this,
                           std::optional<duration> timeout, const char* what) {
    auto t = or_default(timeout);
    caf::actor out;
    box->await(detail::clock::now() + t, [&] {
      auto i = box->channels.find({s.id(), topic});
      if (i == box->channels.end() || (not_this && i->second == *not_this))
        return false;
      out = i->second;
      return true;
    });
    if (!out)
      throw failure(std::string{what} + ": socket " + std::to_string(s.id()) +
                    " has no " + (not_this ? "new " : "") + "channel on " +
                    detail::quote(topic) + " after " + detail::ms(t) +
                    " (not joined, or it ended)");
    return out;
  }

  client_frame await_reply(const boost::json::value& ref,
                           const std::string& what, size_t socket,
                           std::optional<duration> timeout) {
    auto t = or_default(timeout);
    std::string missing;
    auto f = find(
        [&](const client_frame& x) { return x.is_reply() && x.ref == ref; }, t,
        true, socket, &missing);
    if (!f)
      throw failure(what + ": no reply to ref " + boost::json::serialize(ref) +
                    " within " + detail::ms(t) +
                    "; frames not taken yet:" + missing);
    return std::move(*f);
  }
};

} // namespace fenix::channels::testing
