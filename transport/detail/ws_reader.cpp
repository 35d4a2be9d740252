#include "transport/detail/ws_reader.hpp"

#include <algorithm>
#include <cstring>

namespace fenix::transport::detail {

bool is_valid_close_code(uint16_t code) noexcept {
  if (code >= 3000 && code <= 4999)
    return true; // registered (3xxx) and private (4xxx) codes
  switch (code) {
    case 1000: case 1001: case 1002: case 1003: case 1007: case 1008:
    case 1009: case 1010: case 1011: case 1012: case 1013: case 1014:
      return true;
    default:
      return false;
  }
}

namespace {

// Header length once the first two bytes are known: 2 + extended length
// + 4 bytes of masking key (clients must mask).
size_t header_size(uint8_t second) noexcept {
  auto len7 = second & 0x7F;
  return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
}

} // namespace

void ws_reader::unmask_append(std::string& dst, const uint8_t* p, size_t n) {
  auto old = dst.size();
  dst.append(reinterpret_cast<const char*>(p), n);
  auto* out = reinterpret_cast<uint8_t*>(dst.data() + old);
  size_t i = 0;
  // Word at a time with the key rotated to the current position.
  if (n >= 16) {
    uint8_t rot[8];
    for (int k = 0; k < 8; ++k)
      rot[k] = mask_[(mask_pos_ + k) & 3];
    uint64_t key;
    std::memcpy(&key, rot, 8);
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, out + i, 8);
      w ^= key;
      std::memcpy(out + i, &w, 8);
    }
  }
  for (; i < n; ++i)
    out[i] ^= mask_[(mask_pos_ + i) & 3];
  mask_pos_ = static_cast<uint8_t>((mask_pos_ + n) & 3);
}

ws_reader::event ws_reader::next(const uint8_t*& pos, const uint8_t* end) {
  if (error_code_ != 0)
    return event::error;
  while (pos < end) {
    if (!in_payload_) {
      // Collect the header: first the two fixed bytes, then the rest.
      size_t need = hdr_len_ < 2 ? 2 : header_size(hdr_[1]);
      while (hdr_len_ < need && pos < end) {
        hdr_[hdr_len_++] = *pos++;
        if (hdr_len_ == 2) {
          // Fail at once: an unmasked frame's header is shorter than we
          // would wait for.
          if ((hdr_[1] & 0x80) == 0)
            return fail(close_code::protocol_error, "unmasked client frame");
          need = header_size(hdr_[1]);
        }
      }
      if (hdr_len_ < need)
        return event::need_more;
      if (auto ev = on_header(); ev != event::need_more)
        return ev;
      if (remaining_ == 0) {
        if (auto ev = on_frame_end(); ev != event::need_more)
          return ev;
        continue;
      }
    }
    // Payload bytes of the current frame.
    auto n = static_cast<size_t>(
      std::min<uint64_t>(remaining_, static_cast<uint64_t>(end - pos)));
    if (op_ >= 0x8) {
      unmask_append(ctrl_, pos, n);
    } else {
      auto old = msg_.size();
      unmask_append(msg_, pos, n);
      if (msg_op_ == 0x1
          && !utf8_.feed(reinterpret_cast<const uint8_t*>(msg_.data() + old),
                         n))
        return fail(close_code::invalid_payload, "invalid UTF-8 in text");
    }
    pos += n;
    remaining_ -= n;
    if (remaining_ == 0)
      if (auto ev = on_frame_end(); ev != event::need_more)
        return ev;
  }
  return event::need_more;
}

ws_reader::event ws_reader::on_header() {
  auto b0 = hdr_[0];
  auto b1 = hdr_[1];
  fin_ = (b0 & 0x80) != 0;
  op_ = b0 & 0x0F;
  if (b0 & 0x70)
    return fail(close_code::protocol_error, "reserved bits set");
  if ((b1 & 0x80) == 0)
    return fail(close_code::protocol_error, "unmasked client frame");
  uint64_t len = b1 & 0x7F;
  size_t off = 2;
  if (len == 126) {
    len = (uint64_t{hdr_[2]} << 8) | hdr_[3];
    off = 4;
  } else if (len == 127) {
    len = 0;
    for (int i = 0; i < 8; ++i)
      len = (len << 8) | hdr_[2 + i];
    off = 10;
    if (len >> 63)
      return fail(close_code::protocol_error, "invalid length");
  }
  std::memcpy(mask_, hdr_ + off, 4);
  mask_pos_ = 0;
  hdr_len_ = 0;
  switch (op_) {
    case 0x0: // continuation
      if (msg_op_ == 0)
        return fail(close_code::protocol_error, "unexpected continuation");
      break;
    case 0x1:
    case 0x2:
      if (msg_op_ != 0)
        return fail(close_code::protocol_error, "expected continuation");
      msg_op_ = op_;
      utf8_.reset();
      break;
    case 0x8:
    case 0x9:
    case 0xA:
      if (!fin_)
        return fail(close_code::protocol_error, "fragmented control frame");
      if (len > 125)
        return fail(close_code::protocol_error, "control frame too long");
      ctrl_.clear();
      break;
    default:
      return fail(close_code::protocol_error, "unknown opcode");
  }
  if (op_ < 0x8) {
    if (len > max_size_ || msg_.size() + len > max_size_)
      return fail(close_code::message_too_big, "message too big");
    if (len > 0)
      msg_.reserve(msg_.size() + static_cast<size_t>(len));
  }
  remaining_ = len;
  in_payload_ = true;
  return event::need_more;
}

ws_reader::event ws_reader::on_frame_end() {
  in_payload_ = false;
  switch (op_) {
    case 0x8: {
      if (ctrl_.size() == 1)
        return fail(close_code::protocol_error, "close payload of 1 byte");
      close_code_ = 0;
      if (ctrl_.size() >= 2) {
        close_code_ = static_cast<uint16_t>(
          (static_cast<uint8_t>(ctrl_[0]) << 8) | static_cast<uint8_t>(ctrl_[1]));
        if (!is_valid_close_code(close_code_))
          return fail(close_code::protocol_error, "invalid close code");
        if (!is_valid_utf8(close_reason()))
          return fail(close_code::invalid_payload, "invalid UTF-8 in reason");
      }
      return event::close;
    }
    case 0x9:
      return event::ping;
    case 0xA:
      return event::pong;
    default:
      if (!fin_)
        return event::need_more;
      if (msg_op_ == 0x1 && !utf8_.complete())
        return fail(close_code::invalid_payload, "invalid UTF-8 in text");
      return event::message;
  }
}

} // namespace fenix::transport::detail
