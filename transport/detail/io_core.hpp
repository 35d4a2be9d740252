#pragma once

// Internal to the I/O half: Asio, no Beast, no CAF.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "transport/detail/bridge.hpp"
#include "transport/options.hpp"

namespace fenix::transport::detail {

namespace net = boost::asio;
using tcp = net::ip::tcp;

/// Counters shared by everything of one endpoint.
struct io_counters {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> http_requests{0};
  std::atomic<uint64_t> queue_drops{0};
  std::atomic<uint64_t> idle_timeouts{0};
  std::atomic<uint64_t> protocol_errors{0};
  std::atomic<uint64_t> frames_in{0};
  std::atomic<uint64_t> frames_out{0};
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<uint64_t> writes{0};
  std::atomic<uint64_t> direct_writes{0};
  std::atomic<int64_t> websockets{0};
  std::atomic<int64_t> longpoll_sessions{0};
};

/// Something the timer wheel watches (a connection's idle timeout or
/// close linger, a long-poll session's expiry).
class timed {
public:
  virtual ~timed() = default;

  /// Tick at which `on_deadline` is due; 0 when nothing is due any more
  /// (the wheel then forgets the entry).
  virtual uint32_t deadline() const noexcept = 0;

  /// Called on the wheel's thread once `deadline() <= now`; must be
  /// idempotent and hand the work to the owner's strand.
  virtual void on_deadline() = 0;
};

/// One timer for all connections: it ticks every `tick`, and each tick
/// looks only at the bucket of entries due then. An entry that was active
/// meanwhile moves to the bucket of its new deadline (lazy re-bucketing),
/// so activity costs one relaxed store, not a timer reset, and idle
/// connections hold no timer object.
class timer_wheel {
public:
  timer_wheel(net::io_context& ioc, std::chrono::milliseconds tick);

  void start();
  void stop();

  /// Current tick (starts at 1; 0 means "never").
  uint32_t now() const noexcept { return now_.load(std::memory_order_relaxed); }

  /// Ticks covering `d`, rounded up, at least 1.
  uint32_t ticks(std::chrono::milliseconds d) const noexcept;

  /// Watches `x` until its deadline() returns 0.
  void add(const std::shared_ptr<timed>& x);

  std::chrono::milliseconds tick() const noexcept { return tick_; }

private:
  static constexpr uint32_t slots = 256;

  void arm();
  void on_tick();
  void insert(std::weak_ptr<timed> x, uint32_t due, uint32_t now);

  net::steady_timer timer_;
  std::chrono::milliseconds tick_;
  std::chrono::steady_clock::time_point next_;
  std::atomic<uint32_t> now_{1};
  std::mutex mtx_;
  std::vector<std::weak_ptr<timed>> buckets_[slots];
  bool stopped_ = false;
};

/// A live connection as the registry sees it.
class conn_base : public timed {
public:
  explicit conn_base(uint64_t id) : id_(id) {
    // nop
  }

  uint64_t conn_id() const noexcept { return id_; }

  /// True the first time only: whoever gets true tells the actor to drain.
  virtual bool take_drain() noexcept = 0;

  /// Hands the drain request to the actor (via the connection's strand).
  virtual void request_drain() = 0;

  /// Drops the connection now.
  virtual void abort() = 0;

private:
  uint64_t id_;
};

/// The io_context, its wheel, counters and the registry of connections.
/// Everything that can outlive the endpoint object (a connection held by
/// its actor) holds this alive through its mount.
class io_core {
public:
  io_core(size_t threads, std::chrono::milliseconds tick,
          std::chrono::milliseconds linger);
  ~io_core();

  net::io_context ioc;
  timer_wheel wheel;
  io_counters counters;
  uint32_t linger_ticks;
  /// HTTP requests read and not yet answered.
  std::atomic<int> http_busy{0};
  /// The io threads are running down: nothing may be posted any more (a
  /// handler left in the io_context would keep it alive through its
  /// connection).
  std::atomic<bool> down{false};
  /// The endpoint stopped accepting to drain: a connection whose connect
  /// is decided from now on drains as soon as it opens.
  std::atomic<bool> draining{false};

  uint64_t next_id() noexcept {
    return next_id_.fetch_add(1, std::memory_order_relaxed);
  }

  void attach(const std::shared_ptr<conn_base>& c);
  void detach(uint64_t id);
  size_t live() const;
  bool wait_idle(std::chrono::milliseconds timeout);
  std::vector<std::shared_ptr<conn_base>> snapshot() const;

private:
  std::atomic<uint64_t> next_id_{1};
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::unordered_map<uint64_t, std::weak_ptr<conn_base>> conns_;
};

class lp_session;

/// One socket mount on the I/O side.
struct mount_state {
  std::string path;
  socket_options opts;
  std::shared_ptr<detail::gate> gate;
  std::shared_ptr<io_core> core;
  std::string secret;
  uint32_t idle_ticks = 0;
  std::atomic<size_t> connections{0};

  // Long-poll sessions by id.
  std::mutex lp_mtx;
  std::unordered_map<uint64_t, std::shared_ptr<lp_session>> lp_sessions;
};

/// The I/O side of one WebSocket from its upgrade request on. While the
/// connect is being decided it is already the link of the connection
/// actor: frames the handler pushes wait in its queue, a close waits for
/// the 101.
class websocket : public link {
public:
  virtual uint64_t id() const noexcept = 0;

  /// On the connection's strand, once the connect was accepted: takes over
  /// the upgraded socket, writes the 101, feeds `leftover` (bytes read past
  /// the HTTP request) and reads on; registers with the core and the
  /// wheel. Without a peer (no connection actor could be started) it
  /// closes with 1013 after the 101.
  virtual void open(tcp::socket sock, std::unique_ptr<peer> p,
                    std::string leftover)
    = 0;

  /// The connect was refused: nothing opens, pushes fail.
  virtual void discard() = 0;
};

/// A WebSocket for an upgrade request on `m` whose 101 response is
/// `handshake`.
std::shared_ptr<websocket> make_websocket(std::shared_ptr<mount_state> m,
                                          std::string handshake);

} // namespace fenix::transport::detail
