#!/usr/bin/env bash
# bench/soak.sh: a bounded mixed soak. For MINUTES the gateway carries, all at once:
#   - chat turns: clawgate-bench chat, 20 runs at concurrency 2 over 4 sessions, again and again
#     (a pause of 1 s between batches), against the fake model (short answers in a few deltas);
#   - Telegram traffic through the Bot API emulator: inbound DMs from 8 users (TG_RATE a second,
#     each answered by the agent and sent back) and outbound `send`s (clawgate-bench send, 40 at
#     depth 4, a pause of 2 s between batches);
#   - connection churn: 50 sequential connect+hello+close (clawgate-bench handshake), then 200
#     connections held 2 s and dropped (clawgate-bench idle), a pause of 1 s, again;
#   - kill -9 of the Telegram worker every minute (the supervisor restarts it; the time until a
#     new worker process exists is printed).
# Every INTERVAL seconds it prints each process's RSS and open fds. Twice the load pauses and
# every process is sampled quiet (no batch in flight, 5 s after the last one ended): once at
# the end of WARMUP (the load then resumes) and once after the load stopped (inbound messages
# answered, 10 s after). Growth is quiet-to-quiet, in %: under load the fd counts and RSS move
# with the connections held at that instant, quiet they do not. Figures only: no aims, no
# verdicts on growth.
# Reading the growth: the front keeps bounded caches that fill during the first minutes
# (finished-run snapshots, up to 2,000 for 10 minutes; send idempotency keys for 5 minutes; the
# log ring of 5,000 lines / 2 MiB), so growth in a run shorter than ~15 minutes includes them
# filling. The Telegram worker is a new process after every kill: its growth compares two young
# processes. What should stay flat after warm-up: the supervisor and the agent worker, and every
# process's fd count.
# Owns: the Bot API emulator, the fake model (tests/emulators/), one gateway (ephemeral ports on
# 127.0.0.1, a temp state dir), the load loops, and stopping all of them. Builds nothing.
# Usage: bench/soak.sh [MINUTES] [BUILD_DIR]    (MINUTES: 2..1440, default 10)
#   env INTERVAL (30) seconds between samples, WARMUP (max(60, MINUTES*60/5)) seconds,
#   TG_RATE (2) inbound Telegram messages a second
# Fails: exit 2 when a binary or python3 is missing or a server does not come up; exit 1 when
# the gateway or its front died, the Telegram worker did not come back after a kill within 15 s,
# or the load saw errors (runs that failed, sends not answered "sent", handshakes that failed,
# inbound messages left unanswered 30 s after the load stopped), all counted in the summary.
# Every process it started is stopped on exit (TERM, then KILL after 3 s), every wait is bounded
# (MINUTES + about 2 minutes), and nothing outside 127.0.0.0/8 is touched.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MINUTES=${1:-10}
BUILD=${2:-$ROOT/build/release}
BIN=$BUILD/bin
BENCH=$BIN/clawgate-bench
GATEWAY=$BIN/clawgate
EMULATOR=$ROOT/tests/emulators/telegram/emulator.py
MODEL=$ROOT/tests/emulators/models/fake_models.py
[[ $MINUTES =~ ^[0-9]+$ && $MINUTES -ge 2 && $MINUTES -le 1440 ]] ||
  { echo "usage: bench/soak.sh [MINUTES (2..1440)] [BUILD_DIR]" >&2; exit 2; }
DURATION=$((MINUTES * 60))
INTERVAL=${INTERVAL:-30}
WARMUP=${WARMUP:-$((DURATION / 5 > 60 ? DURATION / 5 : 60))}
TG_RATE=${TG_RATE:-2}
[[ $INTERVAL =~ ^[1-9][0-9]*$ && $WARMUP =~ ^[0-9]+$ && $WARMUP -lt $DURATION ]] ||
  { echo "soak.sh: INTERVAL must be >= 1 and WARMUP below the duration" >&2; exit 2; }
for b in "$BENCH" "$GATEWAY" "$BIN/clawgate-front" "$BIN/clawgate-agent" "$BIN/clawgate-telegram"; do
  [[ -x $b ]] || { echo "soak.sh: missing $b (build the clawgate and clawgate-bench targets first)" >&2; exit 2; }
