#pragma once

#include <caf/actor.hpp>

#include "channels/detail/protocol.hpp"

namespace fenix::channels {

/// Spawns the channel server of one join (Phoenix's Channel.Server) from
/// inside the connection actor `parent`. Ask it `(join_atom)` next.
caf::actor spawn_channel_server(caf::local_actor* parent,
                                detail::channel_init init);

} // namespace fenix::channels
