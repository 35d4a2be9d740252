// One WebSocket connection on the I/O side: RFC 6455 over the raw TCP
// socket, an outbound queue that leaves in one gather-write per flush, and
// no read buffer while idle. Asio only (no Beast, no CAF).

#include <array>
#include <cerrno>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "actors/actor.hpp"
#include "actors/log.hpp"
#include "transport/detail/frames_view.hpp"
#include "transport/detail/io_core.hpp"
#include "transport/detail/ws_reader.hpp"

namespace fenix::transport::detail {

namespace {

constexpr size_t read_chunk = 64 * 1024;

/// Reads land in one buffer per io thread and are parsed at once, so an
/// idle connection holds no read buffer at all.
uint8_t* thread_read_buffer() {
  thread_local std::unique_ptr<uint8_t[]> buf;
  if (!buf)
    buf = std::make_unique<uint8_t[]>(read_chunk);
  return buf.get();
}

class ws_connection final : public conn_base,
                            public websocket,
                            public fenix::end_of_turn,
                            public std::enable_shared_from_this<ws_connection> {
public:
  // The socket is a placeholder until open(): the HTTP session keeps the
  // real one while the connect is being decided.
  ws_connection(std::shared_ptr<mount_state> m, uint64_t id,
                std::string handshake)
      : conn_base(id),
        mount_(std::move(m)),
        sock_(mount_->core->ioc),
        reader_(mount_->opts.max_frame_size),
        handshake_(std::move(handshake)) {
    // nop
  }

  // -- starting -------------------------------------------------------------

  uint64_t id() const noexcept override {
    return conn_id();
  }

  void open(tcp::socket sock, std::unique_ptr<peer> p,
            std::string leftover) override {
    // Runs on the connection's strand (the HTTP session's handler).
    auto& core = *mount_->core;
    sock_ = std::move(sock);
    // Registered only now: drain and abort post to sock_'s executor from
    // other threads.
    core.attach(shared_from_this());
    core.counters.websockets.fetch_add(1, std::memory_order_relaxed);
    core.counters.accepted.fetch_add(1, std::memory_order_relaxed);
    // User-level non-blocking mode: read_some after a readiness wait must
    // return would_block when a wake-up was spurious; in blocking mode
    // Asio would poll() and stall this io thread until the client sends.
    boost::system::error_code ignored;
    sock_.non_blocking(true, ignored);
    bool close_now;
    {
      // Other threads use fd_ only once the 101 is written (write_active_).
      std::lock_guard<std::mutex> guard{mtx_};
      fd_ = sock_.native_handle();
      opened_ = true;
      close_now = close_early_;
    }
    peer_ = std::move(p);
    touch();
    // write_active_ is already set: frames the actor pushes meanwhile wait
    // behind the 101 response.
    net::async_write(sock_, net::buffer(handshake_),
                     [self = shared_from_this()](
                       const boost::system::error_code& ec, size_t) {
                       self->on_handshake_written(ec);
                     });
    if (!peer_) {
      record(close_code::try_again_later, "server stopping",
             closed_by::server);
      close_now = true;
    }
    if (close_now)
      begin_close(result_.code, result_.reason);
    if (!leftover.empty())
      consume(reinterpret_cast<const uint8_t*>(leftover.data()),
              leftover.size());
    if (phase_ == phase::closed)
      return;
    do_read();
    core.wheel.add(shared_from_this());
    if (peer_ && phase_ == phase::open && core.draining.load()
        && take_drain())
      peer_->drain();
  }

  void discard() override {
    std::lock_guard<std::mutex> guard{mtx_};
    accepting_ = false;
  }

  // -- link: called from any thread ------------------------------------------

  bool send(frame_ptr f) override {
    std::unique_lock<std::mutex> guard{mtx_};
    auto was_idle = idle_locked();
    if (!enqueue_locked(guard, std::move(f)))
      return false;
    // Corked: the end of an actor's turn writes the queue soon, this frame
    // included.
    if (corked_)
      return true;
    // Idle, inside an actor's turn: that thread writes at the end of its
    // turn, as for a reply. A broadcast to many connections is then
    // written by the threads that deliver it (PubSub splits a big one
    // across shards) instead of all by the I/O thread; frames that find a
    // write in flight still pile up behind it for the next gather-write.
    if (was_idle && fenix::defer_to_end_of_turn(shared_from_this())) {
      corked_ = true;
      return true;
    }
    post_flush_locked(guard);
    return true;
  }

  bool send_reply(frame_ptr f) override {
    std::unique_lock<std::mutex> guard{mtx_};
    auto was_idle = idle_locked();
    if (!enqueue_locked(guard, std::move(f)))
      return false;
    if (corked_)
      return true;
    if (!was_idle) {
      post_flush_locked(guard);
      return true;
    }
    // Inside an actor's turn: every reply of this turn leaves together
    // when it ends. Elsewhere: now.
    if (fenix::defer_to_end_of_turn(shared_from_this())) {
      corked_ = true;
      return true;
    }
    write_direct(guard);
    return true;
  }

  void on_end_of_turn() override {
    std::unique_lock<std::mutex> guard{mtx_};
    corked_ = false;
    if (!write_active_ && !flush_posted_ && !queue_.empty())
      write_direct(guard);
  }

  void close(uint16_t code, std::string_view reason) override {
    // Refuse further frames right now (the caller's later pushes must not
    // slip in before the close frame), then let the strand do the rest.
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (!accepting_)
        return;
      accepting_ = false;
      if (!opened_) {
        // Before the 101 (a handler that closes in on_open): open() begins
        // the close right after it. The strand is not running this
        // connection yet, so its close record is ours to write.
        record(code, reason, closed_by::server);
        close_early_ = true;
        return;
      }
    }
    post_close(code, reason);
  }

