#pragma once

// A deliberately small WebSocket/HTTP client over POSIX sockets for the
// transport tests: every byte is under the test's control (unmasked frames,
// reserved bits, broken UTF-8...), every wait is bounded by poll().

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fenix::test {

using namespace std::chrono_literals;

struct http_reply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers; // lower-case
  std::string body;

  const std::string* header(std::string_view name) const;
};

struct ws_frame {
  uint8_t op = 0;
  bool fin = true;
  std::string payload;

  /// Close code of a close frame (0 when it carries none).
  uint16_t close_code() const;
};

class raw_client {
public:
  raw_client() = default;
  ~raw_client();
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;
  raw_client(raw_client&& other) noexcept;

  /// Connects to 127.0.0.1:port; `rcvbuf` > 0 sets SO_RCVBUF first.
  bool connect(uint16_t port, int rcvbuf = 0);
  void close();
  bool is_open() const { return fd_ >= 0; }

  bool send_all(std::string_view bytes);

  /// One HTTP request; `headers` as full lines without CRLF.
  bool send_request(std::string_view method, std::string_view target,
                    const std::vector<std::string>& headers = {},
                    std::string_view body = {});
  /// Reads one response; `no_body` for answers to HEAD.
  std::optional<http_reply> read_http(std::chrono::milliseconds timeout = 5s,
                                      bool no_body = false);

  /// The WebSocket upgrade; returns the reply (101 on success).
  std::optional<http_reply>
  handshake(std::string_view target = "/socket/websocket",
            const std::vector<std::string>& extra_headers = {},
            std::chrono::milliseconds timeout = 5s);

  /// Sends one client frame (masked unless told otherwise).
  bool send_frame(uint8_t op, std::string_view payload, bool fin = true,
                  bool mask = true, uint8_t rsv = 0);
  bool send_text(std::string_view s) { return send_frame(0x1, s); }
  bool send_close(uint16_t code, std::string_view reason = {});

  std::optional<ws_frame> read_frame(std::chrono::milliseconds timeout = 5s);

  /// Reads frames until a close frame; its code (0 if none), or nothing on
  /// timeout/EOF. Data frames read meanwhile are counted in `skipped`.
  std::optional<uint16_t> read_close(std::chrono::milliseconds timeout = 5s,
                                     size_t* skipped = nullptr);

  /// True when the server closed TCP (EOF or reset) within `timeout`.
  bool wait_eof(std::chrono::milliseconds timeout = 5s);

  int fd() const { return fd_; }

private:
  /// Appends at least one byte to buf_; false on timeout, EOF or error.
  bool fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

/// Connects, sends one request, reads the reply.
std::optional<http_reply> http_call(uint16_t port, std::string_view method,
                                    std::string_view target,
                                    const std::vector<std::string>& headers = {},
                                    std::string_view body = {},
                                    std::chrono::milliseconds timeout = 5s);

} // namespace fenix::test
