#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace fenix::transport {

/// WebSocket opcodes (RFC 6455 §5.2). Applications build `text` and
/// `binary` frames; the control opcodes are used by the transport itself
/// (pong replies, close frames) so that control frames travel through the
/// same outbound queue as data.
enum class opcode : uint8_t {
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

class frame;

/// Frames are immutable once built and shared by every connection they go
/// to: a broadcast to N connections costs N pointer copies, not N encodings.
using frame_ptr = std::shared_ptr<const frame>;

/// One outbound message, stored as its complete WebSocket wire bytes: the
/// unmasked server frame header (2, 4 or 10 bytes) directly followed by the
/// payload. Server frames are never masked, so the header depends only on
/// the opcode and length and the same bytes are valid for every recipient;
/// a connection's queue leaves in one gather-write of `wire()` views.
/// Transports that do not speak WebSocket (long-poll) use `payload()`.
class frame {
public:
  /// Bytes a caller reserves at the front of a buffer passed to `adopt`.
  static constexpr size_t headroom = 10;

  /// Copies `payload` into a new frame.
  static frame_ptr make(opcode op, std::string_view payload);

  /// Takes a buffer whose first `headroom` bytes are scratch space and the
  /// rest is the payload: encoders write straight into it, no copy follows.
  static frame_ptr adopt(opcode op, std::string buf);

  opcode op() const noexcept { return op_; }
  bool is_text() const noexcept { return op_ == opcode::text; }
  bool is_control() const noexcept { return static_cast<uint8_t>(op_) >= 0x8; }

  /// A close frame carrying `code` and a reason (truncated so that the
  /// payload stays within the 125 bytes allowed for control frames).
  static frame_ptr make_close(uint16_t code, std::string_view reason = {});

  /// The message body as the application produced it.
  std::string_view payload() const noexcept {
    return std::string_view{buf_}.substr(headroom);
  }

  /// Header plus payload, ready for the socket.
  std::string_view wire() const noexcept {
    return std::string_view{buf_}.substr(offset_);
  }

  size_t payload_size() const noexcept { return buf_.size() - headroom; }
  size_t wire_size() const noexcept { return buf_.size() - offset_; }

  /// Use make/adopt; public for make_shared.
  frame(opcode op, std::string buf);

private:
  opcode op_;
  uint8_t offset_;
  std::string buf_;
};

/// Writes the unmasked header of a final frame with this opcode and
/// payload length into `out` (at least 10 bytes); returns its length.
size_t write_ws_header(uint8_t* out, uint8_t op, uint64_t len) noexcept;

} // namespace fenix::transport
