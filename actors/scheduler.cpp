// spin-park: fenix's scheduling policy for CAF's coordinator (why:
// actors/scheduler.hpp).
//
// Debian's libcaf is built with logging, so CAF's worker loop runs a
// dynamic_cast on every job only to tag log lines with the actor's id
// (~1,450 instructions per resume). Our worker template is instantiated
// here, so the tag is dropped for it: the macro is redefined before the
// worker's header is first read. Nothing in fenix reads CAF's log.
#include <caf/logger.hpp>
#undef CAF_PUSH_AID_FROM_PTR
#define CAF_PUSH_AID_FROM_PTR(some_ptr) static_cast<void>(0)

#include "actors/scheduler.hpp"
#include "actors/job_queue.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/policy/unprofiled.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/coordinator.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>

namespace fenix {

namespace {

/// The options the coordinator being constructed reads (set by the module
/// factory right before; actor systems start one at a time per factory).
thread_local const scheduler_options* starting_opts = nullptr;

class spin_park : public caf::policy::unprofiled {
public:
  using queue_type = fenix::detail::job_queue<caf::resumable>;
  using clock = std::chrono::steady_clock;

  struct coordinator_data {
    explicit coordinator_data(caf::scheduler::abstract_coordinator*)
        : opts(starting_opts ? *starting_opts : scheduler_options{}) {
      // nop
    }

    scheduler_options opts;
    /// Jobs from outside the workers (I/O threads, other threads), in
    /// arrival order: one FIFO for all workers, so that a burst of inbound
    /// frames is served oldest first whichever worker is free.
    queue_type inject;
    /// Workers awake without a job (0 or 1: only one searches at a time,
    /// counting a worker that was woken and has not looked yet).
    std::atomic<int> searching{0};
    /// Workers blocked in park().
    std::atomic<int> parked{0};
  };

  struct worker_data {
    explicit worker_data(caf::scheduler::abstract_coordinator*) {
      // nop
    }

    worker_data(const worker_data&) {
      // fresh queue and lock per worker (CAF copies one prototype)
    }

    queue_type queue;
    size_t ticks = 0;
    std::mutex mtx;
    std::condition_variable cv;
    bool parked = false; // guarded by mtx
  };

  // -- enqueueing -------------------------------------------------------------

  template <class Coordinator>
  void central_enqueue(Coordinator* self, caf::resumable* job) {
    d(self).inject.append(job);
    notify(self);
  }

  template <class Worker>
  void external_enqueue(Worker* self, caf::resumable* job) {
    d(self).queue.append(job);
    notify(self->parent());
  }

  template <class Worker>
  void internal_enqueue(Worker* self, caf::resumable* job) {
    // The current worker runs it next (LIFO keeps a message chain hot in
    // cache); another one steals it if this one is busy for long.
    d(self).queue.prepend(job);
    // If this job then blocks its thread (a slow handler), the new one must
    // not wait behind it while another worker sleeps.
    notify(self->parent());
  }

  template <class Worker>
  void resume_job_later(Worker* self, caf::resumable* job) {
    d(self).queue.append(job);
  }

  // -- dequeueing -------------------------------------------------------------

  template <class Worker>
  caf::resumable* dequeue(Worker* self) {
    if (auto job = next_job(self))
      return job;
    auto c = self->parent();
    auto& cd = d(c);
    bool searching = false; // whether cd.searching counts us
    for (;;) {
      if (!searching) {
        int none = 0;
        searching = cd.searching.compare_exchange_strong(none, 1);
      }
      if (searching) {
        auto deadline =
            clock::now() + std::chrono::microseconds{cd.opts.spin_us};
        for (size_t i = 0;; ++i) {
          if (auto job = find_job(self)) {
            stop_searching(c);
            return job;
          }
          if (i % 16 == 15) {
            if (clock::now() >= deadline)
              break;
            // Cores are few and shared with I/O threads: let whatever is
            // runnable here go first.
            std::this_thread::yield();
          } else {
            fenix::detail::spin_pause();
          }
        }
      }
      if (auto job = park(self, searching))
        return job;
    }
  }

  // -- shutdown and cleanup ---------------------------------------------------

  template <class Worker, class UnaryFunction>
  void foreach_resumable(Worker* self, UnaryFunction f) {
    drain(d(self).queue, f);
  }

