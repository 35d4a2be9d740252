#pragma once

// A checker for the Prometheus text exposition format (0.0.4), written from
// the format's rules, so that /metrics is tested against the format and not
// against our own writer's idea of it.

#include <string>
#include <vector>

namespace fenix::test {

struct prometheus_series {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels; // unescaped
  double value = 0;
};

struct prometheus_parse {
  std::vector<std::string> errors;       ///< empty: well-formed
  std::vector<prometheus_series> series; ///< every sample, in order
  std::vector<std::pair<std::string, std::string>> types; ///< name, type

  /// The value of the sample `name` with exactly these labels, or NaN.
  double value(const std::string& name,
               const std::vector<std::pair<std::string, std::string>>& ls
               = {}) const;
  std::string type(const std::string& name) const;
};

/// Parses and checks: line ends, `# HELP`/`# TYPE` syntax and order (at
/// most one each, before the family's samples), families contiguous,
/// metric and label names, label value escapes (only `\\`, `\"`, `\n`),
/// numeric values, no duplicate series, counters named `*_total`, and the
/// trailing newline.
prometheus_parse check_prometheus(const std::string& text);

} // namespace fenix::test
