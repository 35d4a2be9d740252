#include "transport/inspect/inspect.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <caf/abstract_actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "actors/system.hpp"
#include "actors/tree.hpp"
#include "transport/endpoint.hpp"
#include "transport/inspect/dashboard.hpp"
#include "transport/inspect/prometheus.hpp"

namespace json = boost::json;

namespace fenix::inspection {

namespace {

using clock_type = std::chrono::steady_clock;
using transport::http_request;
using transport::http_responder;
using transport::http_response;

int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           t.time_since_epoch())
    .count();
}

// -- worker: the one thread that builds answers ------------------------------

/// A single thread running posted jobs in order, delayed jobs at their
/// time, and a periodic tick (the rate sampler). Jobs never own the
/// inspector state, so the state's destructor can join the thread.
class worker {
public:
  worker(std::function<void()> tick, std::chrono::milliseconds period)
      : tick_(std::move(tick)), period_(period) {
    thread_ = std::thread{[this] { run(); }};
  }

  ~worker() {
    stop();
  }

  /// Joins the thread; later posts are refused. Idempotent; never call it
  /// from a job.
  void stop() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stop_ = true;
    }
    cv_.notify_one();
    std::lock_guard<std::mutex> guard{join_mtx_};
    if (thread_.joinable())
      thread_.join();
    // Pending jobs die now, not with the worker: they hold responders, which
    // hold HTTP sessions, which lead back to the routes that own this
    // worker's state (a cycle). Their responders answer 500.
    decltype(jobs_) jobs;
    decltype(timers_) timers;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      jobs.swap(jobs_);
      timers.swap(timers_);
    }
  }

  /// False when `max_pending` jobs already wait.
  bool post(std::function<void()> job, size_t max_pending) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (stop_ || jobs_.size() >= max_pending)
        return false;
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
    return true;
  }

  void post_at(clock_type::time_point t, std::function<void()> job) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (stop_)
        return;
      timers_.emplace(t, std::move(job));
    }
    cv_.notify_one();
  }

private:
  void run() {
    std::unique_lock<std::mutex> lock{mtx_};
    auto next_tick = clock_type::now() + period_;
    while (!stop_) {
      auto now = clock_type::now();
      if (!jobs_.empty()) {
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        run_guarded(job);
        lock.lock();
        continue;
      }
      if (!timers_.empty() && timers_.begin()->first <= now) {
        auto job = std::move(timers_.begin()->second);
        timers_.erase(timers_.begin());
        lock.unlock();
        run_guarded(job);
        lock.lock();
        continue;
      }
      if (now >= next_tick) {
        next_tick = now + period_;
        lock.unlock();
        run_guarded(tick_);
        lock.lock();
        continue;
      }
      auto wake = next_tick;
      if (!timers_.empty())
        wake = std::min(wake, timers_.begin()->first);
      cv_.wait_until(lock, wake);
    }
  }

  static void run_guarded(const std::function<void()>& f) {
    try {
      f();
    } catch (const std::exception& e) {
      FENIX_WARN("inspect", "inspection job failed: " << e.what());
    }
  }

  std::function<void()> tick_;
  std::chrono::milliseconds period_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::multimap<clock_type::time_point, std::function<void()>> timers_;
  bool stop_ = false;
  std::mutex join_mtx_;
  std::thread thread_;
};

// -- counters and rates --------------------------------------------------------

/// What /stats turns into per-second rates.
struct sample {
  clock_type::time_point at;
  transport::endpoint_stats ep;
  int64_t messages_in = 0;
  int64_t messages_out = 0;
  int64_t broadcasts = 0;
  int64_t deliveries = 0;
};

int64_t metric_sum(const std::vector<metrics::sample>& xs,
                   const std::string& name) {
  int64_t sum = 0;
  for (auto& x : xs)
    if (x.name == name)
      sum += x.value;
  return sum;
}

double per_second(uint64_t now, uint64_t before, double dt) {
  if (dt <= 0 || now < before)
    return 0;
  return static_cast<double>(now - before) / dt;
}

// -- tree walking --------------------------------------------------------------