  // -- conn_base --------------------------------------------------------------

  bool take_drain() noexcept override {
    return !drain_taken_.exchange(true, std::memory_order_relaxed);
  }

  void request_drain() override {
    net::post(sock_.get_executor(), [self = shared_from_this()] {
      if (self->peer_ && self->phase_ == phase::open)
        self->peer_->drain();
    });
  }

  void abort() override {
    net::post(sock_.get_executor(), [self = shared_from_this()] {
      self->record(close_code::going_away, "aborted", closed_by::server);
      self->finish();
    });
  }

  // -- timed: the wheel's thread ------------------------------------------------

  uint32_t deadline() const noexcept override {
    if (done_.load(std::memory_order_relaxed))
      return 0;
    if (auto cd = close_deadline_.load(std::memory_order_relaxed); cd != 0)
      return cd;
    if (mount_->idle_ticks == 0)
      return 0;
    return last_activity_.load(std::memory_order_relaxed) + mount_->idle_ticks;
  }

  void on_deadline() override {
    net::post(sock_.get_executor(),
              [self = shared_from_this()] { self->on_timer(); });
  }

private:
  enum class phase : uint8_t { open, closing, closed };

  io_core& core() noexcept { return *mount_->core; }

  void touch() noexcept {
    last_activity_.store(core().wheel.now(), std::memory_order_relaxed);
  }

  // -- reading --------------------------------------------------------------------

  // A read waits in Asio's reactor with the small inbox_ as its buffer,
  // not with async_wait: Asio re-registers the descriptor with epoll
  // (epoll_ctl MOD, the ep mutex and a poll of the socket) for every wait.
  // A read instead first tries recv() at once (Boost 1.81 gives that up
  // only at EOF), which after a drained burst is a cheap EAGAIN, and then
  // waits without a syscall. Whatever does not fit the inbox is read at
  // once into the io thread's buffer, so an idle connection still holds no
  // real read buffer.
  void do_read() {
    sock_.async_read_some(net::buffer(inbox_),
                          [self = shared_from_this()](
                            const boost::system::error_code& ec, size_t n) {
                            self->on_read(ec, n);
                          });
  }

  void on_read(const boost::system::error_code& ec, size_t n) {
    if (phase_ == phase::closed)
      return;
    if (ec)
      return lost();
    touch();
    consume(inbox_.data(), n);
    if (phase_ == phase::closed)
      return;
    // A full inbox: more may be waiting. Drain the socket before the next
    // read is queued, or that read would take the bytes first (Asio tries
    // a queued read at once while the socket may hold data).
    if (n == inbox_.size()) {
      auto* buf = thread_read_buffer();
      for (;;) {
        boost::system::error_code rec;
        auto m = sock_.read_some(net::buffer(buf, read_chunk), rec);
        if (rec == net::error::would_block || rec == net::error::try_again)
          break;
        if (rec)
          return lost();
        consume(buf, m);
        if (phase_ == phase::closed)
          return;
        if (m < read_chunk)
          break; // a short read drained the socket
      }
    }
    do_read();
  }

