#pragma once

// The conformance app's socket and channels (shared/docs/conformance-app.md):
// the same spec a real Phoenix server implements, so one client-side suite
// runs against both.

#include <memory>

#include "channels/channel.hpp"
#include "channels/presence.hpp"
#include "channels/socket.hpp"

namespace conformance {

std::shared_ptr<fenix::channels::user_socket>
make_user_socket(fenix::channels::presence presence);

} // namespace conformance
