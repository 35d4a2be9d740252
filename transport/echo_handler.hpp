#pragma once

#include "transport/socket_handler.hpp"

namespace fenix::transport {

/// The smallest protocol: every text and binary message comes back as is.
class echo_handler : public socket_handler {
public:
  void on_text(connection& conn, std::string& text) override;
  void on_binary(connection& conn, std::string& data) override;
};

/// A factory that accepts every connect with an echo_handler.
handler_factory echo_factory();

} // namespace fenix::transport
