#pragma once

#include <chrono>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "supervision/child_spec.hpp"

namespace fenix {

/// The application supervisor of `sys`: one per fenix::system, named
/// "application" (one_for_one, Elixir's defaults: 3 restarts in 5 s), the
/// root of `sys.tree()`, started on first use. Every endpoint runs under it.
///
/// It ends the process when it ends on its own, like an OTP permanent
/// application stopping the node: past its restart intensity (a child
/// that keeps failing escalates up to it) or after a crash it logs why and
/// asks the process to end with status 1 (`runtime::request_exit`:
/// `await_shutdown_signal` returns and `boot` returns 1), so that systemd
/// or Kubernetes restart it. Stopped by another actor with a `shutdown` or
/// normal reason, it asks for status 0. fenix::system's destructor stops
/// it (children in reverse start order) without any of this.
///
/// Invalid once it has ended: a process whose root is gone starts nothing.
caf::actor application_supervisor(caf::actor_system& sys);

/// Starts `spec` under the application supervisor (`start_child`) and
/// waits until it has started; returns the child's handle. Errors: the
/// start's own (e.g. `already_started` for an id in use), `errc::shutdown`
/// once the application has ended, `errc::timeout`. Blocking: call it from
/// outside actors.
caf::expected<caf::actor>
start_in_application(caf::actor_system& sys, child_spec spec,
                     std::chrono::milliseconds timeout
                     = std::chrono::seconds{30});

/// Stops the application's child `id` per its shutdown spec and deletes
/// its spec, so that the id can be started again. If the application is
/// ending (it then stops every child itself), waits for it to end instead.
/// Blocking: call it from outside actors.
caf::error stop_in_application(caf::actor_system& sys, const std::string& id,
                               std::chrono::milliseconds timeout
                               = std::chrono::seconds{30});

} // namespace fenix
