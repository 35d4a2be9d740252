#include "actors/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace fenix::log {

namespace {

level initial_level() {
  level result = level::info;
  if (auto env = std::getenv("FENIX_LOG"))
    parse_level(env, result);
  return result;
}

std::atomic<int>& level_ref() {
  static std::atomic<int> lvl{static_cast<int>(initial_level())};
  return lvl;
}

const char* name(level x) {
  switch (x) {
    case level::trace: return "TRACE";
    case level::debug: return "DEBUG";
    case level::info: return "INFO";
    case level::warning: return "WARN";
    case level::error: return "ERROR";
    default: return "?";
  }
}

} // namespace

void set_level(level x) {
  level_ref().store(static_cast<int>(x), std::memory_order_relaxed);
}

level current_level() {
  return static_cast<level>(level_ref().load(std::memory_order_relaxed));
}

bool parse_level(const std::string& str, level& out) {
  static constexpr std::pair<const char*, level> names[] = {
    {"trace", level::trace},     {"debug", level::debug},
    {"info", level::info},       {"warning", level::warning},
    {"warn", level::warning},    {"error", level::error},
    {"quiet", level::quiet},
  };
  for (auto& [key, val] : names)
    if (str == key) {
      out = val;
      return true;
    }
  return false;
}

bool enabled(level x) {
  return static_cast<int>(x)
         >= level_ref().load(std::memory_order_relaxed);
}

void write(level x, const char* component, const std::string& msg) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
  static std::mutex mtx;
  std::lock_guard<std::mutex> guard{mtx};
  std::fprintf(stderr, "%s.%03d %-5s [%s] %s\n", stamp, static_cast<int>(ms),
               name(x), component, msg.c_str());
}

} // namespace fenix::log
