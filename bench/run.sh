#!/usr/bin/env bash
# bench/run.sh: runs every clawgate benchmark once and prints a summary table against the aims.
# Owns: starting the gateway and the bare echo server (ephemeral ports on 127.0.0.1, temp state
# dirs), driving clawgate-bench against them, and stopping everything it started. Builds nothing.
# Usage: bench/run.sh [BUILD_DIR]          (default: build/release next to this script's parent)
# Fails: exit 2 when a binary is missing or a server does not come up within 10 s; a benchmark
# that fails or misses its aim is marked in the table and the script exits 1. Every process it
# started is stopped on exit (TERM, then KILL after 3 s), every wait is bounded, and nothing
# outside 127.0.0.0/8 is touched. The whole run takes well under 3 minutes.
# Every server-side figure (CPU shares, the memory per idle connection) is taken from
# clawgate-front, the process that holds the connections, found as the supervisor's child.
# 10,000 idle connections need an open-file limit above 10,064 in this shell (each process, the
# front and clawgate-bench, holds one side); the script raises the soft limit to the hard one, and
# with a lower hard limit runs fewer connections and says so in the table (FAIL: the aim is for
# 10,000).
# Channel path (idle RSS per process, `send` throughput/latency against the Bot API emulator,
# worker restart after kill -9): bench/channels.sh, same conventions, figures only.
# Agent path (first-token latency the gateway adds over the model, runs/s at concurrency 1/8/32,
# front RSS and disk per idle session, against the fake model server): bench/agent.sh, likewise.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
BIN=$BUILD/bin
BENCH=$BIN/clawgate-bench
GATEWAY=$BIN/clawgate
ECHO=$BIN/clawgate-echo
for b in "$BENCH" "$GATEWAY" "$ECHO"; do
  if [[ ! -x $b ]]; then
    echo "run.sh: missing $b (build the clawgate, clawgate-bench and clawgate-echo targets first)" >&2
    exit 2
  fi
done
command -v timeout >/dev/null || { echo "run.sh: needs timeout(1)" >&2; exit 2; }

# 10,000 held connections need more descriptors than the usual soft limit, on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# Nothing from the caller's environment may point the gateways elsewhere.
unset CLAWGATE_CONFIG_PATH CLAWGATE_GATEWAY_TOKEN CLAWGATE_GATEWAY_PASSWORD CLAWGATE_STATE_DIR

WORK=$(mktemp -d "${TMPDIR:-/tmp}/clawgate-bench.XXXXXX") || exit 2
PIDS=()      # servers
BENCH_PID="" # the running benchmark (timeout(1) runs it in a process group of its own)
BENCH_NAME=run.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local p i
  [[ -n $BENCH_PID ]] && kill -TERM "$BENCH_PID" 2>/dev/null
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for ((i = 0; i < 30; i++)); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

URL=""
PID=""
LISTENING='listening on ws://127\.0\.0\.1:[0-9]*'

TOKEN="bench-$$-$RANDOM"
FRONT_PID=""
# start_gateway NAME: a gateway on a fresh state dir; sets URL, PID (the supervisor) and
# FRONT_PID (its clawgate-front, which answers every connection).
start_gateway() {
  mkdir -p "$WORK/$1-state"
  start_server "$1" "$LISTENING" env CLAWGATE_STATE_DIR="$WORK/$1-state" "$GATEWAY" gateway \
    --bind 127.0.0.1 --port 0 --token "$TOKEN"
  FRONT_PID=$(wait_child_pid "$PID" clawgate-front 5) ||
    die "$1: no clawgate-front child of the supervisor (pid $PID)" "$WORK/$1.log"
}

# bench NAME LIMIT_S ARGS...: runs clawgate-bench (bounded by LIMIT_S), shows its output and
# keeps it in $WORK/NAME.out.
bench() {
  local name=$1 limit=$2 rc
  shift 2
  echo "== $name: clawgate-bench $*"
  timeout -k 5 "$limit" "$BENCH" "$@" >"$WORK/$name.out" 2>&1 &
  BENCH_PID=$!
  wait "$BENCH_PID"
  rc=$?
  BENCH_PID=""
  sed 's/^/   /' "$WORK/$name.out"
  [[ $rc -eq 124 || $rc -eq 137 ]] && echo "   (killed after ${limit} s)"
  return 0
}

