#!/usr/bin/env bash
# bench/tls.sh: what gateway.tls costs a client. Two gateways (ws:// and wss:// with a generated
# self-signed pair, ephemeral ports on 127.0.0.1, temp state dirs); against each,
# clawgate-tls-bench measures connect latency (TCP + TLS + upgrade + connect -> hello-ok, CONNECTS
# sequential connections) and pipelined `health` round trips on one connection (DEPTH in flight,
# SECONDS_EACH), and the front's RSS per idle connection past hello-ok (IDLE connections). Prints
# the RESULT lines and the ratios; no aims, no verdicts.
# Usage: bench/tls.sh [BUILD_DIR]   env CONNECTS (300), DEPTH (8), SECONDS_EACH (5), IDLE (500)
# Fails: exit 2 when a binary is missing or a gateway does not start within 10 s; exit 1 when a
# measurement failed. Every process it started is stopped on exit; nothing outside 127.0.0.0/8.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
GATEWAY=$BUILD/bin/clawgate
TOOL=$BUILD/bin/clawgate-tls-bench
CONNECTS=${CONNECTS:-300}
DEPTH=${DEPTH:-8}
SECONDS_EACH=${SECONDS_EACH:-5}
IDLE=${IDLE:-500}
for b in "$GATEWAY" "$TOOL"; do
  [[ -x $b ]] || { echo "tls.sh: missing $b (build clawgate and clawgate-tls-bench first)" >&2; exit 2; }
done
unset CLAWGATE_CONFIG_PATH CLAWGATE_GATEWAY_TOKEN CLAWGATE_STATE_DIR OPENCLAW_GATEWAY_URL OPENCLAW_GATEWAY_TOKEN

WORK=$(mktemp -d "${TMPDIR:-/tmp}/clawgate-tls.XXXXXX") || exit 2
PIDS=()
BOUND_PID=""
BENCH_NAME=tls.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  [[ -n $BOUND_PID ]] && kill -TERM "$BOUND_PID" 2>/dev/null
  stop_pids
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TOKEN="bench-$$-$RANDOM"
echo "clawgate TLS cost: $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg), build $BUILD"
host_note
mkdir -p "$WORK/plain" "$WORK/tls"
echo '{"gateway":{"tls":{"enabled":true}}}' >"$WORK/tls.json"
start_server plain 'listening on ws://127\.0\.0\.1:[0-9]*' env CLAWGATE_STATE_DIR="$WORK/plain" \
  "$GATEWAY" gateway --bind 127.0.0.1 --port 0 --token "$TOKEN"
PLAIN_URL=$URL
PLAIN_FRONT=$(wait_child_pid "$PID" clawgate-front 5) || die "no clawgate-front child" "$WORK/plain.log"
start_server tls 'listening on wss://127\.0\.0\.1:[0-9]*' env CLAWGATE_STATE_DIR="$WORK/tls" \
  "$GATEWAY" gateway --bind 127.0.0.1 --port 0 --token "$TOKEN" --config "$WORK/tls.json"
TLS_URL=$URL
TLS_FRONT=$(wait_child_pid "$PID" clawgate-front 5) || die "no clawgate-front child" "$WORK/tls.log"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FP=$(grep -o -m1 'fingerprint: [0-9a-f]\{64\}' "$WORK/tls.log" | cut -d' ' -f2)
[[ -n $FP ]] || die "no fingerprint in the TLS gateway's log" "$WORK/tls.log"
echo "plain $PLAIN_URL, tls $TLS_URL (sha256 $FP)"

FAILED=0
for mode in plain tls; do
  url=$PLAIN_URL
  front=$PLAIN_FRONT
  pin=()
  [[ $mode == tls ]] && { url=$TLS_URL; front=$TLS_FRONT; pin=(--tls-fingerprint "$FP"); }
  run_bounded "$mode" $((SECONDS_EACH + 180)) "$TOOL" --url "$url" --token "$TOKEN" "${pin[@]}" \
    --connects "$CONNECTS" --depth "$DEPTH" --seconds "$SECONDS_EACH" --idle "$IDLE" --pid "$front"
  rc=$?
  grep RESULT "$WORK/$mode.out" | sed "s/^/$mode: /"
  [[ $rc -eq 0 ]] || { FAILED=1; sed 's/^/   /' "$WORK/$mode.out"; }
done
field() { grep "RESULT $2 " "$WORK/$1.out" | grep -o "$3=[0-9.]*" | cut -d= -f2; }
if [[ $FAILED -eq 0 ]]; then
  awk -v a="$(field tls connect p50_ms)" -v b="$(field plain connect p50_ms)" \
    -v c="$(field tls connect p99_ms)" -v d="$(field plain connect p99_ms)" \
    -v e="$(field tls rpc rps)" -v f="$(field plain rpc rps)" \
    -v g="$(field tls idle per_conn_kib)" -v h="$(field plain idle per_conn_kib)" 'BEGIN {
      printf "connect p50: tls/plain %.2fx (+%.3f ms); p99: %.2fx; pipelined health: tls/plain %.2fx\n",
        a / b, a - b, c / d, e / f
      printf "front RSS per idle connection: tls %.1f KiB, plain %.1f KiB\n", g, h }'
fi
exit "$FAILED"
