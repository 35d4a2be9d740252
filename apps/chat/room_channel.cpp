// The chat room channel: one actor per (browser tab, room).
//
// Client -> server events      server -> client events
//   phx_join {name}              history {messages: [...]}  (after join)
//   new_msg {body} -> ok {id}    presence_state / presence_diff
//   typing {typing: bool}        new_msg {id, user, body, at}
//
// Who is online and who is typing both come from Presence: every tab
// tracks its user under the user's name with meta {online_at, typing};
// a typing change is a `presence.update`, so browsers see it through the
// ordinary presence_diff (the same user in two tabs is two metas under one
// key).
#include <chrono>

#include <caf/all.hpp>

#include "apps/chat/chat.hpp"

namespace chat {

using namespace fenix::channels;
namespace json = boost::json;

namespace {

using after_join_atom = caf::atom_constant<caf::atom("afterjoin")>;

constexpr size_t max_name_bytes = 24;
constexpr size_t max_room_bytes = 32;
constexpr size_t max_body_bytes = 2000;

std::string trim(std::string s) {
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
  };
  while (!s.empty() && is_space(s.back()))
    s.pop_back();
  size_t i = 0;
  while (i < s.size() && is_space(s[i]))
    ++i;
  return s.substr(i);
}

bool has_control_chars(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f)
      return true;
  return false;
}

bool valid_room(const std::string& room) {
  if (room.empty() || room.size() > max_room_bytes)
    return false;
  for (char c : room)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  return true;
}

/// A boolean field of a JSON object payload, false if absent.
bool bool_field(const payload& p, const char* key) {
  if (auto v = std::get_if<json::value>(&p))
    if (auto obj = v->if_object())
      if (auto x = obj->if_contains(key); x && x->is_bool())
        return x->as_bool();
  return false;
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

json::object error(const char* reason) {
  return json::object{{"reason", reason}};
}

class room_channel : public channel {
public:
  room_channel(presence p, chat::history h)
      : presence_(std::move(p)), history_(std::move(h)) {
    // nop
  }

  // -- join ----------------------------------------------------------------------

  join_result join(const std::string& topic, const json::value& params,
                   socket& s) override {
    if (!valid_room(topic.substr(topic.find(':') + 1)))
      return join_result::error(error("invalid room name"));
    auto name = trim(payload_field(params, "name"));
    if (name.empty())
      return join_result::error(error("name required"));
    if (name.size() > max_name_bytes || has_control_chars(name))
      return join_result::error(error("invalid name"));
    name_ = std::move(name);
    online_at_ = unix_seconds();
    // Pushing inside join is refused: history and presence go out once the
    // join reply is written.
    s.self()->send(s.self(), after_join_atom::value);
    return join_result::ok(json::object{{"name", name_}});
  }

  caf::message_handler handle_info(socket& s) override {
    return {
      [this, &s](after_join_atom) -> info_result {
        history_.recent(s.self(), s.topic(), [&s](const json::array& msgs) {
          s.push("history", json::object{{"messages", msgs}});
        });
        presence_.track(caf::actor_cast<caf::actor>(s.self()), s.topic(),
                        name_, meta());
        presence_.list(s.self(), s.topic(), [&s](const json::object& state) {
          s.push("presence_state", state);
        });
        return info_result::noreply();
      },
    };
  }

  // -- events from the browser ---------------------------------------------------

  in_result handle_in(const std::string& event, const payload& p,
                      socket& s) override {
    if (event == "new_msg") {
      auto body = trim(payload_field(p, "body"));
      if (body.empty())
        return in_result::reply("error", error("empty message"));
      if (body.size() > max_body_bytes)
        return in_result::reply("error", error("message too long"));
      set_typing(false, s);
      // Answered once the history stored and broadcast the message.
      history_.post(s.self(), s.topic(), name_, std::move(body),
                    [ref = s.ref()](const json::object* msg,
                                    const std::string& err) {
                      if (msg)
                        ref.reply("ok", json::object{{"id", msg->at("id")}});
                      else
                        ref.reply("error",
                                  json::object{{"reason", err}});
                    });
      return in_result::noreply();
    }
    if (event == "typing") {
      set_typing(bool_field(p, "typing"), s);
      return in_result::noreply();
    }
    return in_result::reply("error", error("unknown event"));
  }

private:
  json::object meta() const {
    return json::object{{"online_at", online_at_}, {"typing", typing_}};
  }

  void set_typing(bool typing, socket& s) {
    if (typing == typing_)
      return;
    typing_ = typing;
    presence_.update(caf::actor_cast<caf::actor>(s.self()), s.topic(), name_,
                     meta());
  }

  presence presence_;
  chat::history history_;
  std::string name_;
  int64_t online_at_ = 0;
  bool typing_ = false;
};

class user_socket_impl : public user_socket {
public:
  user_socket_impl(presence p, chat::history h) {
    channel("room:*", [p, h] { return std::make_unique<room_channel>(p, h); });
  }

  std::optional<json::object> connect(const fenix::transport::params&,
                                      const fenix::transport::connect_info&)
    override {
    // Anyone may connect; the name comes with each join.
    return json::object{};
  }
};

} // namespace

std::shared_ptr<user_socket> make_user_socket(presence p, chat::history h) {
  return std::make_shared<user_socket_impl>(std::move(p), std::move(h));
}

} // namespace chat
