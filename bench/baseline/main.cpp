//
// fenix_baseline: a minimal Boost.Beast WebSocket server speaking Phoenix V2
// JSON frames (phx_join / heartbeat / ping / shout / phx_leave) on
// /socket/websocket, written the idiomatic way of Beast's chat-multi example.
// It is the yardstick: every fenix benchmark figure is reported as a ratio to
// this server measured in the same run (see bench/README.md).
//
// Usage: fenix_baseline [--host 127.0.0.1] [--port 4000] [--threads 1]
//
#include "http_session.hpp"
#include "listener.hpp"

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

//------------------------------------------------------------------------------

listener::listener(
    net::io_context& ioc,
    tcp::endpoint endpoint,
    std::shared_ptr<shared_state> const& state)
    : ioc_(ioc)
    , acceptor_(net::make_strand(ioc))
    , state_(state)
{
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    // Benchmarks connect hundreds of clients at once: ask for the largest
    // backlog the kernel allows.
    acceptor_.listen(net::socket_base::max_listen_connections);
}

void
listener::run()
{
    do_accept();
}

void
listener::do_accept()
{
    // The new connection gets its own strand
    acceptor_.async_accept(
        net::make_strand(ioc_),
        beast::bind_front_handler(&listener::on_accept, shared_from_this()));
}

void
listener::on_accept(beast::error_code ec, tcp::socket socket)
{
    if(ec)
    {
        fail(ec, "accept");
        // Out of file descriptors: do not spin, but keep accepting later.
        if(ec == net::error::no_descriptors)
        {
            auto t = std::make_shared<net::steady_timer>(
                ioc_, std::chrono::milliseconds(100));
            t->async_wait([self = shared_from_this(), t](beast::error_code)
                          { self->do_accept(); });
            return;
        }
    }
    else
    {
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<http_session>(std::move(socket), state_)->run();
    }
    do_accept();
}

//------------------------------------------------------------------------------

int
main(int argc, char* argv[])
{
    std::string host = "127.0.0.1";
    unsigned short port = 4000;
    int threads = 1;
    for(int i = 1; i < argc; ++i)
    {
        auto const arg = std::string(argv[i]);
        auto const has_value = i + 1 < argc;
        if(arg == "--host" && has_value)
            host = argv[++i];
        else if(arg == "--port" && has_value)
            port = static_cast<unsigned short>(std::atoi(argv[++i]));
        else if(arg == "--threads" && has_value)
            threads = std::max(1, std::atoi(argv[++i]));
        else
        {
            std::cerr <<
                "Usage: fenix_baseline [--host 127.0.0.1] [--port 4000] "
                "[--threads 1]\n";
            return EXIT_FAILURE;
        }
    }

    // With one thread the io_context needs no locking at all.
    net::io_context ioc{threads};

    auto const state = std::make_shared<shared_state>();
    auto const l = std::make_shared<listener>(
        ioc, tcp::endpoint{net::ip::make_address(host), port}, state);
    l->run();
    std::cout << "fenix_baseline listening on " << host << ":" << l->port()
              << " threads " << threads << std::endl;

    // Capture SIGINT and SIGTERM to perform a clean shutdown
    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&ioc](beast::error_code const&, int) { ioc.stop(); });

    // Run the I/O service on the requested number of threads
    std::vector<std::thread> v;
    v.reserve(threads - 1);
    for(auto i = threads - 1; i > 0; --i)
        v.emplace_back([&ioc] { ioc.run(); });
    ioc.run();

    // (If we get here, it means we got a SIGINT or SIGTERM)
    for(auto& t : v)
        t.join();
    return EXIT_SUCCESS;
}
