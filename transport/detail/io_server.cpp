// The HTTP side of an endpoint: acceptor, one HTTP session per TCP
// connection until it upgrades, routing (sockets, extra routes, static
// files), the WebSocket upgrade checks in Phoenix's order. Beast is used
// for HTTP only; after the 101 the socket goes to ws_connection. No CAF.

#include "transport/detail/io_server.hpp"

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <unordered_map>
#include <future>
#include <optional>
#include <thread>

#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "actors/heap.hpp"
#include "actors/log.hpp"
#include "transport/detail/accept_loop.hpp"
#include "transport/detail/crypto.hpp"
#include "transport/detail/io_core.hpp"
#include "transport/detail/longpoll.hpp"

namespace fenix::transport::detail {

namespace beast = boost::beast;
namespace http = beast::http;

io_server::~io_server() {
  // nop
}

namespace {

using request = http::request<http::string_body>;

std::string_view sv(beast::string_view s) {
  return {s.data(), s.size()};
}

const char* mime_type(std::string_view path) {
  auto dot = path.rfind('.');
  if (dot == std::string_view::npos)
    return "application/octet-stream";
  auto ext = to_lower(path.substr(dot + 1));
  struct entry {
    const char* ext;
    const char* type;
  };
  static constexpr entry table[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"ico", "image/vnd.microsoft.icon"},
    {"wasm", "application/wasm"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
  };
  for (auto& e : table)
    if (ext == e.ext)
      return e.type;
  return "application/octet-stream";
}

/// Joins a request path onto the static root, or nothing when the path
/// could escape it.
std::optional<std::string> safe_join(const std::string& root,
                                     std::string_view path) {
  if (path.empty() || path.front() != '/')
    return std::nullopt;
  if (path.find('\0') != std::string_view::npos
      || path.find('\\') != std::string_view::npos)
    return std::nullopt;
  // Reject any ".." segment.
  size_t pos = 0;
  while (pos < path.size()) {
    auto next = path.find('/', pos + 1);
    auto seg = path.substr(pos + 1, next == std::string_view::npos
                                      ? std::string_view::npos
                                      : next - pos - 1);
    if (seg == "..")
      return std::nullopt;
    if (next == std::string_view::npos)
      break;
    pos = next;
  }
  std::string out = root;
  if (!out.empty() && out.back() == '/')
    out.pop_back();
  out.append(path.data(), path.size());
  return out;
}

/// Splits `a, b ,c` into trimmed tokens.
std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto comma = s.find(',');
    auto tok = s.substr(0, comma);
    while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t'))
      tok.remove_prefix(1);
    while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t'))
      tok.remove_suffix(1);
    if (!tok.empty())
      out.emplace_back(tok);
    if (comma == std::string_view::npos)
      break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

bool list_contains_token(std::string_view list, std::string_view token) {
  for (auto& x : split_list(list))
    if (to_lower(x) == token)
      return true;
  return false;
}

class io_server_impl;

// -- HTTP session -------------------------------------------------------------------

class http_session : public response_sink,
                     public std::enable_shared_from_this<http_session> {
public:
  /// `peer` as accept() reported it (a getpeername saved per connection).
  http_session(tcp::socket sock, tcp::endpoint peer,
               std::shared_ptr<io_server_impl> srv);
  ~http_session() override;

  void run();

  /// response_sink: any thread.
  void deliver(http_response res) override {
    if (srv_down())
      return; // the io threads ran down: nothing may be posted any more
    net::post(sock_.get_executor(),
              [self = shared_from_this(), r = std::move(res)]() mutable {
                self->write(std::move(r));
              });
  }

private:
  void do_read();
  void on_read(const boost::system::error_code& ec);
  void route(request& req);
  void handle_websocket(const std::shared_ptr<mount_state>& m, request& req);
  void on_websocket_verdict(const std::shared_ptr<mount_state>& m,
                            const std::shared_ptr<websocket>& ws,
                            const std::string& problem, verdict v,
                            std::unique_ptr<peer> p);
  void handle_longpoll(const std::shared_ptr<mount_state>& m, request& req);
  void serve_static(request& req, std::string_view path);
  http_request to_plain(request& req, std::string path, std::string query);

  void write(http_response res);
  void respond(unsigned status, std::string body,
               const char* type = "text/plain; charset=utf-8");

  template <class Message>
  void send(Message&& msg);

  /// Requests being answered, so that a shutdown lets their responses out.
  void set_busy(bool x);

  bool srv_down() const noexcept;

  void close_socket() {
    boost::system::error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_both, ignored);
    sock_.close(ignored);
    timer_.cancel();
  }

public:
  /// Endpoint shutdown: ends the session from its strand.
  void shut() {
    net::post(sock_.get_executor(),
              [self = shared_from_this()] { self->close_socket(); });
  }

private:
  // Declared before the socket: it keeps the io_context alive.
  std::shared_ptr<io_server_impl> srv_;
  tcp::socket sock_;
  tcp::endpoint peer_;
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  net::steady_timer timer_;
  bool keep_alive_ = false;
  bool busy_ = false;       // a response is pending
  bool in_request_ = false; // counted in http_busy
};

// -- io_server implementation ----------------------------------------------------------

class io_server_impl final : public io_server,
                             public std::enable_shared_from_this<io_server_impl> {
public:
  explicit io_server_impl(io_config cfg)
      : cfg_(std::move(cfg)),
        core_(std::make_shared<io_core>(cfg_.threads, cfg_.tick,
                                        cfg_.close_linger)) {
    if (cfg_.secret.empty())
      cfg_.secret = random_bytes(32);
    for (auto& m : cfg_.mounts) {
      auto st = std::make_shared<mount_state>();
      st->path = m.path;
      while (!st->path.empty() && st->path.back() == '/')
        st->path.pop_back();
      st->opts = m.opts;
      st->gate = m.gate;
      st->core = core_;
      st->secret = cfg_.secret;
      if (m.opts.idle_timeout.count() > 0)
        st->idle_ticks = core_->wheel.ticks(m.opts.idle_timeout);
      if (m.opts.longpoll.enabled)
        body_limit_ = std::max(body_limit_, m.opts.longpoll.max_body);
      mounts_.push_back(std::move(st));
    }
    if (!cfg_.static_dir.empty()) {
      std::error_code ec;
      auto p = std::filesystem::canonical(cfg_.static_dir, ec);
      static_root_ = ec ? cfg_.static_dir : p.string();
    }
  }

  ~io_server_impl() override { shutdown(); }

  // -- io_server ---------------------------------------------------------------------

  /// The accept loop hands its sockets to this server while it exists.
  void init_acceptor() {
    loop_ = std::make_shared<accept_loop>(
      core_->ioc, cfg_.name,
      [weak = weak_from_this()](tcp::socket sock, const tcp::endpoint& peer) {
        if (auto self = weak.lock())
          std::make_shared<http_session>(std::move(sock), peer, self)->run();
      });
  }

  std::string bind() override {
    return loop_->bind(cfg_.address, cfg_.port, cfg_.backlog,
                       cfg_.reuse_port);
  }

  uint16_t port() const override { return loop_->port(); }

  void run() override {
    if (!threads_.empty())
      return;
    core_->wheel.start();
    auto n = std::max<size_t>(cfg_.threads, 1);
    for (size_t i = 0; i < n; ++i)
      threads_.emplace_back([this, core = core_] {
        precommit_thread_heap(default_heap_precommit);
        run_io(core->ioc);
        std::lock_guard<std::mutex> guard{run_mtx_};
        ++threads_done_;
        run_cv_.notify_all();
      });
  }

  /// Runs the io_context until it stops. With a spin time, a thread that
  /// ran out of ready handlers keeps polling for that long before it
  /// blocks in epoll: on a VM an idle vCPU halts, and waking it (and the
  /// context switch) cost more than the poll, in CPU per frame and in
  /// latency (bench/README.md, echo (b)).
  void run_io(net::io_context& ioc) {
    if (cfg_.spin_us == 0) {
      ioc.run();
      return;
    }
    while (!ioc.stopped()) {
      if (ioc.poll() > 0 || spin_poll(ioc))
        continue;
      ioc.run_one();
    }
  }

  /// Polls until a handler ran (true) or the spin time passed. At most one
  /// io thread spins; the others block at once.
  bool spin_poll(net::io_context& ioc) {
    int none = 0;
    if (!spinning_.compare_exchange_strong(none, 1))
      return false;
    auto deadline = std::chrono::steady_clock::now()
                    + std::chrono::microseconds{cfg_.spin_us};
    bool ran = false;
    while (!ran && !ioc.stopped()
           && std::chrono::steady_clock::now() < deadline) {
      // Cores are few: whatever else is runnable here goes first.
      std::this_thread::yield();
      ran = ioc.poll() > 0;
    }
    spinning_.store(0);
    return ran;
  }

  void start_accepting(std::function<void(const std::string&)> on_failure)
    override {
    loop_->start(std::move(on_failure));
  }

  void pause_accepting() override { loop_->pause(); }

  void stop_accepting() override {
    core_->draining.store(true);
    auto fut = loop_->stop();
    if (threads_.empty() || core_->ioc.stopped())
      return; // nothing runs the handler; the acceptor closes with us
    fut.wait_for(std::chrono::seconds{5});
  }

  bool inject_accept_error(int errno_value) override {
    auto fut = loop_->inject_error(errno_value);
    return fut.wait_for(std::chrono::seconds{5}) == std::future_status::ready
           && fut.get();
  }

  size_t drain(size_t max) override {
    size_t n = 0;
    for (auto& c : core_->snapshot()) {
      if (n == max)
        break;
      if (c->take_drain()) {
        c->request_drain();
        ++n;
      }
    }
    return n;
  }

  size_t live() const override { return core_->live(); }

  bool wait_idle(std::chrono::milliseconds timeout) override {
    return core_->wait_idle(timeout);
  }

  void abort_all() override {
    for (auto& m : mounts_)
      close_longpoll_sessions(*m);
    for (auto& c : core_->snapshot())
      c->abort();
  }

  void shutdown() override {
    if (threads_.empty())
      return;
    // Let responses already being written (e.g. long-poll answers to the
    // drain) leave, within the close linger.
    auto until = std::chrono::steady_clock::now() + cfg_.close_linger;
    while (core_->http_busy.load(std::memory_order_relaxed) > 0
           && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    core_->down.store(true);
    // Run down instead of stopping the io_context: once the acceptor, the
    // wheel, every connection and every HTTP session are closed, run()
    // returns by itself with no handler left inside the io_context (a
    // handler left there would keep its connection, and through it the
    // io_context, alive: a cycle).
    stop_accepting();
    abort_all();
    for (auto& h : http_snapshot())
      h->shut();
    core_->wheel.stop();
    bool ran_down;
    {
      std::unique_lock<std::mutex> guard{run_mtx_};
      ran_down = run_cv_.wait_for(guard, std::chrono::seconds{5}, [this] {
        return threads_done_ == threads_.size();
      });
    }
    if (!ran_down) {
      FENIX_WARN("transport", cfg_.name << ": io threads did not run down, "
                                           "stopping them");
      core_->ioc.stop();
    }
    for (auto& t : threads_)
      if (t.joinable() && t.get_id() != std::this_thread::get_id())
        t.join();
    threads_.clear();
    for (auto& m : mounts_) {
      std::lock_guard<std::mutex> guard{m->lp_mtx};
      m->lp_sessions.clear();
      // No connect can come any more. Dropping the gate (and with it the
      // handler factory) breaks cycles such as factory -> state that holds
      // connection actors -> their links -> this mount -> the factory.
      m->gate.reset();
    }
  }

  bool down() const noexcept { return core_->down.load(); }

  // -- HTTP session registry (for shutdown) ------------------------------------------------

  void add_http(http_session* ptr, std::weak_ptr<http_session> w) {
    std::lock_guard<std::mutex> guard{http_mtx_};
    http_sessions_.emplace(ptr, std::move(w));
  }

  void remove_http(http_session* ptr) {
    std::lock_guard<std::mutex> guard{http_mtx_};
    http_sessions_.erase(ptr);
  }

  std::vector<std::shared_ptr<http_session>> http_snapshot() {
    std::vector<std::shared_ptr<http_session>> out;
    std::lock_guard<std::mutex> guard{http_mtx_};
    for (auto& [ptr, w] : http_sessions_)
      if (auto h = w.lock())
        out.push_back(std::move(h));
    return out;
  }

  endpoint_stats stats() const override {
    auto& c = core_->counters;
    auto ld = [](const auto& x) {
      return static_cast<uint64_t>(x.load(std::memory_order_relaxed));
    };
    endpoint_stats s;
    s.websockets = ld(c.websockets);
    s.longpoll_sessions = ld(c.longpoll_sessions);
    s.connections = s.websockets + s.longpoll_sessions;
    s.accepted = ld(c.accepted);
    s.refused = ld(c.refused);
    s.http_requests = ld(c.http_requests);
    s.queue_drops = ld(c.queue_drops);
    s.idle_timeouts = ld(c.idle_timeouts);
    s.protocol_errors = ld(c.protocol_errors);
    s.frames_in = ld(c.frames_in);
    s.frames_out = ld(c.frames_out);
    s.bytes_out = ld(c.bytes_out);
    s.writes = ld(c.writes);
    s.direct_writes = ld(c.direct_writes);
    return s;
  }

  // -- used by sessions ------------------------------------------------------------------

  const io_config& config() const noexcept { return cfg_; }
  io_core& core() noexcept { return *core_; }
  const std::vector<std::shared_ptr<mount_state>>& mounts() const noexcept {
    return mounts_;
  }
  const std::string& static_root() const noexcept { return static_root_; }
  size_t body_limit() const noexcept { return body_limit_; }

private:
  io_config cfg_;
  std::shared_ptr<io_core> core_;
  std::vector<std::shared_ptr<mount_state>> mounts_;
  std::shared_ptr<accept_loop> loop_;
  std::vector<std::thread> threads_;
  std::string static_root_;
  size_t body_limit_ = 1024 * 1024;
  // io threads polling before they block (0 or 1).
  std::atomic<int> spinning_{0};
  std::mutex run_mtx_;
  std::condition_variable run_cv_;
  size_t threads_done_ = 0;
  // Live HTTP sessions (not yet upgraded).
  std::mutex http_mtx_;
  std::unordered_map<http_session*, std::weak_ptr<http_session>> http_sessions_;
};

// -- http_session implementation --------------------------------------------------------

http_session::http_session(tcp::socket sock, tcp::endpoint peer,
                           std::shared_ptr<io_server_impl> srv)
    : srv_(std::move(srv)),
      sock_(std::move(sock)),
      peer_(peer),
      timer_(sock_.get_executor()) {
  // nop
}

bool http_session::srv_down() const noexcept {
  return srv_->down();
}

void http_session::set_busy(bool x) {
  if (x != in_request_) {
    in_request_ = x;
    srv_->core().http_busy.fetch_add(x ? 1 : -1, std::memory_order_relaxed);
  }
}

http_session::~http_session() {
  set_busy(false);
  srv_->remove_http(this);
}

void http_session::run() {
  srv_->add_http(this, weak_from_this());
  do_read();
}

void http_session::do_read() {
  parser_.emplace();
  parser_->header_limit(16 * 1024);
  parser_->body_limit(srv_->body_limit());
  timer_.expires_after(srv_->config().http_timeout);
  timer_.async_wait(
    [weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec)
        return;
      if (auto self = weak.lock())
        self->close_socket();
    });
  http::async_read(sock_, buf_, *parser_,
                   [self = shared_from_this()](
                     const boost::system::error_code& ec, size_t) {
                     self->on_read(ec);
                   });
}

void http_session::on_read(const boost::system::error_code& ec) {
  timer_.cancel();
  if (ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof
        || ec == net::error::operation_aborted
        || ec == net::error::connection_reset
        || ec == net::error::bad_descriptor) {
      close_socket();
      return;
    }
    keep_alive_ = false;
    if (ec == http::error::body_limit)
      respond(413, "request body too large\n");
    else if (ec == http::error::header_limit)
      respond(431, "request header too large\n");
    else
      respond(400, "bad request: " + ec.message() + "\n");
    return;
  }
  auto req = parser_->release();
  keep_alive_ = req.keep_alive();
  set_busy(true);
  route(req);
  // Counted once routed: a long-poll GET is then held, a route called.
  srv_->core().counters.http_requests.fetch_add(1, std::memory_order_relaxed);
}

