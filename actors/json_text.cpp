#include "actors/json_text.hpp"

#include <array>

namespace fenix {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  // Most values (topics, addresses, versions) need no escape at all: find
  // the next byte that does with one table load per byte.
  static constexpr auto needs_escape = [] {
    std::array<bool, 256> t{};
    for (size_t c = 0; c < 0x20; ++c)
      t[c] = true;
    t['"'] = true;
    t['\\'] = true;
    return t;
  }();
  size_t run = 0; // start of the bytes copied as they are
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (!needs_escape[c])
      continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    out += '\\';
    switch (c) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '\n': out += 'n'; break;
      case '\r': out += 'r'; break;
      case '\t': out += 't'; break;
      case '\b': out += 'b'; break;
      case '\f': out += 'f'; break;
      default:
        out += "u00";
        out += hex[c >> 4];
        out += hex[c & 0xF];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

} // namespace fenix
