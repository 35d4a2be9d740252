#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

namespace fenix {

/// OTP's restart intensity check (supervisor.erl's add_restart): remember
/// when restarts happened, forget those older than the period, and give up
/// when more than `max_restarts` remain. Shared by supervisors and by the
/// channel restarts of transient routes. A vector, not a deque: libstdc++'s
/// deque allocates ~600 bytes up front, and a window sits in every channel.
class restart_window {
public:
  using clock = std::chrono::steady_clock;

  /// Records a restart at `now`; false if that exceeds the intensity.
  bool add(clock::time_point now, size_t max_restarts,
           std::chrono::milliseconds period) {
    stamps_.erase(std::remove_if(stamps_.begin(), stamps_.end(),
                                 [&](auto t) { return t < now - period; }),
                  stamps_.end());
    stamps_.push_back(now);
    return stamps_.size() <= max_restarts;
  }

  size_t size() const noexcept { return stamps_.size(); }

private:
  std::vector<clock::time_point> stamps_;
};

} // namespace fenix