  template <class Coordinator, class UnaryFunction>
  void foreach_central_resumable(Coordinator* self, UnaryFunction f) {
    drain(d(self).inject, f);
  }

private:
  template <class UnaryFunction>
  static void drain(queue_type& q, UnaryFunction& f) {
    for (auto job = q.take_head(); job != nullptr; job = q.take_head())
      f(job);
  }

  /// Own queue first (the messages our last job sent: cache-hot), then
  /// the shared FIFO; every 31st job the FIFO goes first, so actors that
  /// keep messaging each other cannot starve inbound work. Only jobs taken
  /// count: the probes of a searching worker do not.
  template <class Worker>
  caf::resumable* next_job(Worker* self) {
    auto& wd = d(self);
    auto& inject = d(self->parent()).inject;
    caf::resumable* job = wd.ticks % 31 == 30 ? inject.take_head() : nullptr;
    if (job == nullptr)
      job = wd.queue.take_head();
    if (job == nullptr)
      job = inject.take_head();
    if (job != nullptr)
      ++wd.ticks;
    return job;
  }

  template <class Worker>
  caf::resumable* find_job(Worker* self) {
    if (auto job = next_job(self))
      return job;
    auto c = self->parent();
    auto n = c->num_workers();
    for (size_t k = 1; k < n; ++k) {
      auto victim = c->worker_by_id((self->id() + k) % n);
      if (auto job = d(victim).queue.take_tail())
        return job;
    }
    return nullptr;
  }

  template <class Coordinator>
  static bool any_queued(Coordinator* c) {
    if (!d(c).inject.empty())
      return true;
    for (size_t i = 0; i < c->num_workers(); ++i)
      if (!d(c->worker_by_id(i)).queue.empty())
        return true;
    return false;
  }

  /// The searcher found a job. If more are queued, the search goes on in a
  /// blocked worker (nobody else would look).
  template <class Coordinator>
  void stop_searching(Coordinator* c) {
    d(c).searching.fetch_sub(1);
    // Pairs with the fence in notify(): either the enqueuer sees that
    // nobody searches any more, or we see its job.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (any_queued(c))
      notify(c);
  }

  /// Wakes one blocked worker, unless one is already searching.
  template <class Coordinator>
  static void notify(Coordinator* c) {
    auto& cd = d(c);
    // Pairs with the fence in park(): either we see its parked count, or
    // it sees our job.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (cd.searching.load(std::memory_order_relaxed) > 0 ||
        cd.parked.load(std::memory_order_relaxed) == 0)
      return;
    for (size_t i = 0; i < c->num_workers(); ++i) {
      auto& wd = d(c->worker_by_id(i));
      std::unique_lock<std::mutex> guard{wd.mtx};
      if (!wd.parked)
        continue;
      wd.parked = false;
      cd.parked.fetch_sub(1);
      // It wakes as the searcher: further enqueues need not wake anyone.
      cd.searching.fetch_add(1);
      guard.unlock();
      wd.cv.notify_one();
      return;
    }
  }

  /// Blocks until notified (then counted as searching) or the safety
  /// timeout; returns a job found on the way, if any.
  template <class Worker>
  caf::resumable* park(Worker* self, bool& searching) {
    auto c = self->parent();
    auto& cd = d(c);
    auto& wd = d(self);
    std::unique_lock<std::mutex> guard{wd.mtx};
    wd.parked = true;
    cd.parked.fetch_add(1);
    if (searching) {
      cd.searching.fetch_sub(1);
      searching = false;
    }
    guard.unlock();
    // An enqueue that saw us searching did not wake anyone: look once more.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    caf::resumable* job = any_queued(c) ? find_job(self) : nullptr;
    guard.lock();
    if (job == nullptr && wd.parked)
      wd.cv.wait_for(guard, std::chrono::milliseconds{cd.opts.park_timeout_ms},
                     [&] { return !wd.parked; });
    if (wd.parked) {
      // Found a job, or the timeout: nobody woke us.
      wd.parked = false;
      cd.parked.fetch_sub(1);
    } else {
      // A notifier woke us and counted us as searching.
      searching = true;
    }
    guard.unlock();
    if (job != nullptr && searching) {
      searching = false;
      stop_searching(c);
    }
    return job;
  }
};

/// CAF's clock as every actor sees it, minus one cost: local_actor::cleanup
/// calls `cancel_timeouts(this)` for every terminating actor, and CAF's
/// thread-safe clock answers each call with its mutex, a queue entry and a
/// wake-up of the clock thread (a futex wake and two context switches per
/// actor), though most actors (connections, channels) never set a timeout:
/// a disconnect storm paid it twice per client. Actors that set one are
/// remembered here, and only theirs is passed on. Everything else goes to
/// the coordinator's own clock, whose thread does the work as before.
class lean_clock final : public caf::detail::thread_safe_actor_clock {
public:
  explicit lean_clock(caf::detail::thread_safe_actor_clock& inner)
      : inner_(inner) {
    // nop
  }