done
for f in "$EMULATOR" "$MODEL"; do [[ -f $f ]] || { echo "soak.sh: missing $f" >&2; exit 2; }; done
for c in python3 timeout awk; do
  command -v "$c" >/dev/null || { echo "soak.sh: needs $c" >&2; exit 2; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
unset CLAWGATE_CONFIG_PATH CLAWGATE_GATEWAY_TOKEN CLAWGATE_GATEWAY_PASSWORD CLAWGATE_STATE_DIR
unset OPENCLAW_GATEWAY_URL OPENCLAW_GATEWAY_TOKEN OPENCLAW_GATEWAY_PASSWORD

WORK=$(mktemp -d "${TMPDIR:-/tmp}/clawgate-soak.XXXXXX") || exit 2
PIDS=()    # emulator, fake model, gateway
LOOPS=()   # the load loops (subshells)
BOUND_PID=""
# stop_loops: TERM to each load loop's running command (timeout(1) passes it on to
# clawgate-bench or python3), then to the loop itself.
stop_loops() {
  local p c
  for p in "${LOOPS[@]}"; do
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do kill -TERM "$c" 2>/dev/null; done
    kill -TERM "$p" 2>/dev/null
  done
  for p in "${LOOPS[@]}"; do wait "$p" 2>/dev/null; done
  LOOPS=()
}
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  touch "$WORK/stop"
  stop_loops
  declare -F stop_pids >/dev/null && stop_pids  # lib.sh, once sourced
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BENCH_NAME=soak.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
URL=""
PID=""
TOKEN="bench-$$-$RANDOM"
BOT_TOKEN="123:soak"
CALL_OUT=""

echo "clawgate soak: $MINUTES min (warm-up $WARMUP s, a sample every $INTERVAL s), $(nproc) CPU(s)," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg), build $BUILD"
host_note

# ---- servers ----------------------------------------------------------------------------------
start_server emulator 'listening on http://127\.0\.0\.1:[0-9]*' \
  python3 -u "$EMULATOR" --port 0 --token "$BOT_TOKEN"
EMU_URL=$URL
EMU_PID=$PID
start_server model 'listening on http://127\.0\.0\.1:[0-9]*' python3 -u -c '
import http.server, runpy, sys
http.server.ThreadingHTTPServer.request_queue_size = 128
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")' "$MODEL" --port 0
MODEL_URL=$URL
MODEL_PID=$PID
python3 - "$MODEL_URL" >"$WORK/script.out" 2>&1 <<'EOF' ||
import json, sys, urllib.request
body = json.dumps({"delay_ms": 5, "chunk_chars": 12, "first_delay_ms": 0,
                   "reply": "Soak answer from the fake model, in a few pieces."})
