//
// Accepts incoming connections and launches an http_session for each.
//
#pragma once

#include "net.hpp"
#include "shared_state.hpp"

#include <memory>

class listener : public std::enable_shared_from_this<listener>
{
    net::io_context& ioc_;
    tcp::acceptor acceptor_;
    std::shared_ptr<shared_state> state_;

public:
    listener(net::io_context& ioc,
             tcp::endpoint endpoint,
             std::shared_ptr<shared_state> const& state);

    // The port actually bound (useful with --port 0).
    unsigned short port() const { return acceptor_.local_endpoint().port(); }

    void run();

private:
    void do_accept();
    void on_accept(beast::error_code ec, tcp::socket socket);
};
