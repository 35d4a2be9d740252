#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace fenix::detail {

inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

/// A job deque without an allocation per job (CAF's double_ended_queue
/// news a node for every append and prepend: several per message chain
/// that crosses threads): a ring buffer under a spinlock. The critical
/// sections are a few loads and stores; the owner works at the head,
/// thieves and other threads at the tail.
template <class T>
class job_queue {
public:
  job_queue() = default;
  job_queue(const job_queue&) = delete;
  job_queue& operator=(const job_queue&) = delete;

  void append(T* x) {
    push(x, false);
  }

  void prepend(T* x) {
    push(x, true);
  }

  T* take_head() {
    return take(true);
  }

  T* take_tail() {
    return take(false);
  }

  bool empty() const noexcept {
    return size_.load(std::memory_order_acquire) == 0;
  }

private:
  class guard {
  public:
    explicit guard(std::atomic_flag& f) : f_(f) {
      for (size_t i = 1; f_.test_and_set(std::memory_order_acquire); ++i) {
        // A preempted holder needs the core more than we do.
        if (i % 64 == 0)
          std::this_thread::yield();
        else
          spin_pause();
      }
    }
    ~guard() {
      f_.clear(std::memory_order_release);
    }

  private:
    std::atomic_flag& f_;
  };

  void push(T* x, bool front) {
    guard g{lock_};
    if (size_ == cap_)
      grow();
    size_t i;
    if (front)
      i = head_ = (head_ + cap_ - 1) & (cap_ - 1);
    else
      i = (head_ + size_) & (cap_ - 1);
    buf_[i] = x;
    size_.store(size_ + 1, std::memory_order_release);
  }

  T* take(bool front) {
    if (empty())
      return nullptr;
    guard g{lock_};
    if (size_ == 0)
      return nullptr;
    auto i = front ? head_ : (head_ + size_ - 1) & (cap_ - 1);
    if (front)
      head_ = (head_ + 1) & (cap_ - 1);
    size_.store(size_ - 1, std::memory_order_release);
    return buf_[i];
  }

  /// Doubles the capacity (a power of two), keeping the order (lock held).
  void grow() {
    auto cap = cap_ == 0 ? size_t{64} : cap_ * 2;
    auto buf = std::make_unique<T*[]>(cap);
    for (size_t i = 0; i < size_; ++i)
      buf[i] = buf_[(head_ + i) & (cap_ - 1)];
    buf_ = std::move(buf);
    cap_ = cap;
    head_ = 0;
  }

  std::atomic_flag lock_ = ATOMIC_FLAG_INIT;
  std::unique_ptr<T*[]> buf_;
  size_t cap_ = 0;  // 0 or a power of two
  size_t head_ = 0; // index of the first job
  // Written under the lock; read without it by empty() (a hint, and the
  // check park() and notify() order with their fences).
  std::atomic<size_t> size_{0};
};

} // namespace fenix::detail
