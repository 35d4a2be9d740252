#include "transport/inspect/access.hpp"

#include <cctype>

namespace fenix::inspection {

namespace {

bool ieq_prefix(std::string_view s, std::string_view prefix) noexcept {
  if (s.size() < prefix.size())
    return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i]))
        != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

/// Dotted quad with a first octet of 127 (each part 0..255, digits only).
bool is_ipv4_loopback(std::string_view s) noexcept {
  int parts = 0;
  int first = -1;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = i;
    int value = 0;
    while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) {
      value = value * 10 + (s[j] - '0');
      if (value > 255 || j - i >= 3)
        return false;
      ++j;
    }
    if (j == i)
      return false;
    if (parts == 0)
      first = value;
    ++parts;
    if (j == s.size())
      break;
    if (s[j] != '.')
      return false;
    i = j + 1;
  }
  return parts == 4 && first == 127;
}

} // namespace

bool is_loopback(std::string_view a) noexcept {
  // Asio prints IPv6 with a scope suffix only for link-local addresses.
  if (a == "::1" || a == "0:0:0:0:0:0:0:1")
    return true;
  if (ieq_prefix(a, "::ffff:"))
    return is_ipv4_loopback(a.substr(7));
  return is_ipv4_loopback(a);
}

std::string_view bearer_token(std::string_view h) noexcept {
  while (!h.empty() && (h.front() == ' ' || h.front() == '\t'))
    h.remove_prefix(1);
  // RFC 6750: the scheme is case-insensitive.
  if (!ieq_prefix(h, "bearer ") )
    return {};
  h.remove_prefix(7);
  while (!h.empty() && h.front() == ' ')
    h.remove_prefix(1);
  while (!h.empty() && (h.back() == ' ' || h.back() == '\t'))
    h.remove_suffix(1);
  return h;
}

bool equal_secrets(std::string_view a, std::string_view b) noexcept {
  // The length is not secret; the content is.
  if (a.size() != b.size())
    return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool access_policy::peer_allowed(std::string_view address) const {
  if (allow_peer)
    return allow_peer(address);
  return !loopback_only || is_loopback(address);
}

access_policy::verdict
access_policy::check(const transport::http_request& req,
                     bool token_required) const {
  if (!peer_allowed(req.peer_address))
    return verdict::forbidden;
  if (!token_required || token.empty())
    return verdict::allow;
  auto h = req.header("authorization");
  if (!h)
    return verdict::unauthorized;
  auto presented = bearer_token(*h);
  if (presented.empty() || !equal_secrets(presented, token))
    return verdict::unauthorized;
  return verdict::allow;
}

transport::http_response access_policy::refusal(verdict v) {
  if (v == verdict::forbidden)
    return transport::http_response::json(R"({"error":"forbidden"})" "\n",
                                          403);
  auto res = transport::http_response::json(
    R"({"error":"unauthorized"})" "\n", 401);
  res.headers.emplace_back("www-authenticate", R"(Bearer realm="fenix")");
  return res;
}

} // namespace fenix::inspection