  time_point now() const noexcept override {
    return inner_.now();
  }

  duration_type difference(caf::atom_value measurement, long units,
                           time_point t0,
                           time_point t1) const noexcept override {
    return inner_.difference(measurement, units, t0, t1);
  }

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self,
                            caf::atom_value type, uint64_t id) override {
    remember(self);
    inner_.set_ordinary_timeout(t, self, type, id);
  }

  void set_request_timeout(time_point t, caf::abstract_actor* self,
                           caf::message_id id) override {
    remember(self);
    inner_.set_request_timeout(t, self, id);
  }

  void set_multi_timeout(time_point t, caf::abstract_actor* self,
                         caf::atom_value type, uint64_t id) override {
    remember(self);
    inner_.set_multi_timeout(t, self, type, id);
  }

  void cancel_ordinary_timeout(caf::abstract_actor* self,
                               caf::atom_value type) override {
    inner_.cancel_ordinary_timeout(self, type);
  }

  void cancel_request_timeout(caf::abstract_actor* self,
                              caf::message_id id) override {
    inner_.cancel_request_timeout(self, id);
  }

  void cancel_timeouts(caf::abstract_actor* self) override {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (timed_.erase(self) == 0) {
        skipped_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
    inner_.cancel_timeouts(self);
    forwarded_.fetch_add(1, std::memory_order_relaxed);
  }

  void schedule_message(time_point t, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) override {
    inner_.schedule_message(t, std::move(receiver), std::move(content));
  }

  void schedule_message(time_point t, caf::group target,
                        caf::strong_actor_ptr sender,
                        caf::message content) override {
    inner_.schedule_message(t, std::move(target), std::move(sender),
                            std::move(content));
  }

  void cancel_all() override {
    inner_.cancel_all();
  }

  uint64_t skipped() const noexcept {
    return skipped_.load(std::memory_order_relaxed);
  }

  uint64_t forwarded() const noexcept {
    return forwarded_.load(std::memory_order_relaxed);
  }

private:
  /// Called by the actor itself, as is its cleanup: an actor is remembered
  /// before its first timeout is queued and forgotten when it terminates.
  void remember(caf::abstract_actor* self) {
    std::lock_guard<std::mutex> guard{mtx_};
    timed_.insert(self);
  }

  caf::detail::thread_safe_actor_clock& inner_;
  std::mutex mtx_;
  std::unordered_set<const caf::abstract_actor*> timed_;
  std::atomic<uint64_t> skipped_{0};
  std::atomic<uint64_t> forwarded_{0};
};

class spin_park_coordinator final
    : public caf::scheduler::coordinator<spin_park> {
public:
  using super = caf::scheduler::coordinator<spin_park>;

  explicit spin_park_coordinator(caf::actor_system& sys)
      : super(sys), lean_(super::clock()) {
    // nop
  }

  lean_clock& clock() noexcept override {
    return lean_;
  }

private:
  lean_clock lean_;
};

} // namespace

std::optional<scheduler_state> scheduler_state_of(caf::actor_system& sys) {
  auto c = dynamic_cast<spin_park_coordinator*>(&sys.scheduler());
  if (c == nullptr)
    return std::nullopt;
  auto& cd = c->data();
  return scheduler_state{static_cast<size_t>(cd.searching.load()),
                         static_cast<size_t>(cd.parked.load()),
                         c->clock().skipped(), c->clock().forwarded()};
}

void install_scheduler(caf::actor_system_config& cfg,
                       const scheduler_options* opts) {
  cfg.module_factories.push_back(
      [opts](caf::actor_system& sys) -> caf::actor_system::module* {
        if (opts->policy == "caf") {
          // What CAF builds when nobody loads a scheduler (with its own
          // `scheduler.policy` choices beyond work stealing not offered).
          return new caf::scheduler::coordinator<caf::policy::work_stealing>(
              sys);
        }
        starting_opts = opts;
        auto result = new spin_park_coordinator(sys);
        starting_opts = nullptr;
        return result;
      });
}

} // namespace fenix
