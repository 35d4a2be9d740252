#pragma once

// What the harness's actors (test connections, their outlets, the PubSub
// observer) report to the test's thread, and where it waits for them.
// Actors only append under the mutex; nothing runs CAF code while holding
// it.

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>

#include "channels/testing/channel_test.hpp"
#include "transport/connect_info.hpp"

namespace fenix::channels::testing::detail {

class inbox {
public:
  using clock = std::chrono::steady_clock;

  template <class T>
  struct entry {
    T value;
    bool taken = false;
  };

  /// A frame for socket `f.socket`; dropped (false) once it is closed, as
  /// a transport drops what is queued after its close frame.
  bool add_frame(client_frame f) {
    std::lock_guard<std::mutex> guard{mtx};
    if (closes.count(f.socket))
      return false;
    f.seq = frames.size();
    frames.push_back({std::move(f)});
    cv.notify_all();
    return true;
  }

  void add_broadcast(observed_broadcast b) {
    std::lock_guard<std::mutex> guard{mtx};
    if (!subscribed.count(b.topic))
      return; // a broadcast that raced an unsubscribe
    broadcasts.push_back({std::move(b)});
    cv.notify_all();
  }

  /// The first close of a socket counts (true); frames after it are
  /// dropped.
  bool add_close(size_t socket, transport::close_info why) {
    std::lock_guard<std::mutex> guard{mtx};
    auto first = closes.emplace(socket, std::move(why)).second;
    cv.notify_all();
    return first;
  }

  bool is_closed(size_t socket) {
    std::lock_guard<std::mutex> guard{mtx};
    return closes.count(socket) != 0;
  }

  void channel_joined(size_t socket, const std::string& topic,
                      caf::actor chan) {
    caf::actor old;
    {
      std::lock_guard<std::mutex> guard{mtx};
      auto& slot = channels[{socket, topic}];
      old = std::move(slot);
      slot = std::move(chan);
      cv.notify_all();
    }
  }

  void channel_down(size_t socket, caf::actor_id id) {
    caf::actor old; // released outside the lock
    std::lock_guard<std::mutex> guard{mtx};
    for (auto i = channels.begin(); i != channels.end(); ++i) {
      if (i->first.first == socket && i->second.id() == id) {
        old = std::move(i->second);
        channels.erase(i);
        return;
      }
    }
  }

  /// Runs `pred` under the lock whenever something arrives, until it
  /// returns true (then true) or `deadline` passes (then false).
  template <class Pred>
  bool await(clock::time_point deadline, Pred&& pred) {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_until(guard, deadline, std::forward<Pred>(pred));
  }

  template <class F>
  auto locked(F&& f) {
    std::lock_guard<std::mutex> guard{mtx};
    return f();
  }

  std::mutex mtx;
  std::condition_variable cv;
  std::vector<entry<client_frame>> frames;
  std::vector<entry<observed_broadcast>> broadcasts;
  std::map<size_t, transport::close_info> closes;
  std::map<std::pair<size_t, std::string>, caf::actor> channels;
  std::set<std::string> subscribed;
};

} // namespace fenix::channels::testing::detail
