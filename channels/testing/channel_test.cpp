#include "channels/testing/channel_test.hpp"

#include <algorithm>
#include <iostream>

#include "channels/testing/detail/state.hpp"

namespace fenix::channels::testing {

namespace json = boost::json;
using detail::clock;
using detail::ms;
using detail::quote;
using detail::setup_timeout;

namespace {

std::string percent_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

} // namespace

caf::behavior detail::observer(caf::event_based_actor*,
                               std::shared_ptr<inbox> box) {
  return {
      [box](broadcast_atom, const broadcast_msg& msg) {
        box->add_broadcast(
            observed_broadcast{msg.topic, msg.event,
                               msg.payload ? *msg.payload : message_payload{}});
      },
  };
}

// -- state -------------------------------------------------------------------

void channel_test::impl::start(fenix::system& s) {
  sys = &s;
  auto [p, ps_spec] = channels::pubsub::make(opts.name, opts.pubsub_shards);
  ps = p;
  std::vector<child_spec> children;
  children.push_back(std::move(ps_spec));
  if (opts.presence) {
    auto [pp, pr_spec] = channels::presence::make(opts.name, ps);
    pr = pp;
    children.push_back(std::move(pr_spec));
  }
  supervisor_flags dyn;
  dyn.dynamic = true;
  dyn.name = "app";
  children.push_back(supervisor_spec("app", dyn, {}));
  auto [pl, pool_spec] =
      channel_pool::make("channels", opts.channel_partitions);
  pool = pl;
  children.push_back(std::move(pool_spec));
  dyn.name = "connections";
  children.push_back(supervisor_spec("connections", dyn, {}));
  supervisor_flags flags;
  flags.name = opts.name;
  auto started =
      start_supervisor(sys->sys(), flags, std::move(children), setup_timeout);
  if (!started)
    throw failure("channel_test: cannot start its supervisor: " +
                  sys->sys().render(started.error()));
  sup = *started;
  self = std::make_unique<caf::scoped_actor>(sys->sys(), true);
  supervisor_ref ref{sys->sys(), sup, setup_timeout};
  app = ref.child("app");
  conns = ref.child("connections");
  observer = sys->sys().spawn(detail::observer, box);
}

void channel_test::impl::stop() {
  if (observer)
    caf::anon_send_exit(observer, caf::exit_reason::user_shutdown);
  if (sup && !self)
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  if (sup && self) {
    (*self)->monitor(sup);
    (*self)->send_exit(sup, caf::exit_reason::user_shutdown);
    if (!await_down({sup.address()}, clock::now() + setup_timeout))
      std::cerr << "channel_test: its supervisor did not stop within "
                << ms(setup_timeout) << "\n";
  }
  // Channel handles in the inbox and the outlets channels hold would
  // keep each other alive.
  std::map<std::pair<size_t, std::string>, caf::actor> chans;
  box->locked([&] { chans.swap(box->channels); });
}

bool channel_test::impl::await_down(std::vector<caf::actor_addr> pending,
                                    clock::time_point deadline) {
  while (!pending.empty()) {
    auto left = std::chrono::duration_cast<duration>(deadline - clock::now());
    if (left <= duration::zero())
      return false;
    bool timed_out = false;
    (*self)->receive(
        [&](caf::down_msg& dm) {
          pending.erase(std::remove(pending.begin(), pending.end(), dm.source),
                        pending.end());
        },
        caf::after(left) >> [&] { timed_out = true; });
    if (timed_out)
      return false;
  }
  return true;
}

const serializer& channel_test::impl::ser_of(const test_socket& s) const {
  auto i = sers.find(s.id());
  if (i == sers.end())
    throw failure("not a socket of this channel_test");
  return *i->second;
}

void channel_test::impl::send(const test_socket& s, const json::value& join_ref,
                              const json::value& ref, const std::string& topic,
                              const std::string& event,
                              const json::value& payload) {
  std::string text;
  if (ser_of(s).version() == "1.0.0") {
    json::object obj{
        {"topic", topic}, {"event", event}, {"payload", payload}, {"ref", ref}};
    if (!join_ref.is_null())
      obj["join_ref"] = join_ref;
    text = json::serialize(obj);
  } else {
    text = json::serialize(json::array{join_ref, ref, json::value(topic),
                                       json::value(event), payload});
  }
  caf::anon_send(s.connection(), detail::text_atom::value, std::move(text));
}

json::value channel_test::impl::join_ref_of(const test_socket& s,
                                            const std::string& topic) {
  auto i = join_refs.find({s.id(), topic});
  return i == join_refs.end() ? json::value{} : i->second;
}

// -- construction ------------------------------------------------------------

channel_test::channel_test(options opts)
    : channel_test(nullptr, std::move(opts)) {
  // nop
}

channel_test::channel_test(std::shared_ptr<user_socket> us, options opts)
    : impl_(std::make_unique<impl>()) {
  impl_->opts = std::move(opts);
  impl_->us = std::move(us);
  impl_->own_cfg = std::make_unique<fenix::config>();
  impl_->own_sys = std::make_unique<fenix::system>(*impl_->own_cfg);
  start(*impl_->own_sys);
}

channel_test::channel_test(fenix::system& sys, options opts)
    : channel_test(sys, nullptr, std::move(opts)) {
  // nop
}

channel_test::channel_test(fenix::system& sys, std::shared_ptr<user_socket> us,
                           options opts)
    : impl_(std::make_unique<impl>()) {
  impl_->opts = std::move(opts);
  impl_->us = std::move(us);
  start(sys);
}

void channel_test::start(fenix::system& sys) {
  try {
    impl_->start(sys);
  } catch (...) {
    // No destructor runs for a constructor that throws.
    impl_->stop();
    throw;
  }
}

channel_test::~channel_test() {
  impl_->stop();
}

// -- the environment ---------------------------------------------------------

fenix::system& channel_test::system() noexcept {
  return *impl_->sys;
}

const channels::pubsub& channel_test::pubsub() const noexcept {
  return impl_->ps;
}

const channels::presence& channel_test::presence() const {
  if (!impl_->pr)
    throw failure("channel_test: no Presence (set options::presence)");
  return impl_->pr;
}

const channel_pool& channel_test::pool() const noexcept {
  return impl_->pool;
}

const caf::actor& channel_test::supervisor() const noexcept {
  return impl_->sup;
}

const options& channel_test::opts() const noexcept {
  return impl_->opts;
}

caf::actor channel_test::start_child(child_spec spec) {
  auto id = spec.id;
  supervisor_ref ref{impl_->sys->sys(), impl_->app, setup_timeout};
  auto started = ref.start_child(std::move(spec));
  if (!started)
    throw failure("start_child(" + quote(id) + "): " + render(started.error()));
  return *started;
}

void channel_test::use_socket(std::shared_ptr<user_socket> us) {
  impl_->us = std::move(us);
}

caf::scoped_actor& channel_test::self() {
  return *impl_->self;
}

std::string channel_test::render(const caf::error& err) {
  return impl_->sys->sys().render(err);
}

// -- connections -------------------------------------------------------------

test_socket channel_test::connect(json::object params,
                                  transport::connect_info info) {
  auto shown = json::serialize(params);
  auto s = try_connect(std::move(params), std::move(info));
  if (!s)
    throw failure("connect(" + shown + ") was refused");
  return std::move(*s);
}

std::optional<test_socket>
channel_test::try_connect(json::object params, transport::connect_info info) {
  auto& d = *impl_;
  if (!d.us)
    throw failure("connect: no user socket (pass one to the constructor or "
                  "call use_socket)");
  std::vector<transport::params::value_type> kv;
  for (auto& kvp : params) {
    auto& v = kvp.value();
    if (v.is_object() || v.is_array())
      throw failure("connect: params are query parameters, " +
                    quote(kvp.key()) + " must be a string, number or boolean");
    kv.emplace_back(std::string{kvp.key()}, v.is_string()
                                                ? std::string{v.get_string()}
                                                : json::serialize(v));
  }
  if (std::none_of(kv.begin(), kv.end(),
                   [](auto& x) { return x.first == "vsn"; }))
    kv.emplace_back("vsn", "2.0.0");
  transport::params ps{kv};
  if (info.transport.empty())
    info.transport = "websocket";
  if (info.path.empty())
    info.path = "/socket/websocket";
  if (info.peer_address.empty())
    info.peer_address = "127.0.0.1";
  if (info.query.empty())
    for (auto& [k, v] : kv)
      info.query += (info.query.empty() ? "" : "&") + percent_encode(k) + "=" +
                    percent_encode(v);
  auto ser = negotiate(std::string_view{*ps.get("vsn")});
  if (!ser)
    return std::nullopt; // the factory refuses it too
  transport::socket_handler_ptr handler;
  try {
    handler = phoenix_handler_factory(d.us, d.ps, d.pool)(ps, info);
  } catch (const std::exception& e) {
    // The transport refuses a connect whose factory threw; a test should
    // hear why.
    throw failure("connect: the socket handler factory threw: " +
                  std::string{e.what()});
  }
  if (!handler)
    return std::nullopt;
  auto id = ++d.sockets;
  d.sers.emplace(id, ser);
  // What a connection keeps of its connect info.
  info.headers.clear();
  info.query.clear();
  auto conn = detail::spawn_test_connection(d.sys->sys(), std::move(handler),
                                            std::move(info), *ser, d.box, id);
  child_spec spec;
  spec.id = "connection #" + std::to_string(conn.id());
  spec.kind = "connection";
  spec.restart = restart_type::temporary;
  spec.ack = start_ack::adopt;
  spec.shutdown = shutdown_spec::after(duration{5000});
  spec.start = [conn](caf::actor_system&) -> caf::expected<caf::actor> {
    return conn;
  };
  supervisor_ref ref{d.sys->sys(), d.conns, setup_timeout};
  if (auto started = ref.start_child(std::move(spec)); !started) {
    caf::anon_send_exit(conn, caf::exit_reason::kill);
    throw failure("connect: the connections supervisor refused the "
                  "connection: " +
                  render(started.error()));
  }
  return test_socket{id, conn};
}

void channel_test::close(const test_socket& s,
                         std::optional<duration> timeout) {
  auto& d = *impl_;
  auto t = d.or_default(timeout);
  std::vector<caf::actor> chans;
  d.box->locked([&] {
    for (auto& [key, chan] : d.box->channels)
      if (key.first == s.id())
        chans.push_back(chan);
  });
  std::vector<caf::actor_addr> pending{s.connection().address()};
  (*d.self)->monitor(s.connection());
  for (auto& c : chans) {
    (*d.self)->monitor(c);
    pending.push_back(c.address());
  }
  caf::anon_send(s.connection(), detail::close_atom::value, uint16_t{1000},
                 std::string{},
                 static_cast<uint8_t>(transport::closed_by::client));
  if (!d.await_down(pending, clock::now() + t))
    throw failure("close: socket " + std::to_string(s.id()) +
                  " or one of its channels still runs after " + ms(t));
}

transport::close_info
channel_test::assert_closed(const test_socket& s,
                            std::optional<duration> timeout) {
  auto& d = *impl_;
  auto t = d.or_default(timeout);
  std::optional<transport::close_info> out;
  d.box->await(clock::now() + t, [&] {
    auto i = d.box->closes.find(s.id());
    if (i == d.box->closes.end())
      return false;
    out = i->second;
    return true;
  });
  if (!out)
    throw failure("assert_closed: socket " + std::to_string(s.id()) +
                  " still open after " + ms(t));
  return std::move(*out);
}

// -- client messages ---------------------------------------------------------

json::value channel_test::make_ref() {
  return json::value(std::to_string(++impl_->refs));
}

client_frame channel_test::join(const test_socket& s, const std::string& topic,
                                const json::value& payload,
                                std::optional<duration> timeout) {
  auto& d = *impl_;
  auto ref = make_ref();
  d.join_refs[{s.id(), topic}] = ref;
  d.send(s, ref, ref, topic, "phx_join", payload);
  return d.await_reply(ref, "join(" + quote(topic) + ")", s.id(), timeout);
}

client_frame channel_test::subscribe_and_join(const test_socket& s,
                                              const std::string& topic,
                                              const json::value& payload,
                                              std::optional<duration> timeout) {
  subscribe(topic);
  return join(s, topic, payload, timeout);
}

json::value channel_test::push(const test_socket& s, const std::string& topic,
                               const std::string& event,
                               const json::value& payload) {
  auto& d = *impl_;
  auto ref = make_ref();
  d.send(s, d.join_ref_of(s, topic), ref, topic, event, payload);
  return ref;
}

json::value channel_test::push_binary(const test_socket& s,
                                      const std::string& topic,
                                      const std::string& event,
                                      std::string bytes) {
  auto& d = *impl_;
  if (d.ser_of(s).version() != "2.0.0")
    throw failure("push_binary: binary frames need a V2 socket");
  auto ref = make_ref();
  auto frame =
      encode_client_binary(d.join_ref_of(s, topic), ref, topic, event, bytes);
  if (!frame)
    throw failure("push_binary: " + frame.error().reason);
  caf::anon_send(s.connection(), detail::binary_atom::value, std::move(*frame));
  return ref;
}

client_frame channel_test::leave(const test_socket& s, const std::string& topic,
                                 std::optional<duration> timeout) {
  auto& d = *impl_;
  auto ref = make_ref();
  d.send(s, d.join_ref_of(s, topic), ref, topic, "phx_leave", json::object{});
  d.join_refs.erase({s.id(), topic});
  return d.await_reply(ref, "leave(" + quote(topic) + ")", s.id(), timeout);
}

client_frame channel_test::heartbeat(const test_socket& s,
                                     std::optional<duration> timeout) {
  auto& d = *impl_;
  auto ref = make_ref();
  d.send(s, nullptr, ref, "phoenix", "heartbeat", json::object{});
  return d.await_reply(ref, "heartbeat", s.id(), timeout);
}

void channel_test::send_text(const test_socket& s, std::string text) {
  caf::anon_send(s.connection(), detail::text_atom::value, std::move(text));
}

} // namespace fenix::channels::testing
