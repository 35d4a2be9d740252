//
// fenix_loadgen: a Phoenix V2 WebSocket load generator for the fenix
// benchmarks (issue 7). See bench/README.md for the scenarios.
//
// Usage:
//   fenix_loadgen <idle|fanout|echo|join|churn> [options]
//   fenix_loadgen summary <results-dir>
//
#include "coordinator.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

namespace
{

void
usage()
{
    std::cerr <<
R"(Usage: fenix_loadgen <scenario> [options]      scenario: idle fanout echo join churn
       fenix_loadgen summary <results-dir>     writes <results-dir>/summary.md

Options (defaults in brackets; env LOADGEN_N, LOADGEN_DURATION, LOADGEN_WORKERS
set --n, --duration, --workers):
  --host H --port P          server [127.0.0.1:4000]
  --path P                   [/socket/websocket?vsn=2.0.0]
  --topic T                  [bench:lobby]
  --server-name NAME         label in the report [unknown]
  --server-pid PID           read server CPU and RSS from /proc/PID
  --out FILE                 JSON report [stdout]
  --n N                      connections: idle/fanout/join 15000, echo 1000,
                             churn 1000 stable
  --duration S               seconds per measured step: idle hold 5, fanout
                             step 3, echo 10 (each of a, b), churn 10
  --workers W                worker processes [one per --per-worker conns]
  --per-worker K             [15000] (the fd limit is 20000 per process)
  --src-addrs K              bind clients to 127.0.0.2 .. 127.0.0.(K+1) [16]
  --inflight K               connects+joins in flight, in total [256]
  --rounds K                 fanout single-broadcast rounds [20]
  --sustained-n K            fanout sustained connections [5000]
  --rate-start R --rate-factor F --max-steps K
                             fanout sustained broadcasts/s [2, 1.3, 20]
  --echo-inflight K          echo (a) pings in flight per client [8]
  --latency-clients K        echo (b) clients, one ping in flight [100]
  --churners K --churn-rate R --hold-min MS --hold-max MS
                             churn [200, 20 broadcasts/s, 100, 1000]
  --timeout S                abort the whole run after S seconds [480]
)";
}

// Sockets are files: use all the hard limit allows (workers inherit it).
void
raise_fd_limit()
{
    rlimit rl{};
    if(::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

} // namespace

int
main(int argc, char* argv[])
{
    if(argc < 2)
    {
        usage();
        return 2;
    }
    std::string const first = argv[1];
    if(first == "summary")
    {
        if(argc != 3)
        {
            usage();
            return 2;
        }
        return loadgen::write_summary(argv[2]);
    }
    if(first == "-h" || first == "--help")
    {
        usage();
        return 0;
    }

    loadgen::options o;
    o.scenario = first;
    if(auto const* e = std::getenv("LOADGEN_N"))
        o.n = std::atoi(e);
    if(auto const* e = std::getenv("LOADGEN_DURATION"))
        o.duration = std::atof(e);
    if(auto const* e = std::getenv("LOADGEN_WORKERS"))
        o.workers = std::atoi(e);
    for(int i = 2; i < argc; ++i)
    {
        std::string const a = argv[i];
        if(i + 1 >= argc)
        {
            std::cerr << "missing value for " << a << "\n";
            return 2;
        }
        char const* v = argv[++i];
        if(a == "--host") o.host = v;
        else if(a == "--port") o.port = static_cast<unsigned short>(std::atoi(v));
        else if(a == "--path") o.path = v;
        else if(a == "--topic") o.topic = v;
        else if(a == "--server-name") o.server_name = v;
        else if(a == "--server-pid") o.server_pid = std::atoi(v);
        else if(a == "--out") o.out = v;
        else if(a == "--n") o.n = std::atoi(v);
        else if(a == "--duration") o.duration = std::atof(v);
        else if(a == "--workers") o.workers = std::atoi(v);
        else if(a == "--per-worker") o.per_worker = std::max(1, std::atoi(v));
        else if(a == "--src-addrs") o.src_addrs = std::clamp(std::atoi(v), 1, 250);
        else if(a == "--inflight") o.inflight = std::max(1, std::atoi(v));
        else if(a == "--rounds") o.rounds = std::max(1, std::atoi(v));
        else if(a == "--sustained-n") o.sustained_n = std::max(1, std::atoi(v));
        else if(a == "--rate-start") o.rate_start = std::atof(v);
        else if(a == "--rate-factor") o.rate_factor = std::max(1.05, std::atof(v));
        else if(a == "--max-steps") o.max_steps = std::max(1, std::atoi(v));
        else if(a == "--echo-inflight") o.echo_inflight = std::max(1, std::atoi(v));
        else if(a == "--latency-clients") o.latency_clients = std::max(1, std::atoi(v));
        else if(a == "--churners") o.churners = std::max(0, std::atoi(v));
        else if(a == "--churn-rate") o.churn_rate = std::atof(v);
        else if(a == "--hold-min") o.hold_min_ms = std::max(0, std::atoi(v));
        else if(a == "--hold-max") o.hold_max_ms = std::max(0, std::atoi(v));
        else if(a == "--timeout") o.timeout_s = std::max(1, std::atoi(v));
        else
        {
            std::cerr << "unknown option " << a << "\n";
            usage();
            return 2;
        }
    }
    raise_fd_limit();
    return loadgen::run_scenario(o);
}
