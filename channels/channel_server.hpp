#pragma once

#include <memory>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "channels/detail/protocol.hpp"

namespace fenix::channels {

/// Spawns the channel server of one join (Phoenix's Channel.Server); meant
/// as the start function of its supervisor's child spec. It joins by
/// itself and tells its connection `(join_done_atom, outcome)`. `silent`:
/// a server-side restart of a transient channel, which joins again without
/// writing a reply (the client still has its join).
caf::actor spawn_channel_server(caf::actor_system& sys,
                                std::shared_ptr<detail::channel_init> init,
                                bool silent);

} // namespace fenix::channels
