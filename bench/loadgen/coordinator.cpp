//
// fenix_loadgen coordinator: scenarios over a pool of worker processes.
//
// The coordinator does no I/O with the server itself. It forks the workers
// (before any io_context exists), talks to each over two pipes with one-line
// commands, merges their counters and histograms, and reads the server's
// CPU time and RSS from /proc.
//
#include "coordinator.hpp"

#include "histogram.hpp"
#include "worker.hpp"

#include <boost/json.hpp>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace json = boost::json;

namespace loadgen
{

namespace
{

std::int64_t
now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

double
ms(double ns)
{
    return std::round(ns / 1e3) / 1e3; // ms with µs precision
}

void
sleep_ms(int n)
{
    std::this_thread::sleep_for(std::chrono::milliseconds(n));
}

//------------------------------------------------------------------------------
// the server, seen through /proc

/// CPU seconds of the server process (user + system, or user only).
double
server_cpu_s(int pid, bool user_only = false)
{
    if(pid <= 0)
        return -1;
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(f)),
                  std::istreambuf_iterator<char>());
    auto const p = s.rfind(')');
    if(p == std::string::npos)
        return -1;
    std::istringstream is(s.substr(p + 2));
    // fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt
    // majflt cmajflt utime stime
    std::string skip;
    for(int i = 0; i < 11; ++i)
        is >> skip;
    double ut = 0, st = 0;
    is >> ut >> st;
    return (user_only ? ut : ut + st) /
           static_cast<double>(::sysconf(_SC_CLK_TCK));
}

long
server_rss_kb(int pid)
{
    if(pid <= 0)
        return -1;
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while(std::getline(f, line))
        if(line.rfind("VmRSS:", 0) == 0)
            return std::stol(line.substr(6));
    return -1;
}

//------------------------------------------------------------------------------
// the worker processes

pid_t const* g_pids = nullptr;
std::size_t g_npids = 0;

extern "C" void
on_alarm(int)
{
    // The run overran its time box: take the workers down and leave.
    for(std::size_t i = 0; i < g_npids; ++i)
        ::kill(g_pids[i], SIGKILL);
    static char const msg[] = "fenix_loadgen: time limit reached, aborting\n";
    auto r = ::write(2, msg, sizeof(msg) - 1);
    (void)r;
    ::_exit(3);
}

class pool
{
public:
    pool(options const& opt, int count)
    {
        pids_.reserve(count);
        for(int i = 0; i < count; ++i)
        {
            int cmd[2], out[2];
            if(::pipe(cmd) != 0 || ::pipe(out) != 0)
                throw std::runtime_error("pipe failed");
            std::cout.flush();
            std::cerr.flush();
            pid_t const pid = ::fork();
            if(pid < 0)
                throw std::runtime_error("fork failed");
            if(pid == 0)
            {
                // A worker never outlives its coordinator.
                ::prctl(PR_SET_PDEATHSIG, SIGKILL);
                ::close(cmd[1]);
                ::close(out[0]);
                for(auto& w : ws_)
                {
                    ::close(w.cmd);
                    std::fclose(w.out);
                }
                worker_options wo;
                wo.id = i;
                wo.cmd_fd = cmd[0];
                wo.out_fd = out[1];
                wo.host = opt.host;
                wo.port = opt.port;
                wo.path = opt.path;
                wo.topic = opt.topic;
                wo.src_addrs = opt.src_addrs;
                int rc = 1;
                try
                {
                    rc = run_worker(wo);
                }
                catch(std::exception const& e)
                {
                    std::cerr << "worker " << i << ": " << e.what() << "\n";
                }
                ::_exit(rc);
            }
            ::close(cmd[0]);
            ::close(out[1]);
            ws_.push_back({pid, cmd[1], ::fdopen(out[0], "r")});
            pids_.push_back(pid);
        }
        g_pids = pids_.data();
        g_npids = pids_.size();
    }

    ~pool()
    {
        for(std::size_t i = 0; i < ws_.size(); ++i)
            send(i, "quit");
        for(auto& w : ws_)
        {
            ::close(w.cmd);
            std::fclose(w.out);
        }
        // Give them a moment, then make sure.
        for(auto pid : pids_)
        {
            int status = 0;
            for(int k = 0; k < 50; ++k)
            {
                if(::waitpid(pid, &status, WNOHANG) == pid)
                    break;
                if(k == 49)
                {
                    ::kill(pid, SIGKILL);
                    ::waitpid(pid, &status, 0);
                }
                sleep_ms(20);
            }
        }
        g_npids = 0;
    }

