#include "actors/system.hpp"

#include <csignal>
#include <iostream>

#include <pthread.h>
#include <string>
#include <vector>

#include <caf/config_option.hpp>
#include <caf/config_option_set.hpp>
#include <caf/thread_hook.hpp>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "actors/errors.hpp"
#include "actors/heap.hpp"
#include "actors/log.hpp"
#include "actors/scheduler.hpp"

namespace fenix {

namespace {

std::mutex& registry_mtx() {
  static std::mutex mtx;
  return mtx;
}

std::unordered_map<const caf::actor_system*, std::shared_ptr<runtime>>&
registry() {
  static std::unordered_map<const caf::actor_system*, std::shared_ptr<runtime>>
    map;
  return map;
}

} // namespace

/// CAF's worker threads allocate most of an actor's state: their arenas are
/// pre-committed like the I/O threads' (actors/heap.hpp says why).
class heap_hook final : public caf::thread_hook {
public:
  void init(caf::actor_system&) override {
    // nop
  }
  void thread_started() override {
    precommit_thread_heap(default_heap_precommit);
  }
  void thread_terminates() override {
    // nop
  }
};

config::config() {
  set("scheduler.max-threads", 2);
  add_thread_hook<heap_hook>();
  opt_group{custom_options_, "fenix"}
    .add(log_level, "log-level",
         "fenix log level: trace|debug|info|warning|error|quiet (default: "
         "$FENIX_LOG, else info)")
    .add(scheduler.policy, "scheduler",
         "how idle workers wait: spin-park (default) or caf (CAF's "
         "work-stealing, tuned by work-stealing.*)")
    .add(scheduler.spin_us, "scheduler-spin-us",
         "spin-park: microseconds the searching worker spins before it "
         "blocks (default 50)");
  install_scheduler(*this, &scheduler);
  add_error_renderers(*this);
}

std::shared_ptr<runtime> runtime_ptr(caf::actor_system& sys) {
  std::lock_guard<std::mutex> guard{registry_mtx()};
  if (auto i = registry().find(&sys); i != registry().end())
    return i->second;
  return nullptr;
}

runtime& runtime_of(caf::actor_system& sys) {
  if (auto ptr = runtime_ptr(sys))
    return *ptr;
  throw std::logic_error("no fenix runtime attached to this actor system: "
                         "create it through fenix::system");
}

system::attach_guard::attach_guard(caf::actor_system* k,
                                   std::shared_ptr<runtime> rt)
    : key(k) {
  std::lock_guard<std::mutex> guard{registry_mtx()};
  registry()[key] = std::move(rt);
}

system::attach_guard::~attach_guard() {
  std::lock_guard<std::mutex> guard{registry_mtx()};
  registry().erase(key);
}

system::system(config& cfg)
    : rt_(std::make_shared<runtime>()), guard_(&sys_, rt_), sys_(cfg) {
  log::level lvl;
  if (!cfg.log_level.empty() && log::parse_level(cfg.log_level, lvl))
    log::set_level(lvl);
}

system::~system() {
  // sys_ is destroyed first and waits for all actors; guard_ then detaches.
}

namespace {

/// CAF 0.17 accepts `--port=4000` but not `--port 4000`; the latter is
/// what our docs and Phoenix-style command lines use. Join a long option
/// that takes a value with the argument after it; CAF parses the rest.
std::vector<std::string> join_option_values(int argc, char** argv,
                                            const config& cfg) {
  std::vector<std::string> out;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() > 2 && arg.compare(0, 2, "--") == 0
        && arg.find('=') == std::string::npos && i + 1 < argc) {
      auto opt = cfg.option_set().cli_long_name_lookup(
        caf::string_view{arg.data() + 2, arg.size() - 2});
      if (opt != nullptr && !opt->is_flag()) {
        out.push_back(arg + "=" + argv[++i]);
        continue;
      }
    }
    out.push_back(std::move(arg));
  }
  return out;
}

} // namespace

int boot(int argc, char** argv, config& cfg,
         const std::function<int(system&)>& main, const char* ini_file) {
  if (auto err = cfg.parse(join_option_values(argc, argv, cfg), ini_file)) {
    std::cerr << "error in options: " << caf::actor_system_config::render(err)
              << std::endl;
    return 1;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  log::level lvl = log::current_level();
  if (!cfg.log_level.empty() && !log::parse_level(cfg.log_level, lvl)) {
    std::cerr << "invalid --fenix.log-level: " << cfg.log_level << std::endl;
    return 1;
  }
  log::set_level(lvl);
  system sys{cfg};
  return main(sys);
}

namespace {

sigset_t shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

} // namespace

void block_shutdown_signals() {
  auto set = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int await_shutdown_signal() {
  auto set = shutdown_signals();
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

} // namespace fenix
