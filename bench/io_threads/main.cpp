// fenix_bench_io_threads: how many Asio threads should an endpoint run on
// a 2-core machine next to CAF's 2 scheduler workers?
//
// Starts an endpoint with a small protocol handler and drives it from one
// epoll client thread in the same process (so every configuration pays the
// same client cost), in two scenarios:
//
//   echo    C connections, each keeps D small text messages in flight; the
//           handler echoes each one (frame in -> actor -> frame out).
//   fanout  C connections; one "hub" actor pushes a burst of frames to every
//           connection's outlet (the broadcast write path: one shared frame,
//           gather-writes per connection).
//
//   idle    (separately) RSS per idle connection that did one echo.
//
// --policy sharing switches CAF's scheduler from work stealing (whose idle
// workers poll, sleeping up to 10 ms, so a message from an io thread may
// wait that long) to a shared queue with condition-variable wake-ups.
//
// Usage: fenix_bench_io_threads [--io-threads N] [--conns C] [--depth D]
//                               [--seconds S] [--scenario echo|fanout|both|idle]
//                               [--policy stealing|sharing]
// Prints one JSON object per scenario.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/actor.hpp"
#include "actors/system.hpp"
#include "transport/detail/connection_actor.hpp"
#include "transport/detail/bridge.hpp"
#include "transport/echo_handler.hpp"
#include "transport/endpoint.hpp"

using namespace std::chrono_literals;
using namespace fenix::transport;

namespace {

struct options {
  size_t io_threads = 1;
  size_t conns = 100;
  size_t depth = 4;
  double seconds = 5;
  std::string scenario = "both";
  std::string policy = "stealing";
  long relaxed_sleep_us = -1; // CAF default: 10 ms
};

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

// -- a minimal client: handshake, masked frames out, unmasked frames in -------

std::string masked_text(std::string_view payload) {
  std::string out;
  out.push_back(static_cast<char>(0x81));
  out.push_back(static_cast<char>(0x80 | payload.size())); // < 126 bytes
  const char key[4] = {1, 2, 3, 4};
  out.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i)
    out.push_back(static_cast<char>(payload[i] ^ key[i & 3]));
  return out;
}

struct client_conn {
  int fd = -1;
  std::string in;
  bool open = false;
};

