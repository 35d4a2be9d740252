// fenix_bench_inspect: how long GET /_fenix/tree (and /stats, /metrics)
// takes with N idle WebSocket connections, each joined to one channel, on
// an in-process endpoint.
//
//   fenix_bench_inspect [--n 10000] [--runs 7] [--no-join]
//
// The clients live in a forked child process (the fd limit is 20,000 per
// process: 10k server sockets plus 10k client sockets would not fit in
// one). Requests go through a real HTTP connection on 127.0.0.1, so the
// figures include routing, the snapshot, JSON serialization and the
// transfer. Results: bench/inspect/README.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <caf/all.hpp>

#include "actors/system.hpp"
#include "channels/pubsub.hpp"
#include "channels/socket.hpp"
#include "supervision/supervisor.hpp"
#include "tests/transport/raw_client.hpp"
#include "transport/endpoint.hpp"
#include "transport/inspect/inspect.hpp"

using namespace fenix;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

const std::string token = "bench";

class bench_channel : public channels::channel {
public:
  channels::join_result join(const std::string&, const json::value&,
                             channels::socket&) override {
    return channels::join_result::ok(json::object{});
  }
};

class bench_socket : public channels::user_socket {
public:
  bench_socket() {
    channel<bench_channel>("bench:*");
  }
  std::optional<json::object> connect(const transport::params&,
                                      const transport::connect_info&) override {
    return json::object{};
  }
  std::optional<std::string> id(const json::object&) const override {
    return std::nullopt;
  }
};

void raise_fd_limit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

/// The child: opens n connections (joined unless told not to), says
/// "ready" (or "fail") on `out`, holds them until `in` closes.
[[noreturn]] void run_clients(uint16_t port, size_t n, bool join, int out,
                              int in) {
  raise_fd_limit();
  std::vector<test::raw_client> clients;
  clients.reserve(n);
  std::string join_frame = R"(["1","1","bench:idle","phx_join",{}])";
  for (size_t i = 0; i < n; ++i) {
    test::raw_client c;
    if (!c.connect(port)) {
      std::fprintf(stderr, "connect %zu failed: %s\n", i, std::strerror(errno));
      (void) !write(out, "fail\n", 5);
      _exit(1);
    }
    auto rep = c.handshake("/socket/websocket?vsn=2.0.0", {}, 10s);
    if (!rep || rep->status != 101) {
      std::fprintf(stderr, "handshake %zu failed\n", i);
      (void) !write(out, "fail\n", 5);
      _exit(1);
    }
    if (join) {
      c.send_text(join_frame);
      if (!c.read_frame(10s)) {
        std::fprintf(stderr, "join %zu: no reply\n", i);
        (void) !write(out, "fail\n", 5);
        _exit(1);
      }
    }
    clients.push_back(std::move(c));
  }
  (void) !write(out, "ready\n", 6);
  char buf;
  while (read(in, &buf, 1) > 0) {
    // hold until the parent closes the pipe
  }
  _exit(0);
}

struct timing {
  std::vector<double> ms;
  size_t bytes = 0;

  double median() {
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  }
};

timing measure(uint16_t port, const std::string& target, int runs,
               bool auth = true) {
  timing t;
  for (int i = 0; i < runs; ++i) {
    std::vector<std::string> headers;
    if (auth)
      headers.push_back("Authorization: Bearer " + token);
    auto start = std::chrono::steady_clock::now();
    auto r = test::http_call(port, "GET", target, headers, {}, 30s);
    auto d = std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now() - start)
               .count();
    if (!r || r->status != 200) {
      std::cerr << target << " failed\n";
      std::exit(1);
    }
    t.ms.push_back(d);
    t.bytes = r->body.size();
  }
  return t;
}

} // namespace

