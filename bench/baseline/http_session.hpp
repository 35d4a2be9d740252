//
// Reads the HTTP upgrade request and hands the socket to a websocket_session
// when it asks for /socket/websocket.
//
#pragma once

#include "net.hpp"
#include "shared_state.hpp"

#include <memory>
#include <optional>

class http_session : public std::enable_shared_from_this<http_session>
{
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::shared_ptr<shared_state> state_;
    // A fresh parser per request lets us set a body limit.
    std::optional<http::request_parser<http::string_body>> parser_;

public:
    http_session(tcp::socket&& socket,
                 std::shared_ptr<shared_state> const& state);

    void run();

private:
    void do_read();
    void on_read(beast::error_code ec, std::size_t);
    void on_write(beast::error_code ec, std::size_t);
};
