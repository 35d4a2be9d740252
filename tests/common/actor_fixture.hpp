#pragma once

// A fenix system with a scoped actor for tests that drive actors directly.

#include <chrono>

#include <boost/test/unit_test.hpp>
#include <caf/all.hpp>

#include "actors/system.hpp"

namespace fenix::test {

struct actor_fixture {
  fenix::config cfg;
  fenix::system sys{cfg};
  caf::scoped_actor self{sys.sys()};

  /// Kills `a` and waits (bounded) for its DOWN.
  void kill_and_wait(const caf::actor& a) {
    self->monitor(a);
    self->send_exit(a, caf::exit_reason::kill);
    bool down = false;
    self->receive([&](caf::down_msg&) { down = true; },
                  caf::after(std::chrono::seconds{10}) >> [] {});
    BOOST_REQUIRE(down);
  }
};

} // namespace fenix::test