/// Serializes a node through the tree's own JSON conversion, then adds its
/// children itself so that long child lists can be collapsed.
json::value node_json(actor_info&& x, size_t max_children) {
  auto kids = std::move(x.children);
  x.children.clear();
  auto v = json::value_from(x);
  auto& obj = v.as_object();
  obj["children_count"] = kids.size();
  auto shown = max_children == 0 ? kids.size()
                                 : std::min(max_children, kids.size());
  json::array arr;
  arr.reserve(shown);
  for (size_t i = 0; i < shown; ++i)
    arr.push_back(node_json(std::move(kids[i]), max_children));
  obj["children"] = std::move(arr);
  if (shown < kids.size()) {
    // Kinds of what was left out, so "… 9,985 more connection" can be
    // printed without shipping 10k nodes.
    json::object omitted;
    for (size_t i = shown; i < kids.size(); ++i) {
      auto& slot = omitted[kids[i].kind];
      slot = slot.is_int64() ? slot.as_int64() + 1 : int64_t{1};
    }
    obj["omitted"] = std::move(omitted);
  }
  return v;
}

/// Census of a forest: actors per kind and distinct channel topics.
struct census {
  size_t actors = 0;
  std::map<std::string, int64_t> kinds;
  std::set<std::string> topics;

  void add(const actor_info& x) {
    ++actors;
    ++kinds[x.kind];
    if (x.kind == "channel")
      if (auto t = x.details.if_contains("topic"); t && t->is_string())
        topics.emplace(t->as_string().c_str());
    for (auto& c : x.children)
      add(c);
  }
};

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() < 20
         && std::all_of(s.begin(), s.end(),
                        [](char c) { return c >= '0' && c <= '9'; });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0
               && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

/// The value of `key` in a raw query string, percent-decoded.
std::optional<std::string> query_param(std::string_view query,
                                       std::string_view key) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto part = query.substr(0, amp);
    auto eq = part.find('=');
    if (part.substr(0, eq) == key)
      return eq == std::string_view::npos ? std::string{}
                                          : url_decode(part.substr(eq + 1));
    if (amp == std::string_view::npos)
      break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

http_response json_response(const json::value& v, unsigned status = 200) {
  auto res = http_response::json(json::serialize(v) + "\n", status);
  res.headers.emplace_back("cache-control", "no-store");
  return res;
}

http_response error_response(unsigned status, std::string_view what) {
  return json_response(json::object{{"error", what}}, status);
}

} // namespace

// -- state ---------------------------------------------------------------------

struct inspector::state {
  state(caf::actor_system& sys, options o)
      : rt(runtime_ptr(sys)), opts(std::move(o)) {
    if (!rt)
      throw std::invalid_argument(
        "fenix::inspection: the actor system has no fenix runtime");
    if (opts.access.token.empty())
      throw std::invalid_argument(
        "fenix::inspection: an admin token is required");
    if (opts.prefix.empty() || opts.prefix.front() != '/')
      throw std::invalid_argument("fenix::inspection: prefix must start with /");
    while (opts.prefix.size() > 1 && opts.prefix.back() == '/')
      opts.prefix.pop_back();
    jobs = std::make_unique<worker>([this] { take_sample(); },
                                    std::chrono::seconds{1});
  }

  ~state() {
    // Join the thread before the members its jobs use go away.
    jobs.reset();
  }

  actor_tree& tree() const {
    return rt->tree();
  }

  // -- endpoints and samples (guarded by mtx) ----------------------------------

  transport::endpoint_stats endpoint_totals_locked() const {
    transport::endpoint_stats sum;
    for (auto ep : endpoints) {
      auto s = ep->stats();
      sum.connections += s.connections;
      sum.websockets += s.websockets;
      sum.longpoll_sessions += s.longpoll_sessions;
      sum.accepted += s.accepted;
      sum.refused += s.refused;
      sum.http_requests += s.http_requests;
      sum.queue_drops += s.queue_drops;
      sum.idle_timeouts += s.idle_timeouts;
      sum.protocol_errors += s.protocol_errors;
      sum.frames_in += s.frames_in;
      sum.frames_out += s.frames_out;
      sum.bytes_out += s.bytes_out;
      sum.writes += s.writes;
      sum.direct_writes += s.direct_writes;
    }
    return sum;
  }

  sample current_locked() const {
    sample s;
    s.at = clock_type::now();
    s.ep = endpoint_totals_locked();
    auto ms = metrics::global().collect();
    s.messages_in = metric_sum(ms, "fenix_channel_messages_in_total");
    s.messages_out = metric_sum(ms, "fenix_channel_messages_out_total");
    s.broadcasts = metric_sum(ms, "fenix_pubsub_broadcasts_total");
    s.deliveries = metric_sum(ms, "fenix_pubsub_deliveries_total");
    return s;
  }

