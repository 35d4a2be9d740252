// The long-poll transport with Phoenix's semantics (protocol.md 1.8). A
// session is the I/O side of one connection actor, like a WebSocket: the
// same socket handler runs behind it. Asio only (no Beast, no CAF).

#include "transport/detail/longpoll.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "actors/json_text.hpp"
#include "actors/log.hpp"
#include "transport/detail/crypto.hpp"
#include "transport/detail/utf8.hpp"
#include "transport/detail/ws_reader.hpp"

namespace fenix::transport::detail {

namespace {

using strand_type = net::strand<net::io_context::executor_type>;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// Every long-poll answer is HTTP 200 with the logical status in the body.
http_response json_reply(std::string body) {
  http_response res;
  res.status = 200;
  res.headers.emplace_back("content-type", "application/json; charset=utf-8");
  res.headers.emplace_back("cache-control", "no-store");
  res.headers.emplace_back("access-control-allow-origin", "*");
  res.body = std::move(body);
  return res;
}

http_response status_reply(int status) {
  return json_reply("{\"status\":" + std::to_string(status) + "}");
}

http_response messages_reply(int status, const std::string& token,
                             const std::vector<frame_ptr>& msgs) {
  std::string body;
  size_t size = 64 + token.size();
  for (auto& f : msgs)
    size += f->payload_size() + 8;
  body.reserve(size);
  body += "{\"status\":";
  body += std::to_string(status);
  body += ",\"token\":";
  append_json_string(body, token);
  body += ",\"messages\":[";
  for (size_t i = 0; i < msgs.size(); ++i) {
    if (i > 0)
      body.push_back(',');
    append_json_string(body, msgs[i]->payload());
  }
  body += "]}";
  return json_reply(std::move(body));
}

} // namespace

/// One long-poll session (declared in io_core.hpp for the mount's table).
class lp_session final : public conn_base,
                         public link,
                         public std::enable_shared_from_this<lp_session> {
public:
  lp_session(uint64_t id, std::shared_ptr<mount_state> m, std::string token)
      : conn_base(id),
        mount_(std::move(m)),
        token_(std::move(token)),
        strand_(net::make_strand(mount_->core->ioc)),
        timer_(strand_) {
    auto& core = *mount_->core;
    expiry_ticks_ = core.wheel.ticks(
      mount_->opts.longpoll.effective_session_timeout());
    touch();
  }

  const std::string& token() const noexcept { return token_; }

  /// Asks `m`'s gate to decide the connect; the session begins (or not)
  /// and answers the handshake on its strand, where a close from the
  /// actor, posted after the verdict, cannot overtake it.
  void decide(connect_info info, http_responder respond) {
    connect_request cr;
    cr.info = std::move(info);
    cr.out = shared_from_this();
    cr.id = conn_id();
    cr.done = [self = shared_from_this(),
               respond = std::move(respond)](verdict v,
                                             std::unique_ptr<peer> p) mutable {
      if (self->mount_->core->down.load())
        return; // nothing may be posted once the endpoint ran down
      net::post(self->strand_, [self, v, p = std::move(p),
                                respond = std::move(respond)]() mutable {
        self->on_verdict(v, std::move(p), std::move(respond));
      });
    };
    mount_->gate->connect(std::move(cr));
  }

  // -- link: any thread ---------------------------------------------------------

  bool send(frame_ptr f) override {
    if (!f->is_text()) {
      if (!warned_binary_.exchange(true))
        FENIX_WARN("transport", "long-poll session " << conn_id()
                                  << ": binary frames cannot be carried over "
                                     "long-poll, dropped");
      return false;
    }
    std::unique_lock<std::mutex> guard{mtx_};
    if (closed_)
      return false;
    auto& opts = mount_->opts;
    if (bytes_ + f->payload_size() > opts.max_queue_bytes
        || buffer_.size() + 1 > opts.max_queue_frames) {
      guard.unlock();
      mount_->core->counters.queue_drops.fetch_add(1, std::memory_order_relaxed);
      FENIX_WARN("transport", "long-poll session "
                                << conn_id()
                                << ": outbound queue limit reached, closing");
      close(close_code::policy_violation, "outbound queue limit");
      return false;
    }
    bytes_ += f->payload_size();
    buffer_.push_back(std::move(f));
    if (waiter_) {
      auto w = std::move(*waiter_);
      waiter_.reset();
      auto msgs = take_locked();
      guard.unlock();
      w(messages_reply(200, token_, msgs));
    }
    return true;
  }

  void close(uint16_t code, std::string_view reason) override {
    if (gone_.load(std::memory_order_relaxed))
      return; // nothing may be posted once the endpoint ran down
    net::post(strand_, [self = shared_from_this(), code,
                        r = std::string{reason}] {
      self->record(code, r, closed_by::server);
      self->finish();
    });
  }

  // -- conn_base ------------------------------------------------------------------

  bool take_drain() noexcept override {
    return !drain_taken_.exchange(true, std::memory_order_relaxed);
  }

  void request_drain() override {
    net::post(strand_, [self = shared_from_this()] {
      if (self->peer_ && !self->finished_)
        self->peer_->drain();
    });
  }

  void abort() override {
    net::post(strand_, [self = shared_from_this()] {
      self->record(close_code::going_away, "aborted", closed_by::server);
      self->finish();
      self->forget();
    });
  }

  uint32_t deadline() const noexcept override {
    if (gone_.load(std::memory_order_relaxed))
      return 0;
    return last_activity_.load(std::memory_order_relaxed) + expiry_ticks_;
  }

  void on_deadline() override {
    net::post(strand_, [self = shared_from_this()] { self->on_timer(); });
  }

  // -- HTTP side ----------------------------------------------------------------------

  /// A GET with this session's token. False when the session is over and
  /// has nothing left to deliver (the caller then starts a new one).
  bool poll(http_responder respond) {
    touch();
    std::unique_lock<std::mutex> guard{mtx_};
    if (!buffer_.empty()) {
      auto msgs = take_locked();
      bool over = closed_;
      guard.unlock();
      respond(messages_reply(200, token_, msgs));
      if (over)
        forget();
      return true;
    }
    if (closed_) {
      guard.unlock();
      forget();
      return false;
    }
    if (waiter_) // a newer poll replaces an older one
      (*waiter_)(messages_reply(204, token_, {}));
    waiter_ = std::move(respond);
    auto gen = ++waiter_gen_;
    polling_.store(true, std::memory_order_relaxed);
    guard.unlock();
    net::post(strand_, [self = shared_from_this(), gen] {
      self->timer_.expires_after(self->mount_->opts.longpoll.window);
      self->timer_.async_wait([self, gen](const boost::system::error_code& ec) {
        if (!ec)
          self->on_window(gen);
      });
    });
    return true;
  }

  /// A POST with this session's token.
  void post(std::vector<inbound_message> msgs, http_responder respond) {
    touch();
    net::post(strand_, [self = shared_from_this(), msgs = std::move(msgs),
                        respond = std::move(respond)]() mutable {
      if (!self->peer_ || self->finished_) {
        respond(status_reply(410));
        return;
      }
      // 200 once the actor took every message, 408 if it did not within
      // the window; the responder lets the first answer win.
      auto timer = std::make_shared<net::steady_timer>(self->strand_);
      self->post_timers_.push_back(timer);
      timer->expires_after(self->mount_->opts.longpoll.window);
      timer->async_wait([respond, timer](const boost::system::error_code& ec) {
        if (!ec)
          respond(status_reply(408));
      });
      std::weak_ptr<net::steady_timer> weak_timer = timer;
      self->peer_->on_batch(
        std::move(msgs), [respond, weak_timer, weak = self->weak_from_this()] {
          respond(status_reply(200));
          if (auto s = weak.lock())
            if (!s->gone_.load(std::memory_order_relaxed))
              net::post(s->strand_, [s, weak_timer] {
                if (auto t = weak_timer.lock())
                  t->cancel();
                s->prune_post_timers();
              });
        });
    });
  }

private:
  io_core& core() noexcept { return *mount_->core; }

  void on_verdict(verdict v, std::unique_ptr<peer> p, http_responder respond) {
    auto& m = *mount_;
    auto& ctr = core().counters;
    if (v != verdict::accepted) {
      m.connections.fetch_sub(1, std::memory_order_relaxed);
      {
        std::lock_guard<std::mutex> guard{mtx_};
        closed_ = true; // pushes fail from now on
      }
      gone_.store(true, std::memory_order_relaxed);
      if (v == verdict::refused) {
        ctr.refused.fetch_add(1, std::memory_order_relaxed);
        respond(status_reply(403));
      } else {
        respond(status_reply(500));
      }
      return;
    }
    peer_ = std::move(p);
    {
      std::lock_guard<std::mutex> guard{m.lp_mtx};
      m.lp_sessions.emplace(conn_id(), shared_from_this());
    }
    core().attach(shared_from_this());
    ctr.longpoll_sessions.fetch_add(1, std::memory_order_relaxed);
    ctr.accepted.fetch_add(1, std::memory_order_relaxed);
    core().wheel.add(shared_from_this());
    respond(messages_reply(410, token_, {}));
    if (core().draining.load() && take_drain())
      peer_->drain();
  }

  void touch() noexcept {
    last_activity_.store(mount_->core->wheel.now(), std::memory_order_relaxed);
  }

  std::vector<frame_ptr> take_locked() {
    std::vector<frame_ptr> out;
    out.swap(buffer_);
    bytes_ = 0;
    return out;
  }

  void prune_post_timers() {
    post_timers_.erase(std::remove_if(post_timers_.begin(), post_timers_.end(),
                                      [](auto& w) { return w.expired(); }),
                       post_timers_.end());
  }

  void on_window(uint64_t gen) {
    std::unique_lock<std::mutex> guard{mtx_};
    if (!waiter_ || gen != waiter_gen_)
      return;
    auto w = std::move(*waiter_);
    waiter_.reset();
    polling_.store(false, std::memory_order_relaxed);
    guard.unlock();
    touch();
    w(messages_reply(204, token_, {}));
  }

  void on_timer() {
    if (gone_.load(std::memory_order_relaxed))
      return;
    if (polling_.load(std::memory_order_relaxed)) {
      touch(); // a held GET is activity
      return;
    }
    auto now = core().wheel.now();
    if (now < last_activity_.load(std::memory_order_relaxed) + expiry_ticks_)
      return;
    // No GET for the session timeout: the client is gone (or has moved
    // on); leftovers die with the session, as in Phoenix.
    record(close_code::going_away, "session inactive", closed_by::network);
    finish();
    forget();
  }

  void record(uint16_t code, std::string_view reason, closed_by by) {
    if (recorded_)
      return;
    recorded_ = true;
    result_ = close_info{code, std::string{reason}, by};
  }

  /// Ends the session for its actor (strand). Buffered messages stay for
  /// one more GET.
  void finish() {
    if (finished_)
      return;
    finished_ = true;
    std::optional<http_responder> w;
    std::vector<frame_ptr> msgs;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      closed_ = true;
      if (waiter_) {
        w = std::move(waiter_);
        waiter_.reset();
        msgs = take_locked();
        polling_.store(false, std::memory_order_relaxed);
      }
    }
    if (w) {
      // The held poll gets what is left; with nothing left, 410 (without
      // a token) makes phoenix.js start a new session.
      if (msgs.empty())
        (*w)(status_reply(410));
      else
        (*w)(messages_reply(200, token_, msgs));
    }
    timer_.cancel();
    for (auto& w : post_timers_)
      if (auto t = w.lock())
        t->cancel(); // their ack (or, dropped, a 500) answers them
    post_timers_.clear();
    mount_->connections.fetch_sub(1, std::memory_order_relaxed);
    core().counters.longpoll_sessions.fetch_sub(1, std::memory_order_relaxed);
    core().detach(conn_id());
    if (peer_) {
      peer_->on_closed(std::move(result_));
      peer_.reset();
    }
    bool empty;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      empty = buffer_.empty();
    }
    if (empty)
      forget();
    // else: the next GET (or the expiry) collects the leftovers.
  }

  /// Removes the session from its mount's table.
  void forget() {
    if (gone_.exchange(true))
      return;
    std::lock_guard<std::mutex> guard{mount_->lp_mtx};
    mount_->lp_sessions.erase(conn_id());
  }

  std::shared_ptr<mount_state> mount_;
  std::string token_;
  strand_type strand_;
  net::steady_timer timer_; // window of the held GET
  uint32_t expiry_ticks_ = 0;

  // Strand only.
  std::unique_ptr<peer> peer_;
  std::vector<std::weak_ptr<net::steady_timer>> post_timers_;
  close_info result_;
  bool recorded_ = false;
  bool finished_ = false;

  std::atomic<uint32_t> last_activity_{0};
  std::atomic<bool> polling_{false};
  std::atomic<bool> gone_{false};
  std::atomic<bool> warned_binary_{false};
  std::atomic<bool> drain_taken_{false};

  // Shared with senders.
  std::mutex mtx_;
  std::vector<frame_ptr> buffer_;
  size_t bytes_ = 0;
  std::optional<http_responder> waiter_;
  uint64_t waiter_gen_ = 0;
  bool closed_ = false;
};

