#pragma once

#include <sstream>
#include <string>

namespace fenix::log {

/// CAF 0.17 from Debian is built with logging compiled out, so fenix brings
/// a small logger of its own: one line per event on stderr, level chosen at
/// run time (`--fenix.log-level` or the FENIX_LOG environment variable).
enum class level : int { trace = 0, debug, info, warning, error, quiet };

void set_level(level x);
level current_level();
bool parse_level(const std::string& str, level& out);
bool enabled(level x);
void write(level x, const char* component, const std::string& msg);

} // namespace fenix::log

#define FENIX_LOG_IMPL(lvl, component, expr)                                   \
  do {                                                                         \
    if (::fenix::log::enabled(lvl)) {                                          \
      std::ostringstream fenix_log_os_;                                        \
      fenix_log_os_ << expr;                                                   \
      ::fenix::log::write(lvl, component, fenix_log_os_.str());                \
    }                                                                          \
  } while (false)

#define FENIX_DEBUG(component, expr)                                           \
  FENIX_LOG_IMPL(::fenix::log::level::debug, component, expr)
#define FENIX_INFO(component, expr)                                            \
  FENIX_LOG_IMPL(::fenix::log::level::info, component, expr)
#define FENIX_WARN(component, expr)                                            \
  FENIX_LOG_IMPL(::fenix::log::level::warning, component, expr)
#define FENIX_ERROR(component, expr)                                           \
  FENIX_LOG_IMPL(::fenix::log::level::error, component, expr)