  /// EOF or reset on a read: the client is gone (or finished its close).
  void lost() {
    record(close_code::abnormal, "", closed_by::network);
    finish();
  }

  void consume(const uint8_t* pos, size_t n) {
    const uint8_t* end = pos + n;
    while (pos < end && !reading_stopped_ && phase_ != phase::closed) {
      switch (reader_.next(pos, end)) {
        case ws_reader::event::need_more:
          return;
        case ws_reader::event::message: {
          auto op = reader_.message_op();
          auto msg = reader_.take_message();
          if (phase_ != phase::open || !peer_)
            break; // after our close frame, data is discarded
          core().counters.frames_in.fetch_add(1, std::memory_order_relaxed);
          if (op == opcode::text)
            peer_->on_text(std::move(msg));
          else
            peer_->on_binary(std::move(msg));
          break;
        }
        case ws_reader::event::ping:
          if (phase_ == phase::open) {
            auto pong = frame::make(opcode::pong, reader_.control());
            std::unique_lock<std::mutex> guard{mtx_};
            control_.push_back(std::move(pong));
            if (!write_active_) {
              guard.unlock();
              flush();
            }
          }
          reader_.release_control();
          break;
        case ws_reader::event::pong:
          reader_.release_control();
          break;
        case ws_reader::event::close: {
          auto code = reader_.close_code();
          peer_closed_ = true;
          if (phase_ == phase::open) {
            record(code == 0 ? close_code::no_status : code,
                   std::string{reader_.close_reason()}, closed_by::client);
            // Echo the client's code (an empty close when it gave none).
            begin_close(code, {});
          } else if (close_written_) {
            finish(); // handshake complete
          }
          reader_.release_control();
          reading_stopped_ = true; // nothing may follow a close frame
          return;
        }
        case ws_reader::event::error:
          core().counters.protocol_errors.fetch_add(1,
                                                    std::memory_order_relaxed);
          FENIX_INFO("transport", "connection "
                                    << conn_id() << ": protocol error ("
                                    << reader_.error_reason() << "), closing with "
                                    << reader_.error_code());
          reading_stopped_ = true;
          record(reader_.error_code(), reader_.error_reason(),
                 closed_by::server);
          begin_close(reader_.error_code(), reader_.error_reason());
          return;
      }
    }
  }

  // -- writing ----------------------------------------------------------------------

  /// Nothing queued, nothing being written (mtx_ held).
  bool idle_locked() const noexcept {
    return !write_active_ && !flush_posted_ && queue_.empty()
           && control_.empty() && !close_frame_;
  }

  /// Appends a data frame within the queue limits (mtx_ held). Past a
  /// limit the client is dropped: see docs/transport.md; then the lock is
  /// released and the result is false.
  bool enqueue_locked(std::unique_lock<std::mutex>& guard, frame_ptr f) {
    if (!accepting_)
      return false;
    auto& opts = mount_->opts;
    auto size = f->wire_size();
    if (queued_bytes_ + size > opts.max_queue_bytes
        || queued_frames_ + 1 > opts.max_queue_frames) {
      // The client does not keep up: drop what it has not been sent yet
      // and close. Frames already in the kernel's hands may still arrive.
      accepting_ = false;
      for (auto& x : queue_)
        queued_bytes_ -= x->wire_size();
      queued_frames_ -= queue_.size();
      queue_.clear();
      auto bytes = queued_bytes_ + size;
      auto frames = queued_frames_ + 1;
      guard.unlock();
      mount_->core->counters.queue_drops.fetch_add(1, std::memory_order_relaxed);
      FENIX_WARN("transport", "connection " << conn_id()
                                << ": outbound queue limit reached ("
                                << frames << " frames pending, "
                                << bytes << " bytes incl. in flight), "
                                << "disconnecting with 1008");
      post_close(close_code::policy_violation, "outbound queue limit");
      return false;
    }
    queued_bytes_ += size;
    ++queued_frames_;
    queue_.push_back(std::move(f));
    return true;
  }

