#pragma once

// A channel that exercises every callback, and the user socket routing to
// it, for the in-process harness tests (harness_test.cpp and the protocol
// tests ported to the harness, phoenix_inproc_test.cpp).

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <caf/all.hpp>

#include "channels/channel.hpp"
#include "channels/lambda_channel.hpp"
#include "channels/socket.hpp"

namespace fenix::test {

using after_join_atom = caf::atom_constant<caf::atom("afterjoin")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;

/// Join payload: {"fail": "yes"} -> error reply, {"crash": "yes"} -> join
/// crashed (exception), {"die": "yes"} -> dies without answering,
/// {"greet": "yes"} -> "welcome" push from handle_info after the reply.
/// Events: ping (echo reply), count (reply {n}), shout (broadcast),
/// secret (intercepted broadcast, handle_out adds {"out": true}), others
/// (broadcast_from), stop (ok reply, graceful stop), crash (exception),
/// later (reply through a socket_ref), kick {user} (disconnect broadcast on
/// "user:<user>"), anything else: no reply. Info: after_join_atom,
/// (tick_atom, int n) -> push "tick" {n}, crash_atom -> throws. Calls:
/// get_atom -> the count, (get_atom, key) -> the string assign `key`.
/// terminate pushes "you_left" on "room:bye".
class harness_channel : public channels::channel {
public:
  using json_value = boost::json::value;
  using json_object = boost::json::object;

  channels::join_result join(const std::string& topic, const json_value& p,
                             channels::socket& s) override {
    using channels::payload_field;
    if (payload_field(p, "fail") == "yes")
      return channels::join_result::error(json_object{{"reason", "refused"}});
    if (payload_field(p, "crash") == "yes")
      throw std::runtime_error("join blew up");
    if (payload_field(p, "die") == "yes")
      throw 42; // not a std::exception: the channel dies without answering
    if (payload_field(p, "greet") == "yes")
      s.self()->send(s.self(), after_join_atom::value);
    return channels::join_result::ok(json_object{{"joined", topic}});
  }

  channels::in_result handle_in(const std::string& event,
                                const channels::payload& p,
                                channels::socket& s) override {
    using channels::in_result;
    if (event == "ping")
      return in_result::ok(p);
    if (event == "count")
      return in_result::ok(json_object{{"n", ++count_}});
    if (event == "shout" || event == "secret") {
      s.broadcast(event, p);
      return in_result::noreply();
    }
    if (event == "others") {
      s.broadcast_from(event, p);
      return in_result::noreply();
    }
    if (event == "stop")
      return in_result::stop(channels::stop_reason::normal(), "ok",
                             json_object{});
    if (event == "crash")
      throw std::runtime_error("crash requested");
    if (event == "later") {
      s.ref().reply("ok", json_value{{"async", true}});
      return in_result::noreply();
    }
    if (event == "kick")
      s.pubsub().broadcast("user:" + channels::payload_field(p, "user"),
                           "disconnect", channels::make_payload(json_object{}));
    return in_result::noreply();
  }

  std::vector<std::string> intercepts() const override { return {"secret"}; }

  channels::info_result handle_out(const std::string& event,
                                   const channels::payload& p,
                                   channels::socket& s) override {
    auto out = std::get<json_value>(p).as_object();
    out["out"] = true;
    s.push(event, out);
    return channels::info_result::noreply();
  }

  caf::message_handler handle_info(channels::socket& s) override {
    using channels::info_result;
    return {
        [&s](after_join_atom) {
          s.push("welcome", json_object{{"topic", s.topic()}});
        },
        [&s](tick_atom, int n) -> info_result {
          s.push("tick", json_object{{"n", n}});
          return info_result::noreply();
        },
        [](crash_atom) -> info_result {
          throw std::runtime_error("crash_atom received");
        },
    };
  }

  caf::message_handler handle_call(channels::socket& s) override {
    return {
        [this](caf::get_atom) { return count_; },
        [&s](caf::get_atom, const std::string& key) {
          return s.assign_string(key);
        },
    };
  }

  void terminate(const channels::stop_reason&, channels::socket& s) override {
    if (s.topic() == "room:bye")
      s.push("you_left", json_object{});
  }

private:
  int count_ = 0;
};

/// Routes "room:*" (temporary) and "safe:*" (transient, 2 restarts) to
/// harness_channel, "echo" to a lambda channel. Connect params: token=bad
/// refuses; user=<u> becomes the "user" assign and the socket id
/// "user:<u>".
class harness_socket : public channels::user_socket {
public:
  harness_socket() {
    channel<harness_channel>("room:*");
    channel<harness_channel>("safe:*", channels::restart_policy::transient);
    channels::lambda_channel echo;
    echo.on_in = [](const std::string&, const channels::payload& p,
                    channels::socket&) { return channels::in_result::ok(p); };
    channel("echo", echo.factory());
    max_restarts = 2;
  }

  std::optional<boost::json::object>
  connect(const transport::params& p, const transport::connect_info&) override {
    if (auto t = p.get("token"); t && *t == "bad")
      return std::nullopt;
    boost::json::object a;
    if (auto u = p.get("user"))
      a["user"] = *u;
    return a;
  }

  std::optional<std::string> id(const boost::json::object& a) const override {
    if (auto u = a.if_contains("user"))
      return "user:" + std::string{u->as_string()};
    return std::nullopt;
  }
};

} // namespace fenix::test
