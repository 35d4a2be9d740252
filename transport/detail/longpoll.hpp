#pragma once

// Internal to the I/O half (Asio, no Beast, no CAF).

#include <memory>

#include "transport/detail/io_core.hpp"
#include "transport/http.hpp"

namespace fenix::transport::detail {

/// Serves one request on `<mount>/longpoll` with Phoenix's semantics
/// (protocol.md 1.8): 410 handshake with a signed token, held GETs (200 /
/// 204), ndjson POSTs (200 / 408 / 410), OPTIONS preflight, CORS.
void serve_longpoll(const std::shared_ptr<mount_state>& m,
                    const http_request& req, http_responder respond);

/// Ends every long-poll session of the mount (endpoint stop).
void close_longpoll_sessions(mount_state& m);

} // namespace fenix::transport::detail
