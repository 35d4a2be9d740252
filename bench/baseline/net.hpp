//
// fenix baseline server: namespace aliases, as in Beast's chat-multi example,
// so every file can say net:: and beast::.
//
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <iostream>

namespace net = boost::asio;        // from <boost/asio.hpp>
namespace beast = boost::beast;     // from <boost/beast.hpp>
namespace http = beast::http;       // from <boost/beast/http.hpp>
namespace websocket = beast::websocket; // from <boost/beast/websocket.hpp>
using tcp = net::ip::tcp;           // from <boost/asio/ip/tcp.hpp>

// Report a failure. Expected end-of-connection codes are not worth a line:
// a benchmark closes thousands of sockets on purpose.
inline void
fail(beast::error_code ec, char const* what)
{
    if(ec == net::error::operation_aborted ||
       ec == websocket::error::closed ||
       ec == net::error::eof ||
       ec == net::error::connection_reset ||
       ec == beast::error::timeout ||
       ec == net::error::broken_pipe ||
       ec == net::error::not_connected)
        return;
    std::cerr << what << ": " << ec.message() << "\n";
}
