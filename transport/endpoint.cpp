#include "transport/endpoint.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include "actors/actor.hpp"
#include "actors/errors.hpp"
#include "actors/log.hpp"
#include "actors/system.hpp"
#include "supervision/application.hpp"
#include "supervision/supervisor.hpp"
#include "transport/detail/connection_actor.hpp"
#include "transport/detail/io_server.hpp"

namespace fenix::transport {

struct endpoint::state {
  explicit state(caf::actor_system& s) : sys(s) {
    // nop
  }

  caf::actor_system& sys;
  endpoint_config cfg;
  std::shared_ptr<detail::io_server> io;
  std::shared_ptr<detail::supervisor_slot> slot
    = std::make_shared<detail::supervisor_slot>();
  caf::actor sup;
  bool stopped = false;
};

namespace {

using accept_failed_atom = caf::atom_constant<caf::atom("fx_accfail")>;

/// The listener: owns the accept loop of the endpoint's acceptor. It is
/// the server supervisor's last child (rest_for_one), so its restart only
/// re-arms accepting: the connections live on. An accept error that the
/// loop cannot handle by itself crashes it (see detail::accept_loop).
class listener_actor final : public fenix::actor {
public:
  listener_actor(caf::actor_config& cfg, std::shared_ptr<detail::io_server> io,
                 std::string address, size_t io_threads)
      : fenix::actor(cfg),
        io_(std::move(io)),
        address_(std::move(address)),
        io_threads_(io_threads) {
    // nop
  }

  const char* name() const override {
    return "fenix.listener";
  }

  caf::behavior make_behavior() override {
    boost::json::object details;
    details["address"] = address_;
    details["port"] = io_->port();
    details["io_threads"] = io_threads_;
    rt().tree().merge_details(id(), details);
    // A weak handle: the loop must not keep a dead listener alive.
    io_->start_accepting([addr = address()](const std::string& what) {
      if (auto self = caf::actor_cast<caf::actor>(addr))
        caf::anon_send(self, accept_failed_atom::value, what);
    });
    return {
      [this](caf::get_atom) -> uint16_t { return io_->port(); },
      [this](accept_failed_atom, const std::string& what) {
        quit(caf::make_error(caf::sec::runtime_error, "accept failed: " + what));
      },
    };
  }

