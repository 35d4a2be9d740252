#include "actors/errors.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/message.hpp>

namespace fenix {

std::string to_string(errc x) {
  switch (x) {
    case errc::none: return "none";
    case errc::name_taken: return "name_taken";
    case errc::name_unknown: return "name_unknown";
    case errc::invalid_actor: return "invalid_actor";
    case errc::failed_to_start_child: return "failed_to_start_child";
    case errc::start_timeout: return "start_timeout";
    case errc::already_present: return "already_present";
    case errc::already_started: return "already_started";
    case errc::not_found: return "not_found";
    case errc::running: return "running";
    case errc::restarting: return "restarting";
    case errc::max_children: return "max_children";
    case errc::reached_max_restart_intensity:
      return "reached_max_restart_intensity";
    case errc::shutdown: return "shutdown";
    case errc::duplicate_child_name: return "duplicate_child_name";
    case errc::invalid_spec: return "invalid_spec";
    case errc::not_supported: return "not_supported";
    case errc::timeout: return "timeout";
  }
  return "errc(" + std::to_string(static_cast<int>(x)) + ")";
}

const char* to_string(exit_kind x) {
  switch (x) {
    case exit_kind::normal: return "normal";
    case exit_kind::shutdown: return "shutdown";
    case exit_kind::abnormal: return "abnormal";
  }
  return "?";
}

exit_kind classify_exit(const caf::error& reason) {
  if (!reason || reason == caf::exit_reason::normal)
    return exit_kind::normal;
  if (reason == caf::exit_reason::user_shutdown || reason == errc::shutdown)
    return exit_kind::shutdown;
  return exit_kind::abnormal;
}

caf::error shutdown_reason() {
  return caf::make_error(errc::shutdown);
}

caf::error shutdown_reason(std::string detail) {
  return caf::make_error(errc::shutdown, std::move(detail));
}

void add_error_renderers(caf::actor_system_config& cfg) {
  cfg.add_error_category(
    caf::atom("fenix"),
    [](uint8_t code, caf::atom_value, const caf::message& ctx) {
      auto str = "fenix::" + to_string(static_cast<errc>(code));
      if (!ctx.empty())
        str += to_string(ctx);
      return str;
    });
}

} // namespace fenix
