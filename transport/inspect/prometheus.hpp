#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fenix::inspection {

/// Writes the Prometheus text exposition format (version 0.0.4), the one
/// every Prometheus server scrapes:
///
/// ```
/// # HELP fenix_channel_joins_total Channel joins accepted
/// # TYPE fenix_channel_joins_total counter
/// fenix_channel_joins_total 42
/// ```
///
/// Rules it enforces: one `# HELP` and one `# TYPE` per family, before its
/// samples, each family written once and contiguously; names restricted to
/// `[a-zA-Z_:][a-zA-Z0-9_:]*` (other characters become `_`), label names to
/// `[a-zA-Z_][a-zA-Z0-9_]*`; label values escape `\`, `"` and newline, help
/// text escapes `\` and newline; counters end in `_total`; one sample per
/// line, `\n` line ends, a trailing newline.
class prometheus_writer {
public:
  enum class type { counter, gauge };

  using labels = std::vector<std::pair<std::string, std::string>>;

  /// Starts a family. Calling it again with a name already written is
  /// ignored (its samples go to the family written first would break the
  /// contiguity rule, so they are dropped: see `sample`).
  void family(std::string_view name, std::string_view help, type t);

  /// A sample of the current family.
  void sample(const labels& ls, double value);
  void sample(const labels& ls, int64_t value);
  void sample(int64_t value) {
    sample(labels{}, value);
  }

  /// The exposition so far (ends in a newline unless empty).
  const std::string& str() const noexcept {
    return out_;
  }

  static std::string sanitize_name(std::string_view name);
  static std::string sanitize_label_name(std::string_view name);
  static std::string escape_label_value(std::string_view value);
  static std::string escape_help(std::string_view help);

  /// Parses fenix's stored label form `key="value"` (one pair, value taken
  /// verbatim up to the last quote) into a pair; empty input gives none.
  static labels parse_stored_labels(std::string_view stored);

  /// Content-Type of this format.
  static constexpr const char* content_type
    = "text/plain; version=0.0.4; charset=utf-8";

private:
  void write_labels(const labels& ls);

  std::string out_;
  std::string current_;
  bool skip_ = false;
  std::vector<std::string> written_;
};

} // namespace fenix::inspection