  void on_exit() override {
    io_->pause_accepting();
    fenix::actor::on_exit();
  }

private:
  std::shared_ptr<detail::io_server> io_;
  std::string address_;
  size_t io_threads_;
};

} // namespace

endpoint::endpoint(std::shared_ptr<state> st) : st_(std::move(st)) {
  // nop
}

endpoint::~endpoint() {
  stop();
}

caf::expected<std::unique_ptr<endpoint>>
endpoint::start(caf::actor_system& sys, endpoint_config cfg) {
  auto st = std::make_shared<state>(sys);
  detail::io_config io;
  io.name = cfg.name;
  io.address = cfg.address;
  io.port = cfg.port;
  io.threads = std::max<size_t>(cfg.io_threads, 1);
  io.spin_us = cfg.io_spin_us;
  io.backlog = cfg.backlog;
  io.reuse_port = cfg.reuse_port;
  io.static_dir = cfg.static_dir;
  io.secret = cfg.secret;
  io.tick = cfg.tick;
  io.close_linger = cfg.close_linger;
  io.http_timeout = cfg.http_timeout;
  for (auto& m : cfg.mounts)
    io.mounts.push_back(
      {m.path, m.opts, detail::make_gate(m.factory, st->slot)});
  io.routes = cfg.routes;
  st->cfg = std::move(cfg);
  st->io = detail::io_server::make(std::move(io));
  if (auto err = st->io->bind(); !err.empty())
    return caf::make_error(caf::sec::cannot_open_port, err);
  st->io->run();
  auto url = "http://" + st->cfg.address + ":" + std::to_string(st->io->port());
  // listener
  auto listener = worker(
    "listener",
    [io = st->io, addr = st->cfg.address,
     n = st->cfg.io_threads](caf::actor_system& s) -> caf::expected<caf::actor> {
      return s.spawn<listener_actor>(io, addr, n);
    });
  listener.kind = "listener";
  // connections: a dynamic supervisor whose handle the I/O side needs
  child_spec conns;
  conns.id = "connections";
  conns.type = child_type::supervisor;
  conns.kind = "supervisor";
  conns.ack = start_ack::on_request;
  conns.shutdown = shutdown_spec::infinity();
  conns.start = [slot = st->slot](caf::actor_system& s)
    -> caf::expected<caf::actor> {
    supervisor_flags f;
    f.dynamic = true;
    f.name = "connections";
    // Connections are temporary children: their exits never count against
    // the restart intensity.
    auto h = spawn_supervisor(s, f, {});
    slot->set(h);
    // Until its successor is up, connects already past accept find no
    // supervisor and are closed (the listener, started after it, is
    // stopped while it restarts).
    h->attach_functor([weak = std::weak_ptr<detail::supervisor_slot>(slot),
                       addr = h.address()] {
      if (auto sl = weak.lock())
        sl->reset_if(addr);
    });
    return h;
  };
  // Connections first, as in Ranch: a listener restart leaves every client
  // connected, and a restart of the connections supervisor restarts the
  // listener after it.
  supervisor_flags server_flags;
  server_flags.strategy = strategy::rest_for_one;
  server_flags.name = "server " + url;
  supervisor_flags ep_flags;
  ep_flags.strategy = strategy::one_for_one;
  ep_flags.name = st->cfg.name;
  auto children = st->cfg.children;
  children.push_back(
    supervisor_spec(server_flags.name, server_flags, {conns, listener}));
  auto sup = start_in_application(
    sys, supervisor_spec(ep_flags.name, ep_flags, std::move(children)));
  if (!sup) {
    st->io->stop_accepting();
    st->io->shutdown();
    return std::move(sup.error());
  }
  st->sup = std::move(*sup);
  FENIX_INFO("transport", st->cfg.name << " listening on " << url);
  return std::unique_ptr<endpoint>{new endpoint(std::move(st))};
}

uint16_t endpoint::port() const noexcept {
  return st_->io->port();
}

std::string endpoint::url() const {
  return "http://" + st_->cfg.address + ":" + std::to_string(port());
}

const caf::actor& endpoint::supervisor() const noexcept {
  return st_->sup;
}

endpoint_stats endpoint::stats() const {
  return st_->io->stats();
}

bool endpoint::inject_accept_error(int errno_value) {
  return st_->io->inject_accept_error(errno_value);
}

void endpoint::stop() {
  if (!st_ || st_->stopped)
    return;
  st_->stopped = true;
  auto& cfg = st_->cfg;
  auto& io = *st_->io;
  using clock = std::chrono::steady_clock;
  // 1. No new connections.
  io.stop_accepting();
  // 2. Drain in batches: each handler's on_drain runs (default: close with
  //    1012 after everything already queued).
  auto deadline = clock::now() + cfg.drain_timeout;
  auto open = io.live();
  if (open > 0)
    FENIX_INFO("transport", cfg.name << ": draining " << open
                                     << " connections");
  while (io.live() > 0) {
    auto now = clock::now();
    if (now >= deadline)
      break;
    io.drain(cfg.drain_batch);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - now);
    if (io.wait_idle(std::min(cfg.drain_interval, left)))
      break;
  }
  if (auto n = io.live(); n > 0)
    FENIX_WARN("transport", cfg.name << ": " << n
                              << " connections still open after draining");
  // The transports are closed; let the connection actors finish their
  // handlers' on_close before their supervisor stops them.
  {
    auto now = clock::now();
    auto left = now < deadline ? deadline - now : clock::duration::zero();
    st_->slot->wait_no_actors(
      std::max<clock::duration>(left, std::chrono::milliseconds{100}));
  }
  // ... and let the connections supervisor take note of every exit before
  // it is told to shut down: its job queue may lag behind (starts await an
  // ack each), and a shutdown drops queued exit notices (see report).
  if (auto conns = st_->slot->get()) {
    supervisor_ref ref{st_->sys, conns, std::chrono::seconds{2}};
    auto until = std::max(deadline, clock::now() + std::chrono::seconds{1});
    for (;;) {
      auto counts = ref.count_children();
      if (!counts || counts->active == 0 || clock::now() >= until)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
  }
  // 3. Stop the subtree; connection actors still running are shut down by
  //    their supervisor (their WebSockets close with 1001).
  auto stop_timeout = cfg.drain_timeout + std::chrono::seconds{5};
  if (auto err = stop_in_application(st_->sys, cfg.name, stop_timeout))
    FENIX_WARN("transport", cfg.name << ": supervisor did not stop: "
                                     << st_->sys.render(err));
  st_->slot->set(caf::actor{});
  // 4. Whatever is left goes now; then the io threads stop.
  io.abort_all();
  io.wait_idle(cfg.close_linger);
  io.shutdown();
  FENIX_INFO("transport", cfg.name << " stopped");
}

} // namespace fenix::transport
