#include "supervision/application.hpp"

#include <memory>

#include <caf/all.hpp>

#include "actors/errors.hpp"
#include "actors/log.hpp"
#include "actors/system.hpp"
#include "supervision/detail/supervisor_actor.hpp"
#include "supervision/supervisor.hpp"

namespace fenix {

namespace {

bool gave_up(const caf::error& reason) {
  if (reason != errc::shutdown)
    return false;
  auto& ctx = reason.context();
  return ctx.match_elements<std::string>()
         && ctx.get_as<std::string>(0) == detail::gave_up_detail;
}

/// The root's exit hook: runs on the root's thread as it ends, before its
/// monitors hear of it.
void on_application_exit(caf::actor_system& sys,
                         const std::weak_ptr<runtime>& weak,
                         const caf::error& reason) {
  auto rt = weak.lock();
  if (!rt)
    return;
  rt->application_ended();
  if (rt->stopping())
    return;
  auto why = sys.render(reason);
  if (gave_up(reason)) {
    FENIX_ERROR("application", "the application supervisor reached its "
                               "restart intensity and gave up ("
                                 << why << "); the process exits with status 1");
    rt->request_exit(1, why);
  } else if (classify_exit(reason) == exit_kind::abnormal) {
    FENIX_ERROR("application", "the application supervisor crashed ("
                                 << why << "); the process exits with status 1");
    rt->request_exit(1, why);
  } else {
    FENIX_INFO("application", "the application supervisor was stopped ("
                                << why << "); the process exits");
    rt->request_exit(0, why);
  }
}

/// A refusal or a bounce: the application is ending or gone.
bool application_gone(const caf::error& err) {
  return err == errc::shutdown || err == caf::sec::request_receiver_down;
}

caf::error await_end(caf::actor_system& sys, const caf::actor& app,
                     std::chrono::milliseconds timeout) {
  caf::scoped_actor self{sys, true};
  self->monitor(app);
  caf::error result = caf::make_error(errc::timeout, "application");
  self->receive([&](caf::down_msg&) { result = caf::none; },
                caf::after(timeout) >> [] {});
  return result;
}

} // namespace

caf::actor application_supervisor(caf::actor_system& sys) {
  runtime_of(sys); // throws for an actor system that is no fenix::system
  auto rt = runtime_ptr(sys);
  return rt->application_root([&sys, weak = std::weak_ptr<runtime>{rt}] {
    supervisor_flags flags;
    flags.name = "application";
    detail::supervisor_options opts;
    opts.hidden = true; // fenix::system stops it before CAF waits for actors
    opts.on_exit = [&sys, weak](const caf::error& reason) {
      on_application_exit(sys, weak, reason);
    };
    return detail::spawn_supervisor_actor(sys, std::move(flags), {},
                                          std::move(opts));
  });
}

caf::expected<caf::actor>
start_in_application(caf::actor_system& sys, child_spec spec,
                     std::chrono::milliseconds timeout) {
  auto app = application_supervisor(sys);
  if (!app)
    return caf::make_error(errc::shutdown, "the application has ended");
  auto id = spec.id;
  supervisor_ref ref{sys, app, timeout};
  auto res = ref.start_child(std::move(spec));
  if (res)
    return res;
  if (application_gone(res.error()))
    return caf::make_error(errc::shutdown, "the application has ended");
  if (res.error() == caf::sec::request_timeout) {
    // The start may still complete: do not leave it behind unsupervised by
    // its caller, who was told it failed.
    stop_in_application(sys, id, timeout);
    return caf::make_error(errc::timeout, id);
  }
  return res;
}

caf::error stop_in_application(caf::actor_system& sys, const std::string& id,
                               std::chrono::milliseconds timeout) {
  auto app = runtime_of(sys).application_root();
  if (!app)
    return caf::none; // it ended and took its children with it
  supervisor_ref ref{sys, app, timeout};
  auto err = ref.terminate_child(id);
  if (!err)
    err = ref.delete_child(id);
  if (err && application_gone(err))
    return await_end(sys, app, timeout);
  return err;
}

} // namespace fenix
