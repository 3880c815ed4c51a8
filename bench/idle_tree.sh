#!/usr/bin/env bash
# bench/idle_tree.sh: what the whole gateway costs when nothing happens: the supervisor, the front,
# the agent worker (no model configured: offline) and one Telegram worker long-polling the Bot API
# emulator (pollTimeoutSeconds at its default, 30), with no client connected. Prints, per process
# and in total, RSS, PSS (shared pages split between the processes mapping them, so the total
# counts them once), open fds, threads, CPU as a share of one core and wakeups (context switches)
# per second over DURATION seconds. Figures only, no aims and no verdicts.
# Owns: the Telegram Bot API emulator (tests/emulators/telegram/emulator.py) and one gateway
# (ephemeral ports on 127.0.0.1, a temp state dir), and stopping both. Builds nothing. Nothing
# talks to the gateway during the measured window (the readiness check is before it).
# Usage: bench/idle_tree.sh [BUILD_DIR]  (default: build/release next to this script's parent)
#   env DURATION (60) seconds measured, SETTLE (5) seconds after the channel connected
# Fails: exit 2 when a binary or python3 is missing, or the emulator, the gateway or the Telegram
# channel does not come up within 15 s; exit 1 when a process of the tree restarted or died
# during the window. Every process it started is stopped on exit (TERM, then KILL after 3 s),
# every wait is bounded, and nothing outside 127.0.0.0/8 is touched.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
BIN=$BUILD/bin
GATEWAY=$BIN/clawgate
EMULATOR=$ROOT/tests/emulators/telegram/emulator.py
DURATION=${DURATION:-60}
SETTLE=${SETTLE:-5}
for b in "$GATEWAY" "$BIN/clawgate-front" "$BIN/clawgate-agent" "$BIN/clawgate-telegram"; do
  [[ -x $b ]] || { echo "idle_tree.sh: missing $b (build the clawgate target first)" >&2; exit 2; }
done
[[ -f $EMULATOR ]] || { echo "idle_tree.sh: missing $EMULATOR" >&2; exit 2; }
for c in python3 timeout awk; do
  command -v "$c" >/dev/null || { echo "idle_tree.sh: needs $c" >&2; exit 2; }
done
[[ $DURATION =~ ^[1-9][0-9]*$ && $SETTLE =~ ^[0-9]+$ ]] ||
  { echo "idle_tree.sh: DURATION and SETTLE are whole seconds" >&2; exit 2; }
unset CLAWGATE_CONFIG_PATH CLAWGATE_GATEWAY_TOKEN CLAWGATE_GATEWAY_PASSWORD CLAWGATE_STATE_DIR
unset OPENCLAW_GATEWAY_URL OPENCLAW_GATEWAY_TOKEN OPENCLAW_GATEWAY_PASSWORD

WORK=$(mktemp -d "${TMPDIR:-/tmp}/clawgate-idle.XXXXXX") || exit 2
PIDS=()
BOUND_PID=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  [[ -n $BOUND_PID ]] && kill -TERM "$BOUND_PID" 2>/dev/null
  declare -F stop_pids >/dev/null && stop_pids  # lib.sh, once sourced
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BENCH_NAME=idle_tree.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
URL=""
PID=""
TOKEN="bench-$$-$RANDOM"
BOT_TOKEN="123:bench"
CALL_OUT=""

echo "clawgate idle tree: $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg), build $BUILD"
host_note
start_server emulator 'listening on http://127\.0\.0\.1:[0-9]*' \
  python3 -u "$EMULATOR" --port 0 --token "$BOT_TOKEN"
EMU_URL=$URL
EMU_PID=$PID
mkdir -p "$WORK/state"
cat >"$WORK/config.json" <<EOF
{"channels":{"telegram":{"botToken":"$BOT_TOKEN","apiRoot":"$EMU_URL","dmPolicy":"open"}}}
EOF
start_server gateway 'listening on ws://127\.0\.0\.1:[0-9]*' env CLAWGATE_STATE_DIR="$WORK/state" \
  "$GATEWAY" gateway --bind 127.0.0.1 --port 0 --token "$TOKEN" --config "$WORK/config.json"
GW_URL=$URL
GW_PID=$PID
deadline=$((SECONDS + 15))
while ((SECONDS < deadline)); do
  if call channels.status 2000 && [[ $CALL_OUT == *'"connected": true'* ]]; then break; fi
  sleep 0.1
done
[[ $CALL_OUT == *'"connected": true'* ]] || die "the telegram channel did not connect within 15 s" "$WORK/gateway.log"
declare -A P
P[supervisor]=$GW_PID
for name in front agent telegram; do
  P[$name]=$(child_pid "$GW_PID" "clawgate-$name") || die "no clawgate-$name child of $GW_PID" "$WORK/gateway.log"
