#include "transport/socket_handler.hpp"

#include <caf/message.hpp>
#include <caf/system_messages.hpp>

#include "actors/tree.hpp"
#include "transport/detail/ws_reader.hpp"

namespace fenix::transport {

socket_handler::~socket_handler() {
  // nop
}

caf::message_handler socket_handler::make_handlers(connection&) {
  return {};
}

void socket_handler::on_open(connection&) {
  // nop
}

void socket_handler::describe(details_writer&) const {
  // nop
}

void socket_handler::on_binary(connection& conn, std::string&) {
  conn.close(detail::close_code::unsupported_data, "binary not supported");
}

bool socket_handler::on_message(connection&, caf::message&) {
  return false;
}

void socket_handler::on_down(connection&, const caf::down_msg&) {
  // nop
}

void socket_handler::on_drain(connection& conn) {
  conn.close(detail::close_code::service_restart, "service restart");
}

void socket_handler::on_close(connection&, const close_info&) {
  // nop
}

} // namespace fenix::transport
