#!/usr/bin/env bash
# Runs the fenix benchmark scenarios (issue 7) against one or more servers
# and writes bench/results/<server>-<scenario>.json plus summary.md.
#
# Usage: bench/run.sh <build-dir> [server ...]      (default: baseline fenix)
#
# Servers are names; each one's command line is a template where {port} is
# replaced by a free port (override with FENIX_BENCH_CMD_<name>):
#   baseline  <build-dir>/bench/baseline/fenix_baseline --host 127.0.0.1 --port {port}
#   fenix     <build-dir>/apps/conformance/fenix_conformance --host 127.0.0.1 --port {port}
# A server whose binary does not exist is skipped (its summary columns say n/a).
#
# Environment:
#   SCENARIOS         which scenarios, in order [idle fanout echo join churn]
#   LOADGEN_N         scale the main size of every scenario (quick runs)
#   LOADGEN_DURATION  seconds per measured step (quick runs)
#   LOADGEN_ARGS      extra fenix_loadgen flags, e.g. "--rounds 5"
#   BENCH_RESULTS     results directory [bench/results]
#   SCENARIO_TIMEOUT  seconds before one scenario is killed [300]
#   JOIN_RUNS         join runs per server, the median is reported [5]
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:?usage: bench/run.sh <build-dir> [server ...]}"
shift
[[ "$build" = /* ]] || build="$root/$build"
servers=("$@")
((${#servers[@]})) || servers=(baseline fenix)
scenarios=(${SCENARIOS:-idle fanout echo join churn})
results="${BENCH_RESULTS:-$root/bench/results}"
logs="$build/bench-logs"
loadgen="$build/bench/loadgen/fenix_loadgen"
timeout_s="${SCENARIO_TIMEOUT:-300}"
mkdir -p "$results" "$logs"

# Sockets are files: every process started from here gets the hard limit.
ulimit -n "$(ulimit -Hn)"

[[ -x "$loadgen" ]] || { echo "run.sh: $loadgen not built" >&2; exit 1; }

server_cmd() {
  local name="$1" var="FENIX_BENCH_CMD_$1"
  if [[ -n "${!var:-}" ]]; then echo "${!var}"; return; fi
  case "$name" in
    baseline) echo "$build/bench/baseline/fenix_baseline --host 127.0.0.1 --port {port}" ;;
    fenix)    echo "$build/apps/conformance/fenix_conformance --host 127.0.0.1 --port {port}" ;;
    *) echo "run.sh: unknown server '$name' (set FENIX_BENCH_CMD_$name)" >&2; return 1 ;;
  esac
}

server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { [[ -z "$(ss -ltnH "sport = :$1" 2>/dev/null)" ]]; }
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 12000))   # below the ephemeral range (32768+)
    port_free "$p" && { echo "$p"; return; }
  done
  echo "run.sh: no free port" >&2; return 1
}

start_server() { # name -> sets server_pid, port
  local name="$1" cmd
  cmd="$(server_cmd "$name")"
  port="$(free_port)"
  cmd="${cmd//\{port\}/$port}"
  local -a argv
  read -r -a argv <<< "$cmd"
  "${argv[@]}" >> "$logs/$name.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do   # up to 10 s to start listening
    kill -0 "$server_pid" 2>/dev/null || { echo "run.sh: $name exited at start (see $logs/$name.log)" >&2; server_pid=""; return 1; }
    port_free "$port" || return 0
    sleep 0.1
  done
  echo "run.sh: $name did not listen on $port" >&2
  cleanup
  return 1
}

# median_run <prefix> <runs> <out>: copies the run whose headline joins/s
# is the median (of those that produced one) to <out>.
median_run() {
  local prefix="$1" runs="$2" out="$3" k v
  local -a rows=()
  for ((k = 1; k <= runs; k++)); do
    [[ -s "$prefix.run$k.json" ]] || continue
    v="$(grep -o '"joins_per_s": *[0-9.]*' "$prefix.run$k.json" | tail -1 | grep -o '[0-9.]*$')"
    [[ -n "$v" ]] && rows+=("$v $prefix.run$k.json")
  done
  ((${#rows[@]})) || { echo "run.sh: no result for $prefix" >&2; return 0; }
  local pick
  pick="$(printf '%s\n' "${rows[@]}" | sort -n | sed -n "$(( (${#rows[@]} + 1) / 2 ))p")"
  cp "${pick#* }" "$out"
  echo "run.sh: $(basename "$out"): median of ${#rows[@]} runs (joins/s: $(printf '%s\n' "${rows[@]}" | sort -n | cut -d' ' -f1 | tr '\n' ' '))"
}

# The servers that are built, in the order given.
present=()
for name in "${servers[@]}"; do
  cmd="$(server_cmd "$name")" || continue
  bin="${cmd%% *}"
  if [[ ! -x "$bin" ]]; then
    echo "run.sh: skipping $name: $bin not built"
    continue
  fi
  present+=("$name")
done

# Scenario by scenario, the servers take turns (and the join runs
# alternate: baseline, fenix, baseline, ...): a VM's host speed drifts over
# minutes, and a ratio is only fair when both of its figures were measured
# under the same drift.
for sc in "${scenarios[@]}"; do
  # The join phase lasts well under a second, so one sample moves by
  # +-15 % with whatever else the VM does: it runs JOIN_RUNS times (a
  # fresh server each) and the run with the median joins/s is reported;
  # the others stay next to it as <name>-join.run<k>.json.
  runs=1
  [[ "$sc" == join ]] && runs="${JOIN_RUNS:-5}"
  for ((k = 1; k <= runs; k++)); do
    for name in "${present[@]}"; do
      # A fresh server per scenario: RSS and state start from zero each time.
      start_server "$name" || continue
      echo "run.sh: $name $sc (pid $server_pid, port $port)"
      out="$results/$name-$sc.json"
      ((runs > 1)) && out="$results/$name-$sc.run$k.json"
      # shellcheck disable=SC2086
      if ! timeout -k 10 "$timeout_s" "$loadgen" "$sc" --port "$port" \
          --server-name "$name" --server-pid "$server_pid" \
          --timeout "$((timeout_s - 10))" --out "$out" ${LOADGEN_ARGS:-}; then
        echo "run.sh: $name $sc failed (see $out)" >&2
      fi
      if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "run.sh: $name died during $sc (see $logs/$name.log)" >&2
      fi
      cleanup
      command -v jq >/dev/null && jq -c '{headline, errors}' "$out" 2>/dev/null || true
    done
  done
  if ((runs > 1)); then
    for name in "${present[@]}"; do
      median_run "$results/$name-$sc" "$runs" "$results/$name-$sc.json"
    done
  fi
done

"$loadgen" summary "$results"
