//
// fenix_loadgen: one worker process. It owns up to ~15k client connections
// on a single io_context run by a single thread (so no strands and no locks
// anywhere), and executes line commands from the coordinator on a pipe.
//
#pragma once

#include <string>

namespace loadgen
{

struct worker_options
{
    int id = 0;
    int cmd_fd = -1;  // commands from the coordinator, one per line
    int out_fd = -1;  // answers, each block ended by a line "."
    std::string host = "127.0.0.1";
    unsigned short port = 4000;
    std::string path = "/socket/websocket?vsn=2.0.0";
    std::string topic = "bench:lobby";
    int src_addrs = 16; // client sockets bind to 127.0.0.2 .. 127.0.0.(1+n)
};

// Runs until the coordinator says "quit" or closes the pipe.
int run_worker(worker_options const& opt);

} // namespace loadgen
