#include "transport/inspect/prometheus.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace fenix::inspection {

namespace {

bool name_char(char c, bool first, bool colon_ok) {
  bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (alpha || (colon_ok && c == ':'))
    return true;
  return !first && c >= '0' && c <= '9';
}

std::string sanitize(std::string_view s, bool colon_ok) {
  std::string out;
  out.reserve(s.size() + 1);
  for (auto c : s)
    out += name_char(c, out.empty(), colon_ok) ? c : '_';
  if (out.empty())
    out = "_";
  return out;
}

} // namespace

std::string prometheus_writer::sanitize_name(std::string_view name) {
  return sanitize(name, true);
}

std::string prometheus_writer::sanitize_label_name(std::string_view name) {
  auto out = sanitize(name, false);
  // Names starting with __ are reserved for Prometheus itself.
  if (out.size() >= 2 && out[0] == '_' && out[1] == '_')
    out.insert(0, "x");
  return out;
}

std::string prometheus_writer::escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (auto c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string prometheus_writer::escape_help(std::string_view h) {
  std::string out;
  out.reserve(h.size());
  for (auto c : h) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': break; // a bare CR would end the line for some parsers
      default: out += c;
    }
  }
  return out;
}

prometheus_writer::labels
prometheus_writer::parse_stored_labels(std::string_view s) {
  labels out;
  auto eq = s.find('=');
  if (eq == std::string_view::npos)
    return out;
  auto key = s.substr(0, eq);
  auto value = s.substr(eq + 1);
  // The writer of the stored form did not escape the value: strip the
  // outer quotes and keep everything between them, quotes included.
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
    value = value.substr(1, value.size() - 2);
  out.emplace_back(std::string{key}, std::string{value});
  return out;
}

void prometheus_writer::family(std::string_view name, std::string_view help,
                               type t) {
  auto n = sanitize_name(name);
  // Prometheus convention: a counter's name says it is one.
  constexpr std::string_view suffix = "_total";
  if (t == type::counter
      && (n.size() < suffix.size()
          || n.compare(n.size() - suffix.size(), suffix.size(), suffix) != 0))
    n += suffix;
  if (std::find(written_.begin(), written_.end(), n) != written_.end()) {
    skip_ = true;
    return;
  }
  skip_ = false;
  written_.push_back(n);
  current_ = n;
  out_ += "# HELP ";
  out_ += n;
  out_ += ' ';
  out_ += escape_help(help);
  out_ += "\n# TYPE ";
  out_ += n;
  out_ += t == type::counter ? " counter\n" : " gauge\n";
}

void prometheus_writer::write_labels(const labels& ls) {
  if (ls.empty())
    return;
  out_ += '{';
  bool first = true;
  for (auto& [k, v] : ls) {
    if (!first)
      out_ += ',';
    first = false;
    out_ += sanitize_label_name(k);
    out_ += "=\"";
    out_ += escape_label_value(v);
    out_ += '"';
  }
  out_ += '}';
}

void prometheus_writer::sample(const labels& ls, int64_t value) {
  if (skip_ || current_.empty())
    return;
  out_ += current_;
  write_labels(ls);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void prometheus_writer::sample(const labels& ls, double value) {
  if (skip_ || current_.empty())
    return;
  out_ += current_;
  write_labels(ls);
  out_ += ' ';
  if (std::isnan(value)) {
    out_ += "NaN";
  } else if (std::isinf(value)) {
    out_ += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.17g", value);
    out_ += buf;
  }
  out_ += '\n';
}

} // namespace fenix::inspection