int main(int argc, char** argv) {
  size_t n = 10000;
  int runs = 7;
  bool join = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--n" && i + 1 < argc)
      n = std::stoul(argv[++i]);
    else if (a == "--runs" && i + 1 < argc)
      runs = std::stoi(argv[++i]);
    else if (a == "--no-join")
      join = false;
    else {
      std::cerr << "usage: fenix_bench_inspect [--n N] [--runs K] [--no-join]\n";
      return 2;
    }
  }
  raise_fd_limit();
  fenix::config cfg;
  fenix::system sys{cfg};
  auto [ps, ps_spec] = channels::pubsub::make("bench", 2);
  supervisor_flags f;
  f.name = "bench_app";
  auto app = start_supervisor(sys, f, {std::move(ps_spec)});
  if (!app)
    return 1;
  transport::endpoint_config ec;
    auto [chan_pool, pool_spec] = fenix::channels::channel_pool::make();
    ec.children.push_back(std::move(pool_spec));
  ec.name = "BenchEndpoint";
  ec.backlog = 4096;
  ec.socket("/socket", channels::phoenix_handler_factory(
                         std::make_shared<bench_socket>(), ps, chan_pool));
  inspection::options io;
  io.access.token = token;
  io.root_name = "bench_inspect";
  inspection::inspector insp{sys, io};
  insp.mount(ec);
  auto ep = transport::endpoint::start(sys, std::move(ec));
  if (!ep)
    return 1;
  insp.attach(**ep);
  auto port = (*ep)->port();

  int to_parent[2];
  int to_child[2];
  if (pipe(to_parent) != 0 || pipe(to_child) != 0)
    return 1;
  auto t0 = std::chrono::steady_clock::now();
  auto pid = fork();
  if (pid == 0) {
    close(to_parent[0]);
    close(to_child[1]);
    run_clients(port, n, join, to_parent[1], to_child[0]);
  }
  close(to_parent[1]);
  close(to_child[0]);
  char buf[16] = {};
  auto got = read(to_parent[0], buf, sizeof(buf) - 1);
  if (got <= 0 || std::string{buf}.rfind("ready", 0) != 0) {
    std::cerr << "clients failed\n";
    return 1;
  }
  auto setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                               - t0)
                   .count();
  // The tree may lag the last join by a message or two: wait until every
  // connection is recorded.
  for (int i = 0; i < 500; ++i) {
    auto s = insp.stats();
    if (s.at("actors_by_kind").as_object().contains("connection")
        && s.at("actors_by_kind").at("connection").to_number<size_t>() >= n)
      break;
    std::this_thread::sleep_for(10ms);
  }
  auto actors = insp.stats().at("actors").to_number<size_t>();
  std::printf("%zu connections%s up in %.1f s; %zu actors in the tree\n", n,
              join ? " (each joined to a channel)" : "", setup_s, actors);
  // In-process cost of the snapshot + JSON build, without HTTP.
  std::vector<double> build_ms;
  for (int i = 0; i < runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto t = insp.tree();
    auto body = json::serialize(*t);
    build_ms.push_back(std::chrono::duration<double, std::milli>(
                         std::chrono::steady_clock::now() - start)
                         .count());
  }
  std::sort(build_ms.begin(), build_ms.end());
  std::printf("\n| request | median ms | min ms | max ms | body bytes |\n");
  std::printf("|---|---:|---:|---:|---:|\n");
  std::printf("| snapshot + JSON, in process (no HTTP) | %.1f | %.1f | %.1f | |\n",
              build_ms[build_ms.size() / 2], build_ms.front(), build_ms.back());
  struct row {
    const char* label;
    std::string target;
    bool auth;
  };
  for (auto& r : {row{"GET /_fenix/tree (everything)", "/_fenix/tree", true},
                  row{"GET /_fenix/tree?max_children=50 (dashboard)",
                      "/_fenix/tree?max_children=50", true},
                  row{"GET /_fenix/tree?root=connections&max_children=10",
                      "/_fenix/tree?root=connections&max_children=10", true},
                  row{"GET /_fenix/stats", "/_fenix/stats", true},
                  row{"GET /metrics", "/metrics", false}}) {
    auto t = measure(port, r.target, runs, r.auth);
    auto med = t.median();
    std::printf("| %s | %.1f | %.1f | %.1f | %zu |\n", r.label, med,
                t.ms.front(), t.ms.back(), t.bytes);
  }
  close(to_child[1]); // the clients go
  int status = 0;
  waitpid(pid, &status, 0);
  (*ep)->stop();
  insp.detach(**ep);
  caf::anon_send_exit(*app, caf::exit_reason::user_shutdown);
  return 0;
}
