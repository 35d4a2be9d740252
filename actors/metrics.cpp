#include "actors/metrics.hpp"

namespace fenix {

metrics& metrics::global() {
  static metrics instance;
  return instance;
}

metrics::metric& metrics::get(const std::string& name, const std::string& help,
                              kind type, const std::string& labels) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& slot = metrics_[{name, labels}];
  if (!slot) {
    slot = std::make_unique<metric>();
    slot->name = name;
    slot->help = help;
    slot->type = type;
  }
  return *slot;
}

std::vector<metrics::sample> metrics::collect() const {
  std::vector<sample> result;
  std::lock_guard<std::mutex> guard{mtx_};
  result.reserve(metrics_.size());
  for (auto& [key, m] : metrics_)
    result.push_back(sample{m->name, m->help, m->type, key.second,
                            m->value.load(std::memory_order_relaxed)});
  return result;
}

} // namespace fenix
