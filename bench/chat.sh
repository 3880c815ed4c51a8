#!/usr/bin/env bash
# bench/chat.sh: the latency a chat turn gets from the gateway, with a zero-delay fake model, on a
# session with no history and on sessions holding HISTORY (4,000) messages. Prints figures and
# ratios, no aims and no verdicts.
# A turn is chat.send -> the `chat` final event, one at a time on one connection (clawgate-bench
# chat --concurrency 1). "Added by the gateway" is that latency minus the fake model's own
# (request -> `data: [DONE]`, Python http.client, a new connection per request as the agent
# worker opens one per run), replaying the very request body the agent worker sent in that phase
# (taken from the fake model's request log), so both sides carry the same history. It is a
# difference of percentiles (p50 - p50, p99 - p99), not a percentile of differences; min - min
# (best case of each) is printed too, as it moves least with other load on the host.
# On a busy host a woken process may wait for the next scheduler tick (4 ms at HZ=250) before it
# runs, and a turn has several wake-ups (front, agent, model, front, client): the percentiles
# then show the host's ticks as much as the gateway; host_note's line says how busy it was.
# History: phase 1 gives every turn a session of its own (0 messages before the turn). Phase 2
# runs on HIST_SESSIONS sessions that each hold HISTORY messages before the first turn, in turn,
# so every turn sees between HISTORY and HISTORY + 2 * RUNS / HIST_SESSIONS messages. They are
# filled in one of two ways (PREFILL):
#   file  (default) the gateway is stopped, each session's transcript (sessions/<key>.jsonl) is
#         written with HISTORY lines copied from the lines the gateway itself wrote for the
#         warm-up turns (same keys, same order; new ts and runId), its index entry added to
#         sessions/sessions.json, and the gateway started again on that state dir;
#   turns HISTORY / 2 real turns per session through the gateway, before phase 2 (slow: every
#         turn journals two fdatasync'ed lines; HIST_SESSIONS=1 keeps it to ~2,000 turns).
# Both phases start after 20 warm-up turns on a session of their own.
# Owns: the fake model server (tests/emulators/models/fake_models.py, unchanged but given a listen
# backlog of 128, scripted to answer at once in one chunk) and one gateway (ephemeral ports on
# 127.0.0.1, a temp state dir, a config pointing the default model at the fake), driving
# clawgate-bench `chat` and bench/model_direct.py, and stopping everything it started. Builds
# nothing.
# Usage: bench/chat.sh [BUILD_DIR]     (default: build/release next to this script's parent)
#   env RUNS (300) turns measured per phase, HISTORY (4000), HIST_SESSIONS (10), PREFILL (file),
#   CONTEXT_WINDOW (unset: the default 200,000 tokens) the fake model's contextWindow
# Fails: exit 2 when a binary or python3 is missing, or the fake model or the gateway does not
# come up within 10 s; exit 1 when a run failed (error/aborted, refused, no final within 30 s) or
# the model did not get the history it should have, marked in the summary. Every process it
# started is stopped on exit (TERM, then KILL after 3 s), every wait is bounded, and nothing
# outside 127.0.0.0/8 is touched. About 15 s with PREFILL=file (fdatasync ~4 ms).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
BIN=$BUILD/bin
BENCH=$BIN/clawgate-bench
GATEWAY=$BIN/clawgate
MODEL=$ROOT/tests/emulators/models/fake_models.py
RUNS=${RUNS:-300}
HISTORY=${HISTORY:-4000}
HIST_SESSIONS=${HIST_SESSIONS:-10}
PREFILL=${PREFILL:-file}
CONTEXT_WINDOW=${CONTEXT_WINDOW:-}
MODELS_JSON=""
if [[ -n $CONTEXT_WINDOW ]]; then
  [[ $CONTEXT_WINDOW =~ ^[1-9][0-9]*$ ]] || { echo "chat.sh: CONTEXT_WINDOW must be a positive integer" >&2; exit 2; }
  MODELS_JSON=",\"models\":[{\"id\":\"fake-model\",\"contextWindow\":$CONTEXT_WINDOW}]"
