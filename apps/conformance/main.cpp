// fenix_conformance: the reference app of shared/docs/conformance-app.md,
// which the end-to-end tests (tests/e2e) and the benchmarks drive.
#include <iostream>

#include <caf/all.hpp>

#include "actors/errors.hpp"
#include "actors/system.hpp"
#include "apps/conformance/channels.hpp"
#include "channels/pubsub.hpp"
#include "supervision/supervisor.hpp"
#include "transport/endpoint.hpp"
#include "transport/inspect/inspect.hpp"

namespace {

struct conformance_config : fenix::config {
  std::string host = "127.0.0.1";
  uint16_t port = 4000;
  std::string admin_token;
  size_t io_threads = 1;
  size_t io_spin_us = 50;
  size_t pubsub_shards = 2;
  conformance_config() {
    opt_group{custom_options_, "global"}
      .add(host, "host", "bind address")
      .add(port, "port,p", "TCP port (0 picks one)")
      .add(admin_token, "admin-token",
           "enable /_fenix inspection with this bearer token")
      .add(io_threads, "io-threads", "Asio io threads")
      .add(io_spin_us, "io-spin-us",
           "microseconds an idle io thread polls before it blocks")
      .add(pubsub_shards, "pubsub-shards", "PubSub shards");
  }
};

int run(fenix::system& sys, const conformance_config& cfg) {
  // PubSub, Presence and the channel supervisors are supervised by the
  // endpoint, before its server (as in Phoenix): endpoint -> pubsub,
  // presence, channels, server -> connections.
  auto [ps, ps_spec] = fenix::channels::pubsub::make("conformance",
                                                     cfg.pubsub_shards);
  auto [presence, presence_spec] = fenix::channels::presence::make(
    "conformance", ps);
  auto [pool, pool_spec] = fenix::channels::channel_pool::make();
  fenix::transport::endpoint_config ep_cfg;
  ep_cfg.name = "ConformanceEndpoint";
  ep_cfg.address = cfg.host;
  ep_cfg.port = cfg.port;
  ep_cfg.io_threads = cfg.io_threads;
  ep_cfg.io_spin_us = cfg.io_spin_us;
  ep_cfg.children.push_back(std::move(ps_spec));
  ep_cfg.children.push_back(std::move(presence_spec));
  ep_cfg.children.push_back(std::move(pool_spec));
  fenix::transport::socket_options opts;
  opts.longpoll.enabled = true;
  opts.check_origin = fenix::transport::origin_policy::off();
  ep_cfg.socket("/socket",
                fenix::channels::phoenix_handler_factory(
                  conformance::make_user_socket(presence), ps, pool),
                opts);
  // Inspection (/_fenix JSON + dashboard, /metrics): only with a token;
  // loopback peers only (see docs/inspect.md).
  std::unique_ptr<fenix::inspection::inspector> insp;
  if (!cfg.admin_token.empty()) {
    fenix::inspection::options io;
    io.access.token = cfg.admin_token;
    io.root_name = "fenix_conformance";
    insp = std::make_unique<fenix::inspection::inspector>(sys, std::move(io));
    insp->mount(ep_cfg);
  }
  auto ep = fenix::transport::endpoint::start(sys, std::move(ep_cfg));
  if (!ep) {
    std::cerr << "cannot start endpoint: " << sys.sys().render(ep.error())
              << "\n";
    return 1;
  }
  if (insp)
    insp->attach(**ep);
  std::cout << "fenix_conformance listening on " << (*ep)->url()
            << std::endl;
  fenix::await_shutdown_signal();
  std::cout << "draining" << std::endl;
  (*ep)->stop();
  if (insp)
    insp->detach(**ep);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  fenix::block_shutdown_signals();
  conformance_config cfg;
  return fenix::boot(argc, argv, cfg,
                     [&](fenix::system& sys) { return run(sys, cfg); });
}
