#!/usr/bin/env bash
# bench/slack.sh: the Slack channel's figures (no aims, no verdicts): idle RSS and PSS of the
# Slack worker in Socket Mode beside the supervisor's and the front's; Socket Mode inbound
# throughput (DMs from a sender the front refuses, so no model is needed: each goes emulator ->
# worker (ack, dedupe, journal) -> front (policy) -> ack), streamed as fast as the emulator takes
# them and as a burst queued while the worker was stopped (the gateway's own pace); `send`
# throughput and latency through the worker to chat.postMessage; how soon a kill -9'd worker
# serves again (a new pid running and Socket Mode connected); then, on a second gateway in HTTP
# Request URLs mode, the webhook round trip of signed and of forged event_callback POSTs
# (POST -> 200 / 401, timed on the client) one at a time and concurrently.
# Owns: the Slack emulator (tests/emulators/slack/emulator.py) and one gateway at a time
# (ephemeral ports on 127.0.0.1, a temp state dir each, channels.slack pointing at the
# emulator), driving bench/slack_load.py, clawgate-bench and `clawgate call`, and stopping
# everything it started. Builds nothing.
# Usage: bench/slack.sh [BUILD_DIR]     (default: build/release next to this script's parent)
# Knobs: INBOUND_N (500), SENDS (500), HTTP_N (500), HTTP_CONC (8).
# Fails: exit 2 when a binary is missing or the emulator, a gateway or the channel does not come
# up in time; exit 1 when a run failed (errors, timeouts, unexpected answers, a worker not back
# within 15 s). Every wait is bounded; nothing outside 127.0.0.0/8 is touched. About 10 s.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
BIN=$BUILD/bin
BENCH=$BIN/clawgate-bench
GATEWAY=$BIN/clawgate
EMULATOR=$ROOT/tests/emulators/slack/emulator.py
LOAD=$ROOT/bench/slack_load.py
for b in "$BENCH" "$GATEWAY" "$BIN/clawgate-front" "$BIN/clawgate-slack"; do
  [[ -x $b ]] || { echo "slack.sh: missing $b (build clawgate and clawgate-bench first)" >&2; exit 2; }
done
unset CLAWGATE_CONFIG_PATH CLAWGATE_GATEWAY_TOKEN CLAWGATE_GATEWAY_PASSWORD CLAWGATE_STATE_DIR
unset OPENCLAW_GATEWAY_URL OPENCLAW_GATEWAY_TOKEN OPENCLAW_GATEWAY_PASSWORD
unset SLACK_BOT_TOKEN SLACK_APP_TOKEN
INBOUND_N=${INBOUND_N:-500}
SENDS=${SENDS:-500}
HTTP_N=${HTTP_N:-500}
HTTP_CONC=${HTTP_CONC:-8}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/clawgate-slack.XXXXXX") || exit 2
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

BENCH_NAME=slack.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

