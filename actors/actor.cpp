#include "actors/actor.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/sec.hpp>

#include <exception>
#include <memory>
#include <vector>

#include "actors/system.hpp"

namespace fenix {

actor::actor(caf::actor_config& cfg) : caf::event_based_actor(cfg) {
  rt_ = runtime_ptr(home_system());
  if (!rt_)
    throw std::logic_error("fenix::actor spawned in an actor system without "
                           "a fenix runtime (use fenix::system)");
  node_ = rt_->tree().record(caf::actor_cast<caf::strong_actor_ptr>(ctrl()));
  node_->mailbox.store(0, std::memory_order_relaxed);
  // CAF's default handler prints the exception and exits with a bare
  // runtime_error; keep the text in the exit reason so supervisors and the
  // tree can tell what happened.
  set_exception_handler(
    [](caf::scheduled_actor*, std::exception_ptr& eptr) -> caf::error {
      try {
        std::rethrow_exception(eptr);
      } catch (std::exception& e) {
        return caf::make_error(caf::sec::runtime_error, e.what());
      } catch (...) {
        return caf::make_error(caf::sec::runtime_error, "unknown exception");
      }
    });
}

actor::~actor() {
  // nop
}

caf::invoke_message_result actor::consume(caf::mailbox_element& x) {
  node_->messages.fetch_add(1, std::memory_order_relaxed);
  node_->mailbox.store(static_cast<int64_t>(mailbox().size()),
                       std::memory_order_relaxed);
  return caf::event_based_actor::consume(x);
}

namespace {

struct turn_state {
  int depth = 0;
  std::vector<std::shared_ptr<end_of_turn>> pending;
};

turn_state& this_thread_turn() {
  thread_local turn_state st;
  return st;
}

} // namespace

bool defer_to_end_of_turn(std::shared_ptr<end_of_turn> x) {
  auto& st = this_thread_turn();
  if (st.depth == 0)
    return false;
  st.pending.push_back(std::move(x));
  return true;
}

actor::resume_result actor::resume(caf::execution_unit* eu,
                                   size_t max_throughput) {
  auto& st = this_thread_turn();
  ++st.depth;
  auto result = caf::event_based_actor::resume(eu, max_throughput);
  if (--st.depth == 0) {
    // Hooks run outside any turn: what they send is not deferred again.
    for (auto& x : st.pending)
      x->on_end_of_turn();
    st.pending.clear();
  }
  return result;
}

void actor::initialize() {
  caf::event_based_actor::initialize();
  node_->set_state(actor_state::running);
}

void actor::on_exit() {
  // Leave the tree before exit hooks send DOWN messages, so whoever sees
  // the DOWN no longer sees the actor.
  node_->set_state(actor_state::stopping);
  rt_->tree().remove(id());
  caf::event_based_actor::on_exit();
}

} // namespace fenix
