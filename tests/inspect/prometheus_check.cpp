#include "tests/inspect/prometheus_check.hpp"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>

namespace fenix::test {

namespace {

bool metric_name_ok(const std::string& s) {
  if (s.empty())
    return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
              || c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok)
      return false;
  }
  return true;
}

bool label_name_ok(const std::string& s) {
  return metric_name_ok(s) && s.find(':') == std::string::npos
         && s.rfind("__", 0) != 0;
}

bool parse_value(const std::string& s, double& out) {
  if (s == "NaN") {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (s == "+Inf" || s == "-Inf") {
    out = s[0] == '+' ? HUGE_VAL : -HUGE_VAL;
    return true;
  }
  if (s.empty())
    return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

/// The family a sample belongs to (histogram/summary suffixes aside, which
/// fenix does not emit).
std::string family_of(const std::string& name) {
  return name;
}

} // namespace

double prometheus_parse::value(
  const std::string& name,
  const std::vector<std::pair<std::string, std::string>>& ls) const {
  for (auto& s : series)
    if (s.name == name && s.labels == ls)
      return s.value;
  return std::numeric_limits<double>::quiet_NaN();
}

std::string prometheus_parse::type(const std::string& name) const {
  for (auto& [n, t] : types)
    if (n == name)
      return t;
  return {};
}

prometheus_parse check_prometheus(const std::string& text) {
  prometheus_parse r;
  auto err = [&](size_t line, const std::string& what) {
    r.errors.push_back("line " + std::to_string(line) + ": " + what);
  };
  if (text.empty() || text.back() != '\n')
    err(0, "exposition must end with a newline");
  if (text.find('\r') != std::string::npos)
    err(0, "CR in exposition (line ends must be LF)");
  std::set<std::string> helped, typed, finished, seen_series;
  std::map<std::string, std::string> type_of;
  std::string current; // family of the samples being read
  size_t lineno = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    auto eol = text.find('\n', pos);
    if (eol == std::string::npos)
      eol = text.size();
    auto line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++lineno;
    if (line.empty()) {
      err(lineno, "empty line");
      continue;
    }
    if (line[0] == '#') {
      bool help = line.rfind("# HELP ", 0) == 0;
      bool type = line.rfind("# TYPE ", 0) == 0;
      if (!help && !type)
        continue; // a plain comment
      auto rest = line.substr(7);
      auto sp = rest.find(' ');
      auto name = rest.substr(0, sp);
      if (!metric_name_ok(name))
        err(lineno, "bad metric name in comment: " + name);
      if (sp == std::string::npos) {
        err(lineno, "HELP/TYPE without text");
        continue;
      }
      auto arg = rest.substr(sp + 1);
      if (finished.count(name) || current == name)
        err(lineno, "HELP/TYPE after samples of " + name);
      if (help) {
        if (!helped.insert(name).second)
          err(lineno, "second HELP for " + name);
        for (size_t i = 0; i < arg.size(); ++i)
          if (arg[i] == '\\') {
            if (i + 1 >= arg.size() || (arg[i + 1] != '\\' && arg[i + 1] != 'n'))
              err(lineno, "bad escape in HELP of " + name);
            ++i;
          }
      } else {
        if (!typed.insert(name).second)
          err(lineno, "second TYPE for " + name);
        static const std::set<std::string> types{"counter", "gauge",
                                                 "histogram", "summary",
                                                 "untyped"};
        if (!types.count(arg))
          err(lineno, "unknown type " + arg);
        type_of[name] = arg;
        r.types.emplace_back(name, arg);
        if (arg == "counter"
            && (name.size() < 6
                || name.compare(name.size() - 6, 6, "_total") != 0))
          err(lineno, "counter not named *_total: " + name);
      }
      continue;
    }
    // A sample: name [{labels}] value [timestamp]
    prometheus_series s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ')
      ++i;
    s.name = line.substr(0, i);
    if (!metric_name_ok(s.name))
      err(lineno, "bad metric name: " + s.name);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos) {
          err(lineno, "label without =");
          break;
        }
        auto lname = line.substr(i, eq - i);
        if (!label_name_ok(lname))
          err(lineno, "bad label name: " + lname);
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') {
          err(lineno, "label value not quoted");
          break;
        }
        ++i;
        std::string value;
        bool closed = false;
        while (i < line.size()) {
          char c = line[i++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\') {
            if (i >= line.size()) {
              err(lineno, "dangling backslash");
              break;
            }
            char e = line[i++];
            if (e == '\\')
              value += '\\';
            else if (e == '"')
              value += '"';
            else if (e == 'n')
              value += '\n';
            else
              err(lineno, std::string{"bad escape \\"} + e);
          } else {
            value += c;
          }
        }
        if (!closed)
          err(lineno, "unterminated label value");
        s.labels.emplace_back(lname, value);
        if (i < line.size() && line[i] == ',')
          ++i;
      }
      if (i >= line.size() || line[i] != '}')
        err(lineno, "unterminated label set");
      else
        ++i;
    }
    if (i >= line.size() || line[i] != ' ') {
      err(lineno, "no value");
      continue;
    }
    auto rest = line.substr(i + 1);
    auto sp = rest.find(' ');
    auto value = rest.substr(0, sp);
    if (!parse_value(value, s.value))
      err(lineno, "bad value: " + value);
    if (sp != std::string::npos) {
      auto ts = rest.substr(sp + 1);
      char* end = nullptr;
      std::strtoll(ts.c_str(), &end, 10);
      if (ts.empty() || end != ts.c_str() + ts.size())
        err(lineno, "bad timestamp: " + ts);
    }
    auto fam = family_of(s.name);
    if (fam != current) {
      if (!current.empty())
        finished.insert(current);
      if (finished.count(fam))
        err(lineno, "family not contiguous: " + fam);
      current = fam;
    }
    if (!typed.count(fam))
      err(lineno, "sample before/without TYPE: " + fam);
    std::string key = s.name;
    for (auto& [k, v] : s.labels)
      key += "\x1f" + k + "=" + v;
    if (!seen_series.insert(key).second)
      err(lineno, "duplicate series: " + s.name);
    r.series.push_back(std::move(s));
  }
  return r;
}

} // namespace fenix::test
