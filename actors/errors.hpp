#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/exit_reason.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace fenix {

/// Error codes of the fenix runtime, category `fenix`. Some double as exit
/// reasons: `shutdown` is OTP's `shutdown` (an expected stop that still
/// takes linked actors down; with a context it is `{shutdown, term}`).
enum class errc : uint8_t {
  none = 0,
  name_taken,
  name_unknown,
  invalid_actor,
  failed_to_start_child,
  start_timeout,
  already_present,
  already_started,
  not_found,
  running,
  restarting,
  max_children,
  reached_max_restart_intensity,
  shutdown,
  duplicate_child_name,
  invalid_spec,
  not_supported,
  timeout,
};

std::string to_string(errc x);

/// How a supervisor reads an exit reason, following OTP: `normal` and
/// `shutdown` are the two expected ways to stop, anything else is a crash.
enum class exit_kind : uint8_t { normal, shutdown, abnormal };

const char* to_string(exit_kind x);

/// Maps CAF exit reasons onto OTP's three kinds. `none` and
/// `exit_reason::normal` are normal; `exit_reason::user_shutdown` and
/// `errc::shutdown` are shutdown; kills, exceptions and every other error
/// are abnormal.
exit_kind classify_exit(const caf::error& reason);

/// The `shutdown` exit reason, optionally carrying a term (`{shutdown, T}`).
caf::error shutdown_reason();
caf::error shutdown_reason(std::string detail);

/// Registers the renderer for the `fenix` category so that errors print as
/// `fenix::name_taken("x")` instead of `error(1, 'fenix', ...)`.
void add_error_renderers(caf::actor_system_config& cfg);

} // namespace fenix

CAF_ERROR_CODE_ENUM(fenix::errc, "fenix")