void http_session::route(request& req) {
  auto target = sv(req.target());
  auto qpos = target.find('?');
  auto raw_path = target.substr(0, qpos);
  auto path = percent_decode(raw_path, false).value_or(std::string{raw_path});
  for (auto& m : srv_->mounts()) {
    if (path.size() > m->path.size()
        && path.compare(0, m->path.size(), m->path) == 0) {
      auto rest = std::string_view{path}.substr(m->path.size());
      if (rest == "/websocket" && m->opts.websocket) {
        handle_websocket(m, req);
        return;
      }
      if (rest == "/longpoll" && m->opts.longpoll.enabled) {
        handle_longpoll(m, req);
        return;
      }
    }
  }
  for (auto& [prefix, handler] : srv_->config().routes) {
    bool match = path == prefix
                 || (path.size() > prefix.size()
                     && path.compare(0, prefix.size(), prefix) == 0
                     && (prefix.back() == '/' || path[prefix.size()] == '/'));
    if (!match)
      continue;
    auto query = qpos == std::string_view::npos ? std::string{}
                                                : std::string{target.substr(qpos + 1)};
    auto plain = to_plain(req, path, std::move(query));
    busy_ = true;
    try {
      handler(plain, http_responder{shared_from_this()});
    } catch (const std::exception& e) {
      FENIX_WARN("transport", "route " << prefix << " threw: " << e.what());
      // The responder's last copy is gone: the client got a 500.
    }
    return;
  }
  if (!srv_->static_root().empty()
      && (req.method() == http::verb::get || req.method() == http::verb::head)) {
    serve_static(req, path);
    return;
  }
  respond(404, "not found\n");
}

