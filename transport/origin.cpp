#include "transport/origin.hpp"

#include <optional>

#include "transport/connect_info.hpp"

namespace fenix::transport {

namespace {

struct parsed_origin {
  std::string scheme;
  std::string host;
  std::string port;
};

// Parses "scheme://host[:port][/...]" or "//host[:port]"; nothing when no
// host can be found.
std::optional<parsed_origin> parse(std::string_view s) {
  parsed_origin out;
  auto sep = s.find("//");
  if (sep == std::string_view::npos)
    return std::nullopt;
  auto scheme = s.substr(0, sep);
  if (!scheme.empty()) {
    if (scheme.back() != ':')
      return std::nullopt;
    scheme.remove_suffix(1);
  }
  out.scheme = to_lower(scheme);
  auto rest = s.substr(sep + 2);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = rest.rfind('@'); at != std::string_view::npos)
    rest = rest.substr(at + 1);
  std::string_view host = rest;
  if (!rest.empty() && rest.front() == '[') { // IPv6 literal
    auto close = rest.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    host = rest.substr(0, close + 1);
    auto tail = rest.substr(close + 1);
    if (!tail.empty()) {
      if (tail.front() != ':')
        return std::nullopt;
      out.port = std::string{tail.substr(1)};
    }
  } else if (auto colon = rest.find(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    out.port = std::string{rest.substr(colon + 1)};
  }
  if (host.empty())
    return std::nullopt;
  out.host = to_lower(host);
  // Like URI.parse in Phoenix: a known scheme implies its default port, so
  // "https://example.com" allows port 443 only.
  if (out.port.empty()) {
    if (out.scheme == "http" || out.scheme == "ws")
      out.port = "80";
    else if (out.scheme == "https" || out.scheme == "wss")
      out.port = "443";
  }
  return out;
}

} // namespace

origin_policy origin_policy::host(std::string host) {
  origin_policy res;
  res.how_ = mode::host;
  entry e;
  e.host = to_lower(host);
  res.entries_.push_back(std::move(e));
  return res;
}

origin_policy origin_policy::list(std::vector<std::string> allowed) {
  origin_policy res;
  res.how_ = mode::list;
  for (auto& str : allowed) {
    auto p = parse(str);
    if (!p)
      continue; // an entry without a host can never match
    entry e;
    e.scheme = std::move(p->scheme);
    e.port = std::move(p->port);
    if (p->host.size() > 2 && p->host.compare(0, 2, "*.") == 0) {
      e.wildcard = true;
      e.host = p->host.substr(2);
    } else {
      e.host = std::move(p->host);
    }
    res.entries_.push_back(std::move(e));
  }
  return res;
}

bool origin_policy::allows(std::string_view origin) const {
  if (how_ == mode::off)
    return true;
  auto o = parse(origin);
  if (!o)
    return false; // an Origin that does not parse to a host is refused
  for (auto& e : entries_) {
    if (how_ == mode::host) {
      if (o->host == e.host)
        return true;
      continue;
    }
    if (!e.scheme.empty() && e.scheme != o->scheme)
      continue;
    if (!e.port.empty() && e.port != o->port)
      continue;
    if (o->host == e.host)
      return true;
    if (e.wildcard && o->host.size() > e.host.size() + 1
        && o->host.compare(o->host.size() - e.host.size(), e.host.size(),
                           e.host)
             == 0
        && o->host[o->host.size() - e.host.size() - 1] == '.')
      return true;
  }
  return false;
}

} // namespace fenix::transport