    std::size_t size() const { return ws_.size(); }

    void send(std::size_t i, std::string const& line)
    {
        auto s = line + "\n";
        auto r = ::write(ws_[i].cmd, s.data(), s.size());
        (void)r;
    }

    // One answer block (lines up to "."). Throws if the worker died.
    std::vector<std::string> read(std::size_t i)
    {
        std::vector<std::string> lines;
        char* buf = nullptr;
        std::size_t cap = 0;
        for(;;)
        {
            auto const n = ::getline(&buf, &cap, ws_[i].out);
            if(n < 0)
            {
                std::free(buf);
                throw std::runtime_error(
                    "worker " + std::to_string(i) + " died");
            }
            std::string line(buf, static_cast<std::size_t>(n));
            if(!line.empty() && line.back() == '\n')
                line.pop_back();
            if(line == ".")
                break;
            lines.push_back(std::move(line));
        }
        std::free(buf);
        if(!lines.empty() && lines[0].rfind("error", 0) == 0)
            throw std::runtime_error(
                "worker " + std::to_string(i) + ": " + lines[0]);
        return lines;
    }

    // Sends a command to every worker, then collects every answer.
    std::vector<std::vector<std::string>> all(std::string const& line)
    {
        for(std::size_t i = 0; i < ws_.size(); ++i)
            send(i, line);
        std::vector<std::vector<std::string>> r;
        for(std::size_t i = 0; i < ws_.size(); ++i)
            r.push_back(read(i));
        return r;
    }

private:
    struct proc
    {
        pid_t pid;
        int cmd;
        FILE* out;
    };
    std::vector<proc> ws_;
    std::vector<pid_t> pids_;
};

std::vector<std::int64_t>
numbers(std::string const& line)
{
    std::istringstream is(line);
    std::string word;
    is >> word;
    std::vector<std::int64_t> v;
    std::int64_t x;
    while(is >> x)
        v.push_back(x);
    return v;
}

void
merge_hist(histogram& h, std::vector<std::string> const& block)
{
    for(auto const& l : block)
        if(l.rfind("h ", 0) == 0)
            h.decode_merge(l.substr(2));
}

json::object
latency_json(histogram const& h)
{
    return {
        {"count", h.count()},
        {"p50_ms", ms(double(h.percentile(0.50)))},
        {"p90_ms", ms(double(h.percentile(0.90)))},
        {"p99_ms", ms(double(h.percentile(0.99)))},
        {"max_ms", ms(double(h.max()))},
    };
}

//------------------------------------------------------------------------------
// CPU of both sides

struct cpu_mark
{
    std::int64_t t = 0;
    double loadgen_s = 0;
    double server_s = -1;
    // User-mode parts. On loopback the kernel runs much of each peer's TCP
    // work in the sender's context (a connect() carries the server's half
    // of the handshake), so system time is shared out oddly between the
    // two processes; user time is each side's own code.
    double loadgen_user_s = 0;
    double server_user_s = -1;
};

struct error_totals
{
    std::int64_t v[6] = {0, 0, 0, 0, 0, 0};
};

error_totals g_errors;
std::int64_t g_joined_now = 0;

