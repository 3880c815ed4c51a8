#!/usr/bin/env bash
# Runs the fuzz targets, one single-threaded libFuzzer process each (no -jobs/-workers), two at
# a time on a 2-core machine (FUZZ_PARALLEL, default the CPU count, at most 2: it is shared),
# each for SECONDS, from its checked-in seeds plus the corpus it grew before
# (build/fuzz/corpus/<target>, not checked in).
#   tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]      (no target: all of them)
# Crashes, leaks and timeouts are written to BUILD_DIR/crashes/<target>/ (crash-*, leak-*,
# timeout-*, oom-*), with libFuzzer's report in BUILD_DIR/crashes/<target>.log.
# Prints one line per target (executions, cov, ft, corpus), then "fuzz: N passed, N failed",
# and exits 1 when any target failed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "$1" && pwd)"
secs="$2"
shift 2

all=(front_frames front_handshake front_connect ipc_link sse openai_stream anthropic_stream
  config_text cron_time telegram_updates discord_payloads slack_events http_request)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

# Per-target input size caps: 16 KiB is past every bound the front checks before parsing
# (string and array limits in schema/limits.json); the IPC target needs room for several
# framed messages.
max_len() {
  case "$1" in
    ipc_link) echo 65536 ;;
    *) echo 16384 ;;
  esac
}

# Targets that share one gateway across inputs (front_harness.hpp): an input may leave
# allocations that a later one frees, so leaks are looked for when the process ends, not
# after each input.
leaks_per_input() {
  case "$1" in
    front_frames | front_handshake | front_connect | ipc_link) echo 0 ;;
    *) echo 1 ;;
  esac
}

# One target; its result line goes to $build/crashes/<target>.result, exit 1 when it failed.
run_one() {
  local t=$1 bin="$build/bin/fuzz_$1"
  local corpus="$build/corpus/$t" crashes="$build/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  local log="$build/crashes/$t.log" result="$build/crashes/$t.result"
  if [ ! -x "$bin" ]; then
    echo "fuzz: $t: no binary at $bin (build the fuzz preset first)" >"$result"
    return 1
  fi
  local start rc took execs last cov ft units
  start=$(date +%s)
  "$bin" -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
    -detect_leaks="$(leaks_per_input "$t")" \
    -dict="$here/protocol.dict" -artifact_prefix="$crashes/" -print_final_stats=1 \
    "$corpus" "$here/corpus/$t" >"$log" 2>&1
  rc=$?
  took=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  units=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
  if [ $rc -ne 0 ]; then
    {
      echo "fuzz: $t: FAILED (exit $rc) after ${took}s, ${execs:-?} executions; see $log and $crashes/"
      grep -m3 -E 'ERROR: |SUMMARY: |runtime error' "$log" | sed 's/^/  /'
    } >"$result"
    return 1
  fi
  echo "fuzz: $t: ok, ${execs:-?} executions in ${took}s, cov ${cov:-?} ft ${ft:-?}, corpus ${units:-?}" >"$result"
}

parallel=${FUZZ_PARALLEL:-$(nproc)}
[ "$parallel" -gt 2 ] && parallel=2
[ "$parallel" -lt 1 ] && parallel=1
mkdir -p "$build/crashes"
running=0
for t in "${targets[@]}"; do
  if [ $running -ge "$parallel" ]; then
    wait -n
    running=$((running - 1))
  fi
  run_one "$t" &
  running=$((running + 1))
done
wait

# Results in the targets' order, whatever order they finished in.
failed=0
passed=0
for t in "${targets[@]}"; do
  cat "$build/crashes/$t.result" 2>/dev/null || echo "fuzz: $t: no result"
  if grep -q "^fuzz: $t: ok," "$build/crashes/$t.result" 2>/dev/null; then
    passed=$((passed + 1))
  else
    failed=1
  fi
done
echo "fuzz: $passed passed, $((${#targets[@]} - passed)) failed"
exit $failed