  void take_sample() {
    std::lock_guard<std::mutex> guard{mtx};
    previous = latest;
    latest = current_locked();
  }

  // -- answers -----------------------------------------------------------------

  std::optional<caf::actor_id> resolve(const std::string& x) const {
    if (all_digits(x)) {
      auto id = static_cast<caf::actor_id>(std::stoull(x));
      if (tree().find(id))
        return id;
    }
    return tree().find_by_name(x);
  }

  std::optional<json::value> tree_json(const std::string& root,
                                       size_t max_children) const {
    if (!root.empty()) {
      auto id = resolve(root);
      if (!id)
        return std::nullopt;
      auto info = tree().snapshot(*id);
      if (!info)
        return std::nullopt;
      return node_json(std::move(*info), max_children);
    }
    // The forest under one synthetic root, so clients always get a tree.
    actor_info top;
    top.id = 0;
    top.name = opts.root_name;
    top.kind = "system";
    top.started_at_ms = unix_ms(started_at);
    top.children = tree().snapshot();
    return node_json(std::move(top), max_children);
  }

  std::optional<json::value> actor_json(const std::string& x) const {
    auto id = resolve(x);
    if (!id)
      return std::nullopt;
    auto info = tree().snapshot(*id);
    if (!info)
      return std::nullopt;
    json::array kids;
    kids.reserve(info->children.size());
    for (auto& c : info->children)
      kids.push_back(json::object{{"id", c.id},
                                  {"name", c.name},
                                  {"kind", c.kind},
                                  {"state", to_string(c.state)},
                                  {"restarts", c.restarts}});
    info->children.clear();
    auto v = json::value_from(*info);
    auto& obj = v.as_object();
    obj["children_count"] = kids.size();
    obj["children"] = std::move(kids);
    obj["alive"] = static_cast<bool>(tree().handle(*id));
    return v;
  }

  json::value stats_json() const {
    sample now, prev, last;
    bool have_window = false;
    {
      std::lock_guard<std::mutex> guard{mtx};
      now = current_locked();
      if (previous && latest) {
        prev = *previous;
        last = *latest;
        have_window = true;
      } else if (latest) {
        prev = *latest;
        last = now;
        have_window = true;
      }
    }
    census c;
    for (auto& root : tree().snapshot())
      c.add(root);
    auto ms = metrics::global().collect();
    json::object o;
    o["connections"] = now.ep.connections;
    o["websockets"] = now.ep.websockets;
    o["longpoll_sessions"] = now.ep.longpoll_sessions;
    o["channels"] = metric_sum(ms, "fenix_channels");
    o["channel_servers"] = c.kinds["channel"];
    o["topics"] = c.topics.size();
    o["actors"] = c.actors;
    json::object kinds;
    for (auto& [k, n] : c.kinds)
      kinds[k] = n;
    o["actors_by_kind"] = std::move(kinds);
    double dt = have_window ? std::chrono::duration<double>(last.at - prev.at)
                                .count()
                            : 0.0;
    o["messages_in_per_s"]
      = have_window ? per_second(last.messages_in, prev.messages_in, dt) : 0.0;
    o["messages_out_per_s"]
      = have_window ? per_second(last.messages_out, prev.messages_out, dt)
                    : 0.0;
    o["broadcasts_per_s"]
      = have_window ? per_second(last.broadcasts, prev.broadcasts, dt) : 0.0;
    o["deliveries_per_s"]
      = have_window ? per_second(last.deliveries, prev.deliveries, dt) : 0.0;
    o["frames_in_per_s"] = have_window ? per_second(last.ep.frames_in,
                                                    prev.ep.frames_in, dt)
                                       : 0.0;
    o["frames_out_per_s"] = have_window ? per_second(last.ep.frames_out,
                                                     prev.ep.frames_out, dt)
                                        : 0.0;
    o["rate_window_s"] = dt;
    o["queue_drops"] = now.ep.queue_drops;
    json::object totals;
    totals["messages_in"] = now.messages_in;
    totals["messages_out"] = now.messages_out;
    totals["broadcasts"] = now.broadcasts;
    totals["deliveries"] = now.deliveries;
    totals["frames_in"] = now.ep.frames_in;
    totals["frames_out"] = now.ep.frames_out;
    totals["bytes_out"] = now.ep.bytes_out;
    totals["accepted"] = now.ep.accepted;
    totals["refused"] = now.ep.refused;
    totals["joins"] = metric_sum(ms, "fenix_channel_joins_total");
    totals["restarts"] = metric_sum(ms, "fenix_supervisor_restarts_total");
    totals["idle_timeouts"] = now.ep.idle_timeouts;
    totals["protocol_errors"] = now.ep.protocol_errors;
    o["totals"] = std::move(totals);
    o["started_at"] = unix_ms(started_at);
    o["uptime_s"] = std::chrono::duration<double>(clock_type::now()
                                                  - started_steady)
                      .count();
    return o;
  }