  /// Writes the queued data frames from the calling thread with one
  /// non-blocking gather-write: replies, whose senders are waiting, skip
  /// the hand-off to the I/O thread. Whatever the kernel does not take
  /// (and anything else pending) is left to the strand. Holding the write
  /// token (write_active_), this thread uses writing_ like the strand's
  /// writes do, and the strand does not close the descriptor meanwhile
  /// (direct_active_, see finish). Called with no flush posted, so no
  /// half-written frame is pending (head_skip_ is 0).
  void write_direct(std::unique_lock<std::mutex>& guard) {
    constexpr size_t max_iov = 64;
    if (!control_.empty() || close_frame_ || queue_.size() > max_iov) {
      post_flush_locked(guard);
      return;
    }
    write_active_ = true;
    direct_active_ = true;
    writing_.swap(queue_); // capacities alternate, no allocation per reply
    guard.unlock();
    iovec iov[max_iov];
    for (size_t k = 0; k < writing_.size(); ++k) {
      auto w = writing_[k]->wire();
      iov[k].iov_base = const_cast<char*>(w.data());
      iov[k].iov_len = w.size();
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = writing_.size();
    auto n = ::sendmsg(fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    auto failed = n < 0 && errno != EAGAIN && errno != EWOULDBLOCK
                  && errno != EINTR;
    auto sent = n > 0 ? static_cast<size_t>(n) : size_t{0};
    // Frames that left completely, and how far the next one got.
    size_t done = 0;
    size_t rest = sent;
    for (; done < writing_.size() && rest >= iov[done].iov_len; ++done)
      rest -= iov[done].iov_len;
    if (sent > 0) {
      auto& ctr = core().counters;
      ctr.writes.fetch_add(1, std::memory_order_relaxed);
      ctr.direct_writes.fetch_add(1, std::memory_order_relaxed);
      ctr.bytes_out.fetch_add(sent, std::memory_order_relaxed);
      ctr.frames_out.fetch_add(done, std::memory_order_relaxed);
    }
    guard.lock();
    direct_active_ = false;
    write_active_ = false;
    // Frames leave the accounting once sent, or when a failure drops them.
    auto settled = failed ? writing_.size() : done;
    for (size_t k = 0; k < settled; ++k)
      queued_bytes_ -= writing_[k]->wire_size();
    queued_frames_ -= settled;
    if (failed) {
      direct_failed_ = true; // the strand closes
    } else if (done < writing_.size()) {
      // The kernel's buffer is full: the rest goes first in the strand's
      // next gather-write, which waits for the socket to drain.
      queue_.insert(queue_.begin(),
                    std::make_move_iterator(writing_.begin() + done),
                    std::make_move_iterator(writing_.end()));
      head_skip_ = rest;
    }
    writing_.clear();
    if (!queue_.empty() || !control_.empty() || close_frame_ || close_deferred_
        || direct_failed_)
      post_flush_locked(guard);
  }

  /// Hands the rest to the strand (mtx_ held; released here).
  void post_flush_locked(std::unique_lock<std::mutex>& guard) {
    if (flush_posted_ || write_active_)
      return;
    flush_posted_ = true;
    guard.unlock();
    net::post(sock_.get_executor(),
              [self = shared_from_this()] { self->flush(); });
  }

  void on_handshake_written(const boost::system::error_code& ec) {
    std::string{}.swap(handshake_);
    if (ec) {
      record(close_code::abnormal, "", closed_by::network);
      finish();
      return;
    }
    std::unique_lock<std::mutex> guard{mtx_};
    write_active_ = false;
    guard.unlock();
    flush();
  }

  /// Sends everything pending in one gather-write: pongs first (they may
  /// go between any two messages), then data in queue order, then the close
  /// frame, which is always last.
  void flush() {
    std::unique_lock<std::mutex> guard{mtx_};
    flush_posted_ = false;
    if (close_deferred_ && !direct_active_) {
      // finish() ran while a direct write was in its syscall.
      close_deferred_ = false;
      guard.unlock();
      boost::system::error_code ignored;
      sock_.close(ignored);
      return;
    }
    if (std::exchange(direct_failed_, false) && phase_ != phase::closed) {
      guard.unlock();
      record(close_code::abnormal, "", closed_by::network);
      finish();
      return;
    }
    if (write_active_ || phase_ == phase::closed)
      return;
    writing_.swap(queue_);
    if (!control_.empty()) {
      // Pongs go first, but never into a frame that a direct write left
      // half-written.
      auto at = writing_.begin() + (head_skip_ != 0 ? 1 : 0);
      writing_.insert(at, std::make_move_iterator(control_.begin()),
                      std::make_move_iterator(control_.end()));
      control_.clear();
    }
    if (close_frame_) {
      writing_.push_back(std::move(close_frame_));
      close_frame_.reset();
      close_in_flight_ = true;
    }
    if (writing_.empty())
      return;
    write_active_ = true;
    auto skip = std::exchange(head_skip_, 0);
    guard.unlock();
    core().counters.writes.fetch_add(1, std::memory_order_relaxed);
    net::async_write(sock_, frames_view{writing_, skip},
                     [self = shared_from_this()](
                       const boost::system::error_code& ec, size_t n) {
                       self->on_write(ec, n);
                     });
  }

  void on_write(const boost::system::error_code& ec, size_t n) {
    auto& ctr = core().counters;
    size_t data_bytes = 0;
    size_t data_frames = 0;
    for (auto& f : writing_)
      if (!f->is_control()) {
        data_bytes += f->wire_size();
        ++data_frames;
      }
    if (!ec) {
      ctr.frames_out.fetch_add(writing_.size(), std::memory_order_relaxed);
      ctr.bytes_out.fetch_add(n, std::memory_order_relaxed);
    }
    writing_.clear();
    if (writing_.capacity() > 64)
      std::vector<frame_ptr>{}.swap(writing_);
    bool close_sent = close_in_flight_;
    close_in_flight_ = false;
    bool more;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      write_active_ = false;
      queued_bytes_ -= data_bytes;
      queued_frames_ -= data_frames;
      more = !queue_.empty() || !control_.empty() || close_frame_ != nullptr;
      if (queue_.empty() && queue_.capacity() > 64)
        std::vector<frame_ptr>{}.swap(queue_);
    }
    if (ec) {
      if (phase_ != phase::closed) {
        record(close_code::abnormal, "", closed_by::network);
        finish();
      }
      return;
    }
    if (close_sent) {
      on_close_written();
      return;
    }
    if (more)
      flush();
  }

  // -- closing ------------------------------------------------------------------------

  void post_close(uint16_t code, std::string_view reason) {
    net::post(sock_.get_executor(),
              [self = shared_from_this(), code, r = std::string{reason}] {
                self->record(code, r, closed_by::server);
                self->begin_close(code, r);
              });
  }

  /// Remembers how the connection ended; the first explanation wins.
  void record(uint16_t code, std::string_view reason, closed_by by) {
    if (recorded_)
      return;
    recorded_ = true;
    result_.code = code;
    result_.reason = std::string{reason};
    result_.by = by;
  }

  /// Queues the close frame (after everything queued so far) and starts
  /// the linger clock. `code` 0 sends a close frame without a code.
  void begin_close(uint16_t code, std::string_view reason) {
    if (phase_ != phase::open)
      return;
    phase_ = phase::closing;
    close_deadline_.store(core().wheel.now() + core().linger_ticks,
                          std::memory_order_relaxed);
    core().wheel.add(shared_from_this());
    auto f = code == 0 ? frame::make(opcode::close, {})
                       : frame::make_close(code, reason);
    std::unique_lock<std::mutex> guard{mtx_};
    accepting_ = false;
    close_frame_ = std::move(f);
    if (!write_active_) {
      guard.unlock();
      flush();
    }
  }

  void on_close_written() {
    close_written_ = true;
    if (peer_closed_) {
      finish(); // the server closes TCP first (RFC 6455 §7.1.1)
      return;
    }
    // Wait (bounded by the linger deadline) for the client's close frame or
    // EOF; reading on drains what it still sends so that no RST hits it.
    boost::system::error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_send, ignored);
  }

