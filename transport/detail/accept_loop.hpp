#pragma once

// Internal to the I/O half: Asio, no Beast, no CAF.

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

namespace fenix::transport::detail {

/// The endpoint's listening socket and its accept loop. The listener actor
/// starts and pauses the loop; errors that are the listener's to handle
/// end the loop and are reported to it, so that it crashes and its
/// restart starts accepting again:
///
/// - cancellation (pause, stop): ignored;
/// - the new connection's own network errors, which Linux reports from
///   accept(2) (ENETDOWN, EHOSTUNREACH, ECONNABORTED, ...): the next
///   accept follows at once;
/// - running out of descriptors or memory (EMFILE, ENFILE, ENOBUFS,
///   ENOMEM): back off for 50 ms and try again, logged at most once a
///   second (a listener restart would not free anything);
/// - anything else: the loop ends and `on_failure` runs.
///
/// Every method may be called from any thread; the work happens on the
/// acceptor's strand.
class accept_loop : public std::enable_shared_from_this<accept_loop> {
public:
  using tcp = boost::asio::ip::tcp;

  /// Takes an accepted socket (on the acceptor's strand; the socket has
  /// its own strand).
  using socket_fn = std::function<void(tcp::socket, const tcp::endpoint&)>;

  /// Why accepting failed, e.g. "Invalid argument (EINVAL)".
  using failure_fn = std::function<void(const std::string&)>;

  accept_loop(boost::asio::io_context& ioc, std::string name,
              socket_fn on_socket);

  /// Opens, binds and listens; an error message or empty. Before the io
  /// threads run.
  std::string bind(const std::string& address, uint16_t port, int backlog,
                   bool reuse_port);

  uint16_t port() const noexcept { return port_; }

  /// Starts accepting unless already accepting or stopped; `on_failure`
  /// (run on an io thread) hears of the error that ends this loop.
  void start(failure_fn on_failure);

  /// Stops accepting and keeps the listening socket: the kernel queues
  /// connects until the next `start`.
  void pause();

  /// Closes the listening socket for good (new connects are refused by the
  /// kernel); the future is ready once it is closed.
  std::future<void> stop();

  /// Fault injection for tests: the accept in flight fails with
  /// `errno_value` as if accept(2) had returned it. False when no accept
  /// was in flight (nothing happened).
  std::future<bool> inject_error(int errno_value);

private:
  void do_accept();
  void on_accept(boost::system::error_code ec, tcp::socket sock,
                 uint64_t gen);
  void fail(const boost::system::error_code& ec);

  boost::asio::io_context& ioc_;
  std::string name_;
  socket_fn on_socket_;
  tcp::acceptor acceptor_;
  tcp::endpoint peer_; // output of the accept in flight
  boost::asio::steady_timer retry_;
  uint16_t port_ = 0;
  // Acceptor strand only.
  failure_fn on_failure_;
  bool accepting_ = false;
  bool in_flight_ = false;
  bool stopped_ = false;
  int injected_ = 0;
  uint64_t generation_ = 0;
  std::chrono::steady_clock::time_point last_warning_;
};

} // namespace fenix::transport::detail