namespace {

std::shared_ptr<lp_session> find_session(mount_state& m,
                                         const http_request& req) {
  const std::string* tok = req.header("x-phoenix-longpoll-token");
  auto ps = params::parse(req.query);
  if (!tok)
    tok = ps.get("token");
  if (!tok || tok->empty())
    return nullptr;
  auto max_age = m.opts.longpoll.token_max_age.count();
  auto id = verify_token(m.secret, *tok, unix_now(), max_age);
  if (!id)
    return nullptr;
  std::lock_guard<std::mutex> guard{m.lp_mtx};
  auto i = m.lp_sessions.find(*id);
  if (i == m.lp_sessions.end())
    return nullptr;
  return i->second;
}

/// GET without a live session: a new session, once connect accepted it.
void handshake(const std::shared_ptr<mount_state>& m, const http_request& req,
               http_responder respond) {
  auto& core = *m->core;
  auto& ctr = core.counters;
  connect_info info;
  info.transport = "longpoll";
  info.peer_address = req.peer_address;
  info.peer_port = req.peer_port;
  info.path = req.path;
  info.query = req.query;
  info.headers = req.headers;
  if (auto tok = req.header("x-phoenix-authtoken"))
    info.auth_token = *tok;
  if (m->connections.fetch_add(1, std::memory_order_relaxed)
      >= m->opts.max_connections) {
    m->connections.fetch_sub(1, std::memory_order_relaxed);
    ctr.refused.fetch_add(1, std::memory_order_relaxed);
    respond(status_reply(503));
    return;
  }
  auto id = core.next_id();
  auto session = std::make_shared<lp_session>(
    id, m, sign_token(m->secret, id, unix_now()));
  session->decide(std::move(info), std::move(respond));
}

/// Splits an ndjson body into messages: `[`-lines are text, the others
/// base64 binary; at most 100 lines count. Any other content type: the
/// whole body is one text message.
std::vector<inbound_message> parse_body(const http_request& req) {
  std::vector<inbound_message> out;
  auto ct = req.header("content-type");
  if (!ct || *ct != "application/x-ndjson") {
    if (is_valid_utf8(req.body))
      out.emplace_back(true, req.body);
    return out;
  }
  std::string_view body = req.body;
  while (!body.empty() && out.size() < 100) {
    auto nl = body.find('\n');
    auto line = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view{}
                                        : body.substr(nl + 1);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.empty())
      continue;
    if (line.front() == '[') {
      if (is_valid_utf8(line))
        out.emplace_back(true, std::string{line});
    } else if (auto bin = base64_decode(line)) {
      out.emplace_back(false, std::move(*bin));
    } else {
      FENIX_WARN("transport", "long-poll POST: line is neither JSON nor "
                              "base64, ignored");
    }
  }
  return out;
}

} // namespace

