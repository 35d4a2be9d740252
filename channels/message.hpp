#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace fenix::channels {

// -- payloads -----------------------------------------------------------------

/// Raw bytes carried by a V2 binary frame (Phoenix's `{:binary, data}`).
struct binary_payload {
  std::string bytes;
};

/// A message payload as it travels: a JSON value, or opaque bytes.
using message_payload = std::variant<boost::json::value, binary_payload>;

/// Non-owning view of raw bytes to send as a binary frame.
struct binary_view {
  std::string_view bytes;
};

/// Non-owning view of an outbound payload (JSON value, JSON object or bytes).
///
/// Encoders take this instead of `message_payload` so that a channel can hand
/// over the object it already holds without copying it into a variant. Like
/// `std::string_view`, it converts implicitly and must not outlive what it
/// views; use it as a function argument only.
class payload_view {
public:
  enum class kind : uint8_t { value, object, binary };

  payload_view(const boost::json::value& v) noexcept // NOLINT
      : kind_(kind::value), value_(&v) {
    // nop
  }

  payload_view(const boost::json::object& o) noexcept // NOLINT
      : kind_(kind::object), object_(&o) {
    // nop
  }

  payload_view(binary_view b) noexcept // NOLINT
      : kind_(kind::binary), bytes_(b.bytes) {
    // nop
  }

  payload_view(const binary_payload& b) noexcept // NOLINT
      : kind_(kind::binary), bytes_(b.bytes) {
    // nop
  }

  payload_view(const message_payload& p) noexcept { // NOLINT
    if (auto v = std::get_if<boost::json::value>(&p)) {
      kind_ = kind::value;
      value_ = v;
    } else {
      kind_ = kind::binary;
      bytes_ = std::get<binary_payload>(p).bytes;
    }
  }

  kind which() const noexcept { return kind_; }
  bool is_binary() const noexcept { return kind_ == kind::binary; }

  /// True for a JSON object, whichever way it was passed in.
  bool is_object() const noexcept {
    return kind_ == kind::object ||
           (kind_ == kind::value && value_->is_object());
  }

  /// Precondition: `which() == kind::value`.
  const boost::json::value& value() const noexcept { return *value_; }

  /// Precondition: `which() == kind::object`.
  const boost::json::object& object() const noexcept { return *object_; }

  /// Precondition: `is_binary()`.
  std::string_view bytes() const noexcept { return bytes_; }

private:
  kind kind_ = kind::value;
  const boost::json::value* value_ = nullptr;
  const boost::json::object* object_ = nullptr;
  std::string_view bytes_;
};

// -- messages -----------------------------------------------------------------

/// A decoded client message (Phoenix's `%Message{}`).
///
/// `join_ref` and `ref` are opaque JSON values, null when absent: phoenix.js
/// sends decimal strings, but whatever the client sent must be echoed back
/// unchanged, so they are never converted.
struct message {
  boost::json::value join_ref;
  boost::json::value ref;
  std::string topic;
  std::string event;
  message_payload payload;

  bool has_binary_payload() const noexcept {
    return std::holds_alternative<binary_payload>(payload);
  }
};

/// An owning reply (event `phx_reply`), for code that must hold it before
/// encoding; encoders also accept the parts directly.
struct reply {
  boost::json::value join_ref;
  boost::json::value ref;
  std::string topic;
  std::string status;
  message_payload response;
};

/// An owning server push to one client. `ref` is null except for
/// phx_error/phx_close, which repeat the join_ref there.
struct push {
  boost::json::value join_ref;
  boost::json::value ref;
  std::string topic;
  std::string event;
  message_payload payload;
};

/// An owning fastlane broadcast (no refs).
struct broadcast {
  std::string topic;
  std::string event;
  message_payload payload;
};

// -- errors and results -------------------------------------------------------

/// Why a frame could not be decoded or a message could not be encoded; the
/// reason is meant for the log, the caller decides what to do (drop the
/// connection on a decode error, crash the channel on an encode error).
struct codec_error {
  std::string reason;
};

/// Either a `T` or a `codec_error`, never both (an `expected`-alike).
template <class T>
class result {
public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) { // NOLINT
    // nop
  }

  result(codec_error err)
      : v_(std::in_place_index<1>, std::move(err)) { // NOLINT
    // nop
  }

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  /// Precondition: `has_value()`.
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// Precondition: `!has_value()`.
  const codec_error& error() const { return std::get<1>(v_); }

private:
  std::variant<T, codec_error> v_;
};

} // namespace fenix::channels
