#pragma once

#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include <caf/event_based_actor.hpp>

#include "actors/tree.hpp"

namespace fenix {

class runtime;

/// Something to finish once the running actor's turn ends: the batch of
/// messages a worker thread handles for it in one go. A connection's
/// outbound side uses it to write every reply a channel produced in that
/// turn with one syscall (user-space corking).
class end_of_turn {
public:
  virtual ~end_of_turn() = default;
  virtual void on_end_of_turn() = 0;
};

/// Registers `x` to run when the fenix::actor running on this thread ends
/// its turn. False when no fenix::actor runs here (the caller then acts at
/// once). Each registration runs once.
bool defer_to_end_of_turn(std::shared_ptr<end_of_turn> x);

/// Base class of every actor fenix runs. Records itself in the live actor
/// tree and keeps its counters current: one relaxed atomic add per message
/// plus a mailbox sample, measured in bench/tree_overhead.
class actor : public caf::event_based_actor {
public:
  explicit actor(caf::actor_config& cfg);
  ~actor() override;

  caf::invoke_message_result consume(caf::mailbox_element& x) override;

  void on_exit() override;

  void initialize() override;

  /// Runs CAF's turn, then what `defer_to_end_of_turn` collected.
  resume_result resume(caf::execution_unit* eu, size_t max_throughput) override;

  /// This actor's record in the tree (never null).
  tree_node& node() noexcept { return *node_; }

  /// The fenix runtime of this actor's system.
  fenix::runtime& rt() noexcept { return *rt_; }

private:
  std::shared_ptr<fenix::runtime> rt_;
  tree_node_ptr node_;
};

/// A fenix::actor whose behaviour comes from a function, as with CAF's
/// function-based actors: `behavior f(event_based_actor* self, Ts... xs)`.
template <class F, class... Ts>
class function_actor final : public actor {
public:
  function_actor(caf::actor_config& cfg, F f, Ts... xs)
      : actor(cfg), f_(std::move(f)), args_(std::move(xs)...) {
    // nop
  }

  caf::behavior make_behavior() override {
    return std::apply(
      [this](auto&... xs) -> caf::behavior { return f_(this, xs...); },
      args_);
  }

private:
  F f_;
  std::tuple<Ts...> args_;
};

/// Spawns a function-based actor that shows up in the actor tree with
/// message counts, e.g. `spawn_fn(sys, counter, 0)`.
template <class F, class... Ts>
caf::actor spawn_fn(caf::actor_system& sys, F f, Ts&&... xs) {
  return sys.spawn<function_actor<F, std::decay_t<Ts>...>>(
    std::move(f), std::forward<Ts>(xs)...);
}

} // namespace fenix