void serve_longpoll(const std::shared_ptr<mount_state>& m,
                    const http_request& req, http_responder respond) {
  auto& ctr = m->core->counters;
  if (req.method == "OPTIONS") {
    auto res = json_reply("");
    res.headers.clear();
    res.headers.emplace_back("access-control-allow-origin", "*");
    std::string allow;
    for (auto& [k, v] : req.headers)
      if (k == "access-control-request-headers")
        allow += (allow.empty() ? "" : ", ") + v;
    res.headers.emplace_back("access-control-allow-headers", allow);
    res.headers.emplace_back("access-control-allow-methods",
                             "get, post, options");
    res.headers.emplace_back("access-control-max-age", "3600");
    respond(std::move(res));
    return;
  }
  if (req.method != "GET" && req.method != "POST") {
    respond(http_response::text(400, ""));
    return;
  }
  if (auto origin = req.header("origin");
      origin && !m->opts.check_origin.allows(*origin)) {
    ctr.refused.fetch_add(1, std::memory_order_relaxed);
    FENIX_WARN("transport", "refused long-poll from " << req.peer_address
                              << ": origin " << *origin << " not allowed");
    respond(status_reply(403));
    return;
  }
  auto session = find_session(*m, req);
  if (req.method == "GET") {
    if (session && session->poll(respond))
      return;
    handshake(m, req, std::move(respond));
    return;
  }
  // POST
  if (!session) {
    respond(status_reply(410));
    return;
  }
  session->post(parse_body(req), std::move(respond));
}

void close_longpoll_sessions(mount_state& m) {
  std::vector<std::shared_ptr<lp_session>> all;
  {
    std::lock_guard<std::mutex> guard{m.lp_mtx};
    for (auto& [id, s] : m.lp_sessions)
      all.push_back(s);
  }
  for (auto& s : all)
    s->abort();
}

} // namespace fenix::transport::detail
