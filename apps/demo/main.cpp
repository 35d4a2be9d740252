// The supervision demo: a supervised worker crashes and is restarted; the
// live actor tree is printed before and after (build/apps/demo/fenix_demo;
// `make demo` runs the chat server).
#include <iostream>

#include <caf/all.hpp>

#include "actors/actor.hpp"
#include "actors/errors.hpp"
#include "actors/system.hpp"
#include "supervision/supervisor.hpp"

using namespace std::chrono_literals;
using crash_atom = caf::atom_constant<caf::atom("crash")>;

namespace {

struct demo_config : fenix::config {
  bool quiet = false;
  demo_config() {
    opt_group{custom_options_, "global"}.add(quiet, "quiet,q",
                                             "print the trees only");
  }
};

// A counter that crashes on demand: its state is lost on restart.
caf::behavior counter(caf::event_based_actor*) {
  auto n = std::make_shared<int>(0);
  return {
    [=](caf::put_atom) { return ++*n; },
    [=](crash_atom) -> int { throw std::runtime_error("asked to crash"); },
  };
}

fenix::child_spec counter_spec(std::string id) {
  return fenix::worker(std::move(id), [](caf::actor_system& sys)
                                        -> caf::expected<caf::actor> {
    return fenix::spawn_fn(sys, counter);
  });
}

int run(fenix::system& sys) {
  fenix::supervisor_flags app_flags;
  app_flags.name = "demo_app";
  fenix::supervisor_flags pool_flags;
  pool_flags.strategy = fenix::strategy::one_for_all;
  auto app = fenix::start_supervisor(
    sys, app_flags,
    {counter_spec("clock"),
     fenix::supervisor_spec("pool", pool_flags,
                            {counter_spec("worker_a"),
                             counter_spec("worker_b")})});
  if (!app) {
    std::cerr << "start failed: " << sys.sys().render(app.error()) << "\n";
    return 1;
  }
  auto print = [&](const char* title) {
    std::cout << "\n== " << title << " ==\n"
              << fenix::render_tree(*sys.tree().snapshot(app->id()))
              << std::flush;
  };
  print("live tree");
  fenix::supervisor_ref pool{sys, fenix::supervisor_ref{sys, *app}.child("pool")};
  auto victim = pool.child("worker_a");
  caf::scoped_actor self{sys.sys()};
  self->monitor(victim);
  std::cout << "\ncrashing worker_a (#" << victim.id()
            << "); the pool is one_for_all, so worker_b restarts too\n";
  self->send(victim, crash_atom::value);
  self->receive([](caf::down_msg&) {}, caf::after(10s) >> [] {});
  // A call is served after the restart job, so the tree is settled.
  pool.count_children();
  print("after the crash");
  self->send_exit(*app, fenix::shutdown_reason());
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  demo_config cfg;
  return fenix::boot(argc, argv, cfg, run);
}
