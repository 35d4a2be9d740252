#pragma once

// What a test socket receives, as the channel harness (channel_test.hpp)
// hands it to a test, and the payload patterns its assertions take.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include <boost/json/value.hpp>

#include "channels/message.hpp"

namespace fenix::channels::testing {

using duration = std::chrono::milliseconds;

/// What a harness assertion throws when it does not get what it expected.
class failure : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// How a Phoenix client tells server frames apart (protocol.md 1.1).
enum class frame_kind : uint8_t {
  reply,     ///< `phx_reply`: `status` and the response in `payload`
  push,      ///< a channel's push, phx_error, phx_close (join_ref set)
  broadcast, ///< a fastlane broadcast (null join_ref and ref); over V1,
             ///< which never sends join_ref, pushes look like this too
  malformed, ///< the client could not decode it (`error` says why)
};

const char* to_string(frame_kind x) noexcept;

/// One frame a test socket received, decoded.
struct client_frame {
  /// The test socket it reached (`test_socket::id`).
  size_t socket = 0;
  /// Its position among every frame of this `channel_test`, from 0.
  size_t seq = 0;
  frame_kind kind = frame_kind::malformed;
  boost::json::value join_ref;
  boost::json::value ref;
  std::string topic;
  /// "phx_reply" for replies.
  std::string event;
  /// Replies only: "ok", "error", or any status a channel chose.
  std::string status;
  /// The push's or broadcast's payload; a reply's response.
  message_payload payload;
  /// The frame's payload bytes as the transport would have written them.
  std::string wire;
  bool binary = false;
  std::string error;

  bool is_reply() const noexcept { return kind == frame_kind::reply; }
  /// A reply with status "ok".
  bool ok() const noexcept { return is_reply() && status == "ok"; }
  /// The JSON payload (or response); throws `failure` for a binary one.
  const boost::json::value& value() const;
  /// One line for failure messages: socket, kind and the wire text.
  std::string describe() const;
};

/// A broadcast as the test itself saw it on PubSub (it subscribed to the
/// topic, like Phoenix's test process with `subscribe_and_join`).
struct observed_broadcast {
  std::string topic;
  std::string event;
  message_payload payload;

  const boost::json::value& value() const;
  std::string describe() const;
};

/// What a payload must look like. By default a JSON value is a pattern
/// with Elixir's map-pattern meaning: an object matches every object that
/// has at least its keys, each value matching in turn (nested objects too);
/// an array matches an array of the same length, element by element; other
/// values must be equal. `pattern{}` matches anything.
class pattern {
public:
  pattern() = default;

  template <class T, class = std::enable_if_t<
                         !std::is_same_v<std::decay_t<T>, pattern> &&
                         std::is_constructible_v<boost::json::value, T&&>>>
  pattern(T&& x) // NOLINT: patterns are written as plain JSON
      : kind_(kind::subset), value_(std::forward<T>(x)) {
    // nop
  }

  /// Equality, no extra keys allowed.
  static pattern exactly(boost::json::value v);

  /// Any test on the JSON payload; `description` names it in failures.
  static pattern where(std::function<bool(const boost::json::value&)> pred,
                       std::string description);

  bool matches(const message_payload& p) const;
  std::string describe() const;

private:
  enum class kind : uint8_t { any, subset, exact, pred };
  kind kind_ = kind::any;
  boost::json::value value_;
  std::shared_ptr<const std::function<bool(const boost::json::value&)>> pred_;
};

/// True if `actual` matches `pat` in the sense of `pattern`'s default.
bool subset_match(const boost::json::value& pat,
                  const boost::json::value& actual);

} // namespace fenix::channels::testing
