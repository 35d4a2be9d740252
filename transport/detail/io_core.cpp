#include "transport/detail/io_core.hpp"

#include <algorithm>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

namespace fenix::transport::detail {

// -- timer_wheel ----------------------------------------------------------------

timer_wheel::timer_wheel(net::io_context& ioc, std::chrono::milliseconds tick)
    : timer_(net::make_strand(ioc)), tick_(std::max(tick, std::chrono::milliseconds{1})) {
  // nop
}

void timer_wheel::start() {
  next_ = std::chrono::steady_clock::now() + tick_;
  arm();
}

void timer_wheel::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopped_ = true;
  }
  // The timer lives on its own strand; cancel it there.
  net::post(timer_.get_executor(), [this] { timer_.cancel(); });
}

uint32_t timer_wheel::ticks(std::chrono::milliseconds d) const noexcept {
  auto n = (d.count() + tick_.count() - 1) / tick_.count();
  return static_cast<uint32_t>(std::max<int64_t>(n, 1));
}

void timer_wheel::arm() {
  timer_.expires_at(next_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec)
      on_tick();
  });
}

void timer_wheel::add(const std::shared_ptr<timed>& x) {
  auto due = x->deadline();
  if (due == 0)
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  insert(x, due, now());
}

void timer_wheel::insert(std::weak_ptr<timed> x, uint32_t due, uint32_t now) {
  // Called with mtx_ held. Deadlines beyond the wheel wait in its last
  // bucket and move on when it comes round.
  if (due <= now)
    due = now + 1;
  if (due - now >= slots)
    due = now + slots - 1;
  buckets_[due % slots].push_back(std::move(x));
}

void timer_wheel::on_tick() {
  // Each tick visits exactly one bucket, in order; a late tick only delays.
  auto t = now_.fetch_add(1, std::memory_order_relaxed) + 1;
  std::vector<std::weak_ptr<timed>> items;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopped_)
      return;
    items.swap(buckets_[t % slots]);
  }
  std::vector<std::pair<std::weak_ptr<timed>, uint32_t>> keep;
  keep.reserve(items.size());
  for (auto& w : items) {
    auto x = w.lock();
    if (!x)
      continue;
    auto due = x->deadline();
    if (due == 0)
      continue;
    if (due <= t) {
      x->on_deadline();
      due = t + 1; // look again next tick; on_deadline works asynchronously
    }
    keep.emplace_back(std::move(w), due);
  }
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& [w, due] : keep)
      insert(std::move(w), due, t);
  }
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopped_)
      return;
  }
  next_ += tick_;
  auto now = std::chrono::steady_clock::now();
  if (next_ + 10 * tick_ < now)
    next_ = now + tick_; // after a stall, do not fire a burst of ticks
  arm();
}

// -- io_core --------------------------------------------------------------------

io_core::io_core(size_t threads, std::chrono::milliseconds tick,
                 std::chrono::milliseconds linger)
    : ioc(static_cast<int>(std::max<size_t>(threads, 1))), wheel(ioc, tick), linger_ticks(wheel.ticks(linger)) {
  // nop
}

io_core::~io_core() {
  // nop
}

void io_core::attach(const std::shared_ptr<conn_base>& c) {
  std::lock_guard<std::mutex> guard{mtx_};
  conns_.emplace(c->conn_id(), c);
}

void io_core::detach(uint64_t id) {
  std::lock_guard<std::mutex> guard{mtx_};
  conns_.erase(id);
  if (conns_.empty())
    cv_.notify_all();
}

size_t io_core::live() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return conns_.size();
}

bool io_core::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> guard{mtx_};
  return cv_.wait_for(guard, timeout, [this] { return conns_.empty(); });
}

std::vector<std::shared_ptr<conn_base>> io_core::snapshot() const {
  std::vector<std::shared_ptr<conn_base>> out;
  std::lock_guard<std::mutex> guard{mtx_};
  out.reserve(conns_.size());
  for (auto& [id, w] : conns_)
    if (auto c = w.lock())
      out.push_back(std::move(c));
  return out;
}

} // namespace fenix::transport::detail
