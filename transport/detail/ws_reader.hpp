#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "transport/detail/utf8.hpp"
#include "transport/frame.hpp"

namespace fenix::transport::detail {

/// Close codes of RFC 6455 §7.4.1 used by the transport.
namespace close_code {
constexpr uint16_t normal = 1000;
constexpr uint16_t going_away = 1001;
constexpr uint16_t protocol_error = 1002;
constexpr uint16_t unsupported_data = 1003;
constexpr uint16_t no_status = 1005;  ///< never sent: "no code in the frame"
constexpr uint16_t abnormal = 1006;   ///< never sent: "TCP closed without a close frame"
constexpr uint16_t invalid_payload = 1007;
constexpr uint16_t policy_violation = 1008;
constexpr uint16_t message_too_big = 1009;
constexpr uint16_t internal_error = 1011;
constexpr uint16_t service_restart = 1012;
constexpr uint16_t try_again_later = 1013;
} // namespace close_code

/// True for codes a peer may put in a close frame (RFC 6455 §7.4).
bool is_valid_close_code(uint16_t code) noexcept;

/// Server-side RFC 6455 reader: turns the client's byte stream into
/// messages and control events. It owns no read buffer: a frame header is
/// collected in a 14-byte array, payload bytes are unmasked straight into
/// the message under construction, so an idle connection holds nothing but
/// this object. Enforces masking, reserved bits, known opcodes, control
/// frame rules, fragmentation order, UTF-8 of text (incrementally, across
/// fragments) and the maximum message size.
class ws_reader {
public:
  enum class event : uint8_t {
    need_more, ///< all input consumed, no complete event
    message,   ///< `take_message()` holds a complete text or binary message
    ping,      ///< `control()` holds the payload to echo in a pong
    pong,      ///< unsolicited or answering pong; nothing to do
    close,     ///< `close_code()` (0 = none given) and `close_reason()`
    error,     ///< protocol violation: close with `error_code()`
  };

  explicit ws_reader(size_t max_message_size) noexcept
      : max_size_(max_message_size) {
    // nop
  }

  /// Consumes input from `pos` up to `end` until one event is complete
  /// (then `pos` points past it) or the input is exhausted. After an
  /// error every call returns `event::error` again.
  event next(const uint8_t*& pos, const uint8_t* end);

  // -- results ------------------------------------------------------------

  opcode message_op() const noexcept { return static_cast<opcode>(msg_op_); }
  std::string take_message() noexcept {
    msg_op_ = 0;
    return std::move(msg_);
  }

  const std::string& control() const noexcept { return ctrl_; }
  uint16_t close_code() const noexcept { return close_code_; }
  std::string_view close_reason() const noexcept {
    return std::string_view{ctrl_}.substr(ctrl_.size() >= 2 ? 2 : 0);
  }

  uint16_t error_code() const noexcept { return error_code_; }
  const char* error_reason() const noexcept { return error_reason_; }

  /// Frees the control payload buffer (call when a ping/close was handled).
  void release_control() noexcept { std::string{}.swap(ctrl_); }

  /// Bytes of a partly received message held right now.
  size_t buffered() const noexcept { return msg_.capacity(); }

private:
  event fail(uint16_t code, const char* why) noexcept {
    error_code_ = code;
    error_reason_ = why;
    return event::error;
  }

  event on_header();
  event on_frame_end();
  void unmask_append(std::string& dst, const uint8_t* p, size_t n);

  size_t max_size_;
  uint64_t remaining_ = 0; // payload bytes left in the current frame
  std::string msg_;        // message being assembled (data frames)
  std::string ctrl_;       // payload of the current control frame
  utf8_validator utf8_;
  uint16_t close_code_ = 0;
  uint16_t error_code_ = 0;
  const char* error_reason_ = "";
  uint8_t hdr_[14];
  uint8_t hdr_len_ = 0;
  uint8_t mask_[4] = {0, 0, 0, 0};
  uint8_t mask_pos_ = 0;
  uint8_t op_ = 0;     // opcode of the current frame
  uint8_t msg_op_ = 0; // opcode of the message in progress (0: none)
  bool fin_ = false;
  bool in_payload_ = false;
};

} // namespace fenix::transport::detail
