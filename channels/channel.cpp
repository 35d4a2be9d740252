// The out-of-line parts of the channel API (channels/channel.hpp).

#include "channels/channel.hpp"

#include <stdexcept>

#include <caf/message_handler.hpp>

#include "channels/serializer.hpp"

namespace fenix::channels {

socket::~socket() {
  // nop
}

std::string socket::assign_string(const std::string& key) const {
  auto& a = assigns();
  if (auto i = a.find(key); i != a.end() && i->value().is_string())
    return std::string{i->value().as_string()};
  return {};
}

channel::~channel() {
  // nop
}

in_result channel::handle_in(const std::string& event, const payload&,
                             socket& s) {
  throw std::runtime_error("no handle_in for event \"" + event + "\" on "
                           + s.topic());
}

std::vector<std::string> channel::intercepts() const {
  return {};
}

info_result channel::handle_out(const std::string& event, const payload&,
                                socket& s) {
  throw std::runtime_error("event \"" + event + "\" intercepted on "
                           + s.topic() + " without a handle_out");
}

caf::message_handler channel::handle_info(socket&) {
  return {};
}

caf::message_handler channel::handle_call(socket&) {
  return {};
}

void channel::terminate(const stop_reason&, socket&) {
  // nop
}

std::string payload_field(const json& p, const std::string& key) {
  if (auto obj = p.if_object())
    if (auto i = obj->find(key); i != obj->end() && i->value().is_string())
      return std::string{i->value().as_string()};
  return {};
}

std::string payload_field(const payload& p, const std::string& key) {
  if (auto v = std::get_if<boost::json::value>(&p))
    return payload_field(*v, key);
  return {};
}

bool socket_ref::reply(const std::string& status, const payload& p) const {
  if (!out_ || !ser_)
    return false;
  auto res = ser_->encode_reply(join_ref_, ref_, topic_, status, p);
  if (!res)
    return false;
  return out_->send_reply(std::move(*res));
}

} // namespace fenix::channels
