#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace fenix::transport::detail {

/// Incremental UTF-8 validator (RFC 3629: no overlong forms, no surrogates,
/// nothing above U+10FFFF). Text messages arrive in fragments and reads cut
/// them anywhere, so the state survives between calls; `feed` fails as soon
/// as a byte cannot continue a valid sequence (fail fast, as RFC 6455 §8.1
/// and the Autobahn suite expect), `complete` tells whether the text may
/// end here.
class utf8_validator {
public:
  /// Checks `n` more bytes; false once the input can no longer be valid.
  bool feed(const uint8_t* p, size_t n) noexcept {
    const uint8_t* end = p + n;
    while (p < end) {
      if (need_ == 0) {
        // Fast path: eight ASCII bytes at a time.
        while (end - p >= 8) {
          uint64_t w;
          std::memcpy(&w, p, 8);
          if (w & 0x8080808080808080ull)
            break;
          p += 8;
        }
        if (p == end)
          break;
        auto b = *p++;
        if (b < 0x80)
          continue;
        if (b >= 0xC2 && b <= 0xDF) {
          need_ = 1;
          lo_ = 0x80;
          hi_ = 0xBF;
        } else if (b == 0xE0) {
          need_ = 2;
          lo_ = 0xA0;
          hi_ = 0xBF;
        } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
          need_ = 2;
          lo_ = 0x80;
          hi_ = 0xBF;
        } else if (b == 0xED) { // no UTF-16 surrogates
          need_ = 2;
          lo_ = 0x80;
          hi_ = 0x9F;
        } else if (b == 0xF0) {
          need_ = 3;
          lo_ = 0x90;
          hi_ = 0xBF;
        } else if (b >= 0xF1 && b <= 0xF3) {
          need_ = 3;
          lo_ = 0x80;
          hi_ = 0xBF;
        } else if (b == 0xF4) { // nothing above U+10FFFF
          need_ = 3;
          lo_ = 0x80;
          hi_ = 0x8F;
        } else {
          return fail();
        }
      } else {
        auto b = *p++;
        if (b < lo_ || b > hi_)
          return fail();
        lo_ = 0x80;
        hi_ = 0xBF;
        --need_;
      }
    }
    return true;
  }

  bool feed(std::string_view s) noexcept {
    return feed(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }

  /// True when no multi-byte sequence is left open.
  bool complete() const noexcept { return need_ == 0; }

  void reset() noexcept {
    need_ = 0;
    lo_ = 0x80;
    hi_ = 0xBF;
  }

private:
  bool fail() noexcept {
    need_ = 0xFF; // sticky: every later byte fails the range check
    lo_ = 1;
    hi_ = 0;
    return false;
  }

  uint8_t need_ = 0;
  uint8_t lo_ = 0x80;
  uint8_t hi_ = 0xBF;
};

/// Whole-string check.
inline bool is_valid_utf8(std::string_view s) noexcept {
  utf8_validator v;
  return v.feed(s) && v.complete();
}

} // namespace fenix::transport::detail