int connect_ws(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  std::string req = "GET /socket/websocket HTTP/1.1\r\nHost: x\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) < 0) {
    ::close(fd);
    return -1;
  }
  // Read the 101 (blocking; small).
  std::string resp;
  char buf[1024];
  while (resp.find("\r\n\r\n") == std::string::npos) {
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      ::close(fd);
      return -1;
    }
    resp.append(buf, static_cast<size_t>(n));
  }
  if (resp.compare(0, 12, "HTTP/1.1 101") != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// Consumes complete server frames from `in`; returns how many.
size_t count_frames(std::string& in) {
  size_t n = 0;
  size_t pos = 0;
  for (;;) {
    if (in.size() - pos < 2)
      break;
    auto b1 = static_cast<uint8_t>(in[pos + 1]);
    size_t len = b1 & 0x7F;
    size_t hdr = 2;
    if (len == 126) {
      if (in.size() - pos < 4)
        break;
      len = (static_cast<uint8_t>(in[pos + 2]) << 8)
            | static_cast<uint8_t>(in[pos + 3]);
      hdr = 4;
    } else if (len == 127) {
      if (in.size() - pos < 10)
        break;
      len = 0;
      for (int i = 0; i < 8; ++i)
        len = (len << 8) | static_cast<uint8_t>(in[pos + 2 + i]);
      hdr = 10;
    }
    if (in.size() - pos < hdr + len)
      break;
    pos += hdr + len;
    ++n;
  }
  in.erase(0, pos);
  return n;
}

// -- scenarios --------------------------------------------------------------------

struct result {
  std::string scenario;
  size_t io_threads;
  size_t conns;
  double seconds;
  uint64_t messages;
  double per_second;
  double cpu_us_per_message;
  uint64_t writes;
  uint64_t frames_out;
};

std::string policy_name = "stealing";

void print(const result& r) {
  std::cout << "{\"scenario\":\"" << r.scenario << "\",\"policy\":\""
            << policy_name << "\",\"io_threads\":"
            << r.io_threads << ",\"conns\":" << r.conns << ",\"seconds\":"
            << r.seconds << ",\"messages\":" << r.messages
            << ",\"per_second\":" << static_cast<uint64_t>(r.per_second)
            << ",\"cpu_us_per_message\":" << r.cpu_us_per_message
            << ",\"gather_writes\":" << r.writes << ",\"frames_out\":"
            << r.frames_out << "}" << std::endl;
}

/// Runs the client loop: `on_ready(i, frames)` is called with the frames
/// each connection received; it may send more.
template <class OnFrames>
uint64_t drive(std::vector<client_conn>& cs, double seconds, OnFrames on_frames) {
  int ep = ::epoll_create1(0);
  for (size_t i = 0; i < cs.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
  }
  std::vector<epoll_event> evs(256);
  char buf[65536];
  uint64_t total = 0;
  auto until = std::chrono::steady_clock::now()
               + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    auto n = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
    for (int k = 0; k < n; ++k) {
      auto i = evs[k].data.u64;
      auto r = ::recv(cs[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (r <= 0)
        continue;
      cs[i].in.append(buf, static_cast<size_t>(r));
      auto frames = count_frames(cs[i].in);
      total += frames;
      if (frames > 0)
        on_frames(i, frames);
    }
  }
  ::close(ep);
  return total;
}

result run_echo(caf::actor_system& sys, const options& opt) {
  endpoint_config cfg;
  cfg.io_threads = opt.io_threads;
  cfg.socket("/socket", echo_factory());
  auto ep = endpoint::start(sys, std::move(cfg));
  if (!ep) {
    std::cerr << "start failed: " << sys.render(ep.error()) << std::endl;
    std::exit(1);
  }
  auto port = (*ep)->port();
  std::vector<client_conn> cs(opt.conns);
  for (auto& c : cs)
    if ((c.fd = connect_ws(port)) < 0) {
      std::cerr << "connect failed" << std::endl;
      std::exit(1);
    }
  auto msg = masked_text("0123456789abcdef0123456789abcdef0123456789abcdef");
  std::string burst;
  for (size_t i = 0; i < opt.depth; ++i)
    burst += msg;
  for (auto& c : cs)
    ::send(c.fd, burst.data(), burst.size(), MSG_NOSIGNAL);
  auto s0 = (*ep)->stats();
  auto cpu0 = cpu_seconds();
  auto t0 = std::chrono::steady_clock::now();
  std::vector<uint64_t> per_conn(cs.size(), 0);
  auto total = drive(cs, opt.seconds, [&](size_t i, size_t frames) {
    per_conn[i] += frames;
    std::string out;
    for (size_t k = 0; k < frames; ++k)
      out += msg;
    ::send(cs[i].fd, out.data(), out.size(), MSG_NOSIGNAL);
  });
  if (std::getenv("FENIX_BENCH_DEBUG")) {
    auto [mn, mx] = std::minmax_element(per_conn.begin(), per_conn.end());
    size_t starved = std::count_if(per_conn.begin(), per_conn.end(),
                                   [&](uint64_t x) { return x < *mx / 10; });
    std::cerr << "per connection: min " << *mn << " max " << *mx
              << ", below 10% of max: " << starved << std::endl;
  }
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
                .count();
  auto cpu = cpu_seconds() - cpu0;
  auto s1 = (*ep)->stats();
  for (auto& c : cs)
    ::close(c.fd);
  (*ep)->stop();
  return {"echo",
          opt.io_threads,
          opt.conns,
          secs,
          total,
          total / secs,
          cpu * 1e6 / std::max<uint64_t>(total, 1),
          s1.writes - s0.writes,
          s1.frames_out - s0.frames_out};
}

/// The fanout handler registers each connection's outlet with the hub.
struct hub_state {
  std::mutex mtx;
  std::vector<outlet_ptr> outlets;
};

class fanout_handler : public socket_handler {
public:
  explicit fanout_handler(std::shared_ptr<hub_state> hub) : hub_(std::move(hub)) {
    // nop
  }
  void on_open(connection& conn) override {
    std::lock_guard<std::mutex> guard{hub_->mtx};
    hub_->outlets.push_back(conn.outlet());
  }
  void on_text(connection&, std::string&) override {
    // nop
  }

private:
  std::shared_ptr<hub_state> hub_;
};

result run_fanout(caf::actor_system& sys, const options& opt) {
  auto hub = std::make_shared<hub_state>();
  endpoint_config cfg;
  cfg.io_threads = opt.io_threads;
  socket_options so;
  so.max_queue_frames = 1000000;
  so.max_queue_bytes = 1ull << 30;
  cfg.socket("/socket",
             [hub](const params&, const connect_info&) -> socket_handler_ptr {
               return std::make_unique<fanout_handler>(hub);
             },
             so);
  auto ep = endpoint::start(sys, std::move(cfg));
  if (!ep) {
    std::cerr << "start failed" << std::endl;
    std::exit(1);
  }
  auto port = (*ep)->port();
  std::vector<client_conn> cs(opt.conns);
  for (auto& c : cs)
    c.fd = connect_ws(port);
  while (true) {
    std::lock_guard<std::mutex> guard{hub->mtx};
    if (hub->outlets.size() == cs.size())
      break;
  }
  // A publisher actor broadcasts one shared frame per round to every
  // outlet, paced by the clients: a new round starts when the outstanding
  // frames fall below a window (so queues stay bounded).
  std::atomic<uint64_t> received{0};
  std::atomic<bool> stop{false};
  std::thread publisher{[&] {
    auto f = frame::make(opcode::text, std::string(64, 'x'));
    uint64_t sent = 0;
    const uint64_t window = 64 * cs.size();
    while (!stop.load()) {
      if (sent - received.load() > window) {
        std::this_thread::yield();
        continue;
      }
      std::lock_guard<std::mutex> guard{hub->mtx};
      for (auto& o : hub->outlets)
        o->send(f);
      sent += hub->outlets.size();
    }
  }};
  auto s0 = (*ep)->stats();
  auto cpu0 = cpu_seconds();
  auto t0 = std::chrono::steady_clock::now();
  auto total = drive(cs, opt.seconds, [&](size_t, size_t frames) {
    received += frames;
  });
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
                .count();
  auto cpu = cpu_seconds() - cpu0;
  stop = true;
  publisher.join();
  auto s1 = (*ep)->stats();
  for (auto& c : cs)
    ::close(c.fd);
  hub->outlets.clear();
  (*ep)->stop();
  return {"fanout",
          opt.io_threads,
          opt.conns,
          secs,
          total,
          total / secs,
          cpu * 1e6 / std::max<uint64_t>(total, 1),
          s1.writes - s0.writes,
          s1.frames_out - s0.frames_out};
}

long rss_kb() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f)
    return 0;
  char line[256];
  long kb = 0;
  while (std::fgets(line, sizeof(line), f))
    if (std::strncmp(line, "VmRSS:", 6) == 0)
      kb = std::atol(line + 6);
  std::fclose(f);
  return kb;
}