fi
for b in "$BENCH" "$GATEWAY" "$BIN/clawgate-front" "$BIN/clawgate-agent"; do
  if [[ ! -x $b ]]; then
    echo "chat.sh: missing $b (build the clawgate and clawgate-bench targets first)" >&2
    exit 2
  fi
done
[[ -f $MODEL ]] || { echo "chat.sh: missing $MODEL" >&2; exit 2; }
for c in python3 timeout awk; do
  command -v "$c" >/dev/null || { echo "chat.sh: needs $c" >&2; exit 2; }
done
[[ $RUNS =~ ^[1-9][0-9]*$ && $HISTORY =~ ^[0-9]+$ && $HIST_SESSIONS =~ ^[1-9][0-9]*$ ]] ||
  { echo "chat.sh: RUNS, HISTORY and HIST_SESSIONS must be integers (RUNS, HIST_SESSIONS >= 1)" >&2; exit 2; }
[[ $PREFILL == file || $PREFILL == turns ]] || { echo "chat.sh: PREFILL is file or turns" >&2; exit 2; }
# Nothing from the caller's environment may point the gateway elsewhere.
unset CLAWGATE_CONFIG_PATH CLAWGATE_GATEWAY_TOKEN CLAWGATE_GATEWAY_PASSWORD CLAWGATE_STATE_DIR
unset OPENCLAW_GATEWAY_URL OPENCLAW_GATEWAY_TOKEN OPENCLAW_GATEWAY_PASSWORD

WORK=$(mktemp -d "${TMPDIR:-/tmp}/clawgate-chat.XXXXXX") || exit 2
PIDS=()      # fake model, gateway (the gateway may be started twice)
BOUND_PID="" # the running bounded command (timeout(1) runs it in a process group of its own)

