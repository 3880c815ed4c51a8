#!/usr/bin/env bash
# bench/channels.sh: benchmarks for the channel path, printing figures (no aims, no verdicts):
# idle memory of the supervisor, the front and the telegram worker; `send` throughput and latency
# through the gateway to the local Bot API emulator, next to the emulator's own ceiling; and how
# soon a kill -9'd telegram worker is back (a new pid running and the channel connected).
# Owns: the Telegram Bot API emulator (tests/emulators/telegram/emulator.py) and one gateway
# (ephemeral ports on 127.0.0.1, a temp state dir, a config pointing the telegram channel at the
# emulator), driving clawgate-bench and `clawgate call` against them, and stopping everything it
# started. Builds nothing.
# Usage: bench/channels.sh [BUILD_DIR]     (default: build/release next to this script's parent)
# Fails: exit 2 when a binary or python3 is missing, the emulator or the gateway does not come up
# within 10 s or the channel does not connect within 15 s; exit 1 when a benchmark failed (error
# responses, timeouts, a worker not back within 15 s), marked in the table. Every process it
# started is stopped on exit (TERM, then KILL after 3 s), every wait is bounded, and nothing
# outside 127.0.0.0/8 is touched. The whole run takes about 10 s.
# The gateway runs with CLAWGATE_RESTART_BACKOFF_MS=1 and CLAWGATE_RESTART_WINDOW_MS=1: five kills
# in a row would otherwise measure the restart policy's deliberate backoff (250 ms doubling, then
# `failed` with 60 s retries after 5 deaths in a minute) instead of respawn + getMe. The first
# death after a healthy run restarts at once either way; the delay the supervisor scheduled for
# each kill is printed next to it.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
BIN=$BUILD/bin
BENCH=$BIN/clawgate-bench
GATEWAY=$BIN/clawgate
EMULATOR=$ROOT/tests/emulators/telegram/emulator.py
for b in "$BENCH" "$GATEWAY" "$BIN/clawgate-front" "$BIN/clawgate-telegram"; do
  if [[ ! -x $b ]]; then
    echo "channels.sh: missing $b (build the clawgate and clawgate-bench targets first)" >&2
    exit 2
  fi
done
[[ -f $EMULATOR ]] || { echo "channels.sh: missing $EMULATOR" >&2; exit 2; }
for c in python3 timeout date; do
  command -v "$c" >/dev/null || { echo "channels.sh: needs $c" >&2; exit 2; }
done
# Nothing from the caller's environment may point the gateway elsewhere.
unset CLAWGATE_CONFIG_PATH CLAWGATE_GATEWAY_TOKEN CLAWGATE_GATEWAY_PASSWORD CLAWGATE_STATE_DIR
unset OPENCLAW_GATEWAY_URL OPENCLAW_GATEWAY_TOKEN OPENCLAW_GATEWAY_PASSWORD

WORK=$(mktemp -d "${TMPDIR:-/tmp}/clawgate-channels.XXXXXX") || exit 2
PIDS=()      # emulator, gateway
BOUND_PID="" # the running bounded command (timeout(1) runs it in a process group of its own)

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  [[ -n $BOUND_PID ]] && kill -TERM "$BOUND_PID" 2>/dev/null
  # The gateway first (it stops its own children), the emulator last.
  declare -F stop_pids >/dev/null && stop_pids  # lib.sh, once sourced
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BENCH_NAME=channels.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

URL=""
PID=""

TOKEN="bench-$$-$RANDOM"
BOT_TOKEN="123:bench"
CALL_OUT=""

