#!/usr/bin/env bash
# bench/agent.sh: benchmarks for the agent path (chat.send -> front -> agent worker -> model ->
# agent and chat events), printing figures (no aims, no verdicts): the first-token latency the
# gateway adds on top of the model, runs/s through the whole pipeline at concurrency 1, 8 and 32
# (with the CPU share of the front, the agent worker and the model emulator), and the front's
# memory and the disk it uses per idle session.
# Owns: the fake model server (tests/emulators/models/fake_models.py, unchanged but given a
# listen backlog of 128, scripted to answer at once in one chunk) and one gateway (ephemeral
# ports on 127.0.0.1, a temp state dir, a config pointing the default model at the fake),
# driving clawgate-bench `chat`, a small Python streaming client and `clawgate call` against
# them, and stopping everything it started. Builds nothing.
# Usage: bench/agent.sh [BUILD_DIR]     (default: build/release next to this script's parent)
# Fails: exit 2 when a binary or python3 is missing, or the fake model or the gateway (its agent
# worker ready with the fake model) does not come up within 10 s; exit 1 when a benchmark failed
# (error/aborted runs, refused sends, finals missing after 30 s, a dead gateway), marked in the
# table. Every process it started is stopped on exit (TERM, then KILL after 3 s), every wait is
# bounded, and nothing outside 127.0.0.0/8 is touched. The whole run takes about 30 s (about 2
# minutes when syncs on the state dir's disk are slow, e.g. other I/O on the host).
# Each run is journalled (user and assistant transcript lines fdatasync'ed, the session index
# rewritten and fsync'ed after each), so the figures follow the cost of a sync on the state dir's
# filesystem: it is probed (append + fdatasync) before each phase and printed with the figures.
# The memory figure is the front's RSS growth over 2,000 new sessions; it includes the front's
# finished-run snapshots (kept up to 2,000 for 10 minutes), of which earlier phases already left
# ~1,700, and whatever the allocator keeps.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
BIN=$BUILD/bin
BENCH=$BIN/clawgate-bench
GATEWAY=$BIN/clawgate
MODEL=$ROOT/tests/emulators/models/fake_models.py
for b in "$BENCH" "$GATEWAY" "$BIN/clawgate-front" "$BIN/clawgate-agent"; do
  if [[ ! -x $b ]]; then
    echo "agent.sh: missing $b (build the clawgate and clawgate-bench targets first)" >&2
    exit 2
  fi
done
[[ -f $MODEL ]] || { echo "agent.sh: missing $MODEL" >&2; exit 2; }
for c in python3 timeout du awk; do
  command -v "$c" >/dev/null || { echo "agent.sh: needs $c" >&2; exit 2; }
done
# Nothing from the caller's environment may point the gateway elsewhere.
unset CLAWGATE_CONFIG_PATH CLAWGATE_GATEWAY_TOKEN CLAWGATE_GATEWAY_PASSWORD CLAWGATE_STATE_DIR
unset OPENCLAW_GATEWAY_URL OPENCLAW_GATEWAY_TOKEN OPENCLAW_GATEWAY_PASSWORD

WORK=$(mktemp -d "${TMPDIR:-/tmp}/clawgate-agent.XXXXXX") || exit 2
PIDS=()      # fake model, gateway
BOUND_PID="" # the running bounded command (timeout(1) runs it in a process group of its own)

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  [[ -n $BOUND_PID ]] && kill -TERM "$BOUND_PID" 2>/dev/null
  # The gateway first (it stops its own children), the fake model last.
  declare -F stop_pids >/dev/null && stop_pids  # lib.sh, once sourced
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BENCH_NAME=agent.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

URL=""
PID=""

TOKEN="bench-$$-$RANDOM"
CALL_OUT=""

# procs: `status` -> $WORK/procs.txt ("name pid rssBytes state" per supervised process).
procs() {
  call status 5000 || return 1
  printf '%s' "$CALL_OUT" >"$WORK/status.json"
  python3 -c '
import json, sys
for p in json.load(open(sys.argv[1])).get("processes", []):
    print(p.get("name", "?"), p.get("pid", 0), p.get("rssBytes", 0), p.get("state", "?"))
' "$WORK/status.json" >"$WORK/procs.txt" 2>/dev/null
}
proc_field() { awk -v n="$1" -v f="$2" '$1 == n { print $f }' "$WORK/procs.txt"; }  # NAME COLUMN