# stop_pid PID: TERM, then KILL after 3 s; reaps it.
stop_pid() {
  local j
  kill -TERM "$1" 2>/dev/null
  for ((j = 0; j < 30; j++)); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local i
  [[ -n $BOUND_PID ]] && kill -TERM "$BOUND_PID" 2>/dev/null
  # The gateway first (it stops its own children), the fake model last.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BENCH_NAME=chat.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

URL=""
PID=""
TOKEN="bench-$$-$RANDOM"
CALL_OUT=""
SESSIONS_DIR=$WORK/state/sessions

echo "clawgate chat-turn latency: $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg), build $BUILD"
host_note
sync_probe
echo "state dir on $(df -T "$WORK" 2>/dev/null | awk 'NR == 2 { print $2 }'); each turn journals 2 transcript lines (fdatasync each);"
echo "append + fdatasync of 200 bytes there, 50 times: p50 $SYNC_P50 ms, max $SYNC_MAX ms"
echo

# ---- fake model -------------------------------------------------------------------------------
start_server model 'listening on http://127\.0\.0\.1:[0-9]*' python3 -u -c '
import http.server, runpy, sys
http.server.ThreadingHTTPServer.request_queue_size = 128
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")' "$MODEL" --port 0
MODEL_URL=$URL
MODEL_PID=$PID
REPLY="Hello from the fake model."
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
{"agents":{"defaults":{"model":"fake/fake-model","heartbeat":{"every":"0m"}}},"models":{"providers":{"fake":{"baseUrl":"$MODEL_URL/v1","apiKey":"k","api":"openai-completions"$MODELS_JSON}}}}
EOF
[[ -n $CONTEXT_WINDOW ]] && echo "fake/fake-model contextWindow: $CONTEXT_WINDOW tokens"

GW_PID=""
FRONT_PID=""
AGENT_PID=""
GW_STARTS=0
# gateway_up: starts the gateway on $WORK/state, waits for its agent worker to be ready with the
# fake model; sets GW_URL, GW_PID, FRONT_PID, AGENT_PID.
gateway_up() {
  local i log
  GW_STARTS=$((GW_STARTS + 1))
  log=gateway-$GW_STARTS
  start_server "$log" 'listening on ws://127\.0\.0\.1:[0-9]*' \
    env CLAWGATE_STATE_DIR="$WORK/state" \
    "$GATEWAY" gateway --bind 127.0.0.1 --port 0 --token "$TOKEN" --config "$WORK/config.json"
  GW_URL=$URL
  GW_PID=$PID
  for ((i = 0; i < 100; i++)); do # the front logs it once the agent worker said hello
    grep -q 'agent ready, model fake/fake-model' "$WORK/$log.log" && break
    kill -0 "$GW_PID" 2>/dev/null || break
    sleep 0.1
  done
  grep -q 'agent ready, model fake/fake-model' "$WORK/$log.log" ||
    die "the agent worker was not ready with fake/fake-model within 10 s" "$WORK/$log.log"
  FRONT_PID=$(child_pid "$GW_PID" clawgate-front) || die "no clawgate-front under pid $GW_PID" "$WORK/$log.log"
  AGENT_PID=$(child_pid "$GW_PID" clawgate-agent) || die "no clawgate-agent under pid $GW_PID" "$WORK/$log.log"
  echo "gateway $GW_URL (supervisor pid $GW_PID, front pid $FRONT_PID, agent pid $AGENT_PID)"
}
gateway_down() {
  local p keep=()
  stop_pid "$GW_PID"
  for p in "${PIDS[@]}"; do [[ $p == "$GW_PID" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

FAILED=0
# chat NAME LIMIT_S ARGS...: clawgate-bench chat against the gateway, output shown indented.
chat() {
  local name=$1 limit=$2
  shift 2
  run_bounded "$name" "$limit" "$BENCH" chat --url "$GW_URL" --token "$TOKEN" --pid "$FRONT_PID" "$@"
  local rc=$?
  sed 's/^/   /' "$WORK/$name.out"
  [[ $rc -eq 0 ]] || FAILED=1
  return $rc
}
# last_model_request NAME: the body of the newest chat completion request the fake model got,
# saved as $WORK/NAME.body; prints its message count and size.
last_model_request() {
  python3 - "$MODEL_URL" "$WORK/$1.body" <<'EOF'
import json, sys, urllib.request
reqs = json.load(urllib.request.urlopen(sys.argv[1] + "/_emu/requests", timeout=5))["requests"]
body = [r for r in reqs if r["path"].startswith("/v1/chat/completions")][-1]["body"]
text = json.dumps(body)
open(sys.argv[2], "w").write(text)
print(len(body.get("messages", [])), len(text))
EOF
}
# phase NAME TITLE SESSIONS PREFIX: warm-up, RUNS measured turns, the model request replayed
# directly; sets the figures in $WORK/NAME.out and $WORK/NAME-direct.out.
declare -A CPU_TXT MSGS BYTES
phase() {
  local name=$1 sessions=$3 prefix=$4 warm
  echo "== $2"
  warm=warm-$name-
  run_bounded "$name-warm" 60 "$BENCH" chat --url "$GW_URL" --token "$TOKEN" --runs 20 \
    --concurrency 1 --session-prefix "$warm" || { FAILED=1; sed 's/^/   /' "$WORK/$name-warm.out"; }
  echo " through the gateway (clawgate-bench chat --runs $RUNS --concurrency 1 --sessions $sessions, after 20 warm-up turns):"
  cpu_start "$FRONT_PID" "$AGENT_PID" "$MODEL_PID" "$GW_PID"
  chat "$name" $((RUNS / 5 + 60)) --runs "$RUNS" --concurrency 1 --sessions "$sessions" \
    --session-prefix "$prefix"
  CPU_TXT[$name]=$(cpu_report front="$FRONT_PID" agent="$AGENT_PID" "fake model=$MODEL_PID" supervisor="$GW_PID")
  echo "   CPU during the run (share of one core): ${CPU_TXT[$name]}"
  local m
  m=$(last_model_request "$name") || die "cannot read the fake model's request log" "$WORK/model.log"
  MSGS[$name]=${m% *}
  BYTES[$name]=${m#* }
  echo " the fake model on its own, replaying the agent worker's last request (${MSGS[$name]} messages, ${BYTES[$name]} bytes)"
  echo " $RUNS times after 10 warm-up, a new connection each:"
  run_bounded "$name-direct" 60 python3 "$ROOT/bench/model_direct.py" "$MODEL_URL" "$RUNS" 10 fresh \
    "$WORK/$name.body" || FAILED=1
  sed 's/^/   /' "$WORK/$name-direct.out"
  [[ $(field "$name-direct" errors) == 0 && $(field "$name-direct" n) == "$RUNS" ]] || FAILED=1
  echo
}

# ---- phase 1: no history ----------------------------------------------------------------------
gateway_up
echo
# --sessions RUNS: turn i goes to session h0-i, new each time.
phase h0 "1. no history: every turn on a new session" "$RUNS" h0-
[[ ${MSGS[h0]:-0} -le 3 ]] || { echo "   expected at most 3 messages in the model request, got ${MSGS[h0]}"; FAILED=1; }

# ---- prefill ------------------------------------------------------------------------------------
HPREFIX=hist-
if [[ $PREFILL == file ]]; then
  echo "== prefill: $HIST_SESSIONS sessions x $HISTORY messages, written as the gateway writes them (gateway stopped)"
  gateway_down
  python3 - "$SESSIONS_DIR" "agent:main:warm-h0-0" "agent:main:$HPREFIX" "$HIST_SESSIONS" "$HISTORY" \
    >"$WORK/prefill.out" 2>&1 <<'EOF' || die "prefill failed: $(tail -n 5 "$WORK/prefill.out")"
# The warm-up session's transcript and index entry, written by the gateway, are the templates:
# each line keeps its keys and their order; ts, runId (and the index's sessionId, counts and
# times) are made new. File names follow SessionStore::file_name ([A-Za-z0-9-] kept, ':' -> '_').
import json, os, re, sys, time, uuid
sdir, template_key, prefix, nsess, nmsg = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def file_name(key):
    assert re.fullmatch(r"[A-Za-z0-9:-]+", key), key
    return key.replace(":", "_") + ".jsonl"
lines = [json.loads(l) for l in open(os.path.join(sdir, file_name(template_key)))]
user = next(l for l in lines if l.get("role") == "user")
assistant = next(l for l in lines if l.get("role") == "assistant")
index_path = os.path.join(sdir, "sessions.json")
index = json.load(open(index_path))
entry_t = index[template_key]
now = int(time.time() * 1000) - nmsg * 10
for s in range(nsess):
    key = prefix + str(s)
    with open(os.path.join(sdir, file_name(key)), "w") as f:
        for k in range(nmsg):
            line = dict(assistant if k % 2 else user)  # dicts keep the gateway's key order
            line["ts"] = now + k * 5
            line["runId"] = "prefill-%d-%d" % (s, k // 2)
            line["text"] = ("Hello from the fake model." if k % 2 else "prefill %d" % (k // 2))
            f.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    e = dict(entry_t)
    e["sessionId"] = str(uuid.uuid4())
    e["messages"] = nmsg
    e["updatedAt"] = now + nmsg * 5
    if "lastMessagePreview" in e:
        e["lastMessagePreview"] = "Hello from the fake model."
    index[key] = e
tmp = index_path + ".prefill"
json.dump(index, open(tmp, "w"), ensure_ascii=False, indent=1)
os.replace(tmp, index_path)
print("template user line:     ", json.dumps(user, ensure_ascii=False, separators=(",", ":")))
print("template assistant line:", json.dumps(assistant, ensure_ascii=False, separators=(",", ":")))
print("wrote %d sessions x %d lines" % (nsess, nmsg))
EOF
  sed 's/^/   /' "$WORK/prefill.out"
  gateway_up
else
  n=$((HISTORY / 2 * HIST_SESSIONS))
  echo "== prefill: $n real turns over $HIST_SESSIONS sessions ($HISTORY messages each)"
  run_bounded prefill $((n / 5 + 120)) "$BENCH" chat --url "$GW_URL" --token "$TOKEN" --runs "$n" \
    --concurrency "$HIST_SESSIONS" --sessions "$HIST_SESSIONS" --session-prefix "$HPREFIX" \
    --timeout-ms $(((n / 5 + 100) * 1000)) || { FAILED=1; }
  sed 's/^/   /' "$WORK/prefill.out"
fi
first_lines=$(wc -l <"$SESSIONS_DIR/agent_main_${HPREFIX}0.jsonl" 2>/dev/null || echo 0)
echo "   sessions/agent_main_${HPREFIX}0.jsonl: $first_lines lines before phase 2"
[[ $first_lines -eq $HISTORY ]] || { echo "   expected $HISTORY"; FAILED=1; }
echo

# ---- phase 2: HISTORY messages ------------------------------------------------------------------
phase h$HISTORY "2. $HISTORY messages of history: $HIST_SESSIONS sessions in turn" "$HIST_SESSIONS" "$HPREFIX"
last_lines=$(wc -l <"$SESSIONS_DIR/agent_main_${HPREFIX}0.jsonl" 2>/dev/null || echo 0)
echo "   sessions/agent_main_${HPREFIX}0.jsonl: $last_lines lines after phase 2"
# The gateway sends at most 40 messages of history: with 4,000 in the session it must be full.
if [[ $HISTORY -ge 40 && ${MSGS[h$HISTORY]:-0} -lt 40 ]]; then
  echo "   the model got ${MSGS[h$HISTORY]:-?} messages: the history was not read"
  FAILED=1
fi
kill -0 "$FRONT_PID" 2>/dev/null || { echo "chat.sh: the front died during the run" >&2; FAILED=1; }
for log in "$WORK"/gateway-*.log; do
  n=$(grep -c -E ' (warn|error|fatal) ' "$log")
  [[ $n -gt 0 ]] || continue
  echo "$(basename "$log"): $n warning/error lines, e.g.:"
  grep -E ' (warn|error|fatal) ' "$log" | sed -E 's/^[0-9][0-9T:.Z-]* //' | sort | uniq -c | sort -rn |
    head -3 | sed 's/^/  /'
done
echo

# ---- summary ----------------------------------------------------------------------------------
sub() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "-"; else printf "%.3f", a - b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }
row() { printf '%-50s %22s %s\n' "$1" "${2:--}" "${3:-}"; }
clean() { [[ $(field "$1" errors) == 0 ]] || echo "FAILED"; }
H=h$HISTORY
declare -A ADD50 ADD99
row "figure" "value"
row "------" "-----"
for p in h0 "$H"; do
  if [[ $p == h0 ]]; then label="history 0"; else label="history $HISTORY ($PREFILL)"; fi
  row "$label: turn through the gateway p50 / p99" "$(field "$p" final_p50_ms) / $(field "$p" final_p99_ms)" "ms $(clean "$p")"
  row "  model alone, same request, p50 / p99" \
    "$(field "$p-direct" done_p50_ms) / $(field "$p-direct" done_p99_ms)" "ms (${MSGS[$p]:-?} messages, ${BYTES[$p]:-?} bytes)"
  ADD50[$p]=$(sub "$(field "$p" final_p50_ms)" "$(field "$p-direct" done_p50_ms)")
  ADD99[$p]=$(sub "$(field "$p" final_p99_ms)" "$(field "$p-direct" done_p99_ms)")
  row "  added by the gateway p50 / p99" "${ADD50[$p]} / ${ADD99[$p]}" ms
  row "  added, best case (min - min)" \
    "$(sub "$(field "$p" final_min_ms)" "$(field "$p-direct" done_min_ms)")" \
    "ms ($(field "$p" final_min_ms) - $(field "$p-direct" done_min_ms))"
  row "  first token through the gateway p50 / p99" "$(field "$p" ft_p50_ms) / $(field "$p" ft_p99_ms)" ms
  row "  turns/s (one at a time)" "$(field "$p" rate)" ""
  printf '%-50s %s\n' "  CPU, share of one core" "${CPU_TXT[$p]}"
done
# Ratios of the added p50/p99 are left out: each is a small difference of two figures that move
# by a scheduler tick from run to run on a busy host, and their ratio is noise.
row "history $HISTORY / history 0, turn p50" "$(ratio "$(field "$H" final_p50_ms)" "$(field h0 final_p50_ms)")" ""
row "history $HISTORY / history 0, turn p99" "$(ratio "$(field "$H" final_p99_ms)" "$(field h0 final_p99_ms)")" ""
row "history $HISTORY / history 0, added best case" \
  "$(ratio "$(sub "$(field "$H" final_min_ms)" "$(field "$H-direct" done_min_ms)")" \
    "$(sub "$(field h0 final_min_ms)" "$(field h0-direct done_min_ms)")")" ""
row "fdatasync p50 on the state dir (at start)" "$SYNC_P50" ms
exit $FAILED
