#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace fenix {

/// Process-wide counters and gauges that every layer bumps on its hot
/// paths (a relaxed atomic add) and the inspection endpoints read
/// (`/metrics`, `/_fenix/stats`). Names follow Prometheus conventions
/// (`fenix_channel_joins_total`); a metric may carry one label pair
/// (e.g. `supervisor="pool"`).
class metrics {
public:
  enum class kind : uint8_t { counter, gauge };

  struct metric {
    std::string name;
    std::string help;
    kind type = kind::counter;
    std::atomic<int64_t> value{0};
  };

  /// The process-wide registry.
  static metrics& global();

  /// Registers (once) and returns a metric; the reference stays valid for
  /// the life of the process, so hot paths keep it in a static.
  metric& get(const std::string& name, const std::string& help,
              kind type = kind::counter, const std::string& labels = {});

  struct sample {
    std::string name;
    std::string help;
    kind type;
    std::string labels; ///< `key="value"` or empty
    int64_t value;
  };

  /// Every metric, sorted by name then labels.
  std::vector<sample> collect() const;

private:
  mutable std::mutex mtx_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<metric>>
    metrics_;
};

/// Shorthands for hot paths: `static auto& joins = counter("...", "...");
/// joins.value.fetch_add(1, std::memory_order_relaxed);`
inline metrics::metric& counter(const std::string& name,
                                const std::string& help) {
  return metrics::global().get(name, help, metrics::kind::counter);
}

inline metrics::metric& gauge(const std::string& name,
                              const std::string& help) {
  return metrics::global().get(name, help, metrics::kind::gauge);
}

inline void bump(metrics::metric& m, int64_t n = 1) {
  m.value.fetch_add(n, std::memory_order_relaxed);
}

} // namespace fenix