# Pretty-printed JSON from `clawgate call` (sorted keys): matched in bash, no fork per poll.
CONNECTED_TRUE='"connected": true'
CONNECTED_FALSE='"connected": false'
# The process entry has one nested object ("sandbox") between its pid and its state.
TG_PROC_RE='"name": "telegram",[^}]*"pid": ([0-9]+),[^}]*(\{[^}]*\}[^}]*)?"state": "([a-z]+)"'
connected_in() { [[ $1 == *"$CONNECTED_TRUE"* && $1 != *"$CONNECTED_FALSE"* ]]; }
TG_PID=""
TG_STATE=""
telegram_proc_in() {  # JSON of `status`: sets TG_PID and TG_STATE
  TG_PID=""
  TG_STATE=""
  [[ $1 =~ $TG_PROC_RE ]] || return 1
  TG_PID=${BASH_REMATCH[1]}
  TG_STATE=${BASH_REMATCH[3]}
}

# wait_ready LIMIT_S: until channels.status says connected and status has a running telegram
# worker; sets TG_PID. Returns 1 on timeout.
wait_ready() {
  local deadline=$((SECONDS + $1))
  while ((SECONDS < deadline)); do
    if call channels.status 2000 && connected_in "$CALL_OUT" && call status 2000 &&
      telegram_proc_in "$CALL_OUT" && [[ $TG_STATE == running && $TG_PID != 0 ]]; then
      return 0
    fi
    sleep 0.05
  done
  return 1
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
log_ms() { date -u -d "$1" +%s%3N 2>/dev/null; }  # ISO-8601 log timestamp -> epoch ms

echo "clawgate channel benchmarks: $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg), build $BUILD"
echo "state dir on $(df -T "$WORK" 2>/dev/null | awk 'NR == 2 { print $2 }') (each send is journalled with fdatasync)"
echo

# ---- emulator and gateway -----------------------------------------------------------------
start_server emulator 'listening on http://127\.0\.0\.1:[0-9]*' \
  python3 -u "$EMULATOR" --port 0 --token "$BOT_TOKEN"
EMU_URL=$URL
EMU_PID=$PID
echo "Bot API emulator $EMU_URL (pid $EMU_PID)"

mkdir -p "$WORK/state"
cat >"$WORK/config.json" <<EOF
{"channels":{"telegram":{"botToken":"$BOT_TOKEN","apiRoot":"$EMU_URL","dmPolicy":"open","pollTimeoutSeconds":5}}}
EOF
start_server gateway 'listening on ws://127\.0\.0\.1:[0-9]*' \
  env CLAWGATE_STATE_DIR="$WORK/state" CLAWGATE_RESTART_BACKOFF_MS=1 CLAWGATE_RESTART_WINDOW_MS=1 \
  "$GATEWAY" gateway --bind 127.0.0.1 --port 0 --token "$TOKEN" --config "$WORK/config.json"
GW_URL=$URL
GW_PID=$PID
echo "gateway $GW_URL (supervisor pid $GW_PID)"
wait_ready 15 || die "the telegram channel did not connect within 15 s (channels.status: $(
  grep -m1 -o '"lastError": .*' <<<"$CALL_OUT" || echo "no answer: $(head -c 300 "$WORK/call.err")"))" \
  "$WORK/gateway.log"
echo "telegram connected (worker pid $TG_PID)"
echo

FAILED=0

# ---- idle memory ----------------------------------------------------------------------------
echo "== idle memory, after 2 s idle"
sleep 2
call status 5000 || die "status failed: $(cat "$WORK/call.err")" "$WORK/gateway.log"
printf '%s' "$CALL_OUT" >"$WORK/status-idle.json"
# name pid rssBytes per process
python3 -c '
import json, sys
for p in json.load(open(sys.argv[1])).get("processes", []):
    print(p.get("name", "?"), p.get("pid", 0), p.get("rssBytes", 0))
' "$WORK/status-idle.json" >"$WORK/rss.txt" || die "cannot parse status" "$WORK/status-idle.json"
SUP_RSS_KB=$(awk '/^VmRSS:/ { print $2 }' "/proc/$GW_PID/status" 2>/dev/null)
[[ -n $SUP_RSS_KB ]] || die "cannot read VmRSS of the supervisor (pid $GW_PID)" "$WORK/gateway.log"
SUP_RSS=$((SUP_RSS_KB * 1024))
FRONT_PID=$(awk '$1 == "front" { print $2 }' "$WORK/rss.txt")
FRONT_RSS=$(awk '$1 == "front" { print $3 }' "$WORK/rss.txt")
TG_RSS=$(awk '$1 == "telegram" { print $3 }' "$WORK/rss.txt")
[[ -n $FRONT_PID && -n $FRONT_RSS && -n $TG_RSS ]] ||
  die "status has no front/telegram processes: $(tr -d '\n ' <"$WORK/status-idle.json" | head -c 400)"