http_request http_session::to_plain(request& req, std::string path,
                                    std::string query) {
  http_request out;
  out.method = std::string{sv(req.method_string())};
  out.target = std::string{sv(req.target())};
  out.path = std::move(path);
  out.query = std::move(query);
  for (auto& f : req)
    out.headers.emplace_back(to_lower(sv(f.name_string())),
                             std::string{sv(f.value())});
  out.body = std::move(req.body());
  out.peer_address = peer_.address().to_string();
  out.peer_port = peer_.port();
  return out;
}

void http_session::handle_websocket(const std::shared_ptr<mount_state>& m,
                                    request& req) {
  auto& ctr = srv_->core().counters;
  // Phoenix: a non-GET on the WebSocket path is a 400 with an empty body.
  if (req.method() != http::verb::get) {
    keep_alive_ = false;
    respond(400, "");
    return;
  }
  auto target = sv(req.target());
  auto qpos = target.find('?');
  connect_info info;
  info.transport = "websocket";
  info.path = std::string{target.substr(0, qpos)};
  if (qpos != std::string_view::npos)
    info.query = std::string{target.substr(qpos + 1)};
  for (auto& f : req)
    info.headers.emplace_back(to_lower(sv(f.name_string())),
                              std::string{sv(f.value())});
  info.peer_address = peer_.address().to_string();
  info.peer_port = peer_.port();
  // 1. Origin.
  if (auto origin = info.header("origin");
      origin && !m->opts.check_origin.allows(*origin)) {
    ctr.refused.fetch_add(1, std::memory_order_relaxed);
    FENIX_WARN("transport", "refused WebSocket from " << info.peer_address
                              << ": origin " << *origin << " not allowed");
    keep_alive_ = false;
    respond(403, "");
    return;
  }
  // 2. Auth token, 3. subprotocols.
  std::vector<std::string> offered;
  for (auto& [k, v] : info.headers)
    if (k == "sec-websocket-protocol")
      for (auto& p : split_list(v))
        offered.push_back(std::move(p));
  if (m->opts.auth_token) {
    static constexpr std::string_view prefix = "base64url.bearer.phx.";
    for (auto i = offered.begin(); i != offered.end(); ++i) {
      if (i->compare(0, prefix.size(), prefix) == 0) {
        auto tok = base64_decode(std::string_view{*i}.substr(prefix.size()));
        if (!tok) {
          ctr.refused.fetch_add(1, std::memory_order_relaxed);
          keep_alive_ = false;
          respond(403, "");
          return;
        }
        info.auth_token = std::move(*tok);
        offered.erase(i);
        break;
      }
    }
  }
  if (!m->opts.subprotocols.empty()) {
    for (auto& want : m->opts.subprotocols) {
      if (std::find(offered.begin(), offered.end(), want) != offered.end()) {
        info.subprotocol = want;
        break;
      }
    }
    if (info.subprotocol.empty()) {
      ctr.refused.fetch_add(1, std::memory_order_relaxed);
      keep_alive_ = false;
      respond(403, "");
      return;
    }
  } else if (m->opts.auth_token
             && std::find(offered.begin(), offered.end(), "phoenix")
                  != offered.end()) {
    info.subprotocol = "phoenix"; // browsers fail the handshake otherwise
  }
  // Limit on open connections.
  if (m->connections.fetch_add(1, std::memory_order_relaxed)
      >= m->opts.max_connections) {
    m->connections.fetch_sub(1, std::memory_order_relaxed);
    ctr.refused.fetch_add(1, std::memory_order_relaxed);
    keep_alive_ = false;
    respond(503, "too many connections\n");
    return;
  }
  // 4. The upgrade itself is validated now but answered after the connect
  // decision: a refused connect wins over a malformed upgrade, as in
  // Phoenix.
  std::string problem;
  auto key = req[http::field::sec_websocket_key];
  auto version = req[http::field::sec_websocket_version];
  if (!beast::websocket::is_upgrade(req)) {
    if (req.version() < 11)
      problem = "HTTP version must be 1.1 or higher";
    else if (!list_contains_token(sv(req[http::field::upgrade]), "websocket"))
      problem = "'upgrade' header must contain 'websocket', got \""
                + std::string{sv(req[http::field::upgrade])} + "\"";
    else
      problem = "'connection' header must contain 'upgrade', got \""
                + std::string{sv(req[http::field::connection])} + "\"";
  } else if (key.empty()) {
    problem = "'sec-websocket-key' header is absent";
  } else if (key.size() != 24 || !base64_decode(sv(key))) {
    problem = "'sec-websocket-key' header is not a base64 16-byte nonce";
  } else if (version != "13") {
    problem = "'sec-websocket-version' header must equal '13', got \""
              + std::string{sv(version)} + "\"";
  }
  std::shared_ptr<websocket> ws;
  if (problem.empty()) {
    std::string hs;
    hs.reserve(160);
    hs += "HTTP/1.1 101 Switching Protocols\r\n"
          "Upgrade: websocket\r\n"
          "Connection: Upgrade\r\n"
          "Sec-WebSocket-Accept: ";
    hs += websocket_accept(sv(key));
    hs += "\r\n";
    if (!info.subprotocol.empty()) {
      hs += "Sec-WebSocket-Protocol: ";
      hs += info.subprotocol;
      hs += "\r\n";
    }
    hs += "\r\n";
    ws = make_websocket(m, std::move(hs));
  }
  // 5. connect: the handler factory decides in a connection actor, off
  // this io thread; the verdict comes back to this session's strand.
  connect_request cr;
  cr.info = std::move(info);
  cr.out = ws;
  cr.id = ws ? ws->id() : srv_->core().next_id();
  cr.done = [self = shared_from_this(), ex = sock_.get_executor(), m, ws,
             problem = std::move(problem)](verdict v,
                                           std::unique_ptr<peer> p) mutable {
    if (self->srv_down())
      return; // the io threads ran down: nothing may be posted any more
    net::post(ex, [self = std::move(self), m = std::move(m), ws = std::move(ws),
                   problem = std::move(problem), v, p = std::move(p)]() mutable {
      self->on_websocket_verdict(m, ws, problem, v, std::move(p));
    });
  };
  m->gate->connect(std::move(cr));
}

