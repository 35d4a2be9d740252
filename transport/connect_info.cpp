#include "transport/connect_info.hpp"

namespace fenix::transport {

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

std::string decode_lenient(std::string_view s) {
  if (auto res = percent_decode(s, true))
    return std::move(*res);
  std::string out{s};
  for (auto& c : out)
    if (c == '+')
      c = ' ';
  return out;
}

} // namespace

std::string to_lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::optional<std::string> percent_decode(std::string_view s,
                                          bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size())
        return std::nullopt;
      auto hi = hex_value(s[i + 1]);
      auto lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0)
        return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

params params::parse(std::string_view query) {
  std::vector<value_type> xs;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{}
                                          : query.substr(amp + 1);
    if (part.empty())
      continue;
    auto eq = part.find('=');
    if (eq == std::string_view::npos)
      xs.emplace_back(decode_lenient(part), std::string{});
    else
      xs.emplace_back(decode_lenient(part.substr(0, eq)),
                      decode_lenient(part.substr(eq + 1)));
  }
  return params{std::move(xs)};
}

const std::string* params::get(std::string_view key) const noexcept {
  for (auto& [k, v] : xs_)
    if (k == key)
      return &v;
  return nullptr;
}

const std::string* connect_info::header(std::string_view name) const noexcept {
  for (auto& [k, v] : headers)
    if (k == name)
      return &v;
  return nullptr;
}

} // namespace fenix::transport

namespace fenix::transport {

const char* to_string(closed_by x) noexcept {
  switch (x) {
    case closed_by::client:
      return "client";
    case closed_by::server:
      return "server";
    default:
      return "network";
  }
}

} // namespace fenix::transport
