// A fenix process for application_test's process tests. It boots, starts
// "flaky" (a supervisor with one worker) under the application supervisor,
// prints "ready", and then, by --mode:
//   serve  waits in await_shutdown_signal until SIGTERM and exits 0;
//   crash  makes the worker crash again and again: flaky gives up, the
//          application restarts it until it gives up too, which must wake
//          await_shutdown_signal and make boot return 1;
//   block  the same crashes, but main never returns: boot's watchdog must
//          end the process after --fenix.exit-grace.
#include <atomic>
#include <future>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

#include <caf/all.hpp>

#include "actors/actor.hpp"
#include "actors/system.hpp"
#include "supervision/application.hpp"
#include "supervision/supervisor.hpp"

namespace {

using crash_atom = caf::atom_constant<caf::atom("crash")>;

struct helper_config : fenix::config {
  std::string mode = "serve";
  helper_config() {
    opt_group{custom_options_, "global"}.add(mode, "mode",
                                             "serve | crash | block");
  }
};

/// The first incarnation waits to be told to crash (so that the initial
/// start succeeds for sure); every later one crashes soon after it starts.
caf::behavior crashing_worker(caf::event_based_actor* self, bool first) {
  if (!first)
    self->delayed_send(self, std::chrono::milliseconds{10}, crash_atom::value);
  return {
    [](crash_atom) { throw std::runtime_error("crashing on purpose"); },
  };
}

int run(fenix::system& sys, const helper_config& cfg) {
  auto incarnations = std::make_shared<std::atomic<int>>(0);
  auto w = fenix::worker(
    "w", [incarnations](caf::actor_system& s) -> caf::expected<caf::actor> {
      auto first = incarnations->fetch_add(1) == 0;
      return fenix::spawn_fn(s, crashing_worker, first);
    });
  fenix::supervisor_flags flaky;
  flaky.name = "flaky";
  auto sup = fenix::start_in_application(
    sys, fenix::supervisor_spec("flaky", flaky, {std::move(w)}));
  if (!sup) {
    std::cerr << "cannot start flaky: " << sys.sys().render(sup.error())
              << std::endl;
    return 2;
  }
  std::cout << "ready" << std::endl;
  if (cfg.mode != "serve") {
    auto first = fenix::supervisor_ref{sys, *sup}.child("w");
    caf::anon_send(first, crash_atom::value);
  }
  if (cfg.mode == "block") {
    std::promise<void> never;
    never.get_future().wait();
  }
  auto sig = fenix::await_shutdown_signal();
  std::cout << "await_shutdown_signal returned " << sig << std::endl;
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  fenix::block_shutdown_signals();
  helper_config cfg;
  return fenix::boot(argc, argv, cfg,
                     [&](fenix::system& sys) { return run(sys, cfg); });
}