void http_session::on_websocket_verdict(const std::shared_ptr<mount_state>& m,
                                        const std::shared_ptr<websocket>& ws,
                                        const std::string& problem,
                                        verdict v, std::unique_ptr<peer> p) {
  if (v == verdict::refused) {
    if (ws)
      ws->discard();
    m->connections.fetch_sub(1, std::memory_order_relaxed);
    srv_->core().counters.refused.fetch_add(1, std::memory_order_relaxed);
    keep_alive_ = false;
    respond(403, "");
    return;
  }
  if (!ws) {
    m->connections.fetch_sub(1, std::memory_order_relaxed);
    keep_alive_ = false;
    respond(400, problem + "\n");
    return;
  }
  // The connection counter reserved for this connect now belongs to the
  // WebSocket.
  auto leftover = beast::buffers_to_string(buf_.data());
  set_busy(false);
  ws->open(std::move(sock_), std::move(p), std::move(leftover));
}

void http_session::handle_longpoll(const std::shared_ptr<mount_state>& m,
                                   request& req) {
  auto target = sv(req.target());
  auto qpos = target.find('?');
  auto query = qpos == std::string_view::npos
                 ? std::string{}
                 : std::string{target.substr(qpos + 1)};
  auto plain = to_plain(req, std::string{target.substr(0, qpos)},
                        std::move(query));
  busy_ = true;
  serve_longpoll(m, plain, http_responder{shared_from_this()});
}

