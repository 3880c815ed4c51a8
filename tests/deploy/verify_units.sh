#!/usr/bin/env bash
# verify_units.sh DIR: check the configured systemd units in DIR (clawgate.service, clawgate.socket).
#   1. `systemd-analyze verify` must print nothing and exit 0. It also checks that ExecStart's
#      binary exists, so DIR must be a copy configured with a real (or dummy) binary directory.
#   2. `systemd-analyze security --offline=yes` must rate the service's exposure at most
#      $CLAWGATE_MAX_EXPOSURE (default 2.0; 0.0 is fully locked down, 10.0 is not sandboxed).
# Run as `verify_units.sh DIR verify` or `verify_units.sh DIR security` for one check only.
# Exit: 0 ok, 1 a check failed, 2 usage, 77 systemd-analyze missing (CTest SKIP_RETURN_CODE;
# under CI=true a missing systemd-analyze is a failure, exit 1).
set -u

dir=${1:-}
what=${2:-all}
max=${CLAWGATE_MAX_EXPOSURE:-2.0}

fail() { echo "verify_units: FAIL: $*" >&2; exit 1; }

[[ -n $dir ]] || { echo "usage: $0 DIR [verify|security|all]" >&2; exit 2; }
case $what in verify|security|all) ;; *) echo "usage: $0 DIR [verify|security|all]" >&2; exit 2 ;; esac
if ! command -v systemd-analyze >/dev/null; then
  ci=${CI:-}
  if [[ ${ci,,} == true || $ci == 1 ]]; then
    fail "systemd-analyze not found (apt-get install systemd); CI=true: a missing dependency fails instead of skipping"
  fi
  echo "verify_units: SKIP: systemd-analyze not found (apt-get install systemd)" >&2
  exit 77
fi
for f in clawgate.service clawgate.socket; do
  [[ -f $dir/$f ]] || fail "$dir/$f does not exist (configure the build first)"
done
dir=$(cd "$dir" && pwd)

if [[ $what == verify || $what == all ]]; then
  out=$(systemd-analyze verify "$dir/clawgate.socket" "$dir/clawgate.service" 2>&1)
  rc=$?
  if [[ $rc -ne 0 || -n $out ]]; then
    printf '%s\n' "$out" >&2
    fail "systemd-analyze verify exited $rc and/or printed the above for $dir"
  fi
  echo "verify_units: systemd-analyze verify: clean"
fi

if [[ $what == security || $what == all ]]; then
  out=$(systemd-analyze security --offline=yes --no-pager "$dir/clawgate.service" 2>&1)
  rc=$?
  line=$(printf '%s\n' "$out" | grep 'Overall exposure level')
  if [[ -z $line ]]; then
    printf '%s\n' "$out" >&2
    fail "systemd-analyze security (exit $rc) printed no 'Overall exposure level' line"
  fi
  echo "verify_units: ${line#→ }"
  score=$(printf '%s\n' "$line" | sed -n 's/.*: *\([0-9][0-9]*\.[0-9]*\).*/\1/p')
  [[ -n $score ]] || fail "cannot parse the score from: $line"
  if ! awk -v s="$score" -v m="$max" 'BEGIN { exit !(s <= m) }'; then
    printf '%s\n' "$out" | grep '✗' >&2
    fail "exposure $score is above the allowed $max (the ✗ lines above are what costs)"
  fi
  echo "verify_units: exposure $score <= $max: ok"
fi
exit 0
