// The waits and assertions of channel_test.

#include <algorithm>

#include "channels/testing/channel_test.hpp"
#include "channels/testing/detail/state.hpp"

namespace fenix::channels::testing {

namespace json = boost::json;
using detail::clock;
using detail::ms;
using detail::quote;

// -- assertions --------------------------------------------------------------

client_frame channel_test::assert_reply(const json::value& ref,
                                        const std::string& status,
                                        pattern response,
                                        std::optional<duration> timeout) {
  auto what = "assert_reply(" + json::serialize(ref) + ", " + quote(status) +
              ", " + response.describe() + ")";
  auto f = impl_->await_reply(ref, what, 0, timeout);
  if (f.status != status || !response.matches(f.payload))
    throw failure(what + ": got " + f.describe());
  return f;
}

void channel_test::refute_reply(const json::value& ref,
                                std::optional<duration> timeout) {
  auto& d = *impl_;
  auto t = d.or_refute(timeout);
  auto f = d.find(
      [&](const client_frame& x) { return x.is_reply() && x.ref == ref; }, t,
      false, 0, nullptr);
  if (f)
    throw failure("refute_reply(" + json::serialize(ref) + "): got " +
                  f->describe());
}

namespace {

bool is_push(const client_frame& f, size_t socket, const std::string& event,
             const pattern& p) {
  return (socket == 0 || f.socket == socket) &&
         (f.kind == frame_kind::push || f.kind == frame_kind::broadcast) &&
         f.event == event && p.matches(f.payload);
}

std::string push_call(const char* name, size_t socket, const std::string& event,
                      const pattern& p) {
  std::string out =
      std::string{name} + "(" + quote(event) + ", " + p.describe() + ")";
  if (socket != 0)
    out += " on socket " + std::to_string(socket);
  return out;
}

} // namespace

client_frame channel_test::assert_push(const std::string& event,
                                       pattern payload,
                                       std::optional<duration> timeout) {
  return assert_push(test_socket{}, event, std::move(payload), timeout);
}

client_frame channel_test::assert_push(const test_socket& s,
                                       const std::string& event,
                                       pattern payload,
                                       std::optional<duration> timeout) {
  auto& d = *impl_;
  auto t = d.or_default(timeout);
  std::string missing;
  auto f = d.find(
      [&](const client_frame& x) { return is_push(x, s.id(), event, payload); },
      t, true, s.id(), &missing);
  if (!f)
    throw failure(push_call("assert_push", s.id(), event, payload) +
                  ": nothing matched within " + ms(t) +
                  "; frames not taken yet:" + missing);
  return std::move(*f);
}

void channel_test::refute_push(const std::string& event, pattern payload,
                               std::optional<duration> timeout) {
  refute_push(test_socket{}, event, std::move(payload), timeout);
}

void channel_test::refute_push(const test_socket& s, const std::string& event,
                               pattern payload,
                               std::optional<duration> timeout) {
  auto& d = *impl_;
  auto f = d.find(
      [&](const client_frame& x) { return is_push(x, s.id(), event, payload); },
      d.or_refute(timeout), false, s.id(), nullptr);
  if (f)
    throw failure(push_call("refute_push", s.id(), event, payload) + ": got " +
                  f->describe());
}

void channel_test::subscribe(const std::string& topic) {
  auto& d = *impl_;
  auto fresh =
      d.box->locked([&] { return d.box->subscribed.insert(topic).second; });
  if (fresh)
    d.ps.subscribe(topic, d.observer);
}

void channel_test::unsubscribe(const std::string& topic) {
  auto& d = *impl_;
  auto was = d.box->locked([&] { return d.box->subscribed.erase(topic) > 0; });
  if (was)
    d.ps.unsubscribe(topic, d.observer);
}

observed_broadcast
channel_test::assert_broadcast(const std::string& topic,
                               const std::string& event, pattern payload,
                               std::optional<duration> timeout) {
  auto& d = *impl_;
  auto what = "assert_broadcast(" + quote(topic) + ", " + quote(event) + ", " +
              payload.describe() + ")";
  if (!d.box->locked([&] { return d.box->subscribed.count(topic) > 0; }))
    throw failure(what + ": the test is not subscribed to " + quote(topic) +
                  " (subscribe or subscribe_and_join first)");
  auto t = d.or_default(timeout);
  auto b = d.find_broadcast(
      [&](const observed_broadcast& x) {
        return x.topic == topic && x.event == event &&
               payload.matches(x.payload);
      },
      t, true);
  if (!b)
    throw failure(what + ": nothing matched within " + ms(t) +
                  "; broadcasts not taken yet:" +
                  d.box->locked([&] { return d.unclaimed_broadcasts(topic); }));
  return std::move(*b);
}

void channel_test::refute_broadcast(const std::string& topic,
                                    const std::string& event, pattern payload,
                                    std::optional<duration> timeout) {
  auto& d = *impl_;
  auto b = d.find_broadcast(
      [&](const observed_broadcast& x) {
        return x.topic == topic && x.event == event &&
               payload.matches(x.payload);
      },
      d.or_refute(timeout), false);
  if (b)
    throw failure("refute_broadcast(" + quote(topic) + ", " + quote(event) +
                  ", " + payload.describe() + "): got " + b->describe());
}

// -- the channel actors ------------------------------------------------------

caf::actor channel_test::channel_actor(const test_socket& s,
                                       const std::string& topic,
                                       std::optional<duration> timeout) {
  return impl_->await_channel(s, topic, nullptr, timeout, "channel_actor");
}

caf::actor channel_test::await_restart(const test_socket& s,
                                       const std::string& topic,
                                       const caf::actor& old,
                                       std::optional<duration> timeout) {
  return impl_->await_channel(s, topic, &old, timeout, "await_restart");
}

// -- debugging ---------------------------------------------------------------

std::vector<client_frame> channel_test::frames() const {
  return impl_->box->locked([&] {
    std::vector<client_frame> out;
    for (auto& e : impl_->box->frames)
      out.push_back(e.value);
    return out;
  });
}

std::vector<client_frame> channel_test::frames(const test_socket& s) const {
  auto all = frames();
  all.erase(std::remove_if(all.begin(), all.end(),
                           [&](auto& f) { return f.socket != s.id(); }),
            all.end());
  return all;
}

std::vector<observed_broadcast> channel_test::broadcasts() const {
  return impl_->box->locked([&] {
    std::vector<observed_broadcast> out;
    for (auto& e : impl_->box->broadcasts)
      out.push_back(e.value);
    return out;
  });
}

std::string channel_test::dump() const {
  return impl_->box->locked([&] {
    std::string out;
    for (auto& e : impl_->box->frames)
      out += (e.taken ? "  taken " : "        ") + e.value.describe() + "\n";
    return out;
  });
}

} // namespace fenix::channels::testing
