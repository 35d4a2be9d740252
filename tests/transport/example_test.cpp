// The custom protocol example of docs/transport.md, compiled and run: a
// chat room whose messages are encoded once and shared by every member.

#include <boost/test/unit_test.hpp>

#include <map>

#include <caf/actor_cast.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include "fixture.hpp"
#include "raw_client.hpp"

using namespace fenix::transport;

namespace {

using join_atom = caf::atom_constant<caf::atom("join")>;
using say_atom = caf::atom_constant<caf::atom("say")>;

} // namespace

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::transport::outlet_ptr) // local only

namespace {

// -- the example, as in the docs ------------------------------------------------

caf::behavior room(caf::event_based_actor* self) {
  auto members = std::make_shared<std::map<caf::actor_addr, outlet_ptr>>();
  self->set_down_handler([=](caf::down_msg& dm) { members->erase(dm.source); });
  return {
    [=](join_atom, outlet_ptr out) {
      auto who = caf::actor_cast<caf::actor>(self->current_sender());
      self->monitor(who); // forget members that leave
      members->emplace(who.address(), std::move(out));
    },
    [=](say_atom, const std::string& line) {
      auto f = frame::make(opcode::text, line); // encoded once ...
      for (auto& [who, out] : *members)
        out->send(f); // ... shared by everyone
    },
  };
}

class chat_handler : public socket_handler {
public:
  chat_handler(caf::actor room, std::string nick)
      : room_(std::move(room)), nick_(std::move(nick)) {
    // nop
  }
  void on_open(connection& conn) override {
    conn.self()->send(room_, join_atom::value, conn.outlet());
  }
  void on_text(connection& conn, std::string& text) override {
    conn.self()->send(room_, say_atom::value, nick_ + ": " + text);
  }

private:
  caf::actor room_;
  std::string nick_;
};

// -------------------------------------------------------------------------------

} // namespace

using namespace fenix::test;

BOOST_FIXTURE_TEST_SUITE(example, endpoint_fixture)

BOOST_AUTO_TEST_CASE(chat_room_protocol) {
  auto hub = fenix::spawn_fn(sys->sys(), room);
  endpoint_config cfg;
  cfg.socket("/chat",
             [hub](const params& ps, const connect_info&) -> socket_handler_ptr {
               auto nick = ps.get("nick");
               if (!nick || nick->empty())
                 return nullptr; // 403, no upgrade
               return std::make_unique<chat_handler>(hub, *nick);
             });
  start(std::move(cfg));
  raw_client anon;
  BOOST_REQUIRE(anon.connect(port()));
  auto refused = anon.handshake("/chat/websocket");
  BOOST_REQUIRE(refused);
  BOOST_TEST(refused->status == 403);
  raw_client ann;
  raw_client bob;
  BOOST_REQUIRE(ann.connect(port()));
  BOOST_REQUIRE(bob.connect(port()));
  BOOST_REQUIRE_EQUAL(ann.handshake("/chat/websocket?nick=ann")->status, 101);
  BOOST_REQUIRE_EQUAL(bob.handshake("/chat/websocket?nick=bob")->status, 101);
  // Both joined once each saw its own first line (joins and says travel
  // from the same actor to the room, in order).
  BOOST_REQUIRE(ann.send_text("hi"));
  auto f = ann.read_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->payload == "ann: hi");
  BOOST_REQUIRE(bob.send_text("hello"));
  f = bob.read_frame();
  BOOST_REQUIRE(f);
  // bob may or may not have joined before ann spoke
  if (f->payload == "ann: hi")
    f = bob.read_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->payload == "bob: hello");
  f = ann.read_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->payload == "bob: hello");
  caf::anon_send_exit(hub, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