echo "clawgate benchmarks: $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg), build $BUILD"
echo

bench startup 60 startup --bin "$GATEWAY" --n 20

start_gateway gateway
GW_URL=$URL
GW_PID=$PID
GW_FRONT=$FRONT_PID
echo "gateway $GW_URL (supervisor pid $GW_PID, front pid $GW_FRONT)"
start_server echo "$LISTENING" "$ECHO" --port 0
ECHO_URL=$URL
ECHO_PID=$PID
echo "echo server $ECHO_URL (pid $ECHO_PID)"
echo

# --pid makes each figure say how busy the server and the load tool were (server- or client-bound).
bench handshake 60 handshake --url "$GW_URL" --token "$TOKEN" --n 2000 --pid "$GW_FRONT"
bench upgrade 60 handshake --url "$ECHO_URL" --n 2000 --pid "$ECHO_PID"
bench rpc 60 rpc --url "$GW_URL" --token "$TOKEN" --clients 4 --depth 32 --seconds 10 --method health \
  --pid "$GW_FRONT"
bench rpc512 60 rpc --url "$GW_URL" --token "$TOKEN" --clients 1 --depth 512 --seconds 5 \
  --method health --pid "$GW_FRONT"
bench echo 60 echo --url "$ECHO_URL" --clients 4 --depth 32 --seconds 10 --pid "$ECHO_PID"
bench fanout 60 fanout --url "$GW_URL" --token "$TOKEN" --clients 1000 --rounds 300 --pid "$GW_FRONT"
if ! kill -0 "$GW_FRONT" 2>/dev/null; then echo "run.sh: the gateway's front died during the run" >&2; fi

# Memory per idle connection on a fresh gateway, so earlier runs' heap does not hide growth:
# the front's RSS growth over IDLE_N held connections, read from /proc by clawgate-bench.
IDLE_N=10000
NOFILE=$(ulimit -n)
if [[ $NOFILE != unlimited && $NOFILE -lt $((IDLE_N + 200)) ]]; then
  IDLE_N=$((NOFILE - 200))
  echo "open-file limit $NOFILE (hard $(ulimit -Hn)): idle runs $IDLE_N connections, not 10,000"
  echo "  (raise the hard limit, e.g. 'ulimit -Hn 65536' as root or LimitNOFILE= / limits.conf)"
fi
start_gateway gateway-idle
IDLE_FRONT=$FRONT_PID
echo "fresh gateway for idle $URL (supervisor pid $PID, front pid $IDLE_FRONT)"
bench idle 90 idle --url "$URL" --token "$TOKEN" --n "$IDLE_N" --pid "$IDLE_FRONT" \
  --closed-settle-ms 2000
# The same again on the same front: memory the allocator kept from the first round is reused
# (little growth) or not (a leak would grow by about as much again).
bench idle2 90 idle --url "$URL" --token "$TOKEN" --n "$IDLE_N" --pid "$IDLE_FRONT" \
  --closed-settle-ms 2000
if ! kill -0 "$IDLE_FRONT" 2>/dev/null; then echo "run.sh: the idle gateway's front died during the run" >&2; fi

# Anything the servers complained about while under load.
for log in gateway gateway-idle echo; do
  n=$(grep -c -E ' (warn|error|fatal) |\[(warning|error|fatal)\]' "$WORK/$log.log")
  if [[ $n -gt 0 ]]; then
    echo "$log log: $n warning/error lines, e.g.:"
    grep -E ' (warn|error|fatal) |\[(warning|error|fatal)\]' "$WORK/$log.log" | sed -E 's/^(\[[^]]*\]|[0-9][0-9T:.Z-]*) //' | sort | uniq -c | sort -rn | head -3 | sed 's/^/  /'
  fi
done
echo

