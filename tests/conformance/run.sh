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
#   CLAWGATE_CHROMIUM    Chromium for test/webchat.test.mjs (default /usr/bin/chromium; when that is
#                  missing and we are root or have password-less sudo, Debian's `chromium` package is
#                  installed; without any Chromium that file's tests are skipped)
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
    echo "conformance: could not install chromium; the WebChat browser test will be skipped" >&2
  fi
}
for f in "${files[@]}"; do
  if [[ "$(basename "$f")" == webchat.test.mjs ]]; then
    ensure_chromium
    break
  fi
done

# One file at a time: each file starts its own gateway and the timing checks
# (ticks every 500 ms, shutdown within 5 s) should not compete for 2 cores.
exec "$NODE" --test --test-reporter=spec --test-concurrency=1 --test-timeout=120000 "${files[@]}"
