#include "apps/chat/history.hpp"

#include <deque>
#include <mutex>
#include <unordered_map>

#include <caf/all.hpp>

#include "actors/actor.hpp"
#include "actors/log.hpp"
#include "actors/system.hpp"

namespace chat {

namespace json = boost::json;

namespace {

using post_atom = caf::atom_constant<caf::atom("chat_post")>;
using recent_atom = caf::atom_constant<caf::atom("chat_hist")>;

/// A stored message or a room's messages, shared rather than copied
/// through the mailbox. Local messages only (CAF still wants an inspect).
struct stored_message {
  std::shared_ptr<const json::object> value;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stored_message&) {
  return f(caf::meta::type_name("chat::stored_message"));
}

struct message_list {
  std::shared_ptr<const json::array> value;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_list&) {
  return f(caf::meta::type_name("chat::message_list"));
}

constexpr auto timeout = std::chrono::seconds{5};

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace

struct history::state {
  fenix::channels::pubsub ps;
  history::limits lim;
  mutable std::mutex mtx;
  caf::actor current; // the running history actor (replaced on restart)
};

namespace {

/// The history actor: one bounded log per room.
class history_actor : public fenix::actor {
public:
  history_actor(caf::actor_config& cfg, std::shared_ptr<history::state> st)
      : fenix::actor(cfg), st_(std::move(st)),
        // Ids stay unique across restarts: a restarted actor starts a new
        // generation.
        generation_(std::to_string(unix_ms())) {
    // nop
  }

  const char* name() const override {
    return "chat.history";
  }

  void on_exit() override {
    // The handle's state must not keep this actor alive (it keeps the
    // state alive: a cycle), nor hand out a dead actor.
    {
      std::lock_guard<std::mutex> guard{st_->mtx};
      if (st_->current.address() == address())
        st_->current = caf::actor{};
    }
    fenix::actor::on_exit();
  }

  caf::behavior make_behavior() override {
    {
      std::lock_guard<std::mutex> guard{st_->mtx};
      st_->current = caf::actor_cast<caf::actor>(this);
    }
    publish_details();
    return {
      [this](post_atom, const std::string& topic, const std::string& user,
             const std::string& body) {
        return stored_message{append(topic, user, body)};
      },
      [this](recent_atom, const std::string& topic) {
        auto out = std::make_shared<json::array>();
        if (auto i = rooms_.find(topic); i != rooms_.end()) {
          out->reserve(i->second.messages.size());
          for (auto& m : i->second.messages)
            out->emplace_back(m);
        }
        return message_list{std::move(out)};
      },
    };
  }

private:
  struct room {
    std::deque<json::object> messages;
    int64_t last_active = 0;
  };

  std::shared_ptr<const json::object> append(const std::string& topic,
                                             const std::string& user,
                                             const std::string& body) {
    auto i = rooms_.find(topic);
    if (i == rooms_.end()) {
      if (rooms_.size() >= st_->lim.rooms)
        forget_oldest_room();
      i = rooms_.emplace(topic, room{}).first;
    }
    auto& r = i->second;
    auto now = unix_ms();
    r.last_active = now;
    auto msg = std::make_shared<json::object>();
    (*msg)["id"] = generation_ + "-" + std::to_string(++seq_);
    (*msg)["user"] = user;
    (*msg)["body"] = body;
    (*msg)["at"] = now;
    r.messages.push_back(*msg);
    while (r.messages.size() > st_->lim.per_room)
      r.messages.pop_front();
    // Broadcast from here, after storing: the order of ids is the order in
    // which subscribers receive the messages. (A json::value, not the
    // object overload of make_payload, which wraps objects in an array.)
    st_->ps.broadcast(topic, "new_msg",
                     fenix::channels::make_payload(json::value(*msg)));
    publish_details();
    return msg;
  }

  void forget_oldest_room() {
    auto oldest = rooms_.begin();
    for (auto i = rooms_.begin(); i != rooms_.end(); ++i)
      if (i->second.last_active < oldest->second.last_active)
        oldest = i;
    if (oldest != rooms_.end())
      rooms_.erase(oldest);
  }

  /// What the actor tree shows next to this actor.
  void publish_details() {
    size_t total = 0;
    for (auto& [topic, r] : rooms_)
      total += r.messages.size();
    rt().tree().merge_details(
      id(), json::object{{"rooms", rooms_.size()}, {"messages", total}});
  }

  std::shared_ptr<history::state> st_;
  std::string generation_;
  uint64_t seq_ = 0;
  std::unordered_map<std::string, room> rooms_;
};

} // namespace

std::pair<history, fenix::child_spec> history::make(fenix::channels::pubsub ps,
                                                    limits lim) {
  auto st = std::make_shared<state>();
  st->ps = std::move(ps);
  st->lim = lim;
  auto spec = fenix::worker(
    "history", [st](caf::actor_system& sys) -> caf::expected<caf::actor> {
      return sys.spawn<history_actor>(st);
    });
  spec.kind = "chat_history";
  return {history{std::move(st)}, std::move(spec)};
}

caf::actor history::actor() const {
  std::lock_guard<std::mutex> guard{state_->mtx};
  return state_->current;
}

void history::post(caf::event_based_actor* self, const std::string& topic,
                   std::string user, std::string body,
                   std::function<void(const json::object*,
                                      const std::string& error)>
                     done) const {
  auto hdl = actor();
  if (!hdl) {
    done(nullptr, "history unavailable");
    return;
  }
  self
    ->request(hdl, timeout, post_atom::value, topic, std::move(user),
              std::move(body))
    .then([done](const stored_message& m) { done(m.value.get(), {}); },
          [done, topic](caf::error& err) {
            FENIX_WARN("chat", "post to " << topic
                                          << " failed: " << to_string(err));
            done(nullptr, "history unavailable");
          });
}

void history::recent(caf::event_based_actor* self, const std::string& topic,
                     std::function<void(const json::array&)> f) const {
  auto hdl = actor();
  if (!hdl) {
    f(json::array{});
    return;
  }
  self->request(hdl, timeout, recent_atom::value, topic)
    .then([f](const message_list& l) { f(*l.value); },
          [f, topic](caf::error& err) {
            FENIX_WARN("chat", "history of " << topic
                                             << " failed: " << to_string(err));
            f(json::array{});
          });
}

json::array history::recent(caf::actor_system& sys,
                            const std::string& topic) const {
  json::array result;
  auto hdl = actor();
  if (!hdl)
    return result;
  caf::scoped_actor self{sys, true};
  self->request(hdl, timeout, recent_atom::value, topic)
    .receive([&](const message_list& l) { result = *l.value; },
             [](caf::error&) {});
  return result;
}

} // namespace chat
