//
// fenix_loadgen coordinator: forks the worker processes, drives a scenario
// through them, measures the server (/proc) and itself (getrusage), and
// writes the JSON report.
//
#pragma once

#include <string>

namespace loadgen
{

struct options
{
    std::string scenario;
    std::string host = "127.0.0.1";
    unsigned short port = 4000;
    std::string path = "/socket/websocket?vsn=2.0.0";
    std::string topic = "bench:lobby";
    std::string server_name = "unknown";
    int server_pid = 0;   // 0: server CPU/RSS not measured
    std::string out;      // empty: stdout
    int n = -1;           // main size of the scenario (-1: its default)
    double duration = -1; // seconds per measured step (-1: its default)
    int workers = 0;      // 0: one per `per_worker` connections
    int per_worker = 15000;
    int src_addrs = 16;
    int inflight = 256;   // connects+joins in flight, over all workers
    int rounds = 20;
    int sustained_n = 5000;
    double rate_start = 2;    // broadcasts/s of the first sustained step
    double rate_factor = 1.3;
    int max_steps = 20;
    int echo_inflight = 8;
    int latency_clients = 100;
    int churners = 200;
    double churn_rate = 20;   // broadcasts/s during churn
    int hold_min_ms = 100, hold_max_ms = 1000;
    int timeout_s = 480;      // the whole run, whatever happens
};

int run_scenario(options const& opt);

// Reads <dir>/<server>-<scenario>.json and writes <dir>/summary.md.
int write_summary(std::string const& dir);

} // namespace loadgen
