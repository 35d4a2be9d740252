#pragma once

// The harness's stand-in for a network connection: a connection actor
// that hosts a socket handler exactly as transport/detail/connection_actor
// does, with an outbound queue that decodes and records frames instead of
// writing them to a socket. CAF only.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "transport/connect_info.hpp"
#include "transport/socket_handler.hpp"

namespace fenix::channels {
class serializer;
} // namespace fenix::channels

namespace fenix::channels::testing::detail {

class inbox;

/// `(text_atom, std::string)`, `(binary_atom, std::string)`: an inbound
/// frame from the test.
using text_atom = caf::atom_constant<caf::atom("fxt_text")>;
using binary_atom = caf::atom_constant<caf::atom("fxt_bin")>;
/// `(close_atom, uint16_t code, std::string reason, uint8_t closed_by)`:
/// the transport is closed (the client closed, or the server's close
/// completed); the handler's `on_close` runs and the actor quits.
using close_atom = caf::atom_constant<caf::atom("fxt_close")>;

/// Spawns the connection actor of test socket `socket`, frames decoded with
/// `ser` (the serializer the handler negotiated from the same `vsn`).
caf::actor spawn_test_connection(caf::actor_system& sys,
                                 transport::socket_handler_ptr handler,
                                 transport::connect_info info,
                                 const serializer& ser,
                                 std::shared_ptr<inbox> box, size_t socket);

} // namespace fenix::channels::testing::detail
