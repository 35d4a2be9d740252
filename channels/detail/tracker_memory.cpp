#include "channels/detail/tracker_memory.hpp"

#include <algorithm>
#include <iterator>

namespace fenix::channels::detail {

// -- tracker_inbox ------------------------------------------------------------

bool tracker_inbox::push(tracker_op op) {
  std::lock_guard<std::mutex> guard{mtx_};
  ops_.push_back(std::move(op));
  if (poked_)
    return false;
  poked_ = true;
  return true;
}

void tracker_inbox::take(std::vector<tracker_op>& out) {
  std::lock_guard<std::mutex> guard{mtx_};
  out.swap(ops_);
  poked_ = false;
}

void tracker_inbox::put_back(std::vector<tracker_op>& ops, size_t from) {
  if (from >= ops.size())
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  ops_.insert(ops_.begin(), std::make_move_iterator(ops.begin() + from),
              std::make_move_iterator(ops.end()));
}

// -- tracker_journal ----------------------------------------------------------

bool tracker_journal::put(const caf::actor_addr& owner, std::string_view topic,
                          std::string_view key,
                          std::shared_ptr<const boost::json::object> meta) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto [i, added] = owners_.try_emplace(owner.id());
  if (added)
    i->second.addr = owner;
  auto& ps = i->second.presences;
  auto p = std::find_if(ps.begin(), ps.end(), [&](const presence& x) {
    return x.topic == topic && x.key == key;
  });
  if (p != ps.end())
    p->meta = std::move(meta);
  else
    ps.push_back(
        presence{std::string{topic}, std::string{key}, std::move(meta)});
  return added;
}

void tracker_journal::erase(uint64_t owner, std::string_view topic,
                            std::string_view key) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = owners_.find(owner);
  if (i == owners_.end())
    return;
  auto& ps = i->second.presences;
  ps.erase(std::remove_if(ps.begin(), ps.end(),
                          [&](const presence& x) {
                            return x.topic == topic && x.key == key;
                          }),
           ps.end());
}

void tracker_journal::forget(uint64_t owner) {
  std::lock_guard<std::mutex> guard{mtx_};
  owners_.erase(owner);
}

size_t tracker_journal::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  size_t n = 0;
  for (const auto& [id, o] : owners_)
    n += o.presences.size();
  return n;
}

} // namespace fenix::channels::detail