# TcpExt ListenOverflows of this network namespace (dropped connection attempts, each a 1 s SYN
# retransmit for the client); other processes on the host count too.
listen_overflows() {
  awk '$1 == "TcpExt:" { if (!h) { for (i = 2; i <= NF; i++) n[i] = $i; h = 1 } else
    for (i = 2; i <= NF; i++) if (n[i] == "ListenOverflows") print $i }' /proc/net/netstat 2>/dev/null
}
sub() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print ""; else printf "%.3f", a - b }'; }
per() { awk -v a="$1" -v n="$2" 'BEGIN { printf "%.0f", a / n }'; }  # BYTES COUNT -> bytes each
du_bytes() { du -s -B1 "$1" 2>/dev/null | awk '{ print $1 }'; }       # allocated (blocks)
du_apparent() { du -s -b "$1" 2>/dev/null | awk '{ print $1 }'; }     # file sizes

echo "clawgate agent benchmarks: $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg), build $BUILD"
echo "state dir on $(df -T "$WORK" 2>/dev/null | awk 'NR == 2 { print $2 }'); each run makes 6 syncs there, 3 before the model is asked (per transcript"
echo "line: fdatasync of the transcript, then the index rewritten: fsync of the file and of sessions/)"
sync_probe  # what a sync costs there right now: the figures below move with it
echo "append + fdatasync of 200 bytes there, 50 times: p50 $SYNC_P50 ms, max $SYNC_MAX ms (probed again before each phase)"
echo

# ---- fake model and gateway -----------------------------------------------------------------
# The agent worker opens a new model connection per run; the emulator's stock listen backlog
# (socketserver's 5) overflows when 8+ runs start at once, and every dropped SYN is a 1 s
# retransmit in the figures. The emulator runs unchanged, with a backlog of 128.
start_server model 'listening on http://127\.0\.0\.1:[0-9]*' python3 -u -c '
import http.server, runpy, sys
http.server.ThreadingHTTPServer.request_queue_size = 128
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")' "$MODEL" --port 0
MODEL_URL=$URL
MODEL_PID=$PID
REPLY="Hello from the fake model."
# The whole answer in one chunk, at once: what remains is the gateway's own latency.
python3 - "$MODEL_URL" "$REPLY" >"$WORK/script.out" 2>&1 <<'EOF' ||
import json, sys, urllib.request
body = json.dumps({"delay_ms": 0, "chunk_chars": 1000, "first_delay_ms": 0, "reply": sys.argv[2]})
req = urllib.request.Request(sys.argv[1] + "/_emu/script", body.encode(), {"Content-Type": "application/json"})
print(urllib.request.urlopen(req, timeout=5).read().decode())
EOF
  die "cannot script the fake model: $(tail -n 3 "$WORK/script.out")" "$WORK/model.log"
echo "fake model $MODEL_URL (pid $MODEL_PID): reply \"$REPLY\" in one chunk, no delays"

mkdir -p "$WORK/state"
cat >"$WORK/config.json" <<EOF
{"agents":{"defaults":{"model":"fake/fake-model","heartbeat":{"every":"0m"}}},"models":{"providers":{"fake":{"baseUrl":"$MODEL_URL/v1","apiKey":"k","api":"openai-completions"}}}}
EOF
start_server gateway 'listening on ws://127\.0\.0\.1:[0-9]*' \
  env CLAWGATE_STATE_DIR="$WORK/state" \
  "$GATEWAY" gateway --bind 127.0.0.1 --port 0 --token "$TOKEN" --config "$WORK/config.json"
GW_URL=$URL
GW_PID=$PID
for ((i = 0; i < 100; i++)); do  # the front logs it once the agent worker said hello
  grep -q 'agent ready, model fake/fake-model' "$WORK/gateway.log" && break
  kill -0 "$GW_PID" 2>/dev/null || break
  sleep 0.1
done
grep -q 'agent ready, model fake/fake-model' "$WORK/gateway.log" ||
  die "the agent worker was not ready with fake/fake-model within 10 s" "$WORK/gateway.log"
procs || die "status failed: $(cat "$WORK/call.err")" "$WORK/gateway.log"
FRONT_PID=$(proc_field front 2)
AGENT_PID=$(proc_field agent 2)
[[ -n $FRONT_PID && $FRONT_PID != 0 && -n $AGENT_PID && $AGENT_PID != 0 ]] ||
  die "status has no running front/agent: $(tr -d '\n ' <"$WORK/status.json" | head -c 400)"
echo "gateway $GW_URL (supervisor pid $GW_PID, front pid $FRONT_PID, agent pid $AGENT_PID)"
echo

FAILED=0
SESSIONS_DIR=$WORK/state/sessions
LO0=$(listen_overflows)
# chat NAME LIMIT_S ARGS...: clawgate-bench chat against the gateway; a failed run marks FAILED.
chat() {
  local name=$1 limit=$2
  shift 2
  run_bounded "$name" "$limit" "$BENCH" chat --url "$GW_URL" --token "$TOKEN" --pid "$FRONT_PID" "$@"
  local rc=$?
  sed 's/^/   /' "$WORK/$name.out"
  [[ $rc -eq 0 ]] || FAILED=1
  return $rc
}

