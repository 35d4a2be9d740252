#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "transport/frame.hpp"

namespace fenix::transport {

/// The outbound side of one connection, shared with whoever writes to it:
/// channel actors push replies and PubSub shards push fastlane broadcasts
/// straight into the connection's queue, from any thread, without a hop
/// through the connection actor. Safe to use after the connection is gone
/// (calls then do nothing and `send` returns false).
class outlet {
public:
  virtual ~outlet() = default;

  /// Queues one frame; frames leave in the order they were queued.
  virtual bool send(frame_ptr f) = 0;

  /// Closes after everything queued so far.
  virtual void close(uint16_t code, std::string_view reason) = 0;
};

using outlet_ptr = std::shared_ptr<outlet>;

} // namespace fenix::transport