done
ORDER=(supervisor front agent telegram)
echo "gateway $GW_URL: supervisor ${P[supervisor]}, front ${P[front]}, agent ${P[agent]}, telegram ${P[telegram]};" \
  "Bot API emulator $EMU_URL (pid $EMU_PID)"
echo "telegram connected; idle for $SETTLE s, then $DURATION s measured with no client connected"
sleep "$SETTLE"

ctx() {  # voluntary + involuntary context switches of a process
  local k v s=0
  while read -r k v; do
    [[ $k == voluntary_ctxt_switches: || $k == nonvoluntary_ctxt_switches: ]] && s=$((s + v))
  done 2>/dev/null <"/proc/$1/status"
  echo "$s"
}
emu_polls() {
  python3 -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen(sys.argv[1] + "/_emu/stats", timeout=5)).get("getUpdates", 0))' "$EMU_URL" 2>/dev/null || echo 0
}
declare -A CTX0
POLLS0=$(emu_polls)
for name in "${ORDER[@]}"; do CTX0[$name]=$(ctx "${P[$name]}"); done
CTX0[emulator]=$(ctx "$EMU_PID")
cpu_start "${P[@]}" "$EMU_PID"
host_cpu_start
sleep "$DURATION"
HOST=$(host_cpu_report)
POLLS1=$(emu_polls)

FAILED=0
P[emulator]=$EMU_PID
printf '%-12s %8s %9s %9s %5s %8s %14s %12s\n' process pid "RSS MiB" "PSS MiB" fds threads "CPU % of core" "wakeups/s"
tot_rss=0
tot_pss=0
tot_fds=0
tot_cpu=0
tot_ctx=0
for name in "${ORDER[@]}" emulator; do
  p=${P[$name]}
  if ! kill -0 "$p" 2>/dev/null; then
    echo "$name (pid $p) is gone"
    FAILED=1
    continue
  fi
  rss=$(rss_kb "$p")
  pss=$(pss_kb "$p")
  fds=$(fd_count "$p")
  thr=$(status_kb "/proc/$p/status" Threads)
  # Not cpu_report: it rounds to whole percents, and idle figures are fractions of one.
  d=$(($(ticks "$p") - ${CPU0[$p]:-0}))
  cpu=$(awk -v d="$d" -v hz="$HZ" -v s="$DURATION" 'BEGIN { printf "%.3f", 100 * d / hz / s }')
  wk=$(awk -v a="$(ctx "$p")" -v b="${CTX0[$name]}" -v s="$DURATION" 'BEGIN { printf "%.1f", (a - b) / s }')
  label=$name
  [[ $name == emulator ]] && label="(emulator)"
  printf '%-12s %8s %9s %9s %5s %8s %14s %12s\n' "$label" "$p" "$(mib $((rss * 1024)))" \
    "$(mib $((pss * 1024)))" "$fds" "$thr" "$cpu" "$wk"
  if [[ $name != emulator ]]; then
    tot_rss=$((tot_rss + rss))
    tot_pss=$((tot_pss + pss))
    tot_fds=$((tot_fds + fds))
    tot_cpu=$(awk -v a="$tot_cpu" -v b="$cpu" 'BEGIN { printf "%.3f", a + b }')
    tot_ctx=$(awk -v a="$tot_ctx" -v b="$wk" 'BEGIN { printf "%.1f", a + b }')
  fi
done
printf '%-12s %8s %9s %9s %5s %8s %14s %12s\n' "tree total" "" "$(mib $((tot_rss * 1024)))" \
  "$(mib $((tot_pss * 1024)))" "$tot_fds" "" "$tot_cpu" "$tot_ctx"
for name in front agent telegram; do
  now=$(child_pid "$GW_PID" "clawgate-$name")
  [[ $now == "${P[$name]}" ]] || { echo "$name restarted during the window (pid ${P[$name]} -> ${now:-none})"; FAILED=1; }
done
echo
echo "window: $DURATION s; CPU from utime+stime ticks (1/$HZ s each: $(awk -v hz="$HZ" -v s="$DURATION" 'BEGIN { printf "%.3f", 100 / hz / s }')% resolution)"
echo "Bot API getUpdates calls during the window: $((POLLS1 - POLLS0)) (long polls of 30 s, the emulator answers when one expires)"
echo "host during the window: $HOST"
n=$(grep -c -E ' (warn|error|fatal) ' "$WORK/gateway.log")
[[ $n -gt 0 ]] && { echo "gateway log: $n warning/error lines:"; grep -E ' (warn|error|fatal) ' "$WORK/gateway.log" | head -5 | sed 's/^/  /'; }
echo "RESULT idle_tree rss_kb=$tot_rss pss_kb=$tot_pss fds=$tot_fds cpu_pct=$tot_cpu wakeups_per_s=$tot_ctx"
exit $FAILED
