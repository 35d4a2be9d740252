#!/usr/bin/env bash
# Interleaved runs of fenix_bench_io_threads, 1 vs 2 io threads, waiting for
# a quiet machine before each run (other builds on the box skew numbers).
# Usage: bench/io_threads/run.sh <build-dir> [repetitions] [seconds]
set -euo pipefail
build="${1:?usage: run.sh <build-dir> [reps] [seconds]}"
reps="${2:-3}"
secs="${3:-3}"
bin="$build/bench/io_threads/fenix_bench_io_threads"
quiet() {
  for _ in $(seq 1 120); do
    pgrep -x cc1plus >/dev/null || pgrep -f fenix_loadgen >/dev/null || return 0
    sleep 5
  done
  echo "run.sh: machine still busy, measuring anyway" >&2
}
for r in $(seq 1 "$reps"); do
  for t in 1 2; do
    quiet
    # echo, one message in flight per connection (CPU-bound)
    "$bin" --io-threads "$t" --conns 100 --depth 1 --seconds "$secs" \
           --scenario echo 2>/dev/null
    quiet
    # echo, four in flight per connection
    "$bin" --io-threads "$t" --conns 100 --depth 4 --seconds "$secs" \
           --scenario echo 2>/dev/null
    quiet
    "$bin" --io-threads "$t" --conns 100 --seconds "$secs" \
           --scenario fanout 2>/dev/null
  done
done
quiet
"$bin" --io-threads 1 --conns 6000 --scenario idle 2>&1
