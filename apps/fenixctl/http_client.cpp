// The only Beast TU of fenixctl: a small synchronous-looking HTTP client.
// Operations are asynchronous on a private io_context so that one deadline
// bounds the whole exchange (Beast's sync calls cannot time out).
#include "apps/fenixctl/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace fenixctl {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

bool url::parse(const std::string& text, url& out, std::string& error) {
  const std::string scheme = "http://";
  if (text.compare(0, scheme.size(), scheme) != 0) {
    error = "only http:// URLs are supported: " + text;
    return false;
  }
  auto rest = text.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  out.base = slash == std::string::npos ? "" : rest.substr(slash);
  while (!out.base.empty() && out.base.back() == '/')
    out.base.pop_back();
  // [v6]:port or host:port
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) {
      error = "bad URL: " + text;
      return false;
    }
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      out.port = authority.substr(close + 2);
  } else {
    auto colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos)
      out.port = authority.substr(colon + 1);
  }
  if (out.host.empty() || out.port.empty()
      || out.port.find_first_not_of("0123456789") != std::string::npos) {
    error = "bad URL: " + text;
    return false;
  }
  return true;
}

http_result request(const url& u, const std::string& method,
                    const std::string& target, const std::string& token,
                    std::chrono::milliseconds timeout) {
  http_result result;
  net::io_context ioc;
  tcp::resolver resolver{ioc};
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buf;
  http::request<http::string_body> req{http::string_to_verb(method),
                                       u.base + target, 11};
  req.set(http::field::host, u.host + ":" + u.port);
  req.set(http::field::user_agent, "fenixctl");
  req.set(http::field::accept, "application/json");
  if (!token.empty())
    req.set(http::field::authorization, "Bearer " + token);
  req.prepare_payload();
  http::response<http::string_body> res;
  auto fail = [&](const boost::system::error_code& ec, const char* what) {
    result.error = std::string{what} + ": " + ec.message();
    result.refused = ec == net::error::connection_refused;
  };
  resolver.async_resolve(
    u.host, u.port,
    [&](const boost::system::error_code& ec, tcp::resolver::results_type rs) {
      if (ec)
        return fail(ec, "resolve");
      stream.expires_after(timeout);
      stream.async_connect(rs, [&](const boost::system::error_code& ec,
                                   const tcp::endpoint&) {
        if (ec)
          return fail(ec, "connect");
        http::async_write(stream, req, [&](const boost::system::error_code& ec,
                                           size_t) {
          if (ec)
            return fail(ec, "write");
          http::async_read(stream, buf, res,
                           [&](const boost::system::error_code& ec, size_t) {
                             if (ec)
                               return fail(ec, "read");
                             result.ok = true;
                             result.status = res.result_int();
                             result.body = std::move(res.body());
                           });
        });
      });
    });
  ioc.run();
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return result;
}

} // namespace fenixctl
