// placeholder, replaced in step 5
#include "transport/detail/longpoll.hpp"

namespace fenix::transport::detail {

void serve_longpoll(const std::shared_ptr<mount_state>&, const http_request&,
                    http_responder respond) {
  respond(http_response::text(404, "not found\n"));
}

void close_longpoll_sessions(mount_state&) {
  // nop
}

} // namespace fenix::transport::detail