URL=""
PID=""
TOKEN="bench-$$-$RANDOM"
CALL_OUT=""
BOT_TOKEN=xoxb-bench-bot
APP_TOKEN=xapp-1-bench-app
SECRET="bench-signing-$$-$RANDOM"
REFUSED=U0BENCHNO  # the DM sender the front refuses (allowFrom holds only U0BENCHOK)
SL_PID=""
wait_ready() {  # LIMIT_S: the channel connected and a running worker; sets SL_PID
  wait_channel_ready slack "$1" && SL_PID=$CH_PID
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
emu_post() {  # PATH JSON: a control request to the emulator
  timeout -k 1 10 "$PY" -c '
import sys, urllib.request
r = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), headers={"Content-Type": "application/json"})
urllib.request.urlopen(r, timeout=5).read()
' "$EMU_URL$1" "$2" 2>>"$WORK/emu_post.err"
}
# start_gateway NAME CONFIG_JSON: a gateway with its own state dir; sets GW_URL and GW_PID.
start_gateway() {
  mkdir -p "$WORK/$1-state"
  printf '%s\n' "$2" >"$WORK/$1.json"
  start_server "$1" 'listening on ws://127\.0\.0\.1:[0-9]*' \
    env CLAWGATE_STATE_DIR="$WORK/$1-state" CLAWGATE_RESTART_BACKOFF_MS=1 CLAWGATE_RESTART_WINDOW_MS=1 \
    "$GATEWAY" gateway --bind 127.0.0.1 --port 0 --token "$TOKEN" --config "$WORK/$1.json"
  GW_URL=$URL
  GW_PID=$PID
}
stop_gateway() {  # TERM, up to 5 s, then KILL; dropped from PIDS
  local j p keep=()
  kill -TERM "$GW_PID" 2>/dev/null
  for ((j = 0; j < 50; j++)); do
    kill -0 "$GW_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$GW_PID" 2>/dev/null
  wait "$GW_PID" 2>/dev/null
  for p in "${PIDS[@]}"; do [[ $p == "$GW_PID" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

echo "clawgate Slack benchmarks: $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg), build $BUILD"
host_note
sync_probe
echo "fdatasync in the state dir's filesystem: p50 $SYNC_P50 ms, max $SYNC_MAX ms (the worker's inbound journal syncs twice per message)"
PY=python3
python3 -c 'import websockets' 2>/dev/null || PY=/usr/bin/python3
start_server emulator 'listening on http://127\.0\.0\.1:[0-9]*' \
  "$PY" -u "$EMULATOR" --port 0 --bot-token "$BOT_TOKEN" --app-token "$APP_TOKEN"
EMU_URL=$URL
EMU_PID=$PID
emu_post /_emu/channel '{"channel": "C0BENCH01"}' || die "the emulator refused /_emu/channel" "$WORK/emulator.log"
start_gateway gateway "{\"channels\":{\"slack\":{\"botToken\":\"$BOT_TOKEN\",\"appToken\":\"$APP_TOKEN\",\
\"apiRoot\":\"$EMU_URL/api\",\"dmPolicy\":\"allowlist\",\"allowFrom\":[\"U0BENCHOK\"]}}}"
wait_ready 15 || die "the slack channel did not connect (Socket Mode) within 15 s" "$WORK/gateway.log"
echo "emulator $EMU_URL, gateway $GW_URL, slack worker pid $SL_PID"
FAILED=0

echo "== idle memory, Socket Mode connected, after 2 s idle"
sleep 2
FRONT_PID=$(child_pid "$GW_PID" clawgate-front) || die "no front process" "$WORK/gateway.log"
SL_PID=$(child_pid "$GW_PID" clawgate-slack) || die "no slack worker process" "$WORK/gateway.log"
for kv in supervisor="$GW_PID" front="$FRONT_PID" slack="$SL_PID"; do
  p=${kv#*=}
  printf '   %-10s pid %-8s RSS %6s MiB  PSS %6s MiB\n' "${kv%%=*}" "$p" "$(mib $(($(rss_kb "$p") * 1024)))" \
    "$(mib $(($(pss_kb "$p") * 1024)))"
done
SL_RSS=$(rss_kb "$SL_PID")
SL_PSS=$(pss_kb "$SL_PID")
FRONT_RSS=$(rss_kb "$FRONT_PID")
FRONT_PSS=$(pss_kb "$FRONT_PID")

echo "== inbound, Socket Mode: $INBOUND_N DMs from $REFUSED (refused by the front's allowlist), injected by 4 clients"
cpu_start "$FRONT_PID" "$SL_PID" "$EMU_PID"
run_bounded inbound 90 "$PY" "$LOAD" inject "$EMU_URL" "$WORK/gateway.log" "$INBOUND_N" 4 "$REFUSED" || FAILED=1
echo "   CPU during the run (share of one core): $(cpu_report front="$FRONT_PID" slack="$SL_PID" emulator="$EMU_PID")"
sed 's/^/   /' "$WORK/inbound.out"
echo "== inbound, Socket Mode, a burst: channels stop slack, $INBOUND_N DMs queued in the emulator, channels start slack"
"$GATEWAY" channels stop slack --url "$GW_URL" --token "$TOKEN" >"$WORK/stop.out" 2>&1 ||
  die "channels stop slack failed" "$WORK/stop.out"
run_bounded burst 90 "$PY" "$LOAD" burst "$EMU_URL" "$WORK/gateway.log" "$INBOUND_N" "$REFUSED" \
  timeout -k 1 20 "$GATEWAY" channels start slack --url "$GW_URL" --token "$TOKEN" || FAILED=1
sed 's/^/   /' "$WORK/burst.out"
wait_ready 15 || die "the slack channel did not connect again within 15 s" "$WORK/gateway.log"

send_bench() {  # NAME DEPTH
  echo "== $1: clawgate-bench send --n $SENDS --depth $2 (slack, channel:C0BENCH01)"
  run_bounded "$1" 120 "$BENCH" send --url "$GW_URL" --token "$TOKEN" --n "$SENDS" --depth "$2" \
    --channel slack --to channel:C0BENCH01 --timeout-ms 60000 || FAILED=1
  sed 's/^/   /' "$WORK/$1.out"
}
send_bench send64 64
send_bench send1 1

kill_restart_rounds slack 5 "Socket Mode connected"
SL_PID=$CH_PID
stop_gateway

echo "== HTTP Request URLs mode: a second gateway, POST $HTTP_N event_callbacks (DMs from $REFUSED) to /slack/events"
start_gateway gateway-http "{\"channels\":{\"slack\":{\"mode\":\"http\",\"botToken\":\"$BOT_TOKEN\",\
\"signingSecret\":\"$SECRET\",\"webhookPath\":\"/slack/events\",\"apiRoot\":\"$EMU_URL/api\",\
\"dmPolicy\":\"allowlist\",\"allowFrom\":[\"U0BENCHOK\"]}}}"
wait_ready 15 || die "the slack channel (HTTP mode) was not ready within 15 s" "$WORK/gateway-http.log"
HOOK=${GW_URL/ws:/http:}/slack/events
echo "   webhook $HOOK, slack worker pid $SL_PID"
FRONT_PID=$(child_pid "$GW_PID" clawgate-front) || die "no front process" "$WORK/gateway-http.log"
http_bench() {  # NAME CONC KIND
  run_bounded "$1" 60 "$PY" "$LOAD" http "$HOOK" "$SECRET" "$HTTP_N" "$2" "$REFUSED" "$3" \
    front="$FRONT_PID" slack="$SL_PID" || FAILED=1
  echo "   $3, $2 at a time: $(sed 's/^RESULT //' "$WORK/$1.out")"
}
http_bench http1 1 valid
http_bench httpc "$HTTP_CONC" valid
http_bench forged1 1 forged
http_bench forgedc "$HTTP_CONC" forged
# The 200 comes before the event is handled: count what the front refused (each valid POST once).
want=$((2 * HTTP_N))
seen=0
for ((j = 0; j < 200; j++)); do
  seen=$(grep -c "sender $REFUSED is not in allowFrom" "$WORK/gateway-http.log")
  ((seen >= want)) && break
  sleep 0.1
done
echo "   the front refused $seen of the $want signed DMs (forged ones never reach it)"
((seen == want)) || FAILED=1

echo
printf '%-52s %22s\n' "idle RSS / PSS slack worker (Socket Mode)" "$(mib $((SL_RSS * 1024))) / $(mib $((SL_PSS * 1024))) MiB"
printf '%-52s %22s\n' "idle RSS / PSS front" "$(mib $((FRONT_RSS * 1024))) / $(mib $((FRONT_PSS * 1024))) MiB"
printf '%-52s %22s\n' "inbound, $INBOUND_N DMs streamed: injected / refused by front" "$(field inbound inject_rate) / $(field inbound front_rate) msgs/s"
printf '%-52s %22s\n' "inbound, $INBOUND_N DMs queued, from the connection: all acked" "$(field burst acked_rate) msgs/s"
printf '%-52s %22s\n' "  all refused by the front" "$(field burst front_rate) msgs/s"
printf '%-52s %22s\n' "send, $SENDS at depth 64" "$(field send64 rate) sends/s"
printf '%-52s %22s\n' "  latency p50 / p99" "$(field send64 p50_ms) / $(field send64 p99_ms) ms"
printf '%-52s %22s\n' "send, $SENDS at depth 1, latency p50 / p99" "$(field send1 p50_ms) / $(field send1 p99_ms) ms"
printf '%-52s %22s\n' "kill -9 -> Socket Mode again, median of ${#RESTART[@]}" "$(printf '%s\n' "${RESTART[@]}" | median) ms"
printf '%-52s %22s\n' "HTTP signed POST -> 200, one at a time, p50 / p99" "$(field http1 p50_ms) / $(field http1 p99_ms) ms"
printf '%-52s %22s\n' "HTTP signed POSTs, $HTTP_CONC at a time" "$(field httpc rate) req/s"
printf '%-52s %22s\n' "HTTP forged POST -> 401, one at a time, p50 / p99" "$(field forged1 p50_ms) / $(field forged1 p99_ms) ms"
printf '%-52s %22s\n' "HTTP forged POSTs, $HTTP_CONC at a time" "$(field forgedc rate) req/s"
exit $FAILED
