// The application supervisor: the root of every fenix::system's tree, and
// what ends the process when it gives up. In-process tests check the tree
// and the exit request; process tests run tests/supervision/root_gives_up.cpp
// and check how the process really ends.
#include "supervision/application.hpp"

#include <csignal>
#include <cstring>
#include <functional>
#include <optional>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/supervision/fixture.hpp"

extern char** environ;

using namespace fenix;
using namespace fenix::sup_test;

namespace {

using clock = std::chrono::steady_clock;

/// Records how a worker was asked to stop, for a system that is gone by
/// the time the test looks.
struct stop_record {
  std::mutex mtx;
  std::optional<caf::error> reason;
};

caf::behavior recording_worker(caf::event_based_actor* self,
                               std::shared_ptr<stop_record> rec) {
  self->set_exit_handler([self, rec](caf::exit_msg& msg) {
    {
      std::lock_guard<std::mutex> guard{rec->mtx};
      rec->reason = msg.reason;
    }
    self->quit(msg.reason);
  });
  return {
    [](caf::get_atom) { return 0; },
  };
}

/// A child process with its stdout and stderr in one pipe, and a pidfd to
/// learn of its exit without polling.
class process {
public:
  explicit process(std::vector<std::string> args) {
    int fds[2];
    BOOST_REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    auto rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    out_ = fds[0];
    BOOST_REQUIRE_MESSAGE(rc == 0, "posix_spawn: " << std::strerror(rc));
    // syscall: glibc 2.36's <sys/pidfd.h> lacks C linkage for C++.
    pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    BOOST_REQUIRE(pidfd_ >= 0);
  }

  ~process() {
    if (!status_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_);
    close(pidfd_);
  }

  process(const process&) = delete;
  process& operator=(const process&) = delete;

  pid_t pid() const {
    return pid_;
  }

  const std::string& output() const {
    return output_;
  }

  /// Reads until `pred(output)` holds; false if the process ended or the
  /// deadline passed first.
  bool read_until(const std::function<bool(const std::string&)>& pred,
                  clock::time_point deadline) {
    while (!pred(output_))
      if (!read_some(deadline))
        return false;
    return true;
  }

  /// Waits for the exit (reading all output); the wait status, or nothing
  /// if the deadline passed (the process is then killed).
  std::optional<int> wait(clock::time_point deadline) {
    while (!exited_) {
      pollfd fds[2] = {{pidfd_, POLLIN, 0}, {out_, POLLIN, 0}};
      auto n = poll(fds, eof_ ? 1 : 2, ms_until(deadline));
      if (n == 0)
        return std::nullopt;
      if (fds[0].revents != 0)
        exited_ = true;
      if (!eof_ && fds[1].revents != 0)
        read_chunk();
    }
    int st = 0;
    waitpid(pid_, &st, 0);
    status_ = st;
    // What it wrote before it ended is in the pipe; its end is closed.
    while (!eof_)
      read_chunk();
    return status_;
  }

private:
  static int ms_until(clock::time_point deadline) {
    auto left = deadline - clock::now();
    if (left <= clock::duration::zero())
      return 0;
    return static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 1);
  }

  bool read_some(clock::time_point deadline) {
    if (eof_)
      return false;
    pollfd fd{out_, POLLIN, 0};
    if (poll(&fd, 1, ms_until(deadline)) <= 0)
      return false;
    read_chunk();
    return true;
  }

  void read_chunk() {
    char buf[4096];
    auto n = read(out_, buf, sizeof(buf));
    if (n <= 0)
      eof_ = true;
    else
      output_.append(buf, static_cast<size_t>(n));
  }