  std::string metrics_text() const {
    using ptype = prometheus_writer::type;
    prometheus_writer w;
    // 1. The process-wide registry (sorted by name, so families are
    //    contiguous; the first help text of a family wins).
    auto ms = metrics::global().collect();
    for (size_t i = 0; i < ms.size();) {
      auto& head = ms[i];
      w.family(head.name, head.help,
               head.type == metrics::kind::counter ? ptype::counter
                                                   : ptype::gauge);
      for (; i < ms.size() && ms[i].name == head.name; ++i)
        w.sample(prometheus_writer::parse_stored_labels(ms[i].labels),
                 ms[i].value);
    }
    // Families the layers register on first use, shown as 0 until then
    // (a series that appears late confuses rate() in Prometheus); skipped
    // by the writer when already written above.
    struct known {
      const char* name;
      const char* help;
      ptype type;
    };
    for (auto& k : {
           known{"fenix_channel_joins_total", "Successful channel joins",
                 ptype::counter},
           known{"fenix_channel_messages_in_total",
                 "Client events handled by channels", ptype::counter},
           known{"fenix_channel_messages_out_total",
                 "Replies and pushes written by channels", ptype::counter},
           known{"fenix_channels", "Joined channels now", ptype::gauge},
           known{"fenix_pubsub_broadcasts_total",
                 "Broadcasts dispatched on this node", ptype::counter},
           known{"fenix_pubsub_deliveries_total",
                 "Broadcast deliveries to subscribers", ptype::counter},
         }) {
      w.family(k.name, k.help, k.type);
      w.sample(int64_t{0});
    }
    // 2. Endpoint counters.
    transport::endpoint_stats ep;
    {
      std::lock_guard<std::mutex> guard{mtx};
      ep = endpoint_totals_locked();
    }
    auto one = [&w](const char* name, const char* help, ptype t, uint64_t v) {
      w.family(name, help, t);
      w.sample(static_cast<int64_t>(v));
    };
    one("fenix_connections", "Open connections (WebSockets and long-poll)",
        ptype::gauge, ep.connections);
    one("fenix_websockets", "Open WebSocket connections", ptype::gauge,
        ep.websockets);
    one("fenix_longpoll_sessions", "Live long-poll sessions", ptype::gauge,
        ep.longpoll_sessions);
    one("fenix_connections_accepted_total",
        "Connections accepted (WebSocket upgrades and long-poll sessions)",
        ptype::counter, ep.accepted);
    one("fenix_connections_refused_total",
        "Connects refused (origin, handler, limit)", ptype::counter,
        ep.refused);
    one("fenix_http_requests_total", "HTTP requests routed", ptype::counter,
        ep.http_requests);
    one("fenix_queue_drops_total",
        "Clients disconnected at the outbound queue limit", ptype::counter,
        ep.queue_drops);
    one("fenix_idle_timeouts_total", "Connections closed for idleness",
        ptype::counter, ep.idle_timeouts);
    one("fenix_protocol_errors_total",
        "Connections closed with 1002, 1007 or 1009", ptype::counter,
        ep.protocol_errors);
    one("fenix_frames_in_total", "Inbound data messages", ptype::counter,
        ep.frames_in);
    one("fenix_frames_out_total", "Frames written (data and control)",
        ptype::counter, ep.frames_out);
    one("fenix_bytes_out_total", "Bytes written to clients", ptype::counter,
        ep.bytes_out);
    one("fenix_writes_total", "Gather-writes issued", ptype::counter,
        ep.writes);
    one("fenix_direct_writes_total",
        "Gather-writes made by the thread that queued the frames, not the "
        "I/O thread", ptype::counter, ep.direct_writes);
    // 3. The tree: actors by kind, topics.
    census c;
    for (auto& root : tree().snapshot())
      c.add(root);
    w.family("fenix_actors", "Live actors in the supervision tree, by kind",
             ptype::gauge);
    for (auto& [k, n] : c.kinds)
      w.sample({{"kind", k}}, n);
    one("fenix_topics", "Distinct topics with a joined channel", ptype::gauge,
        c.topics.size());
    return w.str();
  }

