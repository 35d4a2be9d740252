#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace fenix {

/// A few threads for user code that may block, such as a user socket's
/// `connect` looking a token up in a database. CAF's workers (two here)
/// must not sleep: one blocked worker halves the server, two stop it. Jobs
/// run in FIFO order on up to `threads` threads, started on first use;
/// when all are busy, jobs wait (like a bounded connection pool).
class blocking_pool {
public:
  explicit blocking_pool(size_t threads = 4) : max_(threads ? threads : 1) {
    // nop
  }

  ~blocking_pool() {
    shutdown();
  }

  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;

  /// How many threads at most; takes effect for threads not started yet.
  void threads(size_t n) {
    std::lock_guard<std::mutex> guard{mtx_};
    max_ = n ? n : 1;
  }

  /// Queues `job`; false once the pool is shut down (the job is dropped).
  bool post(std::function<void()> job) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopped_)
      return false;
    jobs_.push_back(std::move(job));
    if (idle_ == 0 && threads_.size() < max_)
      threads_.emplace_back([this] { run(); });
    else
      cv_.notify_one();
    return true;
  }

  /// Runs what is queued, then joins the threads. Idempotent.
  void shutdown() {
    std::vector<std::thread> ts;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stopped_ = true;
      ts.swap(threads_);
    }
    cv_.notify_all();
    for (auto& t : ts)
      t.join();
  }

private:
  void run() {
    std::unique_lock<std::mutex> lock{mtx_};
    for (;;) {
      ++idle_;
      cv_.wait(lock, [this] { return stopped_ || !jobs_.empty(); });
      --idle_;
      if (jobs_.empty())
        return; // stopped, nothing left
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  size_t max_;
  size_t idle_ = 0;
  bool stopped_ = false;
};

} // namespace fenix
