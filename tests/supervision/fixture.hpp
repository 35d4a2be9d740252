#pragma once

// What the supervisor tests share: a worker that reports its starts and
// exits to an observer, and a fixture whose every wait is a reply, a DOWN or
// a message from a (re)started child, each bounded by a timeout.

#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include <boost/test/unit_test.hpp>
#include <caf/all.hpp>

#include "actors/actor.hpp"
#include "actors/errors.hpp"
#include "actors/system.hpp"
#include "supervision/supervisor.hpp"
#include "tests/common/printers.hpp"

namespace fenix::sup_test {

using namespace std::chrono_literals;

using hello_atom = caf::atom_constant<caf::atom("hello")>;
using bye_atom = caf::atom_constant<caf::atom("bye")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using stop_atom = caf::atom_constant<caf::atom("stopme")>;

inline constexpr auto timeout = std::chrono::seconds{10};

struct worker_opts {
  bool ignore_shutdown = false; // traps exits and ignores shutdown requests
  bool report_exit = true;      // sends (bye, name) when asked to exit
  bool throw_in_init = false;
};

/// A test worker: announces each incarnation to the observer, counts puts,
/// crashes on demand.
inline caf::behavior test_worker(caf::event_based_actor* self,
                                 caf::actor observer, std::string name,
                                 worker_opts opts) {
  if (opts.throw_in_init)
    throw std::runtime_error("init failed");
  self->send(observer, hello_atom::value, name,
             caf::actor_cast<caf::actor>(self));
  if (opts.ignore_shutdown) {
    self->set_exit_handler([](caf::exit_msg&) {});
  } else if (opts.report_exit) {
    self->set_exit_handler([self, observer, name](caf::exit_msg& msg) {
      self->send(observer, bye_atom::value, name);
      self->quit(msg.reason);
    });
  }
  auto count = std::make_shared<int>(0);
  return {
    [=](caf::put_atom) { ++*count; },
    [=](caf::get_atom) { return *count; },
    [=](crash_atom) { throw std::runtime_error("boom"); },
    [=](stop_atom) { self->quit(); },
    [=](stop_atom, caf::error& reason) { self->quit(std::move(reason)); },
  };
}

inline child_spec test_child(std::string id, caf::actor observer,
                             restart_type restart = restart_type::permanent,
                             worker_opts opts = {}) {
  return worker(id,
                [=](caf::actor_system& sys) -> caf::expected<caf::actor> {
                  return spawn_fn(sys, test_worker, observer, id, opts);
                },
                restart);
}

struct fixture {
  fenix::config cfg;
  fenix::system sys{cfg};
  caf::scoped_actor self{sys.sys()};

  /// Waits for the next hello and returns (name, handle).
  std::pair<std::string, caf::actor> next_hello() {
    std::pair<std::string, caf::actor> result;
    bool got = false;
    self->receive(
      [&](hello_atom, std::string& name, caf::actor& hdl) {
        result = {name, hdl};
        got = true;
      },
      caf::after(timeout) >> [] {});
    BOOST_REQUIRE_MESSAGE(got, "timed out waiting for a child to start");
    return result;
  }

  std::string next_bye() {
    std::string result;
    self->receive([&](bye_atom, std::string& name) { result = name; },
                  caf::after(timeout) >> [] {});
    BOOST_REQUIRE_MESSAGE(!result.empty(), "timed out waiting for a bye");
    return result;
  }

  /// Monitors `hdl` and waits for its DOWN; returns the exit reason.
  caf::error await_down(const caf::actor& hdl) {
    self->monitor(hdl);
    caf::error reason;
    bool got = false;
    self->receive_while([&] { return !got; })(
      [&](caf::down_msg& msg) {
        if (msg.source == hdl) {
          reason = msg.reason;
          got = true;
        }
      },
      // Hellos and byes may arrive meanwhile (a restarted child can say
      // hello before the DOWN of a child that died before we monitored
      // it): leave them in the mailbox for next_hello and next_bye.
      [&](hello_atom, std::string&, caf::actor&) -> caf::skip_t {
        return caf::skip;
      },
      [&](bye_atom, std::string&) -> caf::skip_t { return caf::skip; },
      caf::after(timeout) >> [&] {
        BOOST_FAIL("timed out waiting for DOWN");
        got = true;
      });
    return reason;
  }

  int get(const caf::actor& hdl) {
    int result = -1;
    self->request(hdl, timeout, caf::get_atom::value)
      .receive([&](int x) { result = x; },
               [&](caf::error& e) { BOOST_FAIL(sys.sys().render(e)); });
    return result;
  }

  caf::actor start(supervisor_flags flags, std::vector<child_spec> children) {
    auto res = start_supervisor(sys, std::move(flags), std::move(children));
    BOOST_REQUIRE_MESSAGE(res, "supervisor failed to start");
    return *res;
  }

  void stop(const caf::actor& sup) {
    self->send_exit(sup, shutdown_reason());
    await_down(sup);
  }

  /// The supervisor handles a child's DOWN in its own time: poll it (each
  /// poll is a call it answers) until `pred` holds, bounded by `timeout`.
  template <class Pred>
  bool eventually(Pred pred) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline)
      if (pred())
        return true;
    return false;
  }

  std::string render(const caf::error& e) {
    return sys.sys().render(e);
  }
};

inline supervisor_flags flags(strategy s, size_t max_r = 3) {
  supervisor_flags f;
  f.strategy = s;
  f.max_restarts = max_r;
  f.name = "test_sup";
  return f;
}

} // namespace fenix::sup_test
