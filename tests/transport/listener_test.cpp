// The server subtree: the listener's restarts, the connections
// supervisor's, accept errors. Real sockets on 127.0.0.1, a real actor
// system.

#include <boost/test/unit_test.hpp>

#include <cerrno>

#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "fixture.hpp"
#include "raw_client.hpp"
#include "supervision/supervisor.hpp"

using namespace fenix::test;

namespace {

/// The echo handler answers `text` on `c`.
void expect_echo(raw_client& c, const std::string& text) {
  BOOST_TEST(c.send_text(text));
  auto f = c.read_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->payload == text);
}

/// Waits until the server supervisor runs a `name` other than `old`.
caf::actor await_new_child(fenix::supervisor_ref& server,
                           const std::string& name, const caf::actor& old) {
  caf::actor fresh;
  BOOST_REQUIRE(wait_until([&] {
    fresh = server.child(name);
    return fresh && fresh != old;
  }));
  return fresh;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(listener, endpoint_fixture)

BOOST_AUTO_TEST_CASE(a_killed_listener_restarts_alone_and_clients_stay) {
  start();
  auto c = open_ws(port());
  BOOST_REQUIRE(ev->wait_opened(1));
  auto srv = server();
  auto listener = srv.child("listener");
  auto conns = srv.child("connections");
  BOOST_REQUIRE(listener);
  BOOST_REQUIRE(conns);
  caf::anon_send_exit(listener, caf::exit_reason::kill);
  await_new_child(srv, "listener", listener);
  // rest_for_one with the listener last: nothing after it restarts.
  BOOST_TEST((srv.child("connections") == conns));
  auto rec = server_child("listener");
  BOOST_REQUIRE(rec);
  BOOST_TEST(rec->restarts == 1u);
  BOOST_TEST(server_child("connections")->restarts == 0u);
  // The client connected before the crash still talks to its actor.
  expect_echo(c, "still here");
  {
    std::lock_guard<std::mutex> guard{ev->mtx};
    BOOST_TEST(ev->closes.empty());
  }
  // The new listener accepts.
  auto d = open_ws(port());
  expect_echo(d, "after restart");
}

BOOST_AUTO_TEST_CASE(a_connections_restart_restarts_the_listener_after_it) {
  start();
  auto c = open_ws(port());
  BOOST_REQUIRE(ev->wait_opened(1));
  auto srv = server();
  auto listener = srv.child("listener");
  auto conns = srv.child("connections");
  BOOST_REQUIRE(listener);
  BOOST_REQUIRE(conns);
  // A crash of the connections supervisor: it shuts its children down
  // (their WebSockets close with 1001) and exits with the reason.
  caf::anon_send(conns, caf::exit_msg{caf::actor_addr{},
                                      caf::make_error(caf::sec::runtime_error,
                                                      "test")});
  auto code = c.read_close();
  BOOST_REQUIRE(code);
  BOOST_TEST(*code == 1001);
  // rest_for_one: the listener, after it, is restarted too, once the new
  // connections supervisor is up.
  auto new_listener = await_new_child(srv, "listener", listener);
  auto new_conns = srv.child("connections");
  BOOST_REQUIRE(new_conns);
  BOOST_TEST((new_conns != conns));
  BOOST_TEST(new_listener.id() > new_conns.id()); // spawned after it
  BOOST_TEST(server_child("connections")->restarts == 1u);
  auto d = open_ws(port());
  expect_echo(d, "after restart");
}

BOOST_AUTO_TEST_CASE(an_accept_error_crashes_the_listener_and_its_restart_accepts) {
  start();
  auto c = open_ws(port());
  auto srv = server();
  auto listener = srv.child("listener");
  BOOST_REQUIRE(listener);
  caf::scoped_actor self{sys->sys(), true};
  self->monitor(listener);
  BOOST_REQUIRE(ep->inject_accept_error(EINVAL));
  std::string reason;
  self->receive(
    [&](caf::down_msg& dm) { reason = sys->sys().render(dm.reason); },
    caf::after(5s) >> [] { BOOST_FAIL("the listener did not exit"); });
  BOOST_TEST(reason.find("accept failed: Invalid argument (EINVAL)")
               != std::string::npos,
             reason);
  await_new_child(srv, "listener", listener);
  auto rec = server_child("listener");
  BOOST_REQUIRE(rec);
  BOOST_TEST(rec->restarts == 1u);
  expect_echo(c, "still here");
  auto d = open_ws(port());
  expect_echo(d, "after restart");
}

BOOST_AUTO_TEST_CASE(out_of_descriptors_backs_off_without_a_listener_restart) {
  start();
  auto srv = server();
  auto listener = srv.child("listener");
  BOOST_REQUIRE(listener);
  for (int err : {EMFILE, ENFILE}) {
    BOOST_TEST_CONTEXT("errno " << err) {
      BOOST_REQUIRE(ep->inject_accept_error(err));
      // Only the retry after the back-off accepts again: this client got
      // in after the error was handled.
      auto c = open_ws(port());
      BOOST_TEST(c.send_text("in"));
      auto f = c.read_frame();
      BOOST_REQUIRE(f);
      BOOST_TEST(f->payload == "in");
      BOOST_TEST((srv.child("listener") == listener));
    }
  }
  BOOST_TEST(server_child("listener")->restarts == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
