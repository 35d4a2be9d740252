#include "channels/socket.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <vector>
#include <unordered_map>


#include "channels/detail/phoenix_handler.hpp"
#include "channels/serializer.hpp"

namespace fenix::channels {

const char* to_string(restart_policy x) {
  return x == restart_policy::transient ? "transient" : "temporary";
}

bool route::matches(const std::string& topic) const {
  if (!pattern.empty() && pattern.back() == '*')
    return topic.compare(0, pattern.size() - 1, pattern, 0,
                         pattern.size() - 1)
             == 0
           && topic.size() >= pattern.size() - 1;
  return topic == pattern;
}

user_socket::~user_socket() {
  // nop
}

std::optional<std::string>
user_socket::id(const boost::json::object&) const {
  return std::nullopt;
}

void user_socket::channel(std::string pattern,
                          std::function<channel_ptr()> factory,
                          restart_policy restart,
                          boost::json::object assigns) {
  routes_.push_back(
    route{std::move(pattern), std::move(factory), restart, std::move(assigns)});
}

const route* user_socket::match(const std::string& topic) const {
  for (auto& r : routes_)
    if (r.matches(topic))
      return &r;
  return nullptr;
}

transport::handler_factory
phoenix_handler_factory(std::shared_ptr<user_socket> socket, pubsub ps,
                        channel_pool pool) {
  return [socket, ps, pool](const transport::params& p,
                      const transport::connect_info& info)
           -> transport::socket_handler_ptr {
    auto vsn = p.get("vsn");
    auto ser = negotiate(vsn ? std::optional<std::string_view>{*vsn}
                             : std::nullopt);
    if (!ser)
      return nullptr;
    auto assigns = socket->connect(p, info);
    if (!assigns)
      return nullptr;
    auto id = socket->id(*assigns);
    return detail::make_phoenix_handler(socket, ps, pool, ser,
                                        std::move(*assigns), std::move(id),
                                        info.transport);
  };
}

} // namespace fenix::channels