/// RSS per idle connection: N WebSockets that joined (handler + actor)
/// and then stay silent. Client sockets are kernel memory, not RSS.
void run_idle(caf::actor_system& sys, const options& opt) {
  endpoint_config cfg;
  cfg.io_threads = opt.io_threads;
  cfg.socket("/socket", echo_factory());
  auto ep = endpoint::start(sys, std::move(cfg));
  if (!ep)
    std::exit(1);
  auto port = (*ep)->port();
  // Warm up allocator pools with a first batch (n/4), then measure a second
  // one (n): 2.5 n file descriptors in this process (client + server side).
  std::vector<int> fds;
  auto open_batch = [&](size_t n) {
    for (size_t i = 0; i < n; ++i) {
      auto fd = connect_ws(port);
      if (fd < 0) {
        std::cerr << "connect failed after " << fds.size() << std::endl;
        std::exit(1);
      }
      // One message each: the connection did real work before going idle.
      auto m = masked_text("hello");
      ::send(fd, m.data(), m.size(), MSG_NOSIGNAL);
      char buf[64];
      ::recv(fd, buf, sizeof(buf), 0);
      fds.push_back(fd);
    }
  };
  auto n = opt.conns;
  open_batch(n / 4);
  std::this_thread::sleep_for(500ms);
  auto before = rss_kb();
  open_batch(n);
  std::this_thread::sleep_for(1s); // let actors settle
  auto after = rss_kb();
  std::cout << "{\"scenario\":\"idle\",\"io_threads\":" << opt.io_threads
            << ",\"conns\":" << n << ",\"rss_delta_kb\":" << (after - before)
            << ",\"bytes_per_connection\":"
            << (after - before) * 1024 / static_cast<long>(n) << "}"
            << std::endl;
  for (auto fd : fds)
    ::close(fd);
  (*ep)->stop();
}

} // namespace

int main(int argc, char** argv) {
  options opt;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    std::string v = argv[i + 1];
    if (k == "--io-threads")
      opt.io_threads = std::stoul(v);
    else if (k == "--conns")
      opt.conns = std::stoul(v);
    else if (k == "--depth")
      opt.depth = std::stoul(v);
    else if (k == "--seconds")
      opt.seconds = std::stod(v);
    else if (k == "--scenario")
      opt.scenario = v;
    else if (k == "--policy")
      opt.policy = v;
    else if (k == "--relaxed-sleep-us")
      opt.relaxed_sleep_us = std::stol(v);
  }
  fenix::config cfg;
  cfg.log_level = "warning";
  if (opt.policy == "sharing")
    cfg.set("scheduler.policy", caf::atom("sharing"));
  policy_name = opt.policy;
  if (opt.relaxed_sleep_us >= 0) {
    cfg.set("work-stealing.relaxed-sleep-duration",
            caf::timespan{std::chrono::microseconds{opt.relaxed_sleep_us}});
    cfg.set("work-stealing.moderate-sleep-duration",
            caf::timespan{std::chrono::microseconds{
              std::min<long>(opt.relaxed_sleep_us, 50)}});
    policy_name += "+relaxed" + std::to_string(opt.relaxed_sleep_us) + "us";
  }
  fenix::system sys{cfg};
  if (opt.scenario == "echo" || opt.scenario == "both")
    print(run_echo(sys, opt));
  if (opt.scenario == "fanout" || opt.scenario == "both")
    print(run_fanout(sys, opt));
  if (opt.scenario == "idle")
    run_idle(sys, opt);
  std::cerr << "sizeof: websocket connection " 
            << detail::websocket_object_size() << " B, connection actor "
            << detail::connection_actor_size() << " B" << std::endl;
  return 0;
}