printf '   %-22s %8s %10s\n' process pid "RSS MiB"
printf '   %-22s %8s %10s   (VmRSS, /proc)\n' supervisor "$GW_PID" "$(mib "$SUP_RSS")"
while read -r name pid rss; do
  printf '   %-22s %8s %10s   (status rssBytes)\n' "$name" "$pid" "$(mib "$rss")"
done <"$WORK/rss.txt"
TOTAL_RSS=$((SUP_RSS + FRONT_RSS + TG_RSS))
printf '   %-22s %8s %10s\n' total "" "$(mib "$TOTAL_RSS")"
echo

# ---- send throughput and latency ------------------------------------------------------------
LOG_LINES_BEFORE_SENDS=$(wc -l <"$WORK/gateway.log")
# send_bench NAME DEPTH: 2000 sends through the gateway; CPU of every process on the path.
send_bench() {
  local name=$1 depth=$2
  echo "== $name: clawgate-bench send --n 2000 --depth $depth (telegram, chat 42)"
  cpu_start "$FRONT_PID" "$TG_PID" "$EMU_PID"
  run_bounded "$name" 120 "$BENCH" send --url "$GW_URL" --token "$TOKEN" --n 2000 --depth "$depth" \
    --channel telegram --to 42 --timeout-ms 60000 --pid "$FRONT_PID"
  local rc=$?
  local cpu
  cpu=$(cpu_report front="$FRONT_PID" "telegram worker=$TG_PID" emulator="$EMU_PID")
  sed 's/^/   /' "$WORK/$name.out"
  echo "   CPU during the run (share of one core): $cpu"
  [[ $rc -eq 0 ]] || FAILED=1
}
send_bench send64 64
send_bench send1 1

echo "== emulator ceiling: 2000 sequential sendMessage on one keep-alive connection (Python http.client)"
cat >"$WORK/ceiling.py" <<'EOF'
# The Bot API emulator on its own: sequential sendMessage calls over one keep-alive connection,
# as the worker makes them. Stops early after 30 s and reports what it did.
import http.client, json, math, sys, time
from urllib.parse import urlsplit