  void on_timer() {
    if (phase_ == phase::closed)
      return;
    auto now = core().wheel.now();
    if (phase_ == phase::closing) {
      auto cd = close_deadline_.load(std::memory_order_relaxed);
      if (cd != 0 && now >= cd)
        finish(); // the close could not complete in time: drop TCP
      return;
    }
    auto idle = mount_->idle_ticks;
    if (idle != 0
        && now >= last_activity_.load(std::memory_order_relaxed) + idle) {
      core().counters.idle_timeouts.fetch_add(1, std::memory_order_relaxed);
      record(close_code::going_away, "idle timeout", closed_by::server);
      begin_close(close_code::going_away, "idle timeout");
    }
  }

  void finish() {
    if (phase_ == phase::closed)
      return;
    phase_ = phase::closed;
    done_.store(true, std::memory_order_relaxed);
    boost::system::error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_both, ignored);
    {
      std::lock_guard<std::mutex> guard{mtx_};
      accepting_ = false;
      // A thread inside a direct write holds the descriptor's number:
      // closing it now could let a new connection reuse the number under
      // that write. The writer posts a flush, which closes.
      if (direct_active_)
        close_deferred_ = true;
      else
        sock_.close(ignored);
      head_skip_ = 0;
      queue_.clear();
      queue_.shrink_to_fit();
      control_.clear();
      close_frame_.reset();
    }
    reader_.take_message();
    reader_.release_control();
    mount_->connections.fetch_sub(1, std::memory_order_relaxed);
    core().counters.websockets.fetch_sub(1, std::memory_order_relaxed);
    core().detach(conn_id());
    if (!recorded_)
      record(close_code::abnormal, "", closed_by::network);
    if (peer_) {
      peer_->on_closed(std::move(result_));
      peer_.reset(); // drops the actor handle: no cycle left
    }
  }

