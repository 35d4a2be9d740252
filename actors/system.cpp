#include "actors/system.hpp"

#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <pthread.h>

#include <caf/after.hpp>
#include <caf/config_option.hpp>
#include <caf/config_option_set.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/thread_hook.hpp>

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

class exit_watchdog;

/// What ending the process needs to reach: the thread waiting for a
/// signal and boot's watchdog. Process-wide, like signals.
struct exit_control {
  std::mutex mtx;
  bool requested = false;
  std::optional<pthread_t> waiter; // in await_shutdown_signal
  exit_watchdog* watchdog = nullptr;
};

exit_control& control() {
  static exit_control x;
  return x;
}

sigset_t shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

/// Runs while `boot` does: once the process was asked to end, gives `main`
/// and the teardown `grace`, then ends the process itself. A main that
/// waits elsewhere than in await_shutdown_signal would otherwise keep a
/// process running that serves nothing.
class exit_watchdog {
public:
  explicit exit_watchdog(caf::timespan grace) : grace_(grace) {
    {
      std::lock_guard<std::mutex> guard{control().mtx};
      previous_ = control().watchdog;
      control().watchdog = this;
    }
    thread_ = std::thread([this] { run(); });
  }

  ~exit_watchdog() {
    {
      std::lock_guard<std::mutex> guard{control().mtx};
      control().watchdog = previous_;
    }
    {
      std::lock_guard<std::mutex> guard{mtx_};
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  exit_watchdog(const exit_watchdog&) = delete;
  exit_watchdog& operator=(const exit_watchdog&) = delete;

  void notify(const exit_request& req) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (!req_)
        req_ = req;
    }
    cv_.notify_all();
  }

private:
  void run() {
    std::unique_lock<std::mutex> lock{mtx_};
    cv_.wait(lock, [this] { return done_ || req_; });
    if (cv_.wait_for(lock, grace_, [this] { return done_; }))
      return;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(grace_);
    FENIX_ERROR("system", "the process did not end within "
                            << ms.count() << " ms of being asked to ("
                            << req_->reason << "); forcing exit with status "
                            << req_->status);
    std::_Exit(req_->status);
  }

  caf::timespan grace_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool done_ = false;
  std::optional<exit_request> req_;
  exit_watchdog* previous_ = nullptr;
  std::thread thread_;
};

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
    .add(exit_grace, "exit-grace",
         "after the application supervisor ended on its own, how long main "
         "may take to return before the process exits anyway (default 30s)")
    .add(scheduler.policy, "scheduler",
         "how idle workers wait: spin-park (default) or caf (CAF's "
         "work-stealing, tuned by work-stealing.*)")
    .add(blocking_threads, "blocking-threads",
         "threads for user code that may block, such as a user socket's "
         "connect (default 4)")
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
  rt_->blocking().threads(cfg.blocking_threads);
}

caf::actor runtime::application_root(const std::function<caf::actor()>& make) {
  std::lock_guard<std::mutex> making{make_mtx_};
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (root_ended_ || stopping_)
      return {};
    if (root_)
      return root_;
  }
  // Outside mtx_: the new root may end, and its exit hook take mtx_, before
  // make returns.
  auto root = make();
  std::lock_guard<std::mutex> guard{mtx_};
  root_ = root;
  return root;
}

caf::actor runtime::application_root() const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (root_ended_ || stopping_)
    return {};
  return root_;
}

void runtime::application_ended() {
  std::lock_guard<std::mutex> guard{mtx_};
  root_ended_ = true;
}

bool runtime::stopping() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return stopping_;
}

caf::actor runtime::begin_stop() {
  std::lock_guard<std::mutex> guard{mtx_};
  stopping_ = true;
  return std::move(root_);
}

void runtime::request_exit(int status, std::string reason) {
  exit_request req;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (exit_)
      return;
    exit_ = exit_request{status, std::move(reason)};
    req = *exit_;
  }
  auto& ctl = control();
  std::lock_guard<std::mutex> guard{ctl.mtx};
  ctl.requested = true;
  // Aimed at the waiting thread, which blocks the signal: sigwait takes it
  // there instead of the default action ending the process.
  if (ctl.waiter)
    pthread_kill(*ctl.waiter, SIGTERM);
  if (ctl.watchdog)
    ctl.watchdog->notify(req);
}

std::optional<exit_request> runtime::exit_requested() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return exit_;
}

system::~system() {
  // The application root goes first and stops its children in reverse
  // start order, as OTP stops applications before the node. Then sys_ is
  // destroyed and waits for every other actor; guard_ then detaches.
  if (auto root = rt_->begin_stop()) {
    caf::scoped_actor self{sys_, true};
    self->monitor(root);
    self->send_exit(root, shutdown_reason());
    for (auto down = false; !down;)
      self->receive([&](caf::down_msg&) { down = true; },
                    caf::after(std::chrono::seconds{10}) >> [] {
                      FENIX_WARN("system", "still waiting for the "
                                           "application supervisor to stop");
                    });
  }
  // Blocking jobs hold actor handles and send to them: they finish while
  // the actor system still runs.
  rt_->blocking().shutdown();
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
  // Outlives sys: the teardown after a request to end is watched too.
  exit_watchdog watchdog{cfg.exit_grace};
  system sys{cfg};
  auto rc = main(sys);
  if (auto req = sys.rt().exit_requested(); req && rc == 0)
    rc = req->status;
  return rc;
}

void block_shutdown_signals() {
  auto set = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int await_shutdown_signal() {
  auto set = shutdown_signals();
  // Blocked in this thread in any case, so that request_exit's wake-up
  // (a SIGTERM aimed at this thread) is taken by sigwait.
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  auto& ctl = control();
  {
    std::lock_guard<std::mutex> guard{ctl.mtx};
    if (ctl.requested)
      return 0;
    ctl.waiter = pthread_self();
  }
  int sig = 0;
  sigwait(&set, &sig);
  std::lock_guard<std::mutex> guard{ctl.mtx};
  ctl.waiter.reset();
  return ctl.requested ? 0 : sig;
}

} // namespace fenix
