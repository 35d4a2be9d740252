#include "raw_client.hpp"

#include <cerrno>
#include <cstring>
#include <random>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace fenix::test {

namespace {

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return s;
}

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

} // namespace

const std::string* http_reply::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (k == name)
      return &v;
  return nullptr;
}

uint16_t ws_frame::close_code() const {
  if (payload.size() < 2)
    return 0;
  return static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8)
                               | static_cast<uint8_t>(payload[1]));
}

raw_client::~raw_client() {
  close();
}

raw_client::raw_client(raw_client&& other) noexcept
    : fd_(other.fd_), buf_(std::move(other.buf_)), eof_(other.eof_) {
  other.fd_ = -1;
}

bool raw_client::connect(uint16_t port, int rcvbuf) {
  close();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0)
    return false;
  if (rcvbuf > 0)
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close();
    return false;
  }
  return true;
}

void raw_client::close() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
  buf_.clear();
  eof_ = false;
}

bool raw_client::send_all(std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool raw_client::fill(std::chrono::steady_clock::time_point deadline) {
  if (fd_ < 0 || eof_)
    return false;
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    auto rc = ::poll(&p, 1, remaining_ms(deadline));
    if (rc < 0 && errno == EINTR)
      continue;
    if (rc <= 0)
      return false;
    char tmp[65536];
    auto n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
}

bool raw_client::send_request(std::string_view method, std::string_view target,
                              const std::vector<std::string>& headers,
                              std::string_view body) {
  std::string req;
  req.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  req.append("Host: 127.0.0.1\r\n");
  for (auto& h : headers)
    req.append(h).append("\r\n");
  if (!body.empty() || method == "POST")
    req.append("Content-Length: ").append(std::to_string(body.size()))
      .append("\r\n");
  req.append("\r\n").append(body);
  return send_all(req);
}

std::optional<http_reply>
raw_client::read_http(std::chrono::milliseconds timeout, bool no_body) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
    if (!fill(deadline))
      return std::nullopt;
  http_reply rep;
  auto head = buf_.substr(0, end);
  buf_.erase(0, end + 4);
  auto line_end = head.find("\r\n");
  auto status_line = head.substr(0, line_end);
  auto sp = status_line.find(' ');
  if (sp == std::string::npos)
    return std::nullopt;
  rep.status = std::atoi(status_line.c_str() + sp + 1);
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    auto e = head.find("\r\n", pos);
    auto line = head.substr(pos, e == std::string::npos ? std::string::npos
                                                        : e - pos);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      auto v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ')
        v.erase(0, 1);
      rep.headers.emplace_back(lower(line.substr(0, colon)), v);
    }
    if (e == std::string::npos)
      break;
    pos = e + 2;
  }
  if (rep.status == 101 || no_body)
    return rep;
  size_t len = 0;
  if (auto cl = rep.header("content-length"))
    len = std::stoul(*cl);
  while (buf_.size() < len)
    if (!fill(deadline))
      return std::nullopt;
  rep.body = buf_.substr(0, len);
  buf_.erase(0, len);
  return rep;
}

std::optional<http_reply>
raw_client::handshake(std::string_view target,
                      const std::vector<std::string>& extra_headers,
                      std::chrono::milliseconds timeout) {
  std::vector<std::string> hs{"Upgrade: websocket", "Connection: Upgrade",
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                              "Sec-WebSocket-Version: 13"};
  hs.insert(hs.end(), extra_headers.begin(), extra_headers.end());
  if (!send_request("GET", target, hs))
    return std::nullopt;
  return read_http(timeout);
}

bool raw_client::send_frame(uint8_t op, std::string_view payload, bool fin,
                            bool mask, uint8_t rsv) {
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | ((rsv & 7) << 4)
                                  | (op & 0x0F)));
  auto len = payload.size();
  uint8_t mbit = mask ? 0x80 : 0;
  if (len < 126) {
    out.push_back(static_cast<char>(mbit | len));
  } else if (len <= 0xFFFF) {
    out.push_back(static_cast<char>(mbit | 126));
    out.push_back(static_cast<char>(len >> 8));
    out.push_back(static_cast<char>(len & 0xFF));
  } else {
    out.push_back(static_cast<char>(mbit | 127));
    for (int i = 7; i >= 0; --i)
      out.push_back(static_cast<char>((static_cast<uint64_t>(len) >> (8 * i))
                                      & 0xFF));
  }
  if (mask) {
    static thread_local std::mt19937 rng{std::random_device{}()};
    uint8_t key[4];
    for (auto& k : key)
      k = static_cast<uint8_t>(rng());
    out.append(reinterpret_cast<char*>(key), 4);
    auto off = out.size();
    out.append(payload);
    for (size_t i = 0; i < len; ++i)
      out[off + i] = static_cast<char>(out[off + i] ^ key[i & 3]);
  } else {
    out.append(payload);
  }
  return send_all(out);
}

bool raw_client::send_close(uint16_t code, std::string_view reason) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xFF));
  p.append(reason);
  return send_frame(0x8, p);
}

std::optional<ws_frame>
raw_client::read_frame(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (buf_.size() < 2)
    if (!fill(deadline))
      return std::nullopt;
  auto b0 = static_cast<uint8_t>(buf_[0]);
  auto b1 = static_cast<uint8_t>(buf_[1]);
  size_t hdr = 2;
  uint64_t len = b1 & 0x7F;
  if (len == 126)
    hdr = 4;
  else if (len == 127)
    hdr = 10;
  if (b1 & 0x80)
    hdr += 4; // servers must not mask, but parse it anyway
  while (buf_.size() < hdr)
    if (!fill(deadline))
      return std::nullopt;
  if ((b1 & 0x7F) == 126) {
    len = (static_cast<uint64_t>(static_cast<uint8_t>(buf_[2])) << 8)
          | static_cast<uint8_t>(buf_[3]);
  } else if ((b1 & 0x7F) == 127) {
    len = 0;
    for (int i = 0; i < 8; ++i)
      len = (len << 8) | static_cast<uint8_t>(buf_[2 + i]);
  }
  while (buf_.size() < hdr + len)
    if (!fill(deadline))
      return std::nullopt;
  ws_frame f;
  f.op = b0 & 0x0F;
  f.fin = (b0 & 0x80) != 0;
  f.payload = buf_.substr(hdr, len);
  buf_.erase(0, hdr + len);
  return f;
}

std::optional<uint16_t> raw_client::read_close(std::chrono::milliseconds timeout,
                                               size_t* skipped) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto f = read_frame(std::chrono::milliseconds{remaining_ms(deadline)});
    if (!f)
      return std::nullopt;
    if (f->op == 0x8)
      return f->close_code();
    if (skipped)
      ++*skipped;
  }
}

bool raw_client::wait_eof(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (fill(deadline))
    buf_.clear();
  return eof_;
}

std::optional<http_reply> http_call(uint16_t port, std::string_view method,
                                    std::string_view target,
                                    const std::vector<std::string>& headers,
                                    std::string_view body,
                                    std::chrono::milliseconds timeout) {
  raw_client c;
  if (!c.connect(port))
    return std::nullopt;
  if (!c.send_request(method, target, headers, body))
    return std::nullopt;
  return c.read_http(timeout);
}

} // namespace fenix::test
