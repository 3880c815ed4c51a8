#!/usr/bin/env bash
# socket_activation.sh CLAWGATE_BIN: the gateway serves on a listening socket it inherits the way
# systemd passes it (LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES=gateway), answers `health` through it,
# and exits on SIGTERM within 10 s; then the same with gateway.tls on (wss:// on that socket). Uses systemd-socket-activate (package systemd) as the stand-in
# for PID 1. Exit: 0 ok, 1 failure, 2 usage, 77 systemd-socket-activate missing (CTest counts
# that as skipped; under CI=true a missing tool is a failure, exit 1).
set -u

bin=${1:-}
[[ -n $bin && -x $bin ]] || { echo "usage: $0 CLAWGATE_BIN (an executable clawgate)" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
if ! command -v systemd-socket-activate >/dev/null; then
  ci=${CI:-}
  if [[ ${ci,,} == true || $ci == 1 ]]; then
    echo "socket_activation: FAIL: systemd-socket-activate not found (apt-get install systemd);" \
      "CI=true: a missing dependency fails instead of skipping" >&2
    exit 1
  fi
  echo "socket_activation: SKIP: systemd-socket-activate not found (apt-get install systemd)" >&2
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/clawgate-sockact.XXXXXX")
pid=
cleanup() {
  # The gateway runs in its own process group (setsid below): on failure, nothing it spawned is
  # left behind.
  if [[ -n $pid ]]; then
    kill -KILL -- -"$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "socket_activation: FAIL: $*" >&2
  if [[ -s ${gateway_log:-} ]]; then
    echo "--- gateway output:" >&2
    cat "$gateway_log" >&2
  fi
  exit 1
}

# run_once MODE (plain | tls): one socket-activated gateway, a health call through the inherited
# socket, SIGTERM, a clean exit. tls: gateway.tls on; the pair is generated when the first
# connection starts the gateway, so that call (made before there is a certificate to pin) is
# refused by the CLI, and the next one pins this machine's certificate file (the local pin).
run_once() {
  local mode=$1 state=$tmp/state-$1 log=$tmp/gateway-$1.log scheme=ws
  local env_args=(-E CLAWGATE_STATE_DIR="$state" -E CLAWGATE_GATEWAY_TOKEN="$token")
  local cli_env=(CLAWGATE_STATE_DIR="$state")
  if [[ $mode == tls ]]; then
    scheme=wss
    echo '{"gateway":{"tls":{"enabled":true}}}' >"$tmp/tls.json"
    env_args+=(-E CLAWGATE_CONFIG_PATH="$tmp/tls.json")
    cli_env+=(CLAWGATE_CONFIG_PATH="$tmp/tls.json")
  fi
  gateway_log=$log
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') \
    || fail "cannot pick a free port"
  mkdir -p "$state"

  # systemd-socket-activate binds the socket, then waits: it execs the program (in its own pid, with
  # LISTEN_PID set to it) only when the first connection arrives. That first connection sits in the
  # backlog while the gateway starts, so the first health call gets a generous timeout (30 s).
  setsid systemd-socket-activate -l "127.0.0.1:$port" --fdname=gateway "${env_args[@]}" \
    "$bin" gateway >"$log" 2>&1 &
  pid=$!
  # setsid execs in place (a background job of a script is not a group leader): pid is the group id.
  # (The background subshell needs a moment to exec setsid: poll, bounded.)
  for _ in $(seq 100); do
    [[ $(awk '{ print $5 }' "/proc/$pid/stat" 2>/dev/null) == "$pid" ]] && break
    sleep 0.02
  done
  [[ $(awk '{ print $5 }' "/proc/$pid/stat" 2>/dev/null) == "$pid" ]] || fail "setsid did not give the gateway its own process group"

  # Wait until the socket is bound, without connecting: LISTEN state (0A) for our port in
  # /proc/net/tcp. The health call below is then the first connection, the one that starts the gateway.
  local hexport listening=
  hexport=$(printf ':%04X' "$port")
  for _ in $(seq 100); do
    if awk -v p="$hexport" '$2 ~ p"$" && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp; then
      listening=1
      break
    fi
    kill -0 "$pid" 2>/dev/null || fail "systemd-socket-activate exited before listening"
    sleep 0.1
  done
  [[ -n $listening ]] || fail "systemd-socket-activate did not listen on 127.0.0.1:$port within 10 s"
  local out rc
  if [[ $mode == tls ]]; then
    out=$(env "${cli_env[@]}" "$bin" health --url "wss://127.0.0.1:$port" --token "$token" --json --timeout 30000 2>&1)
    rc=$?
    [[ $rc -ne 0 ]] || fail "the first wss:// call had no certificate to pin and still succeeded: $out"
    grep -q "not trusted" <<<"$out" || fail "the first wss:// call failed for another reason: $out"
    for _ in $(seq 100); do
      grep -q "TLS certificate SHA-256 fingerprint" "$log" && break
      sleep 0.1
    done
  fi
  out=$(env "${cli_env[@]}" "$bin" health --url "$scheme://127.0.0.1:$port" --token "$token" --json --timeout 30000 2>&1)
  rc=$?
  echo "$out"
  [[ $rc -eq 0 ]] || fail "clawgate health ($scheme://) exited $rc"
  grep -Eq '"ok": ?true' <<<"$out" || fail "health did not report \"ok\": true"
  kill -0 "$pid" 2>/dev/null || fail "the gateway is not running after the health call"
  if [[ $mode == tls ]]; then
    grep -q "using the listening socket passed by systemd" "$log" || fail "the socket was not inherited"
    grep -q "listening on wss://" "$log" || fail "no wss:// listener"
  fi

  kill -TERM "$pid"
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    fail "the gateway did not exit within 10 s of SIGTERM"
  fi
  wait "$pid"
  rc=$?
  [[ $rc -eq 0 ]] || fail "the gateway exited $rc after SIGTERM (expected 0)"
  # A supervisor must take its children down with it.
  sleep 0.2
  if kill -0 -- -"$pid" 2>/dev/null; then
    ps -o pid,args -g "$pid" >&2 2>/dev/null
    fail "processes of the gateway's group are still running after it exited"
  fi
  pid=
  echo "--- gateway output ($mode):"
  cat "$log"
  echo "socket_activation: $mode ok (port $port, health ok through the inherited socket, clean exit on SIGTERM)"
}

token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
run_once plain
run_once tls
echo "socket_activation: ok (plain ws:// and TLS)"