# ---- summary ------------------------------------------------------------------------------
FAILED=0
# row LABEL VALUE UNIT AIM_TEXT OP LIMIT [EXTRA_OK]: prints one line; OP is le or ge.
row() {
  local label=$1 value=$2 unit=$3 aim=$4 op=$5 limit=$6 extra_ok=${7:-1} verdict
  if [[ -z $value ]]; then
    verdict="FAIL (no result)"
    value="-"
    FAILED=1
  elif [[ $extra_ok != 1 ]]; then
    verdict="FAIL (errors)"
    FAILED=1
  elif awk -v v="$value" -v l="$limit" -v op="$op" 'BEGIN { exit !((op == "le") ? v <= l : v >= l) }'; then
    verdict="ok"
  else
    verdict="MISSED"
    FAILED=1
  fi
  printf '%-34s %14s %-8s %-18s %s\n' "$label" "$value" "$unit" "$aim" "$verdict"
}
zero() { [[ ${1:-x} == 0 ]] && echo 1 || echo 0; }

printf '%-34s %14s %-8s %-18s %s\n' "benchmark" "figure" "" "aim" "verdict"
printf '%-34s %14s %-8s %-18s %s\n' "---------" "------" "" "---" "-------"
row "handshake p50 (2000 sequential)" "$(field handshake p50_ms)" ms "<= 0.3 ms" le 0.3 \
  "$(zero "$(field handshake failures)")"
printf '%-34s %14s %-8s\n' "  handshake p99 / max" "$(field handshake p99_ms) / $(field handshake max_ms)" ms
printf '%-34s %14s %-8s\n' "  upgrade only, echo server p50" "$(field upgrade p50_ms)" ms
row "health req/s (4 clients x 32)" "$(field rpc rate)" req/s ">= 150000" ge 150000 "$(zero "$(field rpc errors)")"
printf '%-34s %14s %-8s\n' "  rpc latency p50 / p99" "$(field rpc p50_ms) / $(field rpc p99_ms)" ms
row "errors, 512 in flight on 1 client" "$(field rpc512 errors)" "" "0" le 0
printf '%-34s %14s %-8s\n' "  req/s at depth 512" "$(field rpc512 rate)" req/s
row "fan-out to 1000 clients p50" "$(field fanout p50_ms)" ms "<= 2.5 ms" le 2.5 "$(zero "$(field fanout failed)")"
printf '%-34s %14s %-8s\n' "  fan-out p99 / max" "$(field fanout p99_ms) / $(field fanout max_ms)" ms
idle_ok=0
[[ $(field idle failed) == 0 && $(field idle lost) == 0 && $(field idle n) == 10000 ]] && idle_ok=1
row "front RSS per idle connection" "$(field idle kb_per_conn)" KB "<= 8 KB (10,000)" le 8 "$idle_ok"
printf '%-34s %14s %-8s\n' "  connections held" "$(field idle n)" ""
printf '%-34s %14s %-8s\n' "  front RSS before / held" "$(field idle rss_before_kb) / $(field idle rss_after_kb)" KB
printf '%-34s %14s %-8s\n' "  second half only (marginal)" "$(field idle kb_per_conn_2nd_half)" KB
printf '%-34s %14s %-8s\n' "  RSS 2 s after closing all" "$(field idle rss_closed_kb)" KB
printf '%-34s %14s %-8s\n' "  front fds before / held / closed" "$(field idle fds_before) / $(field idle fds_after) / $(field idle fds_closed)" ""
printf '%-34s %14s %-8s\n' "  again on the same front: RSS held" "$(field idle2 rss_after_kb)" KB
printf '%-34s %14s %-8s\n' "    growth over the first round" "$(field idle2 kb_per_conn)" "KB/conn"
row "ready after exec p50 (20 starts)" "$(field startup p50_ms)" ms "< 100 ms" le 99.999 \
  "$(zero "$(field startup failures)")"
printf '%-34s %14s %-8s\n' "  ready after exec max" "$(field startup max_ms)" ms
ECHO_RATE=$(field echo rate)
RPC_RATE=$(field rpc rate)
printf '%-34s %14s %-8s\n' "echo ceiling (4 clients x 32)" "${ECHO_RATE:--}" msgs/s
if [[ -n $ECHO_RATE && -n $RPC_RATE && $ECHO_RATE != 0 ]]; then
  printf '%-34s %14s %-8s\n' "gateway / echo throughput" "$(awk -v a="$RPC_RATE" -v b="$ECHO_RATE" 'BEGIN { printf "%.2f", a / b }')" ""
fi
exit $FAILED
