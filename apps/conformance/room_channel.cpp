#include <chrono>
#include <cstdlib>
#include <thread>

#include <caf/all.hpp>

#include "apps/conformance/channels.hpp"

namespace conformance {

using namespace fenix::channels;
namespace json = boost::json;

namespace {

using after_join_atom = caf::atom_constant<caf::atom("afterjoin")>;

bool is_binary(const payload& p) {
  return std::holds_alternative<binary_payload>(p);
}

/// RoomChannel: the full protocol surface (replies, pushes, broadcasts,
/// intercepts, crashes, stops, slow handlers, forced disconnects).
class room_channel : public channel {
public:
  explicit room_channel(presence p) : presence_(std::move(p)) {
    // nop
  }

  join_result join(const std::string& topic, const json::value& p,
                   socket& s) override {
    if (topic == "room:private" && payload_field(p, "password") != "secret")
      return join_result::error(json::object{{"reason", "unauthorized"}});
    // Pushing inside join is not allowed: track and push presence_state
    // once the join reply is out.
    s.self()->send(s.self(), after_join_atom::value);
    return join_result::ok(json::object{{"joined", topic}});
  }

  caf::message_handler handle_info(socket& s) override {
    return {
      [this, &s](after_join_atom) -> info_result {
        auto now = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
        presence_.track(caf::actor_cast<caf::actor>(s.self()), s.topic(),
                        s.assign_string("user_id"),
                        json::object{{"online_at", now}});
        presence_.list(s.self(), s.topic(), [&s](const json::object& state) {
          s.push("presence_state", state);
        });
        return info_result::noreply();
      },
    };
  }

  in_result handle_in(const std::string& event, const payload& p,
                      socket& s) override {
    if (event == "ping")
      return in_result::ok(p); // binary payloads come back binary
    if (event == "shout") {
      s.broadcast("shout", p);
      return in_result::noreply();
    }
    if (event == "shout_others") {
      s.broadcast_from("shout_others", p);
      return in_result::noreply();
    }
    if (event == "push_me") {
      s.push("pushed", p);
      return in_result::noreply();
    }
    if (event == "error_reply")
      return in_result::reply("error", json::value{{"reason", "nope"}});
    if (event == "crash")
      throw std::runtime_error("crash requested");
    if (event == "stop")
      return in_result::stop(stop_reason::normal(), "ok", json::object{});
    if (event == "slow") {
      // Phoenix sleeps in the channel process: only this channel waits.
      int64_t ms = 0;
      if (!is_binary(p))
        if (auto obj = std::get<json::value>(p).if_object())
          if (auto v = obj->if_contains("ms"); v && v->is_number())
            ms = v->to_number<int64_t>();
      std::this_thread::sleep_for(std::chrono::milliseconds{ms});
      return in_result::ok(json::object{});
    }
    if (event == "disconnect_user") {
      auto user = payload_field(p, "user_id");
      s.pubsub().broadcast("user_socket:" + user, "disconnect",
                           make_payload(json::object{}));
      return in_result::ok(json::object{});
    }
    // No clause matches: the channel crashes, as in Phoenix.
    return channel::handle_in(event, p, s);
  }

  std::vector<std::string> intercepts() const override {
    return {"shout"};
  }

  info_result handle_out(const std::string& event, const payload& p,
                         socket& s) override {
    if (event == "shout") {
      bool secret = false;
      if (!is_binary(p))
        if (auto obj = std::get<json::value>(p).if_object())
          if (auto v = obj->if_contains("secret"); v && v->is_bool())
            secret = v->as_bool();
      if (secret && s.assign_string("user_id") == "bob")
        return info_result::noreply();
      s.push(event, p);
    }
    return info_result::noreply();
  }

private:
  presence presence_;
};

/// BenchChannel: the benchmark's minimal channel (no presence, no
/// intercepts: shouts take the fastlane).
class bench_channel : public channel {
public:
  join_result join(const std::string&, const json::value&, socket&) override {
    return join_result::ok();
  }

  in_result handle_in(const std::string& event, const payload& p,
                      socket& s) override {
    if (event == "ping")
      return in_result::ok(p);
    if (event == "shout") {
      s.broadcast("shout", p);
      return in_result::noreply();
    }
    return channel::handle_in(event, p, s);
  }
};

class user_socket_impl : public user_socket {
public:
  explicit user_socket_impl(presence p) {
    channel("room:*", [p] { return std::make_unique<room_channel>(p); });
    channel<bench_channel>("bench:*");
    // fenix-only: restarted server-side by its supervisor (3 in 5 s).
    channel("transient:*", [p] { return std::make_unique<room_channel>(p); },
            restart_policy::transient);
  }

  std::optional<json::object> connect(const fenix::transport::params& p,
                                      const fenix::transport::connect_info&)
    override {
    if (auto t = p.get("token"); t && *t == "bad")
      return std::nullopt;
    // fenix-only: a slow authentication, which must hold up nobody else.
    if (auto ms = p.get("slow_connect_ms"))
      std::this_thread::sleep_for(
        std::chrono::milliseconds{std::strtoll(ms->c_str(), nullptr, 10)});
    json::object assigns;
    auto user = p.get("user_id");
    assigns["user_id"] = user ? *user : std::string{"anon"};
    assigns["has_user_id"] = user != nullptr;
    return assigns;
  }

  std::optional<std::string> id(const json::object& assigns) const override {
    if (auto h = assigns.if_contains("has_user_id"); h && h->as_bool())
      return "user_socket:" + std::string{assigns.at("user_id").as_string()};
    return std::nullopt;
  }
};

} // namespace

std::shared_ptr<user_socket> make_user_socket(presence p) {
  return std::make_shared<user_socket_impl>(std::move(p));
}

} // namespace conformance