# ---- 1. first-token latency the gateway adds ------------------------------------------------
echo "== 1. first token: the fake model on its own vs through the gateway, sequential"
SYNC1=$SYNC_P50
echo " fake model direct (Python http.client, 200 requests after 10 warm-up), one keep-alive connection:"
run_bounded direct 60 python3 "$ROOT/bench/model_direct.py" "$MODEL_URL" 200 10 keepalive || FAILED=1
sed 's/^/   /' "$WORK/direct.out"
[[ $(field direct errors) == 0 && $(field direct n) == 200 ]] || FAILED=1
echo " the same with a new connection per request (the agent worker opens one per run):"
run_bounded fresh 60 python3 "$ROOT/bench/model_direct.py" "$MODEL_URL" 200 10 fresh || FAILED=1
sed 's/^/   /' "$WORK/fresh.out"
[[ $(field fresh errors) == 0 && $(field fresh n) == 200 ]] || FAILED=1
# Warm-up through the gateway (first session files, page cache, allocator).
run_bounded warmup 60 "$BENCH" chat --url "$GW_URL" --token "$TOKEN" --runs 20 --concurrency 1 \
  --session-prefix warm- || { FAILED=1; sed 's/^/   /' "$WORK/warmup.out"; }
echo " through the gateway (clawgate-bench chat --runs 200 --concurrency 1, after 20 warm-up runs):"
chat gw1 60 --runs 200 --concurrency 1
ADD_P50=$(sub "$(field gw1 ft_p50_ms)" "$(field direct ft_p50_ms)")
ADD_P99=$(sub "$(field gw1 ft_p99_ms)" "$(field direct ft_p99_ms)")
ADDF_P50=$(sub "$(field gw1 ft_p50_ms)" "$(field fresh ft_p50_ms)")
ADDF_P99=$(sub "$(field gw1 ft_p99_ms)" "$(field fresh ft_p99_ms)")
echo " added by the gateway (through the gateway - direct): first token p50 ${ADD_P50:--} ms, p99 ${ADD_P99:--} ms"
echo "   (- direct with a new connection per request: p50 ${ADDF_P50:--} ms, p99 ${ADDF_P99:--} ms)"
echo

# ---- 2. runs/s through the pipeline ---------------------------------------------------------
declare -A CPU_TXT SYNC2
for c in 1 8 32; do
  sync_probe
  SYNC2[$c]=$SYNC_P50
  echo "== 2. throughput: chat --runs 500 --concurrency $c --sessions 32 (fdatasync p50 now $SYNC_P50 ms)"
  cpu_start "$FRONT_PID" "$AGENT_PID" "$MODEL_PID" "$GW_PID"
  chat "tp$c" 90 --runs 500 --concurrency "$c" --sessions 32
  CPU_TXT[$c]=$(cpu_report front="$FRONT_PID" agent="$AGENT_PID" "fake model=$MODEL_PID" supervisor="$GW_PID")
  echo "   CPU during the run (share of one core, from /proc): ${CPU_TXT[$c]}"
done
echo

# ---- 3. memory and disk per idle session ----------------------------------------------------
N_SESS=2000
sync_probe
SYNC3=$SYNC_P50
echo "== 3. per idle session: front RSS and sessions/ on disk, before and after $N_SESS new sessions"
echo "   (fdatasync p50 now $SYNC_P50 ms)"
sleep 1
procs || die "status failed: $(cat "$WORK/call.err")" "$WORK/gateway.log"
RSS0=$(proc_field front 3)
DISK0=$(du_bytes "$SESSIONS_DIR")
APP0=$(du_apparent "$SESSIONS_DIR")
FILES0=$(find "$SESSIONS_DIR" -maxdepth 1 -name '*.jsonl' | wc -l)
chat mem 100 --runs "$N_SESS" --sessions "$N_SESS" --concurrency 16 --session-prefix idle- \
  --timeout-ms 90000
