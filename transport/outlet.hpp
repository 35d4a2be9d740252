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

  /// Queues one frame; frames leave in the order they were queued. When
  /// nothing is queued or being written and the caller is inside a
  /// `fenix::actor`'s turn, the WebSocket transport writes the queue from
  /// that thread when the turn ends; otherwise the I/O thread writes it.
  /// Under load frames pile up behind the write in flight and leave
  /// together in one gather-write.
  virtual bool send(frame_ptr f) = 0;

  /// Like `send`, for a reply somebody is waiting for: outside an actor's
  /// turn too, an idle connection is written from the caller's thread at
  /// once (one non-blocking syscall, no hand-off to the I/O thread). If
  /// the kernel takes only part of it, the rest queues like `send`.
  virtual bool send_reply(frame_ptr f) {
    return send(std::move(f));
  }

  /// Closes after everything queued so far.
  virtual void close(uint16_t code, std::string_view reason) = 0;
};

using outlet_ptr = std::shared_ptr<outlet>;

} // namespace fenix::transport
