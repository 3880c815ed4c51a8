#!/usr/bin/env bash
# bench/discord.sh: the Discord channel's figures (no aims, no verdicts): idle RSS of the Discord
# worker beside the supervisor and the front; `send` throughput and latency through the gateway
# and the worker to the local Discord emulator (REST create message, a Gateway connection held
# meanwhile); and how soon a kill -9'd Discord worker serves again (a new pid running and the
# Gateway READY, as channels.status reports it).
# Owns: the Discord emulator (tests/emulators/discord/emulator.py) and one gateway (ephemeral
# ports on 127.0.0.1, a temp state dir, channels.discord pointing at the emulator), driving
# clawgate-bench and `clawgate call`, and stopping everything it started. Builds nothing.
# Usage: bench/discord.sh [BUILD_DIR]     (default: build/release next to this script's parent)
# Fails: exit 2 when a binary is missing or the emulator, the gateway or the channel does not
# come up in time; exit 1 when a run failed (errors, timeouts, a worker not back within 15 s).
# Every wait is bounded; nothing outside 127.0.0.0/8 is touched. About 20 s.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
BIN=$BUILD/bin
BENCH=$BIN/clawgate-bench
GATEWAY=$BIN/clawgate
EMULATOR=$ROOT/tests/emulators/discord/emulator.py
for b in "$BENCH" "$GATEWAY" "$BIN/clawgate-front" "$BIN/clawgate-discord"; do
  [[ -x $b ]] || { echo "discord.sh: missing $b (build clawgate and clawgate-bench first)" >&2; exit 2; }
done
unset CLAWGATE_CONFIG_PATH CLAWGATE_GATEWAY_TOKEN CLAWGATE_GATEWAY_PASSWORD CLAWGATE_STATE_DIR
unset OPENCLAW_GATEWAY_URL OPENCLAW_GATEWAY_TOKEN OPENCLAW_GATEWAY_PASSWORD DISCORD_BOT_TOKEN

WORK=$(mktemp -d "${TMPDIR:-/tmp}/clawgate-discord.XXXXXX") || exit 2
PIDS=()
BOUND_PID=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  [[ -n $BOUND_PID ]] && kill -TERM "$BOUND_PID" 2>/dev/null
  declare -F stop_pids >/dev/null && stop_pids
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BENCH_NAME=discord.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

URL=""
PID=""
TOKEN="bench-$$-$RANDOM"
CALL_OUT=""
DC_PID=""
wait_ready() {  # LIMIT_S: the Gateway READY and a running worker; sets DC_PID
  wait_channel_ready discord "$1" && DC_PID=$CH_PID
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "clawgate Discord benchmarks: $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg), build $BUILD"
PY=python3
python3 -c 'import websockets' 2>/dev/null || PY=/usr/bin/python3
start_server emulator 'listening on http://127\.0\.0\.1:[0-9]*' \
  "$PY" -u "$EMULATOR" --port 0 --token bench-discord --guild 10:20
EMU_URL=$URL
EMU_PID=$PID
mkdir -p "$WORK/state"
cat >"$WORK/config.json" <<EOF
{"channels":{"discord":{"token":"bench-discord","apiRoot":"$EMU_URL/api/v10","dmPolicy":"open","allowFrom":["*"]}}}
EOF
start_server gateway 'listening on ws://127\.0\.0\.1:[0-9]*' \
  env CLAWGATE_STATE_DIR="$WORK/state" CLAWGATE_RESTART_BACKOFF_MS=1 CLAWGATE_RESTART_WINDOW_MS=1 \
  "$GATEWAY" gateway --bind 127.0.0.1 --port 0 --token "$TOKEN" --config "$WORK/config.json"
GW_URL=$URL
GW_PID=$PID
wait_ready 15 || die "the discord channel did not connect within 15 s" "$WORK/gateway.log"
echo "emulator $EMU_URL, gateway $GW_URL, discord worker pid $DC_PID"
FAILED=0

echo "== idle memory, after 2 s idle"
sleep 2
call status 5000 || die "status failed" "$WORK/gateway.log"
printf '%s' "$CALL_OUT" >"$WORK/status.json"
"$PY" -c '
import json, sys
for p in json.load(open(sys.argv[1])).get("processes", []):
    print("   %-10s pid %-8s RSS %.1f MiB" % (p.get("name"), p.get("pid"), p.get("rssBytes", 0) / 1048576))
' "$WORK/status.json"
DC_RSS=$("$PY" -c '
import json, sys
print(next((p.get("rssBytes", 0) for p in json.load(open(sys.argv[1])).get("processes", []) if p.get("name") == "discord"), 0))
' "$WORK/status.json")

send_bench() {  # NAME DEPTH
  echo "== $1: clawgate-bench send --n 1000 --depth $2 (discord, channel:20)"
  run_bounded "$1" 120 "$BENCH" send --url "$GW_URL" --token "$TOKEN" --n 1000 --depth "$2" \
    --channel discord --to channel:20 --timeout-ms 60000 || FAILED=1
  sed 's/^/   /' "$WORK/$1.out"
}
send_bench send64 64
send_bench send1 1

kill_restart_rounds discord 5 "the Gateway READY"
DC_PID=$CH_PID
echo
printf '%-48s %14s\n' "idle RSS discord worker" "$(mib "$DC_RSS") MiB"
printf '%-48s %14s\n' "send, 1000 at depth 64" "$(field send64 rate) sends/s"
printf '%-48s %14s\n' "  latency p50 / p99" "$(field send64 p50_ms) / $(field send64 p99_ms) ms"
printf '%-48s %14s\n' "send, 1000 at depth 1, latency p50 / p99" "$(field send1 p50_ms) / $(field send1 p99_ms) ms"
printf '%-48s %14s\n' "kill -9 -> serving again, median of ${#RESTART[@]}" "$(printf '%s\n' "${RESTART[@]}" | median) ms"
exit $FAILED