  pid_t pid_ = -1;
  int out_ = -1;
  int pidfd_ = -1;
  bool eof_ = false;
  bool exited_ = false;
  std::optional<int> status_;
  std::string output_;
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(application_suite, fixture)

BOOST_AUTO_TEST_CASE(the_application_is_the_root_of_the_tree) {
  auto a = start_in_application(sys, test_child("a", self));
  BOOST_REQUIRE(a);
  BOOST_TEST(next_hello().second == *a);
  auto app = application_supervisor(sys);
  BOOST_REQUIRE(app);
  BOOST_TEST(application_supervisor(sys) == app); // one per system
  auto roots = sys.tree().snapshot();
  BOOST_REQUIRE_EQUAL(roots.size(), 1u);
  BOOST_TEST(roots[0].id == app.id());
  BOOST_TEST(roots[0].name == "application");
  BOOST_TEST(roots[0].kind == "supervisor");
  BOOST_TEST(roots[0].details.at("strategy").as_string() == "one_for_one");
  BOOST_TEST(roots[0].details.at("max_restarts").to_number<int>() == 3);
  BOOST_REQUIRE_EQUAL(roots[0].children.size(), 1u);
  BOOST_TEST(roots[0].children[0].id == a->id());
  // Duplicate ids are refused, as in any static supervisor.
  auto dup = start_in_application(sys, test_child("a", self));
  BOOST_REQUIRE(!dup);
  BOOST_TEST(dup.error() == errc::already_started);
}

BOOST_AUTO_TEST_CASE(stop_in_application_frees_the_id) {
  for (int round = 0; round < 3; ++round) {
    BOOST_REQUIRE(start_in_application(sys, test_child("a", self)));
    next_hello();
    BOOST_TEST(stop_in_application(sys, "a") == caf::none);
    BOOST_TEST(next_bye() == "a");
  }
  supervisor_ref ref{sys, application_supervisor(sys)};
  auto counts = ref.count_children();
  BOOST_REQUIRE(counts);
  BOOST_TEST(counts->specs == 0u);
  BOOST_TEST(stop_in_application(sys, "nobody") == errc::not_found);
  BOOST_TEST(!sys.rt().exit_requested());
}

BOOST_AUTO_TEST_CASE(a_root_that_gives_up_asks_the_process_to_end) {
  // flaky gives up at its first crash; the application restarts it three
  // times (Elixir's default intensity) and gives up at the fourth.
  auto flaky = flags(strategy::one_for_one, 0);
  flaky.name = "flaky";
  auto sup = start_in_application(
    sys, supervisor_spec("flaky", flaky, {test_child("w", self)}));
  BOOST_REQUIRE(sup);
  auto app = application_supervisor(sys);
  for (int i = 0; i < 4; ++i) {
    BOOST_TEST(!sys.rt().exit_requested());
    auto w = next_hello().second;
    self->send(w, crash_atom::value);
  }
  auto reason = await_down(app);
  BOOST_TEST(render(reason).find("reached_max_restart_intensity")
             != std::string::npos);
  // The request is made before the root's monitors hear of its end.
  auto req = sys.rt().exit_requested();
  BOOST_REQUIRE(req);
  BOOST_TEST(req->status == 1);
  BOOST_TEST(contains(req->reason, "reached_max_restart_intensity"));
  // Nothing starts under a root that is gone.
  BOOST_TEST(!application_supervisor(sys));
  auto late = start_in_application(sys, test_child("late", self));
  BOOST_REQUIRE(!late);
  BOOST_TEST(late.error() == errc::shutdown);
  BOOST_TEST(stop_in_application(sys, "flaky") == caf::none);
}

BOOST_AUTO_TEST_CASE(a_crashed_root_asks_for_status_1_and_a_stopped_one_for_0) {
  {
    fenix::config c;
    fenix::system s{c};
    auto app = application_supervisor(s);
    caf::scoped_actor me{s.sys()};
    me->monitor(app);
    me->send_exit(app, caf::exit_reason::kill);
    me->receive([](caf::down_msg&) {},
                caf::after(timeout) >> [] { BOOST_FAIL("no DOWN"); });
    auto req = s.rt().exit_requested();
    BOOST_REQUIRE(req);
    BOOST_TEST(req->status == 1);
  }
  {
    fenix::config c;
    fenix::system s{c};
    auto app = application_supervisor(s);
    caf::scoped_actor me{s.sys()};
    me->monitor(app);
    me->send_exit(app, shutdown_reason());
    me->receive([](caf::down_msg&) {},
                caf::after(timeout) >> [] { BOOST_FAIL("no DOWN"); });
    auto req = s.rt().exit_requested();
    BOOST_REQUIRE(req);
    BOOST_TEST(req->status == 0);
  }
}

BOOST_AUTO_TEST_CASE(the_system_stops_the_application_without_an_exit_request) {
  auto rec = std::make_shared<stop_record>();
  std::shared_ptr<runtime> rt;
  {
    fenix::config c;
    fenix::system s{c};
    rt = runtime_ptr(s.sys());
    auto w = worker("w",
                    [rec](caf::actor_system& x) -> caf::expected<caf::actor> {
                      return spawn_fn(x, recording_worker, rec);
                    });
    BOOST_REQUIRE(start_in_application(s, std::move(w)));
  } // ~system must stop the application (or hang waiting for w)
  std::lock_guard<std::mutex> guard{rec->mtx};
  BOOST_REQUIRE(rec->reason);
  BOOST_TEST(to_string(classify_exit(*rec->reason)) == std::string{"shutdown"});
  BOOST_TEST(!rt->exit_requested());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(application_process_suite)

BOOST_AUTO_TEST_CASE(a_process_whose_root_gives_up_exits_with_status_1) {
  process p{{FENIX_ROOT_GIVES_UP, "--mode=crash"}};
  auto st = p.wait(clock::now() + 30s);
  BOOST_REQUIRE_MESSAGE(st, "still running after 30 s:\n" << p.output());
  BOOST_REQUIRE(WIFEXITED(*st));
  BOOST_TEST(WEXITSTATUS(*st) == 1, p.output());
  auto& out = p.output();
  BOOST_TEST(contains(out, "ready"));
  BOOST_TEST(contains(out, "the application supervisor reached its restart "
                           "intensity and gave up"),
             out);
  BOOST_TEST(contains(out, "reached_max_restart_intensity"));
  // Woken in await_shutdown_signal, not ended by the watchdog.
  BOOST_TEST(contains(out, "await_shutdown_signal returned 0"), out);
  BOOST_TEST(!contains(out, "forcing exit"));
}

BOOST_AUTO_TEST_CASE(a_normal_run_exits_with_status_0) {
  process p{{FENIX_ROOT_GIVES_UP, "--mode=serve"}};
  auto ready = [](const std::string& out) { return contains(out, "ready\n"); };
  BOOST_REQUIRE_MESSAGE(p.read_until(ready, clock::now() + 30s),
                        "not ready:\n" << p.output());
  kill(p.pid(), SIGTERM);
  auto st = p.wait(clock::now() + 30s);
  BOOST_REQUIRE_MESSAGE(st, "still running after SIGTERM:\n" << p.output());
  BOOST_REQUIRE(WIFEXITED(*st));
  BOOST_TEST(WEXITSTATUS(*st) == 0, p.output());
  BOOST_TEST(contains(p.output(), "await_shutdown_signal returned "
                                    + std::to_string(SIGTERM)));
  BOOST_TEST(!contains(p.output(), "ERROR"), p.output());
}

BOOST_AUTO_TEST_CASE(a_main_that_does_not_return_is_ended_by_the_watchdog) {
  process p{{FENIX_ROOT_GIVES_UP, "--mode=block", "--fenix.exit-grace=300ms"}};
  auto st = p.wait(clock::now() + 30s);
  BOOST_REQUIRE_MESSAGE(st, "still running after 30 s:\n" << p.output());
  BOOST_REQUIRE(WIFEXITED(*st));
  BOOST_TEST(WEXITSTATUS(*st) == 1, p.output());
  BOOST_TEST(contains(p.output(), "forcing exit with status 1"), p.output());
}

BOOST_AUTO_TEST_SUITE_END()
