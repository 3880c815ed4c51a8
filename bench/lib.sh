# bench/lib.sh: helpers shared by the benchmark scripts (sourced, never run). The caller sets
# BENCH_NAME (for messages), WORK (its temp dir), PIDS (servers it started), GATEWAY, GW_URL and
# TOKEN where the helpers that use them are called.
# shellcheck shell=bash disable=SC2034  # URL, CALL_OUT: results the caller reads

# Stops the processes in PIDS, newest first (the gateway stops its own children; what it talks
# to, like a fake model, goes last): TERM to all, then up to 3 s each before KILL, reaped.
# For the scripts' EXIT traps.
stop_pids() {
  local p i j
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[i]}" 2>/dev/null; done
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    p=${PIDS[i]}
    for ((j = 0; j < 30; j++)); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
}

die() {  # MESSAGE [LOG]: exit 2 with the message and the tail of LOG
  echo "$BENCH_NAME: $1" >&2
  if [[ -n ${2:-} && -f $2 ]]; then
    echo "  last lines of $(basename "$2"):" >&2
    grep -v 'client connected' "$2" | tail -n 15 | sed 's/^/    /' >&2
  fi
  exit 2
}

# start_server NAME PATTERN CMD...: starts CMD in the background (stdout+stderr to
# $WORK/NAME.log) and waits up to 10 s for a line matching PATTERN (grep -o); sets URL to the
# match with "listening on " removed, and PID.
start_server() {
  local name=$1 pattern=$2 i line
  shift 2
  "$@" >"$WORK/$name.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  URL=""
  for ((i = 0; i < 100; i++)); do
    line=$(grep -o -m1 "$pattern" "$WORK/$name.log" 2>/dev/null)
    if [[ -n $line ]]; then
      URL=${line#listening on }
      return 0
    fi
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  die "$name did not start within 10 s" "$WORK/$name.log"
}

# run_bounded NAME LIMIT_S CMD...: runs CMD (killed after LIMIT_S), output to $WORK/NAME.out.
run_bounded() {
  local name=$1 limit=$2 rc
  shift 2
  timeout -k 5 "$limit" "$@" >"$WORK/$name.out" 2>&1 &
  BOUND_PID=$!
  wait "$BOUND_PID"
  rc=$?
  BOUND_PID=""
  [[ $rc -eq 124 || $rc -eq 137 ]] && echo "(killed after ${limit} s)" >>"$WORK/$name.out"
  return $rc
}

# field NAME KEY: a value from the RESULT line of run NAME ("" when absent).
field() {
  grep -m1 '^RESULT ' "$WORK/$1.out" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

# call METHOD [TIMEOUT_MS]: `clawgate call` against the gateway; stdout in CALL_OUT.
call() {
  local t=${2:-5000}
  CALL_OUT=$(timeout -k 1 $((t / 1000 + 3)) "$GATEWAY" call "$1" --url "$GW_URL" --token "$TOKEN" \
    --timeout "$t" 2>"$WORK/call.err")
}

# CPU time (utime + stime, clock ticks) of a process; 0 when it is gone.
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
declare -A CPU0  # pid -> CPU ticks at cpu_start
CPU_T0=0         # wall clock (us) at cpu_start
ticks() {
  local stat rest
  read -r stat 2>/dev/null <"/proc/$1/stat" || { echo 0; return; }
  rest=${stat##*) }
  # shellcheck disable=SC2086  # split into fields on purpose
  set -- $rest
  echo $((${12} + ${13}))
}

cpu_start() {  # PID...
  local p
  now_us
  CPU_T0=$NOW_US
  for p in "$@"; do CPU0[$p]=$(ticks "$p"); done
}

cpu_report() {  # LABEL=PID...: "front 54%, ..." (share of one core since cpu_start)
  local kv out="" wall_us
  now_us
  wall_us=$((NOW_US - CPU_T0))
  for kv in "$@"; do
    local label=${kv%%=*} p=${kv#*=}
    out+="${out:+, }$label $(awk -v d="$(($(ticks "$p") - ${CPU0[$p]:-0}))" -v hz="$HZ" -v w="$wall_us" \
      'BEGIN { printf "%.0f%%", (w > 0) ? 100 * d / hz / (w / 1e6) : 0 }')"
  done
  echo "$out"
}

now_us() { NOW_US=${EPOCHREALTIME/[.,]/}; }  # wall clock in microseconds, no fork

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# child_pid PARENT NAME: the pid of PARENT's child running NAME (matched on /proc/PID/comm, which
# the kernel cuts to 15 characters: "clawgate-telegram" reads "clawgate-telegr"); "" when none.
# The supervisor forks its children directly, so this finds the front and the workers without a
# round trip through the gateway (which needs a handshake and a token).
# A child killed but not yet reaped (a zombie: state Z) is skipped.
child_pid() {
  local parent=$1 want=${2:0:15} c comm stat
  for c in $(cat /proc/"$parent"/task/*/children 2>/dev/null); do
    read -r comm 2>/dev/null <"/proc/$c/comm" || continue
    [[ $comm == "$want" ]] || continue
    read -r stat 2>/dev/null <"/proc/$c/stat" || continue
    stat=${stat##*) }
    [[ ${stat:0:1} == Z ]] && continue
    echo "$c"
    return 0
  done
  return 1
}

# wait_child_pid PARENT NAME LIMIT_S: child_pid, retried every 50 ms for up to LIMIT_S seconds.
wait_child_pid() {
  local deadline=$((SECONDS + $3)) p
  while ((SECONDS <= deadline)); do
    p=$(child_pid "$1" "$2") && { echo "$p"; return 0; }
    sleep 0.05
  done
  return 1
}

# status_kb FILE KEY: the kB value of "KEY: N kB" in a /proc file; 0 when absent or unreadable.
status_kb() {
  local k v rest
  while read -r k v rest; do
    [[ $k == "$2:" ]] && { echo "$v"; return 0; }
  done 2>/dev/null <"$1"
  echo 0
}
rss_kb() { status_kb "/proc/$1/status" VmRSS; }
# Proportional set size: shared pages (libraries, the common executable text) split between the
# processes that map them, so the PSS of a process tree adds up without counting them twice.
pss_kb() { status_kb "/proc/$1/smaps_rollup" Pss; }
fd_count() { local f=(/proc/"$1"/fd/*); [[ -e ${f[0]} ]] && echo ${#f[@]} || echo 0; }

# sync_probe: SYNC_P50 / SYNC_MAX, ms of 50 appends + fdatasync in the state dir's filesystem.
# Other load on the host moves this a lot, and every figure that syncs with it.
sync_probe() {
  local out
  out=$(timeout -k 1 20 python3 - "$WORK" <<'EOF' 2>/dev/null
import os, sys, time
path = os.path.join(sys.argv[1], "sync-probe")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
lat = []
for _ in range(50):
    t = time.perf_counter()
    os.write(fd, b"x" * 200 + b"\n")
    os.fdatasync(fd)
    lat.append((time.perf_counter() - t) * 1000)
os.close(fd)
os.unlink(path)
lat.sort()
print("%.3f %.3f" % (lat[len(lat) // 2], lat[-1]))
EOF
  )
  SYNC_P50=${out%% *}
  SYNC_MAX=${out##* }
  SYNC_P50=${SYNC_P50:-?}
  SYNC_MAX=${SYNC_MAX:-?}
}

# Host CPU from /proc/stat (all cores): host_cpu_start, then host_cpu_report prints "busy 63% of
# 2 cores (niced 41%)" for the time since. Niced time is what background jobs at nice > 0 (the
# fuzzers at 19) took: CPU the measured processes could have had if they had wanted it.
HOST_CPU0=""
host_cpu_start() { read -r _ HOST_CPU0 </proc/stat; }
host_cpu_report() {
  local now
  read -r _ now </proc/stat
  awk -v a="$HOST_CPU0" -v b="$now" -v n="$(nproc)" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    for (i = 1; i <= 8; i++) { d[i] = y[i] - x[i]; t += d[i] }
    idle = d[4] + d[5]
    if (t <= 0) { print "?"; exit }
    printf "busy %.0f%% of %d cores (niced %.0f%%)", 100 * (t - idle) / t, n, 100 * d[2] / t }'
}

# host_note: what else runs here: processes at nice > 0 using CPU now (by name), the host's CPU
# over one second, and whether nice even applies between sessions: with the kernel's autogroup
# scheduling on (/proc/sys/kernel/sched_autogroup_enabled), each session shares the CPU as an
# equal whatever its processes' nice, so "niced" work started elsewhere (another terminal, a
# fuzzer from another shell) competes with the benchmark rather than taking only what is left.
host_note() {
  local others ag
  others=$(ps -eo ni=,pcpu=,comm= --sort=-pcpu 2>/dev/null |
    awk '$1 > 0 && $2 >= 1 { printf "%s%s (nice %s)", sep, $3, $1; sep = ", "; if (++k == 6) exit }')
  host_cpu_start
  sleep 1
  echo "host: $(host_cpu_report) over 1 s before the run; niced processes: ${others:-none}"
  read -r ag 2>/dev/null </proc/sys/kernel/sched_autogroup_enabled
  if [[ ${ag:-0} == 1 && -n $others ]]; then
    echo "  autogroup scheduling is on: niced processes of other sessions compete as equals; figures are under contention"
  fi
}

# Channel workers (discord.sh, slack.sh): the gateway at GW_URL with TOKEN, `clawgate` as GATEWAY.
# channel_proc_in NAME OUTPUT: the NAME worker's pid and state in `status` output (CH_PID,
# CH_STATE); false when it is not listed.
channel_proc_in() {
  local re='"name": "'"$1"'",[^}]*"pid": ([0-9]+),[^}]*(\{[^}]*\}[^}]*)?"state": "([a-z]+)"'
  CH_PID=""
  CH_STATE=""
  [[ $2 =~ $re ]] || return 1
  CH_PID=${BASH_REMATCH[1]}
  CH_STATE=${BASH_REMATCH[3]}
}
connected_in() { [[ $1 == *'"connected": true'* && $1 != *'"connected": false'* ]]; }

# wait_channel_ready NAME LIMIT_S: the channel connected and its worker running; sets CH_PID.
wait_channel_ready() {
  local deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    if call channels.status 2000 && connected_in "$CALL_OUT" && call status 2000 &&
      channel_proc_in "$1" "$CALL_OUT" && [[ $CH_STATE == running && $CH_PID != 0 ]]; then
      return 0
    fi
    sleep 0.05
  done
  return 1
}

# kill_restart_rounds NAME ROUNDS WHAT: kill -9 the NAME worker ROUNDS times, each time polling
# until a new pid runs with the channel connected (WHAT says what that means, for the lines).
# RESTART gets each round's ms; FAILED=1 on a round that did not come back within 15 s.
kill_restart_rounds() {
  local name=$1 rounds=$2 k old t0 back ms
  echo "== restart: kill -9 the $name worker, poll until a new pid runs with $3 ($rounds times)"
  RESTART=()
  for ((k = 1; k <= rounds; k++)); do
    wait_channel_ready "$name" 15 || { echo "   #$k: not ready before the kill"; FAILED=1; break; }
    sleep 0.3
    old=$CH_PID
    now_us
    t0=$NOW_US
    kill -KILL "$old" 2>/dev/null || { FAILED=1; break; }
    back=0
    while :; do
      CALL_OUT=$("$GATEWAY" call channels.status --url "$GW_URL" --token "$TOKEN" --timeout 1000 2>/dev/null)
      if connected_in "$CALL_OUT"; then
        CALL_OUT=$("$GATEWAY" call status --url "$GW_URL" --token "$TOKEN" --timeout 1000 2>/dev/null)
        if channel_proc_in "$name" "$CALL_OUT" && [[ $CH_STATE == running && $CH_PID != "$old" ]]; then
          now_us
          back=1
          break
        fi
      fi
      now_us
      ((NOW_US - t0 > 15000000)) && break
      sleep 0.005
    done
    ms=$(awk -v d=$((NOW_US - t0)) 'BEGIN { printf "%.1f", d / 1000 }')
    [[ $back == 1 ]] || { echo "   #$k: not back within 15 s"; FAILED=1; break; }
    RESTART+=("$ms")
    echo "   #$k: pid $old -> $CH_PID serving again after $ms ms (polled)"
  done
}