  // -- state ------------------------------------------------------------------------

  // Declared before the socket: it keeps the io_context alive, so it must
  // be destroyed after the socket.
  std::shared_ptr<mount_state> mount_;
  tcp::socket sock_;
  // The descriptor, for direct writes from other threads: reading sock_
  // there would race with the strand. Closed only as finish() allows.
  int fd_ = -1;

  // Strand only.
  std::unique_ptr<peer> peer_;
  ws_reader reader_;
  // The reactor's read lands here: big enough for the usual Phoenix frame
  // (a join, a heartbeat, a push), small for every idle connection.
  std::array<uint8_t, 96> inbox_;
  std::string handshake_;
  // The gather-write in flight: the strand's, or a direct write's (the
  // holder of write_active_ owns it).
  std::vector<frame_ptr> writing_;
  close_info result_;
  phase phase_ = phase::open;
  bool recorded_ = false;
  bool reading_stopped_ = false;
  bool peer_closed_ = false;   // the client's close frame arrived
  bool close_written_ = false; // our close frame left
  bool close_in_flight_ = false;

  // Read by the wheel.
  std::atomic<uint32_t> last_activity_{0};
  std::atomic<uint32_t> close_deadline_{0};
  std::atomic<bool> done_{false};
  std::atomic<bool> drain_taken_{false}; // endpoint drain or open()
  // Guarded by mtx_, placed here to fill the padding before it.
  bool opened_ = false;      // open() took over the socket
  bool close_early_ = false; // close() came before open()

  // Shared with senders on any thread.
  std::mutex mtx_;
  std::vector<frame_ptr> queue_;   // data frames waiting for the next flush
  std::vector<frame_ptr> control_; // pongs waiting for the next flush
  frame_ptr close_frame_;
  size_t queued_bytes_ = 0;  // data frames queued or in flight
  size_t queued_frames_ = 0; // ditto
  bool accepting_ = true;
  bool write_active_ = true; // the handshake goes first
  bool flush_posted_ = false;
  bool direct_active_ = false;  // a send_reply is inside its syscall
  bool close_deferred_ = false; // finish() left the close to that writer
  bool direct_failed_ = false;  // a send_reply's syscall failed
  bool corked_ = false;         // replies wait for the actor's end of turn
  size_t head_skip_ = 0;        // bytes of queue_.front() already sent
};

} // namespace

std::shared_ptr<websocket> make_websocket(std::shared_ptr<mount_state> m,
                                          std::string handshake) {
  auto id = m->core->next_id();
  return std::make_shared<ws_connection>(std::move(m), id,
                                         std::move(handshake));
}

size_t websocket_object_size() noexcept {
  return sizeof(ws_connection);
}

} // namespace fenix::transport::detail
