#include "transport/echo_handler.hpp"

namespace fenix::transport {

void echo_handler::on_text(connection& conn, std::string& text) {
  conn.push_text(text);
}

void echo_handler::on_binary(connection& conn, std::string& data) {
  conn.push_binary(data);
}

handler_factory echo_factory() {
  return [](const params&, const connect_info&) -> socket_handler_ptr {
    return std::make_unique<echo_handler>();
  };
}

} // namespace fenix::transport