url, token, n = urlsplit(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
path = "/bot%s/sendMessage" % token
lat, errors = [], 0
t0 = time.perf_counter()
for i in range(n):
    body = json.dumps({"chat_id": 43, "text": "ceiling %d" % i})
    t = time.perf_counter()
    conn.request("POST", path, body, {"Content-Type": "application/json"})
    res = conn.getresponse()
    data = res.read()
    lat.append((time.perf_counter() - t) * 1000)
    if res.status != 200 or not json.loads(data).get("ok"):
        errors += 1
    if time.perf_counter() - t0 > 30:
        print("stopped after 30 s")
        break
secs = time.perf_counter() - t0
lat.sort()
def pct(p):  # nearest rank
    return lat[min(max(math.ceil(p * len(lat)), 1), len(lat)) - 1] if lat else 0.0
rate = len(lat) / secs
print("%d calls in %.2f s: %.0f calls/s   p50 %.3f ms   p99 %.3f ms   errors %d"
      % (len(lat), secs, rate, pct(0.5), pct(0.99), errors))
print("RESULT ceiling n=%d rate=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d"
      % (len(lat), rate, pct(0.5), pct(0.99), errors))
EOF
cpu_start "$EMU_PID"
run_bounded ceiling 60 python3 "$WORK/ceiling.py" "$EMU_URL" "$BOT_TOKEN" 2000 || FAILED=1
CEIL_CPU=$(cpu_report emulator="$EMU_PID")
sed 's/^/   /' "$WORK/ceiling.out"
echo "   CPU during the run (share of one core): $CEIL_CPU, the rest is the Python client"
echo

n=$(tail -n +$((LOG_LINES_BEFORE_SENDS + 1)) "$WORK/gateway.log" | grep -c -E ' (warn|error|fatal) ')
if [[ $n -gt 0 ]]; then
  echo "gateway log: $n warning/error lines during the send runs, e.g.:"
  tail -n +$((LOG_LINES_BEFORE_SENDS + 1)) "$WORK/gateway.log" | grep -E ' (warn|error|fatal) ' |
    sed -E 's/^[0-9][0-9T:.Z-]* //' | sort | uniq -c | sort -rn | head -3 | sed 's/^/  /'
  echo
fi

# ---- restart latency ------------------------------------------------------------------------
echo "== restart: kill -9 the telegram worker, then poll \`status\` (its channels.telegram.connected"
echo "   is the channels.status flag; its processes[] has the pid) every ~5 ms until a new pid is"
echo "   running and connected, confirmed by channels.status; 5 times. 'polled' includes the polling"
echo "   (each \`clawgate call\` is a process start + handshake); 'log' is kill -> the new worker's"
echo "   getMe-ok line in the gateway log, without polling overhead."
RESTART_POLLED=()
RESTART_LOG=()
for k in 1 2 3 4 5; do
  if ! wait_ready 15; then
    echo "   #$k: the worker was not running and connected before the kill (15 s)"
    FAILED=1
    break
  fi
  sleep 0.3 # let it settle into its long poll
  old=$TG_PID
  lines=$(wc -l <"$WORK/gateway.log")
  now_us
  t0=$NOW_US
  kill -KILL "$old" 2>/dev/null || { echo "   #$k: cannot kill pid $old"; FAILED=1; break; }
  back=0
  polls=0
  while :; do
    polls=$((polls + 1))
    # No timeout(1) here (a fork less per poll): every wait of `clawgate call` has --timeout.
    CALL_OUT=$("$GATEWAY" call status --url "$GW_URL" --token "$TOKEN" --timeout 1000 2>"$WORK/call.err")
    now_us
    if connected_in "$CALL_OUT" && telegram_proc_in "$CALL_OUT" &&
      [[ $TG_STATE == running && $TG_PID != 0 && $TG_PID != "$old" ]]; then
      back=1
      break
    fi
    ((NOW_US - t0 > 15000000)) && break
    sleep 0.005
  done
  polled_ms=$(awk -v d=$((NOW_US - t0)) 'BEGIN { printf "%.1f", d / 1000 }')
  if [[ $back == 1 ]] && ! { call channels.status 2000 && connected_in "$CALL_OUT"; }; then
    echo "   #$k: status said connected but channels.status did not: $(tr -d '\n ' <<<"$CALL_OUT" | head -c 300)"
    FAILED=1
    break
  fi
  if [[ $back != 1 ]]; then
    echo "   #$k: not back within 15 s (last state ${TG_STATE:-?}, pid ${TG_PID:-?}); log:"
    tail -n +$((lines + 1)) "$WORK/gateway.log" | tail -n 8 | sed 's/^/     /'
    FAILED=1
    break
  fi
  # The supervisor's and the worker's own log lines, for the figure without polling overhead.
  tail -n +$((lines + 1)) "$WORK/gateway.log" >"$WORK/restart-$k.log"
  for ((i = 0; i < 20; i++)); do # the ready line may trail the status change by a moment
    grep -q 'telegram: bot @.* ready' "$WORK/restart-$k.log" && break
    sleep 0.05
    tail -n +$((lines + 1)) "$WORK/gateway.log" >"$WORK/restart-$k.log"
  done
  delay=$(sed -n 's/.* telegram: restarting in \([0-9]*\) ms.*/\1/p' "$WORK/restart-$k.log" | head -1)
  ts_started=$(grep -m1 "telegram: started pid $TG_PID " "$WORK/restart-$k.log" | cut -d' ' -f1)
  ts_ready=$(awk -v pid="$TG_PID" 'index($0, "telegram: started pid " pid " ") { s = 1 }
    s && /telegram: bot @.* ready/ { print $1; exit }' "$WORK/restart-$k.log")
  kill_ms=$((t0 / 1000))
  spawn_txt="?"
  log_txt="?"
  if [[ -n $ts_started ]] && s=$(log_ms "$ts_started"); then spawn_txt=$((s - kill_ms)); fi
  if [[ -n $ts_ready ]] && r=$(log_ms "$ts_ready"); then
    log_txt=$((r - kill_ms))
    RESTART_LOG+=("$log_txt")
  fi
  RESTART_POLLED+=("$polled_ms")
  printf '   #%d: pid %s -> %s   polled %7s ms (%d polls)   log %4s ms (respawned after %s ms, backoff scheduled %s ms)\n' \
    "$k" "$old" "$TG_PID" "$polled_ms" "$polls" "$log_txt" "$spawn_txt" "${delay:-?}"
done
POLLED_MED=$(printf '%s\n' "${RESTART_POLLED[@]}" | grep . | median)
LOG_MED=$(printf '%s\n' "${RESTART_LOG[@]}" | grep . | median)
echo "   median: polled ${POLLED_MED:--} ms, log ${LOG_MED:--} ms"
[[ ${#RESTART_POLLED[@]} -eq 5 ]] || FAILED=1
kill -0 "$GW_PID" 2>/dev/null || { echo "channels.sh: the gateway died during the run" >&2; FAILED=1; }
echo

# ---- summary --------------------------------------------------------------------------------
row() { printf '%-46s %16s %s\n' "$1" "${2:--}" "${3:-}"; }
clean() {  # NAME: "" when run NAME had no errors and no unanswered sends, else "FAILED"
  [[ $(field "$1" errors) == 0 && $(field "$1" unanswered) == 0 ]] || echo "FAILED"
}
S64=$(field send64 rate)
CEIL=$(field ceiling rate)
ratio=""
[[ -n $S64 && -n $CEIL && $CEIL != 0 ]] && ratio=$(awk -v a="$S64" -v b="$CEIL" 'BEGIN { printf "%.2f", a / b }')
row "figure" "value"
row "------" "-----"
row "idle RSS supervisor (VmRSS)" "$(mib "$SUP_RSS")" MiB
row "idle RSS front (status rssBytes)" "$(mib "$FRONT_RSS")" MiB
row "idle RSS telegram worker (status rssBytes)" "$(mib "$TG_RSS")" MiB
row "idle RSS total" "$(mib "$TOTAL_RSS")" MiB
row "send, 2000 at depth 64" "$S64" "sends/s $(clean send64)"
row "  latency p50 / p99" "$(field send64 p50_ms) / $(field send64 p99_ms)" ms
row "  errors / unanswered" "$(field send64 errors) / $(field send64 unanswered)" ""
row "send, 2000 at depth 1: latency p50 / p99" "$(field send1 p50_ms) / $(field send1 p99_ms)" \
  "ms $(clean send1)"
row "  sends/s at depth 1" "$(field send1 rate)" sends/s
row "  errors / unanswered" "$(field send1 errors) / $(field send1 unanswered)" ""
row "emulator ceiling (sequential, keep-alive)" "$CEIL" "calls/s $([[ $(field ceiling errors) == 0 ]] || echo FAILED)"
row "  emulator sendMessage p50" "$(field ceiling p50_ms)" ms
row "gateway depth 64 / emulator ceiling" "$ratio" ""
row "worker restart, kill -9 -> connected, median" "$POLLED_MED" "ms (polled, ${#RESTART_POLLED[@]} of 5)"
row "  same from the log (kill -> getMe ok)" "$LOG_MED" ms
row "  each, polled" "$(printf '%s ' "${RESTART_POLLED[@]}")" ms
row "  each, log" "$(printf '%s ' "${RESTART_LOG[@]}")" ms
exit $FAILED
