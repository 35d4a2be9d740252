#include "transport/detail/accept_loop.hpp"

#include <cerrno>
#include <cstring>

#include <sys/socket.h>

#include <boost/asio/post.hpp>

#include "actors/log.hpp"

namespace fenix::transport::detail {

namespace net = boost::asio;

namespace {

enum class accept_error : uint8_t { cancelled, next, back_off, fatal };

accept_error classify(const boost::system::error_code& ec) {
  if (ec == net::error::operation_aborted)
    return accept_error::cancelled;
  if (ec.category() != boost::system::system_category())
    return accept_error::fatal;
  switch (ec.value()) {
    // accept(2) on Linux: errors of the new connection, "treat them like
    // EAGAIN by retrying".
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return accept_error::next;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return accept_error::back_off;
    default:
      return accept_error::fatal;
  }
}

std::string describe(const boost::system::error_code& ec) {
  auto out = ec.message();
  if (ec.category() == boost::system::system_category())
    if (auto name = strerrorname_np(ec.value()))
      out += std::string{" ("} + name + ")";
  return out;
}

} // namespace

accept_loop::accept_loop(net::io_context& ioc, std::string name,
                         socket_fn on_socket)
    : ioc_(ioc),
      name_(std::move(name)),
      on_socket_(std::move(on_socket)),
      acceptor_(net::make_strand(ioc)),
      retry_(acceptor_.get_executor()) {
  // nop
}

std::string accept_loop::bind(const std::string& address, uint16_t port,
                              int backlog, bool reuse_port) {
  boost::system::error_code ec;
  auto addr = net::ip::make_address(address, ec);
  if (ec)
    return "invalid address " + address + ": " + ec.message();
  tcp::endpoint ep{addr, port};
  acceptor_.open(ep.protocol(), ec);
  if (ec)
    return "open: " + ec.message();
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (reuse_port) {
    int one = 1;
    ::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one,
                 sizeof(one));
  }
  acceptor_.bind(ep, ec);
  if (ec)
    return "bind " + address + ":" + std::to_string(port) + ": "
           + ec.message();
  acceptor_.listen(backlog, ec);
  if (ec)
    return "listen: " + ec.message();
  port_ = acceptor_.local_endpoint().port();
  return {};
}

void accept_loop::start(failure_fn on_failure) {
  net::post(acceptor_.get_executor(),
            [self = shared_from_this(), f = std::move(on_failure)]() mutable {
              if (self->stopped_ || self->accepting_)
                return;
              self->accepting_ = true;
              self->on_failure_ = std::move(f);
              ++self->generation_;
              self->do_accept();
            });
}

void accept_loop::pause() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    self->accepting_ = false;
    self->on_failure_ = nullptr;
    ++self->generation_;
    boost::system::error_code ignored;
    self->acceptor_.cancel(ignored);
    self->retry_.cancel();
  });
}

std::future<void> accept_loop::stop() {
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  net::post(acceptor_.get_executor(), [self = shared_from_this(), done] {
    self->stopped_ = true;
    self->accepting_ = false;
    self->on_failure_ = nullptr;
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
    self->retry_.cancel();
    done->set_value();
  });
  return fut;
}

std::future<bool> accept_loop::inject_error(int errno_value) {
  auto done = std::make_shared<std::promise<bool>>();
  auto fut = done->get_future();
  net::post(acceptor_.get_executor(),
            [self = shared_from_this(), errno_value, done] {
              if (!self->accepting_ || !self->in_flight_) {
                done->set_value(false);
                return;
              }
              // The cancelled accept's handler reports this instead.
              self->injected_ = errno_value;
              boost::system::error_code ignored;
              self->acceptor_.cancel(ignored);
              done->set_value(true);
            });
  return fut;
}

void accept_loop::do_accept() {
  in_flight_ = true;
  acceptor_.async_accept(
    net::make_strand(ioc_), peer_,
    [self = shared_from_this(), gen = generation_](
      const boost::system::error_code& ec, tcp::socket sock) {
      self->on_accept(ec, std::move(sock), gen);
    });
}

void accept_loop::on_accept(boost::system::error_code ec, tcp::socket sock,
                            uint64_t gen) {
  in_flight_ = false;
  if (auto injected = std::exchange(injected_, 0);
      injected != 0 && ec == net::error::operation_aborted)
    ec.assign(injected, boost::system::system_category());
  if (!accepting_ || gen != generation_)
    return;
  if (!ec) {
    boost::system::error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);
    on_socket_(std::move(sock), peer_);
    do_accept();
    return;
  }
  switch (classify(ec)) {
    case accept_error::cancelled:
      return;
    case accept_error::next:
      FENIX_DEBUG("transport", name_ << ": accept: " << describe(ec));
      do_accept();
      return;
    case accept_error::back_off: {
      auto now = std::chrono::steady_clock::now();
      if (now - last_warning_ >= std::chrono::seconds{1}) {
        last_warning_ = now;
        FENIX_WARN("transport", name_ << ": accept failed: " << describe(ec)
                                      << " (retrying)");
      }
      retry_.expires_after(std::chrono::milliseconds{50});
      retry_.async_wait([self = shared_from_this(),
                         gen](const boost::system::error_code& e) {
        if (!e && self->accepting_ && gen == self->generation_)
          self->do_accept();
      });
      return;
    }
    case accept_error::fatal:
      fail(ec);
      return;
  }
}

void accept_loop::fail(const boost::system::error_code& ec) {
  // The listener decides what comes next (it crashes; its restart starts
  // the loop again). Until then the kernel queues connects.
  accepting_ = false;
  ++generation_;
  if (auto f = std::exchange(on_failure_, nullptr))
    f(describe(ec));
}

} // namespace fenix::transport::detail
