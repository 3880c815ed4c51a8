#!/usr/bin/env bash
# bench/rpc.sh: request throughput of cheap methods over N connections, against the bare
# websocketpp echo server doing the same number of round trips (the ceiling of the framing
# library and event loop clawgate uses). Prints figures and ratios, no aims and no verdicts.
# For each N in CONNS: clawgate-bench rpc --clients N --depth DEPTH with `health` (no scope, a
# small cached answer) and `status` (operator.read: connections, processes, memory), then
# clawgate-bench echo with the same N and DEPTH; each for SECONDS after a 0.5 s warm-up. With each
# figure: the front's and clawgate-bench's CPU as a share of one core (a figure where
# clawgate-bench is near 100% is bound by the load tool, not the gateway).
# Owns: one gateway and one echo server (ephemeral ports on 127.0.0.1, a temp state dir), and
# stopping both. Builds nothing.
# Usage: bench/rpc.sh [BUILD_DIR]        (default: build/release next to this script's parent)
#   env CONNS ("1 4 16 64 256 1024"), DEPTH (8 requests in flight per connection), SECONDS_EACH (5)
# Fails: exit 2 when a binary is missing, a server does not start within 10 s, or the open-file
# limit is below the largest N + 64; exit 1 when a run had errors (marked FAILED in the table).
# Every process it started is stopped on exit (TERM, then KILL after 3 s), every wait is bounded,
# and nothing outside 127.0.0.0/8 is touched. About 6 x 3 x 6 s = 2 minutes with the defaults.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
BIN=$BUILD/bin
BENCH=$BIN/clawgate-bench
GATEWAY=$BIN/clawgate
ECHO=$BIN/clawgate-echo
CONNS=${CONNS:-1 4 16 64 256 1024}
DEPTH=${DEPTH:-8}
SECONDS_EACH=${SECONDS_EACH:-5}
for b in "$BENCH" "$GATEWAY" "$ECHO" "$BIN/clawgate-front"; do
  if [[ ! -x $b ]]; then
    echo "rpc.sh: missing $b (build the clawgate, clawgate-bench and clawgate-echo targets first)" >&2
    exit 2
  fi
done
command -v timeout >/dev/null || { echo "rpc.sh: needs timeout(1)" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
unset CLAWGATE_CONFIG_PATH CLAWGATE_GATEWAY_TOKEN CLAWGATE_GATEWAY_PASSWORD CLAWGATE_STATE_DIR
unset OPENCLAW_GATEWAY_URL OPENCLAW_GATEWAY_TOKEN OPENCLAW_GATEWAY_PASSWORD

WORK=$(mktemp -d "${TMPDIR:-/tmp}/clawgate-rpc.XXXXXX") || exit 2
PIDS=()
BOUND_PID=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local p j
  [[ -n $BOUND_PID ]] && kill -TERM "$BOUND_PID" 2>/dev/null
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for ((j = 0; j < 30; j++)); do
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

BENCH_NAME=rpc.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
URL=""
PID=""
TOKEN="bench-$$-$RANDOM"

max=0
for n in $CONNS; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "rpc.sh: CONNS must be positive integers" >&2; exit 2; }
  ((n > max)) && max=$n
done
[[ $DEPTH =~ ^[1-9][0-9]*$ ]] || { echo "rpc.sh: DEPTH must be a positive integer" >&2; exit 2; }
lim=$(ulimit -n)
[[ $lim == unlimited || $lim -ge $((max + 64)) ]] ||
  { echo "rpc.sh: the open-file limit ($lim) is below $((max + 64)); lower CONNS" >&2; exit 2; }

echo "clawgate RPC throughput: $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg), build $BUILD"
host_note
mkdir -p "$WORK/state"
start_server gateway 'listening on ws://127\.0\.0\.1:[0-9]*' env CLAWGATE_STATE_DIR="$WORK/state" \
  "$GATEWAY" gateway --bind 127.0.0.1 --port 0 --token "$TOKEN"
GW_URL=$URL
GW_PID=$PID
FRONT_PID=$(wait_child_pid "$GW_PID" clawgate-front 5) || die "no clawgate-front child" "$WORK/gateway.log"
start_server echo 'listening on ws://127\.0\.0\.1:[0-9]*' "$ECHO" --port 0
ECHO_URL=$URL
ECHO_PID=$PID
echo "gateway $GW_URL (supervisor pid $GW_PID, front pid $FRONT_PID), echo server $ECHO_URL (pid $ECHO_PID)"
echo "each: $SECONDS_EACH s after 0.5 s warm-up, $DEPTH requests in flight per connection"
echo

FAILED=0
# one NAME KIND ARGS...: a clawgate-bench rpc/echo run; its output indented; FAILED on errors.
one() {
  local name=$1
  shift
  echo "== $name: clawgate-bench $*"
  run_bounded "$name" $((SECONDS_EACH + 60)) "$BENCH" "$@" --depth "$DEPTH" --seconds "$SECONDS_EACH"
  local rc=$?
  sed 's/^/   /' "$WORK/$name.out"
  [[ $rc -eq 0 ]] || FAILED=1
}
cpu_of() {  # NAME WHO: "97%" from the "<who> CPU 97% of a core" text of run NAME
  grep -o "$2 CPU [0-9]*%" "$WORK/$1.out" | head -1 | awk '{ print $3 }'
}
for n in $CONNS; do
  one "health-$n" rpc --url "$GW_URL" --token "$TOKEN" --clients "$n" --method health --pid "$FRONT_PID"
  one "status-$n" rpc --url "$GW_URL" --token "$TOKEN" --clients "$n" --method status --pid "$FRONT_PID"
  one "echo-$n" echo --url "$ECHO_URL" --clients "$n" --pid "$ECHO_PID"
done
kill -0 "$FRONT_PID" 2>/dev/null || { echo "rpc.sh: the front died during the run" >&2; FAILED=1; }
n=$(grep -c -E ' (warn|error|fatal) ' "$WORK/gateway.log")
if [[ $n -gt 0 ]]; then
  echo "gateway log: $n warning/error lines, e.g.:"
  grep -E ' (warn|error|fatal) ' "$WORK/gateway.log" | sed -E 's/^[0-9][0-9T:.Z-]* //' | sort |
    uniq -c | sort -rn | head -3 | sed 's/^/  /'
fi
echo

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }
bad() { [[ $(field "$1" errors) == 0 ]] && echo "" || echo " FAILED"; }
printf '%6s %11s %15s %9s %11s %15s %11s %7s %7s %11s\n' conns "health/s" "p50/p99 ms" "front%" \
  "status/s" "p50/p99 ms" "echo/s" "h/echo" "s/echo" "bench%(h)"
for n in $CONNS; do
  h=$(field "health-$n" rate)
  s=$(field "status-$n" rate)
  e=$(field "echo-$n" rate)
  printf '%6s %11s %15s %9s %11s %15s %11s %7s %7s %11s%s\n' "$n" "${h:--}" \
    "$(field "health-$n" p50_ms)/$(field "health-$n" p99_ms)" "$(cpu_of "health-$n" server)" \
    "${s:--}" "$(field "status-$n" p50_ms)/$(field "status-$n" p99_ms)" "${e:--}" \
    "$(ratio "$h" "$e")" "$(ratio "$s" "$e")" "$(cpu_of "health-$n" clawgate-bench)" \
    "$(bad "health-$n")$(bad "status-$n")$(bad "echo-$n")"
done
echo "(front%: the front's CPU during the health run, share of one core; bench%(h): clawgate-bench's)"
exit $FAILED
