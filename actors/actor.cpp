#include "actors/actor.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>

#include "actors/system.hpp"

namespace fenix {

actor::actor(caf::actor_config& cfg) : caf::event_based_actor(cfg) {
  rt_ = runtime_ptr(home_system());
  if (!rt_)
    throw std::logic_error("fenix::actor spawned in an actor system without "
                           "a fenix runtime (use fenix::system)");
  node_ = rt_->tree().record(caf::actor_cast<caf::strong_actor_ptr>(ctrl()));
  node_->mailbox.store(0, std::memory_order_relaxed);
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

void actor::on_exit() {
  node_->set_state(actor_state::stopping);
  caf::event_based_actor::on_exit();
}

} // namespace fenix