void http_session::serve_static(request& req, std::string_view path) {
  auto full = safe_join(srv_->static_root(), path);
  if (!full) {
    respond(404, "not found\n");
    return;
  }
  std::error_code fec;
  if (std::filesystem::is_directory(*full, fec)) {
    if (full->back() != '/')
      full->push_back('/');
    full->append("index.html");
  }
  http::file_body::value_type body;
  beast::error_code ec;
  body.open(full->c_str(), beast::file_mode::scan, ec);
  if (ec) {
    respond(404, "not found\n");
    return;
  }
  auto size = body.size();
  if (req.method() == http::verb::head) {
    http::response<http::empty_body> res{http::status::ok, req.version()};
    res.set(http::field::server, "fenix");
    res.set(http::field::content_type, mime_type(*full));
    res.content_length(size);
    res.keep_alive(keep_alive_);
    send(std::move(res));
    return;
  }
  http::response<http::file_body> res{
    std::piecewise_construct, std::make_tuple(std::move(body)),
    std::make_tuple(http::status::ok, req.version())};
  res.set(http::field::server, "fenix");
  res.set(http::field::content_type, mime_type(*full));
  res.content_length(size);
  res.keep_alive(keep_alive_);
  send(std::move(res));
}

void http_session::respond(unsigned status, std::string body,
                           const char* type) {
  http_response res;
  res.status = status;
  if (!body.empty())
    res.headers.emplace_back("content-type", type);
  res.body = std::move(body);
  write(std::move(res));
}

void http_session::write(http_response r) {
  busy_ = false;
  http::response<http::string_body> res{static_cast<http::status>(r.status),
                                        11};
  res.set(http::field::server, "fenix");
  for (auto& [k, v] : r.headers)
    res.set(k, v);
  res.body() = std::move(r.body);
  res.keep_alive(keep_alive_);
  res.prepare_payload();
  send(std::move(res));
}

template <class Message>
void http_session::send(Message&& msg) {
  auto sp = std::make_shared<std::decay_t<Message>>(std::forward<Message>(msg));
  http::async_write(sock_, *sp,
                    [self = shared_from_this(),
                     sp](const boost::system::error_code& ec, size_t) {
                      self->set_busy(false);
                      if (ec || !self->keep_alive_) {
                        self->close_socket();
                        return;
                      }
                      self->do_read();
                    });
}

} // namespace

std::shared_ptr<io_server> io_server::make(io_config cfg) {
  auto srv = std::make_shared<io_server_impl>(std::move(cfg));
  srv->init_acceptor();
  return srv;
}

} // namespace fenix::transport::detail