  // -- routes ------------------------------------------------------------------

  void handle(const http_request& req, http_responder respond);

  void handle_kill(caf::actor_id id, http_responder respond);

  /// Runs `f` on the inspection thread; 503 when too much is queued.
  template <class F>
  void later(http_responder respond, F f) {
    auto ok = jobs->post([this, respond, f = std::move(f)] { f(respond); },
                         opts.max_pending);
    if (!ok)
      respond(error_response(503, "busy"));
  }

  std::shared_ptr<runtime> rt;
  options opts;
  std::chrono::system_clock::time_point started_at
    = std::chrono::system_clock::now();
  clock_type::time_point started_steady = clock_type::now();

  mutable std::mutex mtx;
  std::vector<const transport::endpoint*> endpoints;
  std::optional<sample> previous;
  std::optional<sample> latest;

  std::unique_ptr<worker> jobs; // last: its thread uses everything above
};

void inspector::state::handle(const http_request& req,
                              http_responder respond) {
  std::string_view rest{req.path};
  rest.remove_prefix(std::min(rest.size(), opts.prefix.size()));
  while (rest.size() > 1 && rest.back() == '/')
    rest.remove_suffix(1);
  bool get = req.method == "GET" || req.method == "HEAD";
  // The page carries no data, so it loads without the token (which it
  // then asks for); the peer check still applies.
  if (rest == "/dashboard") {
    auto v = opts.access.check(req, false);
    if (v != access_policy::verdict::allow)
      return respond(access_policy::refusal(v));
    if (!get)
      return respond(error_response(405, "method not allowed"));
    http_response res;
    res.headers.emplace_back("content-type", "text/html; charset=utf-8");
    res.headers.emplace_back("cache-control", "no-store");
    // Inline script and style only; fetches go to this origin only; no
    // framing (the page has kill buttons: no clickjacking).
    res.headers.emplace_back(
      "content-security-policy",
      "default-src 'none'; script-src 'unsafe-inline'; style-src "
      "'unsafe-inline'; connect-src 'self'; img-src data:; "
      "frame-ancestors 'none'");
    res.headers.emplace_back("x-frame-options", "DENY");
    res.headers.emplace_back("referrer-policy", "no-referrer");
    res.body = std::string{dashboard_html()};
    return respond(std::move(res));
  }
  auto v = opts.access.check(req);
  if (v != access_policy::verdict::allow)
    return respond(access_policy::refusal(v));
  if (rest.empty() || rest == "/") {
    if (!get)
      return respond(error_response(405, "method not allowed"));
    json::array routes{"GET " + opts.prefix + "/tree?root=&max_children=",
                       "GET " + opts.prefix + "/actors/<id>",
                       "POST " + opts.prefix + "/actors/<id>/kill",
                       "GET " + opts.prefix + "/stats",
                       "GET " + opts.prefix + "/dashboard"};
    return respond(json_response(json::object{{"routes", std::move(routes)}}));
  }
  if (rest == "/tree") {
    if (!get)
      return respond(error_response(405, "method not allowed"));
    auto root = query_param(req.query, "root").value_or("");
    size_t max_children = opts.default_max_children;
    if (auto m = query_param(req.query, "max_children"); m && all_digits(*m))
      max_children = std::stoull(*m);
    return later(std::move(respond),
                 [this, root, max_children](const http_responder& r) {
                   auto t = tree_json(root, max_children);
                   if (!t)
                     return r(error_response(404, "no such actor"));
                   r(json_response(*t));
                 });
  }
  if (rest == "/stats") {
    if (!get)
      return respond(error_response(405, "method not allowed"));
    return later(std::move(respond), [this](const http_responder& r) {
      r(json_response(stats_json()));
    });
  }
  constexpr std::string_view actors = "/actors/";
  if (rest.substr(0, actors.size()) == actors) {
    auto tail = rest.substr(actors.size());
    constexpr std::string_view kill = "/kill";
    if (tail.size() > kill.size()
        && tail.substr(tail.size() - kill.size()) == kill) {
      if (req.method != "POST") {
        auto res = error_response(405, "method not allowed");
        res.headers.emplace_back("allow", "POST");
        return respond(std::move(res));
      }
      auto x = std::string{tail.substr(0, tail.size() - kill.size())};
      auto id = resolve(x);
      if (!id)
        return respond(error_response(404, "no such actor"));
      return handle_kill(*id, std::move(respond));
    }
    if (!get)
      return respond(error_response(405, "method not allowed"));
    auto x = std::string{tail};
    return later(std::move(respond), [this, x](const http_responder& r) {
      auto a = actor_json(x);
      if (!a)
        return r(error_response(404, "no such actor"));
      r(json_response(*a));
    });
  }
  respond(error_response(404, "not found"));
}

