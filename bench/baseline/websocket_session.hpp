//
// One WebSocket connection of the baseline server speaking Phoenix V2.
//
#pragma once

#include "net.hpp"
#include "shared_state.hpp"

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

namespace phoenix { struct message; }

class websocket_session
    : public std::enable_shared_from_this<websocket_session>
{
    // What the session remembers about one joined topic.
    struct joined_topic
    {
        std::string join_ref;  // as the client sent it (JSON text)
        std::string reply_ref; // join_ref, or the join's ref if it was null
    };

    beast::flat_buffer buffer_;
    websocket::stream<beast::tcp_stream> ws_;
    std::shared_ptr<shared_state> state_;
    // Frames waiting for their turn: one async_write at a time per session.
    std::deque<std::shared_ptr<std::string const>> queue_;
    std::unordered_map<std::string, joined_topic> topics_;

public:
    websocket_session(
        tcp::socket&& socket,
        std::shared_ptr<shared_state> const& state);

    ~websocket_session();

    // Starts the WebSocket handshake with the upgrade request already read.
    void run(http::request<http::string_body> req);

    // Queues a frame; callable from any thread.
    void send(std::shared_ptr<std::string const> const& frame);

private:
    void on_accept(beast::error_code ec);
    void do_read();
    void on_read(beast::error_code ec, std::size_t bytes_transferred);
    void handle(phoenix::message& msg);
    void on_send(std::shared_ptr<std::string const> const& frame);
    void on_write(beast::error_code ec, std::size_t bytes_transferred);
};
