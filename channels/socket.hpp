#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "channels/channel.hpp"
#include "channels/channel_pool.hpp"
#include "channels/pubsub.hpp"
#include "transport/connect_info.hpp"
#include "transport/socket_handler.hpp"

namespace fenix::channels {

/// What happens when a channel crashes (beyond Phoenix).
enum class restart_policy : uint8_t {
  /// Phoenix's behaviour: the client gets phx_error and rejoins by itself.
  temporary,
  /// The channel's supervisor restarts it at once, re-running join with
  /// the original join payload, within the socket's restart intensity
  /// (`max_restarts` in `max_seconds`, per topic); the client keeps its
  /// join and only loses what was in flight. Past the intensity, or if
  /// the rejoin is refused, the client gets phx_error.
  transient,
};

const char* to_string(restart_policy x);

/// One `channel "room:*", RoomChannel` line of a socket.
struct route {
  std::string pattern;
  std::function<channel_ptr()> factory;
  restart_policy restart = restart_policy::temporary;
  /// Merged into the socket assigns of channels joined through this route.
  boost::json::object assigns;

  /// Exact match, or prefix match for a pattern ending in `*` (the bare
  /// prefix included: "room:*" matches "room:").
  bool matches(const std::string& topic) const;
};

/// The user's socket (Phoenix's UserSocket): authenticates connections and
/// routes topics to channels. Subclass it, declare routes in the
/// constructor, override `connect` (and `id`).
///
/// ```cpp
/// struct user_socket : fenix::channels::user_socket {
///   user_socket() { channel<room_channel>("room:*"); }
///   std::optional<boost::json::object>
///   connect(const fenix::transport::params& p,
///           const fenix::transport::connect_info&) override {
///     if (auto t = p.get("token"); t && *t == "bad") return std::nullopt;
///     return boost::json::object{{"user_id", "anon"}};
///   }
/// };
/// ```
class user_socket {
public:
  virtual ~user_socket();

  /// Accept (with the socket's assigns) or refuse (nullopt -> HTTP 403).
  /// Runs for the new connection before the upgrade is answered, on the
  /// runtime's blocking pool (`fenix.blocking-threads`), never on an I/O
  /// thread or a CAF worker: a slow check (a database) delays only this
  /// client. Connects run concurrently: keep it thread-safe.
  virtual std::optional<boost::json::object>
  connect(const transport::params& params,
          const transport::connect_info& info) = 0;

  /// The socket id ("user_socket:42"), if any. Sockets with an id can be
  /// disconnected all at once by broadcasting "disconnect" on that topic.
  virtual std::optional<std::string>
  id(const boost::json::object& assigns) const;

  /// Declares a route; first match wins.
  void channel(std::string pattern, std::function<channel_ptr()> factory,
               restart_policy restart = restart_policy::temporary,
               boost::json::object assigns = {});

  template <class Channel>
  void channel(std::string pattern,
               restart_policy restart = restart_policy::temporary) {
    channel(std::move(pattern), [] { return std::make_unique<Channel>(); },
            restart);
  }

  const route* match(const std::string& topic) const;

  /// Phoenix's max_channels_per_transport.
  size_t max_channels = 100;

  /// Restart intensity of transient channels, per (socket, topic).
  size_t max_restarts = 3;
  std::chrono::milliseconds max_seconds{5000};

private:
  std::vector<route> routes_;
};

/// The socket handler factory that speaks the Phoenix protocol for `socket`
/// over any transport: mount it on an endpoint path.
transport::handler_factory
phoenix_handler_factory(std::shared_ptr<user_socket> socket, pubsub ps,
                        channel_pool pool);

} // namespace fenix::channels
