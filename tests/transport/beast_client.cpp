#include "beast_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace fenix::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

struct beast_client::impl {
  net::io_context ioc;
  websocket::stream<tcp::socket> ws{ioc};
  beast::flat_buffer buf;
  std::string last_pong;
  // At most one read is pending; its handler only touches these members.
  bool read_pending = false;
  bool read_done = false;
  beast::error_code read_ec;

  void start_read() {
    if (read_pending)
      return;
    read_pending = true;
    read_done = false;
    buf.clear();
    ws.async_read(buf, [this](beast::error_code e, size_t) {
      read_ec = e;
      read_done = true;
    });
  }

  /// Completes the pending read (starting one if needed).
  bool finish_read(std::chrono::milliseconds timeout) {
    start_read();
    if (!run([this] { return read_done; }, timeout))
      return false;
    read_pending = false;
    return true;
  }

  /// Runs the io_context until `done` or the timeout; on timeout the
  /// socket is closed so that the pending operation ends.
  template <class Pred>
  bool run(Pred done, std::chrono::milliseconds timeout) {
    ioc.restart();
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        beast::error_code ignored;
        beast::get_lowest_layer(ws).close(ignored);
        ioc.restart();
        ioc.run_for(std::chrono::milliseconds{100});
        return false;
      }
      ioc.run_one_for(std::chrono::milliseconds{20});
    }
    return true;
  }
};

beast_client::beast_client(std::unique_ptr<impl> x) : impl_(std::move(x)) {
  // nop
}

beast_client::~beast_client() {
  beast::error_code ignored;
  beast::get_lowest_layer(impl_->ws).close(ignored);
}

std::unique_ptr<beast_client>
beast_client::connect(uint16_t port, const std::string& target,
                      const std::vector<std::string>& subprotocols,
                      std::string* chosen) {
  auto x = std::make_unique<impl>();
  beast::error_code ec;
  auto& sock = beast::get_lowest_layer(x->ws);
  sock.connect(tcp::endpoint{net::ip::make_address("127.0.0.1"), port}, ec);
  if (ec)
    return nullptr;
  std::string protos;
  for (auto& p : subprotocols)
    protos += (protos.empty() ? "" : ", ") + p;
  x->ws.set_option(
    websocket::stream_base::decorator([protos](websocket::request_type& req) {
      if (!protos.empty())
        req.set(beast::http::field::sec_websocket_protocol, protos);
    }));
  websocket::response_type res;
  bool done = false;
  x->ws.async_handshake(res, "127.0.0.1:" + std::to_string(port), target,
                        [&](beast::error_code e) {
                          ec = e;
                          done = true;
                        });
  if (!x->run([&] { return done; }, std::chrono::seconds{5}) || ec)
    return nullptr;
  if (chosen)
    *chosen = std::string{res[beast::http::field::sec_websocket_protocol]};
  x->ws.control_callback(
    [p = x.get()](websocket::frame_type kind, beast::string_view payload) {
      if (kind == websocket::frame_type::pong)
        p->last_pong = std::string{payload};
    });
  return std::unique_ptr<beast_client>{new beast_client(std::move(x))};
}

bool beast_client::write(const std::string& data, bool text,
                         std::chrono::milliseconds timeout) {
  auto& ws = impl_->ws;
  ws.text(text);
  bool done = false;
  beast::error_code ec;
  ws.async_write(net::buffer(data), [&](beast::error_code e, size_t) {
    ec = e;
    done = true;
  });
  return impl_->run([&] { return done; }, timeout) && !ec;
}

std::optional<beast_client::message>
beast_client::read(std::chrono::milliseconds timeout) {
  auto& ws = impl_->ws;
  if (!impl_->finish_read(timeout) || impl_->read_ec)
    return std::nullopt;
  return message{ws.got_text(), beast::buffers_to_string(impl_->buf.data())};
}

bool beast_client::ping(const std::string& payload,
                        std::chrono::milliseconds timeout) {
  auto& ws = impl_->ws;
  impl_->last_pong.clear();
  bool done = false;
  beast::error_code ec;
  ws.async_ping(websocket::ping_data{payload}, [&](beast::error_code e) {
    ec = e;
    done = true;
  });
  if (!impl_->run([&] { return done; }, timeout) || ec)
    return false;
  // Pongs are seen while reading: read with the pong as the stop condition
  // (the read itself stays pending for the next read or close).
  impl_->start_read();
  auto ok = impl_->run(
    [&] { return impl_->last_pong == payload || impl_->read_done; }, timeout);
  return ok && impl_->last_pong == payload;
}

bool beast_client::close(uint16_t code, std::chrono::milliseconds timeout) {
  auto& ws = impl_->ws;
  bool done = false;
  beast::error_code ec;
  ws.async_close(websocket::close_reason{code}, [&](beast::error_code e) {
    ec = e;
    done = true;
  });
  if (!impl_->run([&] { return done; }, timeout) || ec)
    return false;
  // Drain until the server's close arrives and TCP ends.
  return impl_->finish_read(timeout);
}

std::optional<uint16_t>
beast_client::read_until_close(std::chrono::milliseconds timeout) {
  auto& ws = impl_->ws;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !impl_->finish_read(left))
      return std::nullopt;
    if (impl_->read_ec == websocket::error::closed)
      return static_cast<uint16_t>(ws.reason().code);
    if (impl_->read_ec)
      return std::nullopt;
  }
}

} // namespace fenix::test
