#pragma once

// An independent WebSocket client (Boost.Beast) for interoperability
// checks. Beast-only translation unit behind this plain header; every
// operation is bounded by a timeout.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fenix::test {

class beast_client {
public:
  struct message {
    bool text = true;
    std::string data;
  };

  ~beast_client();

  /// Connects and completes the handshake; null on failure. `chosen`
  /// receives the subprotocol the server echoed.
  static std::unique_ptr<beast_client>
  connect(uint16_t port, const std::string& target = "/socket/websocket",
          const std::vector<std::string>& subprotocols = {},
          std::string* chosen = nullptr);

  bool write(const std::string& data, bool text = true,
             std::chrono::milliseconds timeout = std::chrono::seconds{5});

  std::optional<message>
  read(std::chrono::milliseconds timeout = std::chrono::seconds{5});

  /// Sends a ping and waits for the matching pong.
  bool ping(const std::string& payload,
            std::chrono::milliseconds timeout = std::chrono::seconds{5});

  /// Closes with `code` and completes the close handshake.
  bool close(uint16_t code,
             std::chrono::milliseconds timeout = std::chrono::seconds{5});

  /// Reads until the server closes; the code it sent.
  std::optional<uint16_t>
  read_until_close(std::chrono::milliseconds timeout = std::chrono::seconds{5});

  struct impl;

private:
  explicit beast_client(std::unique_ptr<impl> x);
  std::unique_ptr<impl> impl_;
};

} // namespace fenix::test
