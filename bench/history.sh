#!/usr/bin/env bash
# bench/history.sh: does a turn cost the same at 0 and at 4,000 messages of history? Runs
# bench/chat.sh twice on the same build: with the default context window (200,000 tokens: the
# 4,000 short prefilled messages all fit, so every turn sends them all and the model's request
# grows with them) and with CONTEXT_WINDOW (8,000) tokens (the history does not fit: each
# session is compacted once, on its first turn, and later turns send the summary and the newest
# turns that fit). Prints chat.sh's summary of each and nothing else; the full runs are in
# $WORK/history-*.out when KEEP=1.
# Owns nothing of its own: chat.sh starts and stops everything. About 40 s.
# Usage: bench/history.sh [BUILD_DIR]     (default: build/release next to this script's parent)
#   env RUNS (200) turns per phase, HISTORY (4000), HIST_SESSIONS (10), CONTEXT_WINDOW (8000)
# Fails: exit 1 when either chat.sh run failed (its output is printed whole then), 2 on usage.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build/release}
export RUNS=${RUNS:-200} HISTORY=${HISTORY:-4000} HIST_SESSIONS=${HIST_SESSIONS:-10}
SMALL=${CONTEXT_WINDOW:-8000}
[[ $SMALL =~ ^[1-9][0-9]*$ ]] || { echo "history.sh: CONTEXT_WINDOW must be a positive integer" >&2; exit 2; }
OUT=$(mktemp -d "${TMPDIR:-/tmp}/clawgate-history.XXXXXX") || exit 2
[[ ${KEEP:-0} == 1 ]] || trap 'rm -rf "$OUT"' EXIT
rc=0
for window in default "$SMALL"; do
  echo "== context window: $window$([[ $window == default ]] && echo " (200000 tokens)")"
  if [[ $window == default ]]; then
    env -u CONTEXT_WINDOW "$ROOT/bench/chat.sh" "$BUILD" >"$OUT/history-$window.out" 2>&1
  else
    CONTEXT_WINDOW=$window "$ROOT/bench/chat.sh" "$BUILD" >"$OUT/history-$window.out" 2>&1
  fi
  r=$?
  if [[ $r -ne 0 ]]; then
    cat "$OUT/history-$window.out"
    rc=1
    continue
  fi
  grep -E '^(figure|------|history |  (model alone|added by|added, best)|fdatasync)' "$OUT/history-$window.out"
  echo
done
exit $rc