cpu_mark
take_mark(pool& p, int server_pid)
{
    cpu_mark m;
    m.t = now_ns();
    m.server_s = server_cpu_s(server_pid);
    m.server_user_s = server_cpu_s(server_pid, true);
    std::int64_t total = 0;
    std::int64_t user = 0;
    error_totals e;
    g_joined_now = 0;
    for(auto const& b : p.all("rusage"))
    {
        auto const v = numbers(b.at(0));
        // cpu_ns maxrss joined connect handshake join closed protocol channel
        // user_ns
        total += v.at(0);
        user += v.at(9);
        g_joined_now += v.at(2);
        for(int k = 0; k < 6; ++k)
            e.v[k] += v.at(3 + k);
    }
    g_errors = e;
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    total += (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
             (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
    user += ru.ru_utime.tv_sec * 1000000000LL + ru.ru_utime.tv_usec * 1000LL;
    m.loadgen_s = double(total) / 1e9;
    m.loadgen_user_s = double(user) / 1e9;
    return m;
}

json::object
cpu_json(cpu_mark const& a, cpu_mark const& b)
{
    double const wall = double(b.t - a.t) / 1e9;
    double const lg = b.loadgen_s - a.loadgen_s;
    json::object o{
        {"wall_s", std::round(wall * 1000) / 1000},
        {"loadgen_cpu_s", std::round(lg * 1000) / 1000},
        {"loadgen_cpu_pct", std::round(lg / wall * 1000) / 10},
    };
    if(a.server_s >= 0 && b.server_s >= 0)
    {
        double const sv = b.server_s - a.server_s;
        o["server_cpu_s"] = std::round(sv * 1000) / 1000;
        o["server_cpu_pct"] = std::round(sv / wall * 1000) / 10;
        o["loadgen_below_server"] = lg < sv;
    }
    double const lgu = b.loadgen_user_s - a.loadgen_user_s;
    o["loadgen_user_cpu_s"] = std::round(lgu * 1000) / 1000;
    if(a.server_user_s >= 0 && b.server_user_s >= 0)
    {
        double const svu = b.server_user_s - a.server_user_s;
        o["server_user_cpu_s"] = std::round(svu * 1000) / 1000;
        o["loadgen_user_below_server"] = lgu < svu;
    }
    return o;
}

json::object
errors_json()
{
    return {
        {"connect", g_errors.v[0]},  {"handshake", g_errors.v[1]},
        {"join", g_errors.v[2]},     {"closed", g_errors.v[3]},
        {"protocol", g_errors.v[4]}, {"channel", g_errors.v[5]},
    };
}

//------------------------------------------------------------------------------
// building blocks of the scenarios

// n spread over the workers: worker 0 first, as even as possible.
std::vector<std::uint32_t>
spread(std::uint64_t n, std::size_t workers)
{
    std::vector<std::uint32_t> v(workers, 0);
    for(std::size_t i = 0; i < workers; ++i)
        v[i] = static_cast<std::uint32_t>(
            n / workers + (i < n % workers ? 1 : 0));
    return v;
}

struct connect_result
{
    std::uint64_t ok = 0, failed = 0;
    std::int64_t first = 0, last = 0;
    histogram h;
    std::vector<std::uint32_t> per_worker;
};

// Opens and joins n more connections, `inflight` at a time in total.
connect_result
connect_all(pool& p, options const& opt, std::uint64_t n)
{
    connect_result r;
    r.per_worker = spread(n, p.size());
    auto const infl = std::max<int>(1, opt.inflight / int(p.size()));
    std::uint32_t base = 0;
    for(std::size_t i = 0; i < p.size(); ++i)
    {
        p.send(i, "connect " + std::to_string(r.per_worker[i]) + " " +
                      std::to_string(infl) + " " + std::to_string(base));
        base += r.per_worker[i];
    }
    r.first = now_ns();
    for(std::size_t i = 0; i < p.size(); ++i)
    {
        auto const b = p.read(i);
        auto const v = numbers(b.at(0));
        r.ok += v.at(0);
        r.failed += v.at(1);
        r.last = std::max(r.last, v.at(3));
        merge_hist(r.h, b);
    }
    return r;
}

json::object
connect_json(connect_result const& r)
{
    double const secs = double(std::max<std::int64_t>(1, r.last - r.first)) /
                        1e9;
    return {
        {"joined", r.ok},
        {"failed", r.failed},
        {"seconds", std::round(secs * 1000) / 1000},
        {"joins_per_s", std::round(double(r.ok) / secs)},
        {"join_latency", latency_json(r.h)},
    };
}

void
close_all(pool& p)
{
    p.all("keep 0");
}

//------------------------------------------------------------------------------
// 1. idle

json::object
scenario_idle(pool& p, options const& opt)
{
    auto const n = opt.n > 0 ? opt.n : 15000;
    auto const hold = opt.duration > 0 ? opt.duration : 5.0;
    auto const rss0 = server_rss_kb(opt.server_pid);
    auto const m0 = take_mark(p, opt.server_pid);
    auto const c = connect_all(p, opt, std::uint64_t(n));
    auto const m1 = take_mark(p, opt.server_pid);
    // Let the server settle (allocators, queues) before reading its RSS.
    sleep_ms(1000);
    auto const rss1 = server_rss_kb(opt.server_pid);
    auto const m2 = take_mark(p, opt.server_pid);
    sleep_ms(int(hold * 1000));
    auto const m3 = take_mark(p, opt.server_pid);
    auto const rss2 = server_rss_kb(opt.server_pid);
    json::object r{
        {"n", n},
        {"connect", connect_json(c)},
        {"server_rss_kb_before", rss0},
        {"server_rss_kb_after_join", rss1},
        {"server_rss_kb_after_hold", rss2},
        {"hold_s", hold},
        {"cpu_connect", cpu_json(m0, m1)},
        {"cpu_idle_hold", cpu_json(m2, m3)},
    };
    json::object head;
    if(rss0 > 0 && c.ok > 0)
        head["rss_per_conn_kb"] =
            std::round(double(std::max(rss1, rss2) - rss0) / double(c.ok) *
                       100) / 100;
    r["headline"] = head;
    close_all(p);
    return r;
}

//------------------------------------------------------------------------------
// 2. fanout

json::object
scenario_fanout(pool& p, options const& opt)
{
    auto const n = opt.n > 0 ? opt.n : 15000;
    auto const sustained_n = std::min(n, opt.sustained_n);
    auto const step_s = opt.duration > 0 ? opt.duration : 3.0;
    json::object r{{"n", n}};
    auto const c = connect_all(p, opt, std::uint64_t(n));
    r["connect"] = connect_json(c);
    std::int64_t seq = 1;

    // (a) single broadcasts: send -> last receipt, one at a time.
    auto const m0 = take_mark(p, opt.server_pid);
    std::vector<double> times;
    histogram all;
    std::uint64_t delivered = 0, expected = 0;
    json::array rounds;
    int incomplete = 0, opt_rounds_cut = 0;
    for(int k = 0; k < opt.rounds && opt_rounds_cut == 0; ++k, ++seq)
    {
        p.all("track " + std::to_string(seq));
        p.send(0, "shout " + std::to_string(seq));
        auto const sent = numbers(p.read(0).at(0)).at(1);
        std::int64_t last = 0;
        std::uint64_t got = 0, want = 0;
        for(auto const& b : p.all("await " + std::to_string(seq) + " " +
                                  std::to_string(seq) + " 10000"))
        {
            auto const v = numbers(b.at(0));
            got += std::uint64_t(v.at(0));
            last = std::max(last, v.at(1));
            want += std::uint64_t(v.at(2));
            merge_hist(all, b);
        }
        delivered += got;
        expected += want;
        // A server that loses broadcasts would make every round wait for
        // the full timeout: two incomplete rounds are enough to know.
        if(got < want && ++incomplete >= 2)
            opt_rounds_cut = k + 1;
        double const t = ms(double(last - sent));
        times.push_back(t);
        rounds.push_back(json::object{{"delivered", got}, {"ms", t}});
    }
    auto const m1 = take_mark(p, opt.server_pid);
    auto sorted = times;
    std::sort(sorted.begin(), sorted.end());
    double const p50 = sorted.empty() ? 0 : sorted[(sorted.size() - 1) / 2];
    r["single"] = json::object{
        {"rounds", std::int64_t(times.size())},
        {"stopped_early", opt_rounds_cut != 0},
        {"expected", expected},
        {"delivered", delivered},
        {"send_to_last_receipt_p50_ms", p50},
        {"send_to_last_receipt_max_ms", sorted.empty() ? 0 : sorted.back()},
        {"receipt_latency", latency_json(all)},
        {"per_round", rounds},
        {"cpu", cpu_json(m0, m1)},
    };

    // (b) sustained broadcasts at rising rates on sustained_n connections.
    auto const keep = spread(std::uint64_t(sustained_n), p.size());
    for(std::size_t i = 0; i < p.size(); ++i)
        p.send(i, "keep " + std::to_string(keep[i]));
    for(std::size_t i = 0; i < p.size(); ++i)
        p.read(i);
    sleep_ms(1000); // let the server finish tearing the others down
    json::array steps;
    double capacity = 0, capacity_rate = 0;
    double rate = opt.rate_start;
    for(int s = 0; s < opt.max_steps; ++s, rate *= opt.rate_factor)
    {
        auto const first = seq;
        auto const ma = take_mark(p, opt.server_pid);
        p.all("track " + std::to_string(first));
        p.send(0, "rate " + std::to_string(rate) + " " +
                      std::to_string(int(step_s * 1000)) + " " +
                      std::to_string(first));
        auto const sent = numbers(p.read(0).at(0));
        auto const last = sent.at(1);
        seq = last + 1;
        histogram h;
        std::uint64_t got = 0, want = 0;
        for(auto const& b : p.all("await " + std::to_string(first) + " " +
                                  std::to_string(last) + " 3000"))
        {
            auto const v = numbers(b.at(0));
            got += std::uint64_t(v.at(0));
            want += std::uint64_t(v.at(2)) * std::uint64_t(last - first + 1);
            merge_hist(h, b);
        }
        auto const mb = take_mark(p, opt.server_pid);
        double const secs = double(mb.t - ma.t) / 1e9;
        double const dps = double(got) / step_s;
        bool const pass = got == want && h.percentile(0.99) <= 1000000000ULL;
        steps.push_back(json::object{
            {"broadcasts_per_s", std::round(rate * 100) / 100},
            {"broadcasts", last - first + 1},
            {"expected", want},
            {"delivered", got},
            {"deliveries_per_s", std::round(dps)},
            {"latency", latency_json(h)},
            {"pass", pass},
            {"step_wall_s", std::round(secs * 1000) / 1000},
            {"cpu", cpu_json(ma, mb)},
        });
        if(!pass)
            break;
        capacity = std::max(capacity, dps);
        capacity_rate = rate;
    }
    r["sustained"] = json::object{
        {"n", sustained_n},
        {"step_s", step_s},
        {"rate_start", opt.rate_start},
        {"rate_factor", opt.rate_factor},
        {"steps", steps},
        {"capacity_deliveries_per_s", std::round(capacity)},
        {"capacity_broadcasts_per_s", std::round(capacity_rate * 100) / 100},
    };
    r["headline"] = json::object{
        {"single_p50_ms", p50},
        {"capacity_deliveries_per_s", std::round(capacity)},
    };
    close_all(p);
    return r;
}

//------------------------------------------------------------------------------
// 3. echo

json::object
echo_run(pool& p, std::uint64_t clients, int inflight, double secs)
{
    auto const per = spread(clients, p.size());
    auto const m0 = take_mark(p, 0);
    for(std::size_t i = 0; i < p.size(); ++i)
        p.send(i, "echo " + std::to_string(inflight) + " " +
                      std::to_string(int(secs * 1000)) + " " +
                      std::to_string(per[i]));
    histogram h;
    std::uint64_t in_window = 0, total = 0;
    for(std::size_t i = 0; i < p.size(); ++i)
    {
        auto const b = p.read(i);
        auto const v = numbers(b.at(0));
        in_window += std::uint64_t(v.at(0));
        total += std::uint64_t(v.at(1));
        merge_hist(h, b);
    }
    (void)m0;
    return {
        {"clients", clients},
        {"inflight_per_client", inflight},
        {"seconds", secs},
        {"replies", in_window},
        {"replies_per_s", std::round(double(in_window) / secs)},
        {"latency", latency_json(h)},
    };
}

json::object
scenario_echo(pool& p, options const& opt)
{
    auto const n = opt.n > 0 ? opt.n : 1000;
    auto const secs = opt.duration > 0 ? opt.duration : 10.0;
    json::object r{{"n", n}};
    auto const c = connect_all(p, opt, std::uint64_t(n));
    r["connect"] = connect_json(c);
    auto const m0 = take_mark(p, opt.server_pid);
    auto a = echo_run(p, std::uint64_t(n), opt.echo_inflight, secs);
    auto const m1 = take_mark(p, opt.server_pid);
    a["cpu"] = cpu_json(m0, m1);
    auto const lc = std::min(n, opt.latency_clients);
    auto b = echo_run(p, std::uint64_t(lc), 1, secs);
    auto const m2 = take_mark(p, opt.server_pid);
    b["cpu"] = cpu_json(m1, m2);
    r["headline"] = json::object{
        {"replies_per_s", a["replies_per_s"]},
        {"p99_ms", b["latency"].as_object()["p99_ms"]},
    };
    r["throughput"] = a;
    r["latency"] = b;
    close_all(p);
    return r;
}

//------------------------------------------------------------------------------
// 4. join

json::object
scenario_join(pool& p, options const& opt)
{
    auto const n = opt.n > 0 ? opt.n : 15000;
    auto const m0 = take_mark(p, opt.server_pid);
    auto const c = connect_all(p, opt, std::uint64_t(n));
    auto const m1 = take_mark(p, opt.server_pid);
    auto cj = connect_json(c);
    json::object r{
        {"n", n},
        {"inflight", opt.inflight},
        {"connect", cj},
        {"cpu", cpu_json(m0, m1)},
        {"headline", json::object{{"joins_per_s", cj["joins_per_s"]}}},
    };
    close_all(p);
    return r;
}

//------------------------------------------------------------------------------
// 5. churn

json::object
scenario_churn(pool& p, options const& opt)
{
    auto const n = opt.n > 0 ? opt.n : 1000;
    auto const secs = opt.duration > 0 ? opt.duration : 10.0;
    json::object r{{"stable", n}, {"churners", opt.churners}};
    auto const c = connect_all(p, opt, std::uint64_t(n));
    r["connect"] = connect_json(c);
    auto const churners = spread(std::uint64_t(opt.churners), p.size());
    auto const m0 = take_mark(p, opt.server_pid);
    std::int64_t const first = 1;
    for(std::size_t i = 0; i < p.size(); ++i)
        p.send(i, "churn " + std::to_string(churners[i]) + " " +
                      std::to_string(int(secs * 1000)) + " " +
                      std::to_string(opt.hold_min_ms) + " " +
                      std::to_string(opt.hold_max_ms) + " 0 " +
                      (i == 0 ? std::to_string(opt.churn_rate) : "0") + " " +
                      std::to_string(first));
    struct record
    {
        std::int64_t j, l, first, last, count, gaps;
    };
    std::vector<record> recs;
    std::vector<std::int64_t> t_send, t_echo; // by seq - first
    std::uint64_t cycles = 0, join_fail = 0;
    for(std::size_t i = 0; i < p.size(); ++i)
    {
        auto const b = p.read(i);
        auto const h = numbers(b.at(0));
        cycles += std::uint64_t(h.at(0));
        join_fail += std::uint64_t(h.at(1));
        for(std::size_t k = 1; k < b.size(); ++k)
        {
            auto const v = numbers(b[k]);
            if(b[k][0] == 'r' && v.size() == 6)
                recs.push_back({v[0], v[1], v[2], v[3], v[4], v[5]});
            else if(b[k][0] == 't' && v.size() == 3)
            {
                auto const idx = std::size_t(v[0] - first);
                if(t_send.size() <= idx)
                {
                    t_send.resize(idx + 1, 0);
                    t_echo.resize(idx + 1, 0);
                }
                t_send[idx] = v[1];
                t_echo[idx] = v[2];
            }
        }
    }
    auto const m1 = take_mark(p, opt.server_pid);
    // A shout s must reach a connection that received its join reply at J
    // and sent its leave at L if s was sent after J and had come back to
    // the sender (so the server had processed it) before L. Shouts that
    // never came back to the sender count against the sender.
    std::uint64_t expected = 0, lost = 0, received = 0, unechoed = 0;
    for(std::size_t k = 0; k < t_echo.size(); ++k)
        if(t_send[k] && !t_echo[k])
            ++unechoed;
    for(auto const& rc : recs)
    {
        std::int64_t a = -1, z = -1;
        for(std::size_t k = 0; k < t_send.size(); ++k)
        {
            if(t_send[k] > rc.j && t_echo[k] && t_echo[k] < rc.l)
            {
                if(a < 0)
                    a = std::int64_t(k) + first;
                z = std::int64_t(k) + first;
            }
        }
        received += std::uint64_t(rc.count);
        if(a < 0)
            continue;
        expected += std::uint64_t(z - a + 1);
        // Expected shouts outside what arrived, plus holes inside it.
        std::int64_t missing = 0;
        if(rc.count == 0)
            missing = z - a + 1;
        else
        {
            if(rc.first > a)
                missing += std::min(rc.first, z + 1) - a;
            if(rc.last < z)
                missing += z - std::max(rc.last, a - 1);
            missing += rc.gaps;
        }
        lost += std::uint64_t(std::max<std::int64_t>(0, missing));
    }
    r["seconds"] = secs;
    r["broadcasts_per_s"] = opt.churn_rate;
    r["broadcasts"] = t_send.size();
    r["broadcasts_not_echoed_to_sender"] = unechoed;
    r["cycles"] = cycles;
    r["cycles_per_s"] = std::round(double(cycles) / secs);
    r["join_failures"] = join_fail;
    r["records"] = recs.size();
    r["expected_deliveries"] = expected;
    r["received_deliveries"] = received;
    r["lost"] = lost + unechoed;
    r["cpu"] = cpu_json(m0, m1);
    r["headline"] = json::object{{"lost", lost + unechoed},
                                 {"cycles_per_s", r["cycles_per_s"]}};
    close_all(p);
    return r;
}

//------------------------------------------------------------------------------

void
pretty(std::ostream& os, json::value const& v, int indent = 0)
{
    auto const pad = [&](int n) { os << std::string(std::size_t(n), ' '); };
    if(v.is_object())
    {
        auto const& o = v.get_object();
        if(o.empty())
        {
            os << "{}";
            return;
        }
        os << "{\n";
        std::size_t i = 0;
        for(auto const& kv : o)
        {
            pad(indent + 2);
            os << json::serialize(json::string(kv.key())) << ": ";
            pretty(os, kv.value(), indent + 2);
            os << (++i < o.size() ? ",\n" : "\n");
        }
        pad(indent);
        os << "}";
    }
    else if(v.is_array())
    {
        auto const& a = v.get_array();
        if(a.empty())
        {
            os << "[]";
            return;
        }
        os << "[\n";
        for(std::size_t i = 0; i < a.size(); ++i)
        {
            pad(indent + 2);
            pretty(os, a[i], indent + 2);
            os << (i + 1 < a.size() ? ",\n" : "\n");
        }
        pad(indent);
        os << "]";
    }
    else if(v.is_double())
    {
        // Plain decimals read better than Boost.JSON's 1.5E1.
        auto const d = v.get_double();
        if(!std::isfinite(d))
            os << "null";
        else
        {
            std::ostringstream t;
            t << std::setprecision(12) << d;
            os << t.str();
        }
    }
    else
        os << json::serialize(v);
}

} // namespace

int
run_scenario(options const& opt)
{
    auto const& s = opt.scenario;
    std::uint64_t conns = 0;
    if(s == "idle" || s == "fanout" || s == "join")
        conns = opt.n > 0 ? std::uint64_t(opt.n) : 15000;
    else if(s == "echo")
        conns = opt.n > 0 ? std::uint64_t(opt.n) : 1000;
    else if(s == "churn")
        conns = (opt.n > 0 ? std::uint64_t(opt.n) : 1000) +
                std::uint64_t(opt.churners);
    else
    {
        std::cerr << "unknown scenario: " << s << "\n";
        return 2;
    }
    // Each worker stays well under the per-process file limit.
    auto const workers = opt.workers > 0
        ? opt.workers
        : int(std::max<std::uint64_t>(
              1, (conns + std::uint64_t(opt.per_worker) - 1) /
                     std::uint64_t(opt.per_worker)));

    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGALRM, on_alarm);
    ::alarm(unsigned(opt.timeout_s));

    json::object result{
        {"scenario", s},
        {"server", opt.server_name},
        {"url", "ws://" + opt.host + ":" + std::to_string(opt.port) +
                    opt.path},
        {"topic", opt.topic},
        {"workers", workers},
        {"provisional", true},
    };
    auto const t0 = now_ns();
    try
    {
        pool p(opt, workers);
        auto const m0 = take_mark(p, opt.server_pid);
        json::object r;
        if(s == "idle")
            r = scenario_idle(p, opt);
        else if(s == "fanout")
            r = scenario_fanout(p, opt);
        else if(s == "echo")
            r = scenario_echo(p, opt);
        else if(s == "join")
            r = scenario_join(p, opt);
        else
            r = scenario_churn(p, opt);
        auto const m1 = take_mark(p, opt.server_pid);
        for(auto& kv : r)
            result[kv.key()] = kv.value();
        result["cpu_total"] = cpu_json(m0, m1);
        result["errors"] = errors_json();
    }
    catch(std::exception const& e)
    {
        result["failed"] = e.what();
        std::cerr << "fenix_loadgen: " << e.what() << "\n";
    }
    result["elapsed_s"] = std::round(double(now_ns() - t0) / 1e6) / 1e3;
    ::alarm(0);

    std::ostringstream os;
    pretty(os, result);
    os << "\n";
    if(opt.out.empty())
        std::cout << os.str();
    else
    {
        std::ofstream f(opt.out);
        f << os.str();
    }
    return result.contains("failed") ? 1 : 0;
}

} // namespace loadgen
