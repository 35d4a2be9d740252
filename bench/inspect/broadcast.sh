#!/usr/bin/env bash
# Does inspection slow broadcasting down? Runs the fanout benchmark
# (fenix_loadgen, single-broadcast rounds) against fenix_conformance three
# ways, each on a fresh server:
#   off      no --admin-token: nothing mounted
#   on       --admin-token: routes mounted, counters sampled once a second
#   watched  on, plus a dashboard-like poller: GET /_fenix/tree?max_children=50
#            and /_fenix/stats every second during the run
# and prints per-mode: p50/max time from send to the last receipt of one
# broadcast to N clients, and server CPU per delivered frame.
#
# Usage: bench/inspect/broadcast.sh <fenix build dir> [loadgen binary]
#   N=10000 ROUNDS=20 REPEAT=3 MODES="off on watched"
set -euo pipefail
build="${1:?build dir with apps/conformance/fenix_conformance}"
loadgen="${2:-$build/bench/loadgen/fenix_loadgen}"
server="$build/apps/conformance/fenix_conformance"
n="${N:-10000}"
rounds="${ROUNDS:-20}"
repeat="${REPEAT:-3}"
modes="${MODES:-off on watched}"
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out"
ulimit -n "$(ulimit -Hn)"

pids=()
cleanup() { for p in "${pids[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

run_one() { # mode index
  local mode=$1 i=$2 args=(--port=0) log="$out/$1-$2.log"
  [[ $mode != off ]] && args+=(--admin-token=bench)
  "$server" "${args[@]}" >"$log" 2>&1 &
  local spid=$!
  pids+=("$spid")
  local url=""
  for _ in $(seq 100); do
    url=$(grep -o 'listening on http://[0-9.:]*' "$log" | head -n1 | sed 's/listening on //') || true
    [[ -n "$url" ]] && break
    sleep 0.1
  done
  [[ -z "$url" ]] && { echo "server did not start" >&2; cat "$log" >&2; exit 1; }
  local port=${url##*:} ppid=""
  if [[ $mode == watched ]]; then
    ( while true; do
        curl -s -o /dev/null -H 'Authorization: Bearer bench' "$url/_fenix/tree?max_children=50"
        curl -s -o /dev/null -H 'Authorization: Bearer bench' "$url/_fenix/stats"
        sleep 1
      done ) &
    ppid=$!
    pids+=("$ppid")
  fi
  "$loadgen" fanout --port "$port" --server-pid "$spid" --server-name "$mode" \
    --n "$n" --rounds "$rounds" --sustained-n 100 --max-steps 1 \
    --out "$out/$mode-$i.json" >/dev/null 2>&1
  [[ -n "$ppid" ]] && kill "$ppid" 2>/dev/null || true
  kill "$spid"; wait "$spid" 2>/dev/null || true
}

for i in $(seq "$repeat"); do
  for mode in $modes; do run_one "$mode" "$i"; done
done

python3 - "$out" "$n" $modes <<'PY'
import json, sys, glob, statistics
out, n, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print(f"| mode | runs | last receipt p50 ms (median of runs) | last receipt max ms | server CPU µs per delivery |")
print("|---|---:|---:|---:|---:|")
for m in modes:
    rows = []
    for f in sorted(glob.glob(f"{out}/{m}-*.json")):
        d = json.load(open(f))["single"]
        rows.append((d["send_to_last_receipt_p50_ms"], d["send_to_last_receipt_max_ms"],
                     d["cpu"]["server_cpu_s"] * 1e6 / max(1, d["delivered"])))
    if not rows:
        continue
    print(f"| {m} | {len(rows)} | {statistics.median(r[0] for r in rows):.1f} | "
          f"{max(r[1] for r in rows):.1f} | {statistics.median(r[2] for r in rows):.2f} |")
print(f"\n(raw reports in {out})")
PY