req = urllib.request.Request(sys.argv[1] + "/_emu/script", body.encode(), {"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=5).read()
EOF
  die "cannot script the fake model: $(tail -n 3 "$WORK/script.out")" "$WORK/model.log"
mkdir -p "$WORK/state"
cat >"$WORK/config.json" <<EOF
{"channels":{"telegram":{"botToken":"$BOT_TOKEN","apiRoot":"$EMU_URL","dmPolicy":"open","pollTimeoutSeconds":5}},
 "agents":{"defaults":{"model":"fake/fake-model","heartbeat":{"every":"0m"}}},
 "models":{"providers":{"fake":{"baseUrl":"$MODEL_URL/v1","apiKey":"k","api":"openai-completions"}}}}
EOF
start_server gateway 'listening on ws://127\.0\.0\.1:[0-9]*' env CLAWGATE_STATE_DIR="$WORK/state" \
  "$GATEWAY" gateway --bind 127.0.0.1 --port 0 --token "$TOKEN" --config "$WORK/config.json"
GW_URL=$URL
GW_PID=$PID
deadline=$((SECONDS + 15))
while ((SECONDS < deadline)); do
  if call channels.status 2000 && [[ $CALL_OUT == *'"connected": true'* ]] &&
    grep -q 'agent ready, model fake/fake-model' "$WORK/gateway.log"; then break; fi
  sleep 0.1
done
[[ $CALL_OUT == *'"connected": true'* ]] || die "the telegram channel did not connect within 15 s" "$WORK/gateway.log"
FRONT_PID=$(child_pid "$GW_PID" clawgate-front) || die "no clawgate-front" "$WORK/gateway.log"
echo "gateway $GW_URL (supervisor $GW_PID, front $FRONT_PID), Bot API emulator $EMU_URL, fake model $MODEL_URL"
echo

# ---- load loops -------------------------------------------------------------------------------
STOP=$WORK/stop
PAUSE=$WORK/pause
running() { [[ ! -e $STOP ]]; }
# pause_point NAME: between batches; while $PAUSE exists, says NAME is idle and waits.
pause_point() {
  [[ -e $PAUSE ]] || return 0
  touch "$WORK/$1.idle"
  while [[ -e $PAUSE ]] && running; do sleep 0.2; done
  rm -f "$WORK/$1.idle"
}
# Each loop appends every RESULT line of its runs to $WORK/<name>.results; output of failed runs
# goes to $WORK/<name>.failures (the first few lines of each).
loop_bench() {  # NAME PAUSE_S ARGS...: clawgate-bench ARGS, again and again until stopped
  local name=$1 pause=$2
  shift 2
  while running; do
    pause_point "$name"
    running || break
    timeout -k 5 120 "$BENCH" "$@" >"$WORK/$name.cur" 2>&1 || head -n 12 "$WORK/$name.cur" >>"$WORK/$name.failures"
    grep '^RESULT ' "$WORK/$name.cur" >>"$WORK/$name.results"
    running && sleep "$pause"
  done
}
(loop_bench chat 1 chat --url "$GW_URL" --token "$TOKEN" --runs 20 --concurrency 2 --sessions 4 \
  --session-prefix soak- --timeout-ms 100000) &
LOOPS+=($!)
(loop_bench send 2 send --url "$GW_URL" --token "$TOKEN" --n 40 --depth 4 --channel telegram --to 42 \
  --timeout-ms 100000) &
LOOPS+=($!)
(while running; do
  pause_point churn
  running || break
  timeout -k 5 120 "$BENCH" handshake --url "$GW_URL" --token "$TOKEN" --n 50 --warmup 0 >"$WORK/hs.cur" 2>&1 ||
    head -n 12 "$WORK/hs.cur" >>"$WORK/churn.failures"
  grep '^RESULT ' "$WORK/hs.cur" >>"$WORK/handshake.results"
  running || break
  timeout -k 5 120 "$BENCH" idle --url "$GW_URL" --token "$TOKEN" --pid "$FRONT_PID" --n 200 \
    --settle-ms 500 --hold-ms 2000 >"$WORK/idle.cur" 2>&1 || head -n 12 "$WORK/idle.cur" >>"$WORK/churn.failures"
  grep '^RESULT ' "$WORK/idle.cur" >>"$WORK/idle.results"
  running && sleep 1
done) &
LOOPS+=($!)
cat >"$WORK/inbound.py" <<'EOF'
# Injects a DM from one of 8 users every 1/RATE s until STOP exists (while PAUSE exists: says
# so in IDLE and waits); prints the count.
import json, os, sys, time, urllib.request
url, token, rate, stop, pause, idle = sys.argv[1], sys.argv[2], float(sys.argv[3]), *sys.argv[4:7]
n = errors = 0
t0 = time.monotonic()
while not os.path.exists(stop):
    if os.path.exists(pause):
        open(idle, "w").close()
        t = time.monotonic()
        while os.path.exists(pause) and not os.path.exists(stop):
            time.sleep(0.2)
        os.unlink(idle)
        t0 += time.monotonic() - t  # no catching up on the pause
        continue
    body = json.dumps({"token": token, "chat_id": 1000 + n % 8, "from_id": 1000 + n % 8,
                       "first_name": "soak", "text": "soak inbound %d" % n}).encode()
    try:
        urllib.request.urlopen(urllib.request.Request(url + "/_emu/inject", body,
                               {"Content-Type": "application/json"}), timeout=5).read()
        n += 1
    except Exception:
        errors += 1
    time.sleep(max(0.0, t0 + (n + errors) / rate - time.monotonic()))
print("RESULT inbound injected=%d errors=%d" % (n, errors))
EOF
python3 "$WORK/inbound.py" "$EMU_URL" "$BOT_TOKEN" "$TG_RATE" "$STOP" "$PAUSE" "$WORK/inbound.idle" \
  >"$WORK/inbound.results" 2>&1 &
LOOPS+=($!)

# ---- samples and kills --------------------------------------------------------------------------
ROLES=(supervisor front agent telegram)
pid_of() {  # ROLE
  if [[ $1 == supervisor ]]; then echo "$GW_PID"; else child_pid "$GW_PID" "clawgate-$1"; fi
}
# sample LABEL: one line per sample on stdout and in $WORK/samples (role pid rss_kb fds threads).
sample() {
  local label=$1 r p rss fds thr line=""
  for r in "${ROLES[@]}"; do
    p=$(pid_of "$r") || p=0
    rss=$(rss_kb "$p")
    fds=$(fd_count "$p")
    thr=$(status_kb "/proc/$p/status" Threads)
    echo "$label $r $p $rss $fds $thr" >>"$WORK/samples"
    line+=$(printf '  %s %s MiB %s fds' "$r" "$(mib $((rss * 1024)))" "$fds")
  done
  printf '%-9s%s\n' "$label" "$line"
}
KILLS=0
RESPAWN_MS=()
NOT_BACK=0
kill_worker() {
  local old new t0 i
  old=$(pid_of telegram) || { echo "  (no telegram worker to kill at $((SECONDS - T0)) s)"; NOT_BACK=$((NOT_BACK + 1)); return; }
  now_us
  t0=$NOW_US
  kill -KILL "$old" 2>/dev/null || return
  KILLS=$((KILLS + 1))
  for ((i = 0; i < 1500; i++)); do
    new=$(pid_of telegram) && [[ $new != "$old" ]] && break
    new=""
    sleep 0.01
  done
  now_us
  if [[ -n $new ]]; then
    RESPAWN_MS+=($(((NOW_US - t0) / 1000)))
  else
    NOT_BACK=$((NOT_BACK + 1))
    echo "  the telegram worker did not come back within 15 s of kill -9 (pid $old)"
  fi
}

# Inbound messages still being answered (sendMessage calls to the inbound users' chats).
emu_json() { python3 -c 'import json, sys, urllib.request
print(json.dumps(json.load(urllib.request.urlopen(sys.argv[1], timeout=10))))' "$1" 2>/dev/null; }
replies() {
  emu_json "$EMU_URL/_emu/sent?token=$BOT_TOKEN" | python3 -c 'import json, sys
print(sum(1 for m in json.load(sys.stdin)["messages"] if 1000 <= int(m["chat_id"]) < 1008))' 2>/dev/null || echo 0
}
# quiet_sample LABEL: pauses the load, waits until every loop is between batches (110 s at most),
# 5 s more, samples as LABEL and lets the load go on.
QUIET_WAIT=()
quiet_sample() {
  local i n t0=$SECONDS
  touch "$PAUSE"
  for ((i = 0; i < 1100; i++)); do
    n=$(find "$WORK" -maxdepth 1 -name '*.idle' | wc -l)
    ((n >= 4)) && break
    sleep 0.1
  done
  ((n >= 4)) || echo "  (only $n of 4 load loops paused within 110 s)"
  sleep 5
  QUIET_WAIT+=($((SECONDS - t0)))
  sample "$1"
  rm -f "$PAUSE"
}

AGENT_PID=$(pid_of agent) || die "no clawgate-agent" "$WORK/gateway.log"
T0=$SECONDS
cpu_start "$GW_PID" "$FRONT_PID" "$AGENT_PID" "$MODEL_PID" "$EMU_PID"
host_cpu_start
printf '%-9s%s\n' "t (s)" "  per process: RSS, open fds (threads in the summary)"
sample "0"
next_sample=$INTERVAL
next_kill=60
warm_done=0
GW_DIED=0
while ((SECONDS - T0 < DURATION)); do
  sleep 1
  el=$((SECONDS - T0))
  if ((!warm_done && el >= WARMUP)); then
    echo "warm-up over: load paused for a quiet sample"
    quiet_sample quiet1
    warm_done=1
    el=$((SECONDS - T0))
    next_kill=$((el + 30 > next_kill ? el + 30 : next_kill))  # not right after the pause
    next_sample=$(((el / INTERVAL + 1) * INTERVAL))            # nor a sample
    continue
  fi
  if ! kill -0 "$GW_PID" 2>/dev/null || ! kill -0 "$FRONT_PID" 2>/dev/null; then
    echo "the gateway or its front died at $el s"
    GW_DIED=1
    break
  fi
  if ((el >= next_kill)); then
    kill_worker
    next_kill=$((next_kill + 60))
  fi
  if ((el >= next_sample)); then
    sample "$el"
    next_sample=$((next_sample + INTERVAL))
  fi
done
LAST_LOAD=$((SECONDS - T0))
((LAST_LOAD >= next_sample - INTERVAL + 1)) && sample "$LAST_LOAD"
touch "$STOP"
echo "load stopping (each loop ends its current batch, at most ~100 s)"
for p in "${LOOPS[@]}"; do
  for ((i = 0; i < 1100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
stop_loops
CPU_LOAD=$(cpu_report supervisor="$GW_PID" front="$FRONT_PID" agent="$AGENT_PID" "fake model=$MODEL_PID" \
  emulator="$EMU_PID")
HOST_LOAD=$(host_cpu_report)
# Wait until the inbound messages are answered (30 s at most), then 10 s of quiet.
INJECTED=$(sed -n 's/.*injected=\([0-9]*\).*/\1/p' "$WORK/inbound.results")
for ((i = 0; i < 30; i++)); do
  [[ $(replies) -ge ${INJECTED:-0} ]] && break
  sleep 1
done
REPLIES=$(replies)
sleep 10
Q2_AFTER=$((SECONDS - T0 - LAST_LOAD))
sample quiet2
echo

# ---- summary ------------------------------------------------------------------------------------
sum_field() {  # FILE KEY: sum of KEY= over the RESULT lines in FILE
  [[ -f $1 ]] || { echo 0; return; }
  tr ' ' '\n' <"$1" | sed -n "s/^$2=//p" | awk '{ s += $1 } END { printf "%d", s }'
}
CHAT_FINALS=$(sum_field "$WORK/chat.results" finals)
CHAT_ERRORS=$(sum_field "$WORK/chat.results" errors)
SEND_DONE=$(sum_field "$WORK/send.results" completed)
SEND_ERRORS=$(($(sum_field "$WORK/send.results" errors) + $(sum_field "$WORK/send.results" unanswered)))
HS_N=$(sum_field "$WORK/handshake.results" n)
HS_FAIL=$(sum_field "$WORK/handshake.results" failures)
IDLE_N=$(sum_field "$WORK/idle.results" n)
IDLE_FAIL=$(($(sum_field "$WORK/idle.results" failed) + $(sum_field "$WORK/idle.results" lost)))
UNANSWERED=$((${INJECTED:-0} - REPLIES))
((UNANSWERED < 0)) && UNANSWERED=0
echo "load over $LAST_LOAD s (including the pause after warm-up):"
echo "  chat turns: $CHAT_FINALS final, $CHAT_ERRORS failed"
echo "  Telegram inbound: ${INJECTED:-0} injected, $REPLIES answered in their chats ($UNANSWERED unanswered 30 s after the load stopped)"
echo "  Telegram send: $SEND_DONE answered, $SEND_ERRORS not answered \"sent\""
echo "  churn: $HS_N handshakes ($HS_FAIL failed), $IDLE_N connections held 2 s and dropped ($IDLE_FAIL failed or lost)"
echo "  CPU, share of one core, over the load and its wind-down: $CPU_LOAD (host: $HOST_LOAD)"
echo "  kill -9 of the telegram worker: $KILLS, new process after (ms): ${RESPAWN_MS[*]:-none}; not back within 15 s: $NOT_BACK"
for f in chat send churn; do
  [[ -s $WORK/$f.failures ]] || continue
  echo "  first failure lines of $f:"
  head -n 6 "$WORK/$f.failures" | sed 's/^/    /'
done
n=$(grep -c -E ' (warn|error|fatal) ' "$WORK/gateway.log")
if [[ $n -gt 0 ]]; then
  echo "  gateway log: $n warning/error lines, most frequent:"
  grep -E ' (warn|error|fatal) ' "$WORK/gateway.log" | sed -E 's/^[0-9][0-9T:.Z-]* //; s/[0-9]+/N/g' |
    sort | uniq -c | sort -rn | head -5 | sed 's/^/    /'
fi
echo

# Growth per process, quiet to quiet (the end of warm-up to after the load), and under load from
# the first sample after warm-up to the last. A process whose pid changed in between is marked:
# those figures compare two processes.
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || a <= 0) print "-"; else printf "%+.1f%%", 100 * (b - a) / a }'; }
at() {  # LABEL ROLE: "pid rss_kb fds threads" of that sample
  awk -v t="$1" -v r="$2" '$1 == t && $2 == r { print $3, $4, $5, $6; exit }' "$WORK/samples"
}
# The numeric (under load) sample labels after warm-up: the first and the last.
L_FIRST=$(awk -v w="$WARMUP" '$1 ~ /^[0-9]+$/ && $1 > w { print $1; exit }' "$WORK/samples")
L_LAST=$(awk '$1 ~ /^[0-9]+$/ { t = $1 } END { print t }' "$WORK/samples")
echo "growth per process: quiet after warm-up (t=$WARMUP s) -> quiet after the load; under load t=${L_FIRST:-?} s -> t=${L_LAST:-?} s"
printf '  %-11s %9s %9s %8s   %5s %5s %7s   %9s %9s %8s   %7s\n' process "RSS MiB" "-> quiet" growth fds \
  "->" growth "load MiB" "-> last" growth threads
for r in "${ROLES[@]}"; do
  read -r q1p q1rss q1fd _ <<<"$(at quiet1 "$r")"
  read -r q2p q2rss q2fd q2thr <<<"$(at quiet2 "$r")"
  read -r l1p l1rss _ _ <<<"$(at "${L_FIRST:-x}" "$r")"
  read -r l2p l2rss _ _ <<<"$(at "${L_LAST:-x}" "$r")"
  note=""
  [[ ${q1p:-0} != "${q2p:-0}" ]] && note="(restarted: new pid)"
  printf '  %-11s %9s %9s %8s   %5s %5s %7s   %9s %9s %8s   %7s %s\n' "$r" \
    "$(mib $((${q1rss:-0} * 1024)))" "$(mib $((${q2rss:-0} * 1024)))" "$(pct "${q1rss:-}" "${q2rss:-0}")" \
    "${q1fd:--}" "${q2fd:--}" "$(pct "${q1fd:-}" "${q2fd:-0}")" \
    "$(mib $((${l1rss:-0} * 1024)))" "$(mib $((${l2rss:-0} * 1024)))" "$(pct "${l1rss:-}" "${l2rss:-0}")" \
    "${q2thr:-?}" "$note"
  echo "RESULT soak_growth role=$r rss_quiet1_kb=${q1rss:-} rss_quiet2_kb=${q2rss:-} fds_quiet1=${q1fd:-}" \
    "fds_quiet2=${q2fd:-} rss_load_first_kb=${l1rss:-} rss_load_last_kb=${l2rss:-} restarted=$([[ -n $note ]] && echo 1 || echo 0)"
done
echo "  quiet samples were taken ${QUIET_WAIT[*]:-?} s after pausing (loops ending their batches + 5 s);"
echo "  the end-of-load one $Q2_AFTER s after the load was told to stop (batches ended, replies in, 10 s)"

FAILED=0
((GW_DIED || NOT_BACK || CHAT_ERRORS || SEND_ERRORS || HS_FAIL || IDLE_FAIL || UNANSWERED)) && FAILED=1
exit $FAILED
