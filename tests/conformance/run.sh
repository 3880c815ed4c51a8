#!/usr/bin/env bash
# Conformance suite: real OpenClaw clients + the published protocol schema
# against clawgate.
#
# Needs only Node (any version >= 18) and npm on PATH: the suite itself runs on
# the Node 24 binary that the `node` devDependency installs, because
# @openclaw/gateway-client requires Node >= 22.19.
#
# Usage: tests/conformance/run.sh [test files...]
#   CLAWGATE_BIN   gateway binary (default ../../build/release/bin/clawgate,
#                  relative to this directory)
#   OPENCLAW_FRAMES_DIR  captured real frames for the validator self-test
#                  (default ../../../shared/protocol/frames)
#   openclaw-cli/  npm openclaw@2026.9.6 (CLI + headless node host) for test/node-host.test.mjs
#                  and the CLI tests of test/devices.test.mjs, installed with npm ci when either
#                  file is to run
#   CLAWGATE_CHROMIUM    Chromium for test/webchat*.test.mjs and test/canvas.test.mjs (default /usr/bin/chromium; when that is
#                  missing and we are root or have password-less sudo, Debian's `chromium` package is
#                  installed; without any Chromium that file's tests are skipped, or fail under CI)
#   CI             "true" (or "1"): nothing may skip. A test skipped for a missing dependency
#                  (Chromium, shared/protocol/frames) fails the run. Outside CI every skipped test
#                  is listed again, with its reason, in the closing lines.
# Exit: 0 all passed, 1 a test failed (or, under CI, was skipped), 2 dependencies missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Resolve user-supplied relative paths against the caller's cwd before we cd.
if [[ -n "${CLAWGATE_BIN:-}" && "${CLAWGATE_BIN}" != /* ]]; then
  export CLAWGATE_BIN="$PWD/$CLAWGATE_BIN"
fi
if [[ -n "${OPENCLAW_FRAMES_DIR:-}" && "${OPENCLAW_FRAMES_DIR}" != /* ]]; then
  export OPENCLAW_FRAMES_DIR="$PWD/$OPENCLAW_FRAMES_DIR"
fi
files=()
for f in "$@"; do
  if [[ "$f" == /* ]]; then files+=("$f"); else files+=("$PWD/$f"); fi
done

cd "$here"
NODE="$here/node_modules/node/bin/node"

deps_ok() {
  [[ -x "$NODE" ]] &&
    "$NODE" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' 2>/dev/null &&
    [[ -f node_modules/@openclaw/gateway-client/package.json ]] &&
    [[ -f node_modules/@openclaw/gateway-protocol/protocol.schema.json ]] &&
    [[ -f node_modules/ajv/package.json ]] &&
    [[ -f node_modules/ajv-formats/package.json ]] &&
    [[ -f node_modules/ws/package.json ]] &&
    [[ -f node_modules/playwright-core/package.json ]] &&
    [[ -f node_modules/.package-lock.json && ! package-lock.json -nt node_modules/.package-lock.json ]]
}

if ! deps_ok; then
  echo "conformance: installing dependencies (npm ci)…"
  npm ci --no-audit --no-fund
  if ! deps_ok; then
    echo "conformance: dependencies still missing after npm ci (no Node >= 22 at $NODE?)" >&2
    exit 2
  fi
fi

echo "conformance: node $("$NODE" --version), clawgate ${CLAWGATE_BIN:-$here/../../build/release/bin/clawgate}"

if [[ ${#files[@]} -eq 0 ]]; then
  files=(test/*.test.mjs)
fi

in_ci() {
  local ci=${CI:-}
  [[ ${ci,,} == true || $ci == 1 ]]
}

# playwright-core drives a system Chromium (it downloads no browser of its own).
ensure_chromium() {
  [[ -n "${CLAWGATE_CHROMIUM:-}" || -x /usr/bin/chromium ]] && return 0
  command -v apt-get >/dev/null || return 0
  local sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    sudo -n true 2>/dev/null || return 0
    sudo=(sudo -n)
  fi
  echo "conformance: installing chromium for the WebChat browser test (apt-get)…"
  if ! { "${sudo[@]}" apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }; then
    echo "conformance: could not install chromium; the WebChat browser test will be" \
      "$(in_ci && echo "FAILED (CI=true)" || echo "SKIPPED")" >&2
  fi
}
for f in "${files[@]}"; do
  if [[ "$(basename "$f")" == webchat*.test.mjs || "$(basename "$f")" == canvas.test.mjs ]]; then
    ensure_chromium
    break
  fi
done

# The real OpenClaw CLI and node host (npm openclaw@2026.9.6, about 650 MB) live in their own
# package, openclaw-cli/, installed only when node-host.test.mjs or devices.test.mjs is to run.
# Its engines want Node >= 24.16, so npm runs with the suite's Node first on PATH.
openclaw_ok() {
  [[ -f openclaw-cli/node_modules/openclaw/openclaw.mjs &&
    -f openclaw-cli/node_modules/.package-lock.json &&
    ! openclaw-cli/package-lock.json -nt openclaw-cli/node_modules/.package-lock.json ]]
}
ensure_openclaw() {
  openclaw_ok && return 0
  echo "conformance: installing the OpenClaw CLI for the node host and devices tests (npm ci in openclaw-cli/)…"
  if ! (cd openclaw-cli && PATH="$(dirname "$NODE"):$PATH" npm ci --no-audit --no-fund); then
    echo "conformance: could not install openclaw; the node host and devices CLI tests will be" \
      "$(in_ci && echo "FAILED (CI=true)" || echo "SKIPPED")" >&2
  fi
}
for f in "${files[@]}"; do
  if [[ "$(basename "$f")" == node-host.test.mjs || "$(basename "$f")" == devices.test.mjs ]]; then
    ensure_openclaw
    break
  fi
done

# One file at a time: each file starts its own gateway and the timing checks
# (ticks every 500 ms, shutdown within 5 s) should not compete for 2 cores.
# The spec report goes to the terminal; a TAP copy is kept for the closing lines below.
tap=$(mktemp "${TMPDIR:-/tmp}/clawgate-conformance.XXXXXX.tap")
trap 'rm -f "$tap"' EXIT
rc=0
"$NODE" --test --test-concurrency=1 --test-timeout=120000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" "${files[@]}" || rc=$?

# Closing lines: the totals, and every skipped (or todo) test by name with its reason.
count() { sed -n "s/^# $1 \([0-9][0-9]*\)\$/\1/p" "$tap" | tail -n 1; }
tests=$(count tests) pass=$(count pass) fail=$(count fail) cancelled=$(count cancelled)
skipped=$(count skipped) todo=$(count todo)
echo "conformance: ${tests:-?} tests: ${pass:-?} passed, ${fail:-?} failed, ${cancelled:-?} cancelled," \
  "${skipped:-?} skipped, ${todo:-?} todo (node exit $rc)"
if [[ -z $tests ]]; then
  echo "conformance: FAIL: the test runner printed no totals" >&2
  exit 1
fi
if [[ ${skipped:-0} != 0 || ${todo:-0} != 0 ]]; then
  {
    echo "conformance: *** ${skipped:-0} test(s) SKIPPED and ${todo:-0} todo: they proved nothing ***"
    grep -E '^ *(not )?ok [0-9]+ - .* # (SKIP|TODO)' "$tap" | sed 's/^ */conformance:   /'
  } >&2
  if in_ci; then
    echo "conformance: FAIL: CI=true and tests were skipped (install what they need)" >&2
    exit 1
  fi
fi
exit "$rc"