sleep 1 # idle: nothing in flight, deltas and snapshots settled
procs || die "status failed: $(cat "$WORK/call.err")" "$WORK/gateway.log"
RSS1=$(proc_field front 3)
DISK1=$(du_bytes "$SESSIONS_DIR")
APP1=$(du_apparent "$SESSIONS_DIR")
FILES1=$(find "$SESSIONS_DIR" -maxdepth 1 -name '*.jsonl' | wc -l)
INDEX=$(stat -c %s "$SESSIONS_DIR/sessions.json" 2>/dev/null || echo 0)
NEW=$((FILES1 - FILES0))
[[ $NEW -eq $N_SESS ]] || { echo "   expected $N_SESS new transcripts, found $NEW"; FAILED=1; }
# Per session actually created (all $N_SESS unless the run failed).
D=$((NEW > 0 ? NEW : 1))
RSS_PER=$(per $((RSS1 - RSS0)) "$D")
DISK_PER=$(per $((DISK1 - DISK0)) "$D")
APP_PER=$(per $((APP1 - APP0)) "$D")
DISK_ALL_PER=$(per "$DISK1" "$D")
echo "   front RSS (status rssBytes) $(mib "$RSS0") MiB -> $(mib "$RSS1") MiB: $RSS_PER bytes per session ($NEW created)"
echo "   sessions/ $((DISK0 / 1024)) KiB -> $((DISK1 / 1024)) KiB allocated ($((APP0 / 1024)) -> $((APP1 / 1024)) KiB of file" \
  "sizes), $FILES0 -> $FILES1 transcripts, index sessions.json $((INDEX / 1024)) KiB"
echo "   per new session: $DISK_PER bytes allocated, $APP_PER bytes of file sizes" \
  "(whole sessions/ / $NEW: $DISK_ALL_PER bytes allocated)"
kill -0 "$GW_PID" 2>/dev/null || { echo "agent.sh: the gateway died during the run" >&2; FAILED=1; }
LO1=$(listen_overflows)
LO=""
[[ -n $LO0 && -n $LO1 ]] && LO=$((LO1 - LO0))
[[ ${LO:-0} -gt 0 ]] && echo "TCP listen overflows during the benchmarks: $LO (each a 1 s connect stall somewhere on this host)"
n=$(grep -c -E ' (warn|error|fatal) ' "$WORK/gateway.log")
if [[ $n -gt 0 ]]; then
  echo "gateway log: $n warning/error lines, e.g.:"
  grep -E ' (warn|error|fatal) ' "$WORK/gateway.log" | sed -E 's/^[0-9][0-9T:.Z-]* //' | sort |
    uniq -c | sort -rn | head -3 | sed 's/^/  /'
fi
echo

# ---- 4. summary -----------------------------------------------------------------------------
row() { printf '%-52s %20s %s\n' "$1" "${2:--}" "${3:-}"; }
clean() {  # NAME: "" when chat run NAME had no errors, else "FAILED"
  [[ $(field "$1" errors) == 0 ]] || echo "FAILED"
}
pair() { echo "$(field "$1" "$2") / $(field "$1" "$3")"; }
row "figure" "value"
row "------" "-----"
row "fdatasync p50, phase 1 / 2 (c=1, 8, 32) / 3" \
  "$SYNC1 / ${SYNC2[1]} ${SYNC2[8]} ${SYNC2[32]} / $SYNC3" ms
row "fake model direct, keep-alive, first chunk p50 / p99" "$(pair direct ft_p50_ms ft_p99_ms)" \
  "ms $([[ $(field direct errors) == 0 ]] || echo FAILED)"
row "gateway c=1, first token p50 / p99" "$(pair gw1 ft_p50_ms ft_p99_ms)" "ms $(clean gw1)"
row "  final p50 / p99" "$(pair gw1 final_p50_ms final_p99_ms)" ms
row "  added by the gateway p50 / p99" "$ADD_P50 / $ADD_P99" "ms (vs keep-alive)"
row "fake model direct, new connection each, p50 / p99" "$(pair fresh ft_p50_ms ft_p99_ms)" \
  "ms $([[ $(field fresh errors) == 0 ]] || echo FAILED)"
row "  added by the gateway beyond that p50 / p99" "$ADDF_P50 / $ADDF_P99" ms
for c in 1 8 32; do
  row "runs/s, 500 runs at concurrency $c (32 sessions)" "$(field "tp$c" rate)" "runs/s $(clean "tp$c")"
  row "  first token p50 / p99" "$(pair "tp$c" ft_p50_ms ft_p99_ms)" ms
  row "  final p50 / p99" "$(pair "tp$c" final_p50_ms final_p99_ms)" ms
  printf '%-52s %s\n' "  CPU, share of one core" "${CPU_TXT[$c]}"
done
row "front RSS before / after $N_SESS sessions" "$(mib "$RSS0") / $(mib "$RSS1")" MiB
row "  front RSS per idle session" "$RSS_PER" bytes
row "disk per session (sessions/ growth, allocated)" "$DISK_PER" bytes
row "  file sizes only" "$APP_PER" bytes
row "  whole sessions/ / $NEW (allocated)" "$DISK_ALL_PER" bytes
row "runs/s creating $N_SESS sessions (concurrency 16)" "$(field mem rate)" "runs/s $(clean mem)"
row "TCP listen overflows (1 s connect stalls, host-wide)" "$LO" ""
exit $FAILED