void inspector::state::handle_kill(caf::actor_id id, http_responder respond) {
  auto hdl = tree().handle(id);
  if (!hdl)
    return respond(error_response(404, "no such actor"));
  FENIX_WARN("inspect", "killing actor #" << id << " on operator request");
  // Answer once the actor is gone (an actor busy in a handler dies only
  // after it: CAF does not pre-empt), or after 5 s with 202.
  json::object done{{"id", id}, {"killed", true}, {"reason", "kill"}};
  caf::actor_cast<caf::abstract_actor*>(hdl)->attach_functor(
    [respond, done] { respond(json_response(done)); });
  caf::anon_send_exit(hdl, caf::exit_reason::kill);
  jobs->post_at(clock_type::now() + std::chrono::seconds{5}, [respond, id] {
    respond(json_response(
      json::object{{"id", id}, {"killed", false}, {"pending", true}}, 202));
  });
}

// -- inspector -------------------------------------------------------------------

inspector::inspector(caf::actor_system& sys, options opts)
    : st_(std::make_shared<state>(sys, std::move(opts))) {
  // nop
}

inspector::~inspector() {
  // The routes may outlive this object (the endpoint owns copies; a leaked
  // connection may keep an endpoint's state alive), so the thread stops
  // here and not with the state: afterwards the routes answer 503. The
  // endpoints this object was told about may be gone too.
  st_->jobs->stop();
  std::lock_guard<std::mutex> guard{st_->mtx};
  st_->endpoints.clear();
}

void inspector::mount(transport::endpoint_config& cfg) const {
  auto st = st_;
  cfg.route(st->opts.prefix,
            [st](const http_request& req, http_responder respond) {
              st->handle(req, std::move(respond));
            });
  if (!st->opts.metrics_path.empty())
    cfg.route(st->opts.metrics_path,
              [st](const http_request& req, http_responder respond) {
                auto v = st->opts.metrics_access.check(req);
                if (v != access_policy::verdict::allow)
                  return respond(access_policy::refusal(v));
                if (req.method != "GET" && req.method != "HEAD")
                  return respond(error_response(405, "method not allowed"));
                st->later(std::move(respond),
                          [st = st.get()](const http_responder& r) {
                            http_response res;
                            res.headers.emplace_back(
                              "content-type", prometheus_writer::content_type);
                            res.headers.emplace_back("cache-control",
                                                     "no-store");
                            res.body = st->metrics_text();
                            r(std::move(res));
                          });
              });
}

void inspector::attach(const transport::endpoint& ep) {
  std::lock_guard<std::mutex> guard{st_->mtx};
  if (std::find(st_->endpoints.begin(), st_->endpoints.end(), &ep)
      == st_->endpoints.end())
    st_->endpoints.push_back(&ep);
}

void inspector::detach(const transport::endpoint& ep) {
  std::lock_guard<std::mutex> guard{st_->mtx};
  auto& v = st_->endpoints;
  v.erase(std::remove(v.begin(), v.end(), &ep), v.end());
}

std::optional<json::value> inspector::tree(const std::string& root,
                                           size_t max_children) const {
  return st_->tree_json(root, max_children);
}

std::optional<json::value> inspector::actor(const std::string& id) const {
  return st_->actor_json(id);
}

json::value inspector::stats() const {
  return st_->stats_json();
}

std::string inspector::metrics_text() const {
  return st_->metrics_text();
}

} // namespace fenix::inspection
