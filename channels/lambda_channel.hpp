#pragma once

#include <functional>
#include <string>
#include <vector>

#include "channels/channel.hpp"

namespace fenix::channels {

/// A channel written as a set of lambdas instead of a class. Every join
/// gets a fresh copy of the callbacks (state belongs in `socket.assigns()`
/// or in captured shared objects).
///
/// ```cpp
/// lambda_channel room;
/// room.on_join = [](auto& topic, auto&, auto&) {
///   return join_result::ok({{"joined", topic}});
/// };
/// room.on_in = [](auto& event, auto& p, socket& s) {
///   if (event == "shout") { s.broadcast("shout", p); return in_result::noreply(); }
///   return in_result::ok(p);
/// };
/// sock.channel("room:*", room);
/// ```
struct lambda_channel {
  std::function<join_result(const std::string&, const json&, socket&)> on_join;
  std::function<in_result(const std::string&, const payload&, socket&)> on_in;
  std::function<info_result(const std::string&, const payload&, socket&)>
    on_out;
  /// handle_info / handle_call clauses (see channel).
  std::function<caf::message_handler(socket&)> on_info;
  std::function<caf::message_handler(socket&)> on_call;
  std::function<void(const stop_reason&, socket&)> on_terminate;
  std::vector<std::string> intercepts;

  /// The channel factory a route takes.
  std::function<channel_ptr()> factory() const;
};

} // namespace fenix::channels
