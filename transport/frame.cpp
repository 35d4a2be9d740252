#include "transport/frame.hpp"

#include <cstring>

namespace fenix::transport {

size_t write_ws_header(uint8_t* out, uint8_t op, uint64_t len) noexcept {
  out[0] = static_cast<uint8_t>(0x80 | (op & 0x0F)); // FIN + opcode
  if (len < 126) {
    out[1] = static_cast<uint8_t>(len);
    return 2;
  }
  if (len <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<uint8_t>(len >> 8);
    out[3] = static_cast<uint8_t>(len);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i)
    out[2 + i] = static_cast<uint8_t>(len >> (56 - 8 * i));
  return 10;
}

frame::frame(opcode op, std::string buf)
    : op_(op), offset_(0), buf_(std::move(buf)) {
  uint8_t hdr[headroom];
  auto n = write_ws_header(hdr, static_cast<uint8_t>(op), payload_size());
  offset_ = static_cast<uint8_t>(headroom - n);
  std::memcpy(buf_.data() + offset_, hdr, n);
}

frame_ptr frame::make(opcode op, std::string_view payload) {
  std::string buf;
  buf.reserve(headroom + payload.size());
  buf.append(headroom, '\0');
  buf.append(payload.data(), payload.size());
  return std::make_shared<const frame>(op, std::move(buf));
}

frame_ptr frame::adopt(opcode op, std::string buf) {
  if (buf.size() < headroom)
    buf.insert(0, headroom - buf.size(), '\0');
  return std::make_shared<const frame>(op, std::move(buf));
}

frame_ptr frame::make_close(uint16_t code, std::string_view reason) {
  if (reason.size() > 123) {
    // Cut, but never inside a UTF-8 sequence: the reason must stay text.
    size_t end = 123;
    size_t lead = end;
    while (lead > 0 && (static_cast<uint8_t>(reason[lead - 1]) & 0xC0) == 0x80)
      --lead;
    if (lead > 0) {
      auto b = static_cast<uint8_t>(reason[lead - 1]);
      size_t len = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
      if (lead - 1 + len > end)
        end = lead - 1;
    }
    reason = reason.substr(0, end);
  }
  std::string buf;
  buf.reserve(headroom + 2 + reason.size());
  buf.append(headroom, '\0');
  buf.push_back(static_cast<char>(code >> 8));
  buf.push_back(static_cast<char>(code & 0xFF));
  buf.append(reason.data(), reason.size());
  return std::make_shared<const frame>(opcode::close, std::move(buf));
}

} // namespace fenix::transport
