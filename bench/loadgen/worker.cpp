//
// fenix_loadgen worker: client connections speaking Phoenix V2 over
// WebSocket, driven by line commands from the coordinator.
//
// Why it looks the way it does: the load generator must cost less CPU than
// the server it loads, so
//  - one io_context on one thread per process (concurrency hint 1: no locks,
//    no strands; every handler runs on that thread),
//  - Beast only for the HTTP upgrade; after that frames are parsed straight
//    out of the read buffer (several per read) and client frames are
//    pre-encoded byte strings with a zero masking key,
//  - writes are coalesced: whatever is queued while a write is in flight
//    leaves in the next single write,
//  - per-connection state is a few words plus the socket and read buffer.
//
#include "worker.hpp"

#include "histogram.hpp"
#include "wire.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <netinet/in.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace loadgen
{

namespace
{

// CLOCK_MONOTONIC: comparable across processes on one machine, so a receiver
// can subtract a timestamp written by the sender in another process.
std::int64_t
now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

class worker;

//------------------------------------------------------------------------------

// One client connection. Owned by the worker for the whole run (churners
// reuse theirs for every cycle), so handlers may hold a plain pointer; a
// generation number makes handlers of a closed socket harmless.
struct connection
{
    enum class state : std::uint8_t
    {
        idle, connecting, joining, joined, leaving, closed
    };

    worker& w;
    tcp::socket sock;
    beast::flat_buffer buf;
    std::unique_ptr<http::response_parser<http::empty_body>> parser;
    std::string out;     // frames waiting for the next write
    std::string writing; // frames of the write in flight
    std::string frag;    // a fragmented message being reassembled (rare)
    std::uint32_t gen = 0;
    std::uint32_t local = 0; // index in the worker
    state st = state::idle;
    bool is_sender = false;
    bool is_churner = false;
    bool write_busy = false;
    bool in_connect_batch = false;
    std::uint32_t inflight = 0; // echo pings outstanding
    std::uint32_t pings_due = 0; // echo pings to send after this read batch
    std::uint64_t next_ref = 10;
    std::int64_t t_start = 0, t_joined = 0, t_leave = 0;
    // What this connection received of the tracked shouts (churn check).
    std::int64_t first_seq = 0, last_seq = 0, count = 0, gaps = 0;
    std::unique_ptr<net::steady_timer> hold; // churners only

    connection(worker& wk, net::io_context& ioc) : w(wk), sock(ioc) {}

    void on_connect(std::uint32_t g, beast::error_code ec);
    void on_upgrade_sent(std::uint32_t g, beast::error_code ec, std::size_t);
    void on_upgrade_read(std::uint32_t g, beast::error_code ec, std::size_t);
    void do_read();
    void on_read(std::uint32_t g, beast::error_code ec, std::size_t n);
    void flush();
    void on_write(std::uint32_t g, beast::error_code ec, std::size_t);
};

//------------------------------------------------------------------------------

class worker
{
public:
    explicit worker(worker_options const& opt)
        : opt_(opt)
        , ioc_(1)
        , cmd_(ioc_, opt.cmd_fd)
        , heartbeat_(ioc_)
        , await_timer_(ioc_)
        , rate_timer_(ioc_)
        , echo_timer_(ioc_)
        , churn_timer_(ioc_)
        , rng_(static_cast<unsigned>(opt.id * 7919 + 1))
    {
        server_ = tcp::endpoint(net::ip::make_address(opt.host), opt.port);
        upgrade_ = "GET " + opt.path + " HTTP/1.1\r\n"
                   "Host: " + opt.host + ":" + std::to_string(opt.port) +
                   "\r\n"
                   "Upgrade: websocket\r\n"
                   "Connection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n"
                   "User-Agent: fenix-loadgen\r\n\r\n";
        auto const t = "\"" + opt.topic + "\"";
        ws::append_frame(join_frame_, ws::text,
                         "[\"1\",\"1\"," + t + ",\"phx_join\",{}]");
        ws::append_frame(leave_frame_, ws::text,
                         "[\"1\",\"2\"," + t + ",\"phx_leave\",{}]");
        ws::append_frame(heartbeat_frame_, ws::text,
                         "[null,\"3\",\"phoenix\",\"heartbeat\",{}]");
        ws::append_frame(close_frame_, ws::close, "\x03\xe8"); // 1000
        ping_prefix_ = "[\"1\",\"";
        ping_mid_ = "\"," + t + ",\"ping\",{\"ts\":";
        shout_mid_ = "\"," + t + ",\"shout\",{\"seq\":";
    }

    int run()
    {
        read_command();
        arm_heartbeat();
        ioc_.run();
        return 0;
    }

    // -- called by connections ---------------------------------------------

    void start_connect(connection& c);
    void conn_failed(connection& c, std::uint64_t& counter);
    void on_joined(connection& c);
    void on_text(connection& c, std::string_view text);

    std::string const& upgrade() const { return upgrade_; }
    std::string const& join_frame() const { return join_frame_; }

    struct error_counts
    {
        std::uint64_t connect = 0, handshake = 0, join = 0, closed = 0,
                      protocol = 0, channel = 0;
    } errors;

private:
    // -- commands ----------------------------------------------------------

    void read_command()
    {
        net::async_read_until(
            cmd_, cmd_buf_, '\n',
            [this](beast::error_code ec, std::size_t n)
            {
                if(ec) // the coordinator is gone: so are we
                    return stop();
                std::string line(
                    net::buffers_begin(cmd_buf_.data()),
                    net::buffers_begin(cmd_buf_.data()) + n - 1);
                cmd_buf_.consume(n);
                execute(line);
                read_command();
            });
    }

    void reply(std::string const& block)
    {
        std::string s = block;
        if(s.empty() || s.back() != '\n')
            s += '\n';
        s += ".\n";
        std::size_t off = 0;
        while(off < s.size())
        {
            auto const r = ::write(opt_.out_fd, s.data() + off, s.size() - off);
            if(r <= 0)
                return stop();
            off += static_cast<std::size_t>(r);
        }
    }

    void execute(std::string const& line);
    void cmd_connect(std::uint32_t count, std::uint32_t inflight,
                     std::uint32_t base);
    void cmd_keep(std::uint32_t count);
    void cmd_shout(std::int64_t seq);
    void cmd_track(std::int64_t first);
    void cmd_await(std::int64_t first, std::int64_t last, int timeout_ms);
    void cmd_rate(double per_s, int duration_ms, std::int64_t first);
    void cmd_echo(std::uint32_t inflight, int duration_ms, std::uint32_t max);
    void cmd_churn(std::uint32_t churners, int duration_ms, int hold_min,
                   int hold_max, std::uint32_t base, double rate,
                   std::int64_t first);
    std::string rusage_line();

    void stop()
    {
        for(auto& c : conns_)
            close_conn(*c);
        ioc_.stop();
    }

    // -- helpers -----------------------------------------------------------

    void close_conn(connection& c)
    {
        if(c.st == connection::state::joined ||
           c.st == connection::state::leaving)
            --joined_;
        beast::error_code ignored;
        if(c.sock.is_open())
        {
            // Say goodbye politely if nothing is being written; the server
            // does not need it, but it keeps its logs quiet.
            // Never block here: non-blocking, and skipped if a write is
            // still in flight.
            c.sock.non_blocking(true, ignored);
            if(!c.write_busy && c.st != connection::state::connecting &&
               c.st != connection::state::idle)
                c.sock.write_some(net::buffer(close_frame_), ignored);
            c.sock.close(ignored);
        }
        ++c.gen;
        c.st = connection::state::closed;
        c.out.clear();
        c.writing.clear();
        c.frag.clear();
        c.write_busy = false;
        c.inflight = 0;
        c.pings_due = 0;
        c.buf.clear();
        c.parser.reset();
    }

    void send_ping(connection& c)
    {
        scratch_ = ping_prefix_;
        v2::append_uint(scratch_, c.next_ref++);
        scratch_ += ping_mid_;
        v2::append_uint(scratch_, static_cast<std::uint64_t>(now_ns()));
        scratch_ += "}]";
        ws::append_frame(c.out, ws::text, scratch_);
        ++c.inflight;
    }

    void send_shout(connection& c, std::int64_t seq)
    {
        auto const t = now_ns();
        scratch_ = ping_prefix_;
        v2::append_uint(scratch_, c.next_ref++);
        scratch_ += shout_mid_;
        v2::append_uint(scratch_, static_cast<std::uint64_t>(seq));
        scratch_ += ",\"ts\":";
        v2::append_uint(scratch_, static_cast<std::uint64_t>(t));
        scratch_ += "}]";
        ws::append_frame(c.out, ws::text, scratch_);
        c.flush();
        if(static_cast<std::size_t>(seq) >= timeline_.size())
            timeline_.resize(static_cast<std::size_t>(seq) + 1024, {0, 0});
        timeline_[static_cast<std::size_t>(seq)].first = t;
    }

    void on_shout(connection& c, std::int64_t seq, std::int64_t ts);
    void on_ping_reply(connection& c, std::int64_t ts);
    void on_leave_reply(connection& c);
    void check_await();
    void rate_tick();
    void connect_batch_done(connection& c, bool ok);
    void churn_cycle(connection& c);
    void churn_finish();
    void echo_check_done();
    void queue_ping(connection& c);
    void send_due_pings();

    void arm_heartbeat()
    {
        // phoenix.js sends a heartbeat every 30 s; one shared timer sends
        // them for 1/30 of the connections each second.
        heartbeat_.expires_after(std::chrono::seconds(1));
        heartbeat_.async_wait(
            [this](beast::error_code ec)
            {
                if(ec)
                    return;
                auto const slot = hb_tick_++ % 30;
                for(std::size_t i = slot; i < conns_.size(); i += 30)
                {
                    auto& c = *conns_[i];
                    if(c.st == connection::state::joined)
                    {
                        c.out += heartbeat_frame_;
                        c.flush();
                    }
                }
                arm_heartbeat();
            });
    }

    worker_options opt_;
    net::io_context ioc_;
    net::posix::stream_descriptor cmd_;
    net::streambuf cmd_buf_;
    tcp::endpoint server_;
    std::string upgrade_, join_frame_, leave_frame_, heartbeat_frame_,
        close_frame_, ping_prefix_, ping_mid_, shout_mid_, scratch_;
    std::vector<std::unique_ptr<connection>> conns_;
    std::uint64_t joined_ = 0; // connections currently joined
    std::uint32_t src_counter_ = 0;
    std::uint64_t hb_tick_ = 0;
    net::steady_timer heartbeat_;

    // connect batch
    bool batch_active_ = false;
    std::size_t batch_next_ = 0, batch_end_ = 0;
    std::uint64_t batch_ok_ = 0, batch_failed_ = 0, batch_left_ = 0;
    std::int64_t batch_first_ = 0, batch_last_ = 0;
    histogram join_hist_;

    // shout receipts since "track"
    std::int64_t track_first_ = 1;
    std::uint64_t recv_count_ = 0;
    std::int64_t last_receipt_ = 0;
    histogram recv_hist_;
    // sender timeline: seq -> (sent, echoed back to the sender)
    std::vector<std::pair<std::int64_t, std::int64_t>> timeline_;

    // await
    bool await_active_ = false;
    std::uint64_t await_expected_ = 0;
    net::steady_timer await_timer_;

    // rate
    bool rate_active_ = false;
    double rate_per_s_ = 0;
    std::int64_t rate_start_ = 0, rate_end_ = 0, rate_first_ = 0;
    std::int64_t rate_next_ = 0, rate_planned_ = 0;
    bool rate_replies_ = true; // false while part of a churn run
    net::steady_timer rate_timer_;

    // echo
    bool echo_active_ = false, echo_draining_ = false;
    std::int64_t echo_deadline_ = 0;
    std::uint64_t echo_in_window_ = 0, echo_total_ = 0, echo_outstanding_ = 0;
    histogram echo_hist_;
    net::steady_timer echo_timer_;
    std::vector<std::pair<connection*, std::uint32_t>> pings_due_; // (conn, gen)
    bool pings_posted_ = false;

    // churn
    bool churn_active_ = false, churn_running_ = false;
    int hold_min_ = 0, hold_max_ = 0;
    std::uint64_t churn_cycles_ = 0, churn_join_fail_ = 0;
    std::size_t churn_begin_ = 0; // first churner in conns_
    std::ostringstream churn_records_;
    net::steady_timer churn_timer_;
    std::minstd_rand rng_;
};

//------------------------------------------------------------------------------
// connection

void
connection::on_connect(std::uint32_t g, beast::error_code ec)
{
    if(g != gen)
        return;
    if(ec)
        return w.conn_failed(*this, w.errors.connect);
    beast::error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);
    // The upgrade request is the same bytes for every connection.
    net::async_write(
        sock, net::buffer(w.upgrade()),
        beast::bind_front_handler(&connection::on_upgrade_sent, this, gen));
}

void
connection::on_upgrade_sent(std::uint32_t g, beast::error_code ec, std::size_t)
{
    if(g != gen)
        return;
    if(ec)
        return w.conn_failed(*this, w.errors.handshake);
    parser = std::make_unique<http::response_parser<http::empty_body>>();
    http::async_read(
        sock, buf, *parser,
        beast::bind_front_handler(&connection::on_upgrade_read, this, gen));
}

void
connection::on_upgrade_read(std::uint32_t g, beast::error_code ec, std::size_t)
{
    if(g != gen)
        return;
    if(ec)
        return w.conn_failed(*this, w.errors.handshake);
    auto const& res = parser->get();
    // The key is fixed, so the accept value is too (RFC 6455 example).
    bool const ok =
        res.result() == http::status::switching_protocols &&
        res[http::field::sec_websocket_accept] ==
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
    parser.reset();
    if(!ok)
        return w.conn_failed(*this, w.errors.handshake);
    st = state::joining;
    out += w.join_frame();
    flush();
    // Bytes read past the HTTP response are already WebSocket frames.
    if(buf.size() > 0)
        return on_read(gen, {}, 0);
    do_read();
}

void
connection::do_read()
{
    sock.async_read_some(
        buf.prepare(4096),
        beast::bind_front_handler(&connection::on_read, this, gen));
}

void
connection::on_read(std::uint32_t g, beast::error_code ec, std::size_t n)
{
    if(g != gen)
        return;
    if(ec)
        return w.conn_failed(*this, w.errors.closed);
    buf.commit(n);
    auto const data = buf.data();
    auto* p = static_cast<char*>(data.data());
    std::size_t const size = data.size();
    std::size_t off = 0;
    ws::frame f;
    for(;;)
    {
        auto const r = ws::parse_frame(p + off, size - off, f);
        if(r < 0)
            return w.conn_failed(*this, w.errors.protocol);
        if(r == 0)
            break;
        off += static_cast<std::size_t>(r);
        switch(f.op)
        {
        case ws::text:
        case ws::cont:
            if(f.fin && f.op == ws::text)
                w.on_text(*this, f.payload);
            else
            {
                frag.append(f.payload.data(), f.payload.size());
                if(f.fin)
                {
                    std::string whole;
                    whole.swap(frag);
                    w.on_text(*this, whole);
                }
            }
            break;
        case ws::ping:
            ws::append_frame(out, ws::pong, f.payload);
            flush();
            break;
        case ws::close:
            return w.conn_failed(*this, w.errors.closed);
        default:
            break;
        }
        if(g != gen) // a handler closed this connection
            return;
    }
    buf.consume(off);
    do_read();
}

void
connection::flush()
{
    if(write_busy || out.empty() || !sock.is_open())
        return;
    write_busy = true;
    writing.swap(out);
    net::async_write(
        sock, net::buffer(writing),
        beast::bind_front_handler(&connection::on_write, this, gen));
}

void
connection::on_write(std::uint32_t g, beast::error_code ec, std::size_t)
{
    if(g != gen)
        return;
    write_busy = false;
    writing.clear();
    if(ec)
        return w.conn_failed(*this, w.errors.closed);
    flush();
}

//------------------------------------------------------------------------------
// worker: connecting and joining

void
worker::start_connect(connection& c)
{
    ++c.gen;
    c.st = connection::state::connecting;
    c.t_start = now_ns();
    c.first_seq = c.last_seq = c.count = c.gaps = 0;
    c.next_ref = 10;
    beast::error_code ec;
    c.sock = tcp::socket(ioc_);
    c.sock.open(tcp::v4(), ec);
    if(!ec)
    {
        int one = 1;
        c.sock.set_option(net::socket_base::reuse_address(true), ec);
        // Let connect() pick the port per destination, so one source address
        // is not limited by bind()'s port search.
        ::setsockopt(c.sock.native_handle(), IPPROTO_IP,
                     IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        // Spread clients over 127.0.0.2, 127.0.0.3, ...: each source address
        // has its own ~28k ephemeral ports.
        auto const n = static_cast<std::uint32_t>(opt_.src_addrs);
        auto const a = 2 + (src_counter_++ + 7u * opt_.id) % n;
        net::ip::address_v4::bytes_type b{{127, 0, static_cast<unsigned char>(
            a >> 8), static_cast<unsigned char>(a & 0xff)}};
        c.sock.bind(tcp::endpoint(net::ip::address_v4(b), 0), ec);
    }
    if(ec)
    {
        // Report the failure from a fresh turn of the loop, never from
        // inside the caller's own bookkeeping.
        net::post(ioc_, [this, &c, g = c.gen]
                  {
                      if(g == c.gen)
                          conn_failed(c, errors.connect);
                  });
        return;
    }
    c.sock.async_connect(
        server_, beast::bind_front_handler(&connection::on_connect, &c, c.gen));
}

void
worker::conn_failed(connection& c, std::uint64_t& counter)
{
    auto const was = c.st;
    bool const batch = c.in_connect_batch;
    // A churner that is already leaving may see the server close first.
    if(!(c.is_churner && was == connection::state::leaving))
        ++counter;
    if(c.inflight && echo_outstanding_ >= c.inflight)
        echo_outstanding_ -= c.inflight;
    close_conn(c);
    if(batch)
        connect_batch_done(c, false);
    if(c.is_churner)
    {
        if(was == connection::state::connecting ||
           was == connection::state::joining)
            ++churn_join_fail_;
        churn_cycle(c);
    }
    if(echo_active_ || echo_draining_)
        echo_check_done();
    check_await();
}

void
worker::on_joined(connection& c)
{
    c.st = connection::state::joined;
    c.t_joined = now_ns();
    ++joined_;
    if(c.in_connect_batch)
    {
        join_hist_.record(c.t_joined - c.t_start);
        connect_batch_done(c, true);
    }
    if(c.is_churner)
    {
        // Stay joined for a random while, then leave.
        std::uniform_int_distribution<int> d(hold_min_, hold_max_);
        c.hold->expires_after(std::chrono::milliseconds(d(rng_)));
        c.hold->async_wait(
            [this, &c, g = c.gen](beast::error_code ec)
            {
                if(ec || g != c.gen || c.st != connection::state::joined)
                    return;
                c.st = connection::state::leaving;
                c.t_leave = now_ns();
                c.out += leave_frame_;
                c.flush();
            });
    }
}

void
worker::connect_batch_done(connection& c, bool ok)
{
    c.in_connect_batch = false;
    if(ok)
    {
        ++batch_ok_;
        batch_last_ = std::max(batch_last_, c.t_joined);
    }
    else
        ++batch_failed_;
    --batch_left_;
    if(batch_next_ < batch_end_)
    {
        auto& n = *conns_[batch_next_++];
        n.in_connect_batch = true;
        start_connect(n);
    }
    if(batch_active_ && batch_left_ == 0)
    {
        batch_active_ = false;
        std::ostringstream os;
        os << "connected " << batch_ok_ << ' ' << batch_failed_ << ' '
           << batch_first_ << ' ' << batch_last_ << '\n'
           << "h " << join_hist_.encode();
        reply(os.str());
    }
}

//------------------------------------------------------------------------------
// worker: what arrives

void
worker::on_text(connection& c, std::string_view text)
{
    v2::message m;
    if(!v2::parse(text, m))
    {
        ++errors.protocol;
        return;
    }
    if(m.event == "shout")
    {
        std::int64_t seq = 0, ts = 0;
        if(v2::find_int(m.payload, "\"seq\"", seq) &&
           v2::find_int(m.payload, "\"ts\"", ts))
            on_shout(c, seq, ts);
        return;
    }
    if(m.event == "phx_reply")
    {
        if(m.topic == "phoenix") // heartbeat
            return;
        bool const ok = v2::reply_status(m.payload) == "ok";
        if(m.ref == "1") // our join
        {
            if(c.st != connection::state::joining)
                return;
            if(!ok)
                return conn_failed(c, errors.join);
            return on_joined(c);
        }
        if(m.ref == "2")
            return on_leave_reply(c);
        std::int64_t ts = 0;
        if(!ok || !v2::find_int(m.payload, "\"ts\"", ts))
        {
            ++errors.channel;
            return;
        }
        return on_ping_reply(c, ts);
    }
    if(m.event == "phx_error")
        ++errors.channel;
    // phx_close follows our own leave; anything else is not ours to check.
}

void
worker::on_shout(connection& c, std::int64_t seq, std::int64_t ts)
{
    auto const t = now_ns();
    if(c.is_sender && seq > 0 &&
       static_cast<std::size_t>(seq) < timeline_.size())
        timeline_[static_cast<std::size_t>(seq)].second = t;
    // Per connection: shouts arrive in order; a jump is a loss.
    if(c.first_seq == 0)
        c.first_seq = seq;
    else if(seq > c.last_seq + 1)
        c.gaps += seq - c.last_seq - 1;
    c.last_seq = seq;
    ++c.count;
    if(seq >= track_first_)
    {
        ++recv_count_;
        recv_hist_.record(t - ts);
        last_receipt_ = t;
        if(await_active_ && recv_count_ >= await_expected_)
            check_await();
    }
}

void
worker::on_ping_reply(connection& c, std::int64_t ts)
{
    auto const t = now_ns();
    echo_hist_.record(t - ts);
    ++echo_total_;
    if(c.inflight)
        --c.inflight;
    if(echo_outstanding_)
        --echo_outstanding_;
    if(echo_active_ && t < echo_deadline_)
    {
        ++echo_in_window_;
        ++echo_outstanding_;
        queue_ping(c);
        return;
    }
    if(echo_draining_)
        echo_check_done();
}

// The next ping leaves after every reply that is already readable has been
// read: sending it at once would make the replies behind it in this read
// batch wait for its sendmsg (which on loopback also runs the server's TCP
// receive path), and their timestamps would carry this client's own
// queueing. The post runs after the descriptors epoll reported ready; the
// ping's timestamp is taken when it is written.
void
worker::queue_ping(connection& c)
{
    if(c.pings_due++ == 0)
        pings_due_.emplace_back(&c, c.gen);
    if(pings_posted_)
        return;
    pings_posted_ = true;
    net::post(ioc_, [this] { send_due_pings(); });
}

void
worker::send_due_pings()
{
    pings_posted_ = false;
    auto due = std::move(pings_due_);
    pings_due_.clear();
    for(auto [c, g] : due)
    {
        if(c->gen != g || c->pings_due == 0)
            continue;
        for(; c->pings_due > 0; --c->pings_due)
            send_ping(*c);
        c->flush();
    }
    if(pings_due_.empty()) // keep the vector's capacity for the next batch
        pings_due_ = std::move(due), pings_due_.clear();
}

void
worker::on_leave_reply(connection& c)
{
    if(c.st != connection::state::leaving)
        return;
    if(c.is_churner)
    {
        churn_records_ << "r " << c.t_joined << ' ' << c.t_leave << ' '
                       << c.first_seq << ' ' << c.last_seq << ' ' << c.count
                       << ' ' << c.gaps << '\n';
        ++churn_cycles_;
    }
    // The frames after the ack in this read are not ours any more.
    close_conn(c);
    if(c.is_churner)
        churn_cycle(c);
}

//------------------------------------------------------------------------------
// worker: commands

void
worker::execute(std::string const& line)
{
    std::istringstream is(line);
    std::string cmd;
    is >> cmd;
    if(cmd == "connect")
    {
        std::uint32_t count = 0, inflight = 0, base = 0;
        is >> count >> inflight >> base;
        return cmd_connect(count, inflight, base);
    }
    if(cmd == "keep")
    {
        std::uint32_t count = 0;
        is >> count;
        return cmd_keep(count);
    }
    if(cmd == "shout")
    {
        std::int64_t seq = 0;
        is >> seq;
        return cmd_shout(seq);
    }
    if(cmd == "track")
    {
        std::int64_t first = 0;
        is >> first;
        return cmd_track(first);
    }
    if(cmd == "await")
    {
        std::int64_t first = 0, last = 0;
        int timeout = 0;
        is >> first >> last >> timeout;
        return cmd_await(first, last, timeout);
    }
    if(cmd == "rate")
    {
        double r = 0;
        int d = 0;
        std::int64_t first = 0;
        is >> r >> d >> first;
        return cmd_rate(r, d, first);
    }
    if(cmd == "echo")
    {
        std::uint32_t inflight = 0, max = 0;
        int d = 0;
        is >> inflight >> d >> max;
        return cmd_echo(inflight, d, max);
    }
    if(cmd == "churn")
    {
        std::uint32_t churners = 0, base = 0;
        int d = 0, hmin = 0, hmax = 0;
        double rate = 0;
        std::int64_t first = 0;
        is >> churners >> d >> hmin >> hmax >> base >> rate >> first;
        return cmd_churn(churners, d, hmin, hmax, base, rate, first);
    }
    if(cmd == "rusage")
        return reply(rusage_line());
    if(cmd == "quit")
    {
        reply("bye");
        return stop();
    }
    reply("error unknown command " + cmd);
}

std::string
worker::rusage_line()
{
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    auto const cpu_ns =
        (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
        (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
    std::ostringstream os;
    os << "rusage " << cpu_ns << ' ' << ru.ru_maxrss << ' ' << joined_ << ' '
       << errors.connect << ' ' << errors.handshake << ' ' << errors.join
       << ' ' << errors.closed << ' ' << errors.protocol << ' '
       << errors.channel << ' '
       << (ru.ru_utime.tv_sec * 1000000000LL + ru.ru_utime.tv_usec * 1000LL);
    return os.str();
}

void
worker::cmd_connect(std::uint32_t count, std::uint32_t inflight,
                    std::uint32_t base)
{
    (void)base; // source addresses rotate per connect anyway
    if(count == 0)
    {
        reply("connected 0 0 0 0\nh 0");
        return;
    }
    auto const first = conns_.size();
    for(std::uint32_t i = 0; i < count; ++i)
    {
        conns_.push_back(std::make_unique<connection>(*this, ioc_));
        conns_.back()->local = static_cast<std::uint32_t>(first + i);
    }
    // The first connection of worker 0 is the one that shouts.
    if(opt_.id == 0 && first == 0)
        conns_[0]->is_sender = true;
    batch_active_ = true;
    batch_next_ = first;
    batch_end_ = first + count;
    batch_ok_ = batch_failed_ = 0;
    batch_left_ = count;
    batch_first_ = now_ns();
    batch_last_ = batch_first_;
    join_hist_.reset();
    auto const start = std::min<std::size_t>(std::max(1u, inflight), count);
    for(std::size_t i = 0; i < start; ++i)
    {
        auto& c = *conns_[batch_next_++];
        c.in_connect_batch = true;
        start_connect(c);
    }
}

void
worker::cmd_keep(std::uint32_t count)
{
    std::size_t closed = 0;
    for(std::size_t i = count; i < conns_.size(); ++i)
    {
        if(conns_[i]->st != connection::state::closed)
            ++closed;
        close_conn(*conns_[i]);
    }
    conns_.resize(std::min<std::size_t>(count, conns_.size()));
    reply("kept " + std::to_string(conns_.size()) + " closed " +
          std::to_string(closed));
}

void
worker::cmd_shout(std::int64_t seq)
{
    if(conns_.empty() || !conns_[0]->is_sender ||
       conns_[0]->st != connection::state::joined)
        return reply("error no sender");
    send_shout(*conns_[0], seq);
    reply("sent " + std::to_string(seq) + ' ' +
          std::to_string(timeline_[static_cast<std::size_t>(seq)].first));
}

void
worker::cmd_track(std::int64_t first)
{
    track_first_ = first;
    recv_count_ = 0;
    last_receipt_ = 0;
    recv_hist_.reset();
    reply("tracking " + std::to_string(first) + ' ' + std::to_string(joined_));
}

void
worker::cmd_await(std::int64_t first, std::int64_t last, int timeout_ms)
{
    await_expected_ = joined_ * static_cast<std::uint64_t>(last - first + 1);
    await_active_ = true;
    await_timer_.expires_after(std::chrono::milliseconds(timeout_ms));
    await_timer_.async_wait(
        [this](beast::error_code ec)
        {
            if(ec || !await_active_)
                return;
            // Timed out: answer with what arrived.
            await_expected_ = 0;
            check_await();
        });
    check_await();
}

void
worker::check_await()
{
    if(!await_active_ || recv_count_ < await_expected_)
        return;
    await_active_ = false;
    await_timer_.cancel();
    std::ostringstream os;
    os << "awaited " << recv_count_ << ' ' << last_receipt_ << ' ' << joined_
       << '\n'
       << "h " << recv_hist_.encode();
    reply(os.str());
}

void
worker::cmd_rate(double per_s, int duration_ms, std::int64_t first)
{
    if(conns_.empty() || !conns_[0]->is_sender ||
       conns_[0]->st != connection::state::joined || per_s <= 0)
        return reply("error no sender");
    rate_active_ = true;
    rate_replies_ = true;
    rate_per_s_ = per_s;
    rate_start_ = now_ns();
    rate_end_ = rate_start_ + std::int64_t(duration_ms) * 1000000;
    rate_first_ = rate_next_ = first;
    rate_planned_ = static_cast<std::int64_t>(per_s * duration_ms / 1000.0);
    if(rate_planned_ < 1)
        rate_planned_ = 1;
    rate_tick();
}

void
worker::rate_tick()
{
    if(!rate_active_)
        return;
    auto const t = now_ns();
    auto& s = *conns_[0];
    // Send what is due by now (several per tick at high rates).
    auto const due = std::min<std::int64_t>(
        rate_planned_,
        static_cast<std::int64_t>((t - rate_start_) * rate_per_s_ / 1e9) + 1);
    while(rate_next_ - rate_first_ < due && s.st == connection::state::joined)
        send_shout(s, rate_next_++);
    if(rate_next_ - rate_first_ >= rate_planned_ ||
       s.st != connection::state::joined || t >= rate_end_ + 1000000000LL)
    {
        rate_active_ = false;
        if(rate_replies_)
            reply("sent " + std::to_string(rate_first_) + ' ' +
                  std::to_string(rate_next_ - 1));
        return;
    }
    auto const interval = std::clamp<std::int64_t>(
        static_cast<std::int64_t>(1e9 / rate_per_s_), 1000000, 100000000);
    rate_timer_.expires_after(std::chrono::nanoseconds(interval));
    rate_timer_.async_wait(
        [this](beast::error_code ec)
        {
            if(!ec)
                rate_tick();
        });
}

void
worker::cmd_echo(std::uint32_t inflight, int duration_ms, std::uint32_t max)
{
    echo_active_ = true;
    echo_draining_ = false;
    echo_in_window_ = echo_total_ = echo_outstanding_ = 0;
    echo_hist_.reset();
    echo_deadline_ = now_ns() + std::int64_t(duration_ms) * 1000000;
    for(std::size_t i = 0; i < conns_.size() && i < max; ++i)
    {
        auto& c = *conns_[i];
        if(c.st != connection::state::joined)
            continue;
        for(std::uint32_t k = 0; k < inflight; ++k)
            send_ping(c);
        echo_outstanding_ += inflight;
        c.flush();
    }
    echo_timer_.expires_after(std::chrono::milliseconds(duration_ms));
    echo_timer_.async_wait(
        [this](beast::error_code ec)
        {
            if(ec)
                return;
            echo_active_ = false;
            echo_draining_ = true;
            // Replies still in flight get 5 s to arrive.
            echo_timer_.expires_after(std::chrono::seconds(5));
            echo_timer_.async_wait(
                [this](beast::error_code ec2)
                {
                    if(!ec2 && echo_draining_)
                    {
                        echo_outstanding_ = 0;
                        echo_check_done();
                    }
                });
            echo_check_done();
        });
}

void
worker::echo_check_done()
{
    if(!echo_draining_ || echo_outstanding_ > 0)
        return;
    echo_draining_ = false;
    echo_timer_.cancel();
    std::ostringstream os;
    os << "echoed " << echo_in_window_ << ' ' << echo_total_ << '\n'
       << "h " << echo_hist_.encode();
    reply(os.str());
}

void
worker::cmd_churn(std::uint32_t churners, int duration_ms, int hold_min,
                  int hold_max, std::uint32_t base, double rate,
                  std::int64_t first)
{
    (void)base;
    hold_min_ = hold_min;
    hold_max_ = std::max(hold_min, hold_max);
    churn_cycles_ = churn_join_fail_ = 0;
    churn_records_.str("");
    // Every stable connection starts counting from here.
    for(auto& c : conns_)
        c->first_seq = c->last_seq = c->count = c->gaps = 0;
    churn_begin_ = conns_.size();
    for(std::uint32_t i = 0; i < churners; ++i)
    {
        conns_.push_back(std::make_unique<connection>(*this, ioc_));
        auto& c = *conns_.back();
        c.local = static_cast<std::uint32_t>(conns_.size() - 1);
        c.is_churner = true;
        c.hold = std::make_unique<net::steady_timer>(ioc_);
    }
    churn_active_ = true;
    churn_running_ = true;
    // Staggered start so the cycles do not march in step.
    for(std::size_t i = churn_begin_; i < conns_.size(); ++i)
    {
        auto& c = *conns_[i];
        std::uniform_int_distribution<int> d(0, hold_max_);
        c.hold->expires_after(std::chrono::milliseconds(d(rng_)));
        c.hold->async_wait(
            [this, &c](beast::error_code ec)
            {
                if(!ec && churn_active_)
                    start_connect(c);
            });
    }
    if(rate > 0 && !conns_.empty() && conns_[0]->is_sender &&
       conns_[0]->st == connection::state::joined)
    {
        rate_active_ = true;
        rate_replies_ = false;
        rate_per_s_ = rate;
        rate_start_ = now_ns();
        rate_end_ = rate_start_ + std::int64_t(duration_ms) * 1000000;
        rate_first_ = rate_next_ = first;
        rate_planned_ = static_cast<std::int64_t>(rate * duration_ms / 1000.0);
        rate_tick();
    }
    churn_timer_.expires_after(std::chrono::milliseconds(duration_ms));
    churn_timer_.async_wait(
        [this](beast::error_code ec)
        {
            if(ec)
                return;
            churn_active_ = false;
            // Let the last broadcasts and leaves drain, then report.
            churn_timer_.expires_after(std::chrono::milliseconds(1500));
            churn_timer_.async_wait(
                [this](beast::error_code ec2)
                {
                    if(!ec2)
                        churn_finish();
                });
        });
}

void
worker::churn_cycle(connection& c)
{
    if(!churn_active_)
        return;
    // Start the next cycle on a later turn of the loop, not inside the
    // handler of the socket we just closed (1 ms: a refused connect must
    // not spin).
    c.hold->expires_after(std::chrono::milliseconds(1));
    c.hold->async_wait([this, &c, g = c.gen](beast::error_code ec)
                       {
                           if(!ec && churn_active_ && g == c.gen)
                               start_connect(c);
                       });
}

void
worker::churn_finish()
{
    churn_running_ = false;
    rate_active_ = false;
    auto const t = now_ns();
    std::ostringstream os;
    os << "churned " << churn_cycles_ << ' ' << churn_join_fail_ << '\n';
    os << churn_records_.str();
    // Everyone still joined (stable or a churner mid-cycle) counts to now.
    for(auto& c : conns_)
        if(c->st == connection::state::joined ||
           c->st == connection::state::leaving)
            os << "r " << c->t_joined << ' '
               << (c->st == connection::state::leaving ? c->t_leave : t) << ' '
               << c->first_seq << ' ' << c->last_seq << ' ' << c->count << ' '
               << c->gaps << '\n';
    if(!conns_.empty() && conns_[0]->is_sender)
        for(std::int64_t s = rate_first_; s < rate_next_; ++s)
        {
            auto const& e = timeline_[static_cast<std::size_t>(s)];
            os << "t " << s << ' ' << e.first << ' ' << e.second << '\n';
        }
    // The churners are done: close them and forget them.
    for(std::size_t i = churn_begin_; i < conns_.size(); ++i)
        close_conn(*conns_[i]);
    conns_.resize(churn_begin_);
    reply(os.str());
}

} // namespace

int
run_worker(worker_options const& opt)
{
    worker w(opt);
    return w.run();
}

} // namespace loadgen
