#pragma once

// The chat demo's socket and room channel (docs/chat.md).

#include <memory>

#include "apps/chat/history.hpp"
#include "channels/presence.hpp"
#include "channels/socket.hpp"

namespace chat {

/// The user socket of the chat: accepts every connection and routes
/// `room:<name>` topics to the room channel.
std::shared_ptr<fenix::channels::user_socket>
make_user_socket(fenix::channels::presence presence, chat::history history);

} // namespace chat
