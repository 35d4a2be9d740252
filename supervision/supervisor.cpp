#include "supervision/supervisor.hpp"

#include <caf/all.hpp>

#include "actors/errors.hpp"
#include "supervision/detail/supervisor_actor.hpp"

namespace fenix {

// -- free functions -------------------------------------------------------------

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_flags flags,
                            std::vector<child_spec> children) {
  return detail::spawn_supervisor_actor(sys, std::move(flags),
                                        std::move(children));
}

caf::expected<caf::actor>
start_supervisor(caf::actor_system& sys, supervisor_flags flags,
                 std::vector<child_spec> children,
                 std::chrono::milliseconds timeout) {
  auto sup = spawn_supervisor(sys, std::move(flags), std::move(children));
  caf::scoped_actor self{sys, true};
  caf::error err;
  self->monitor(sup);
  self->request(sup, timeout, started_atom::value)
    .receive([] {}, [&](caf::error& e) { err = std::move(e); });
  if (err == caf::sec::request_receiver_down) {
    // It failed and ended before it saw the request: its exit reason
    // carries the failed child.
    self->receive(
      [&](caf::down_msg& dm) {
        if (dm.reason)
          err = std::move(dm.reason);
      },
      caf::after(timeout) >> [] {});
  }
  self->demonitor(sup);
  if (err) {
    self->send_exit(sup, caf::exit_reason::kill);
    return err;
  }
  return sup;
}

child_spec supervisor_spec(std::string id, supervisor_flags flags,
                           std::vector<child_spec> children,
                           restart_type restart) {
  child_spec spec;
  spec.id = id;
  spec.type = child_type::supervisor;
  spec.restart = restart;
  spec.ack = start_ack::on_request;
  spec.start_timeout = std::chrono::hours{24}; // children have their own
  if (flags.name.empty())
    flags.name = id;
  spec.start = [flags, children](caf::actor_system& sys)
    -> caf::expected<caf::actor> {
    return spawn_supervisor(sys, flags, children);
  };
  return spec;
}

// -- supervisor_ref -------------------------------------------------------------

supervisor_ref::supervisor_ref(caf::actor_system& sys, caf::actor sup,
                               std::chrono::milliseconds timeout)
    : sys_(sys), sup_(std::move(sup)), timeout_(timeout) {
  // nop
}

namespace {

template <class T, class... Ts>
caf::expected<T> call(caf::actor_system& sys, const caf::actor& dest,
                      std::chrono::milliseconds timeout, Ts&&... xs) {
  caf::scoped_actor self{sys, true};
  caf::expected<T> result{caf::make_error(errc::timeout)};
  self->request(dest, timeout, std::forward<Ts>(xs)...)
    .receive([&](T& x) { result = std::move(x); },
             [&](caf::error& e) { result = std::move(e); });
  return result;
}

template <class... Ts>
caf::error call_void(caf::actor_system& sys, const caf::actor& dest,
                     std::chrono::milliseconds timeout, Ts&&... xs) {
  caf::scoped_actor self{sys, true};
  caf::error result;
  self->request(dest, timeout, std::forward<Ts>(xs)...)
    .receive([] {}, [&](caf::error& e) { result = std::move(e); });
  return result;
}

} // namespace

caf::expected<std::vector<child_info>> supervisor_ref::which_children() {
  return call<std::vector<child_info>>(sys_, sup_, timeout_, which_atom::value);
}

caf::expected<child_counts> supervisor_ref::count_children() {
  return call<child_counts>(sys_, sup_, timeout_, count_atom::value);
}

caf::error supervisor_ref::terminate_child(const std::string& id) {
  return call_void(sys_, sup_, timeout_, terminate_atom::value, id);
}

caf::error supervisor_ref::terminate_child(const caf::actor& child) {
  return call_void(sys_, sup_, timeout_, terminate_atom::value, child);
}

caf::expected<caf::actor> supervisor_ref::restart_child(const std::string& id) {
  return call<caf::actor>(sys_, sup_, timeout_, restart_atom::value, id);
}

caf::error supervisor_ref::delete_child(const std::string& id) {
  return call_void(sys_, sup_, timeout_, delete_atom::value, id);
}

caf::expected<caf::actor> supervisor_ref::start_child(child_spec spec) {
  return call<caf::actor>(sys_, sup_, timeout_, start_atom::value,
                          std::move(spec));
}

caf::actor supervisor_ref::child(const std::string& id) {
  if (auto xs = which_children())
    for (auto& x : *xs)
      if (x.id == id)
        return x.child;
  return {};
}

} // namespace fenix
