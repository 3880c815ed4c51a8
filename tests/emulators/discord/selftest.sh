#!/usr/bin/env bash
# Self-test of the Discord emulator: starts it on an ephemeral port and checks the documented
# behaviours: REST with curl, the Gateway with a small python3-websockets client. Prints
# PASS/FAIL lines; exits non-zero on any failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
emu_pid=""
cleanup() {
  if [[ -n "$emu_pid" ]]; then kill "$emu_pid" 2>/dev/null || true; wait "$emu_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "FAIL: selftest aborted at line $LINENO"' ERR

# Debian's python3-websockets lives with /usr/bin/python3 (a pyenv shim may come first).
PY=python3
python3 -c 'import websockets' 2>/dev/null || PY=/usr/bin/python3
TOKEN="selftest-token"
"$PY" "$here/emulator.py" --port 0 --token "$TOKEN" --guild 10:20 >"$tmp/out" 2>"$tmp/err" &
emu_pid=$!
for _ in $(seq 1 50); do grep -q '^listening on ' "$tmp/out" && break; sleep 0.1; done
base="$(sed -n 's/^listening on //p' "$tmp/out")"
if [[ -z "$base" ]]; then echo "FAIL: emulator did not start"; cat "$tmp/err"; exit 1; fi
api="$base/api/v10"
auth=(-H "Authorization: Bot $TOKEN")

failures=0
check() {  # check NAME CONDITION...
  local name="$1"; shift
  if "$@"; then echo "PASS: $name"; else echo "FAIL: $name"; failures=$((failures + 1)); fi
}
py() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' "$1" "$2"; }
is() { [[ "$(py "$1" "$2")" == "True" ]]; }
req() { local f="$1"; shift; curl -sS -o "$f" -D "$f.h" -w '%{http_code}' "$@" || true; }

# REST
code=$(req "$tmp/r" "$api/gateway/bot")
check "no token -> 401" is "$code == 401 and d['message'] == '401: Unauthorized'" "$tmp/r"
code=$(req "$tmp/r" "${auth[@]}" "$api/gateway/bot")
check "GET /gateway/bot -> ws url and identify budget" is "$code == 200 and d['url'].startswith('ws://127.0.0.1') and d['session_start_limit']['max_concurrency'] == 1" "$tmp/r"
check "rate-limit headers on every answer" grep -qi '^x-ratelimit-remaining:' "$tmp/r.h"
code=$(req "$tmp/r" "${auth[@]}" -H 'Content-Type: application/json' -d '{"content":"hi 你好"}' "$api/channels/20/messages")
check "create message in a known channel" is "$code == 200 and d['content'] == 'hi 你好' and d['author']['bot']" "$tmp/r"
code=$(req "$tmp/r" "${auth[@]}" -H 'Content-Type: application/json' -d '{"content":"   "}' "$api/channels/20/messages")
check "blank message -> 400 50006" is "$code == 400 and d['code'] == 50006" "$tmp/r"
long=$("$PY" -c 'print("x" * 2001)')
code=$(req "$tmp/r" "${auth[@]}" -H 'Content-Type: application/json' -d "{\"content\":\"$long\"}" "$api/channels/20/messages")
check "over 2000 characters -> 400 50035" is "$code == 400 and d['code'] == 50035" "$tmp/r"
code=$(req "$tmp/r" "${auth[@]}" -H 'Content-Type: application/json' -d '{"recipient_id":"1001"}' "$api/users/@me/channels")
check "open a DM channel" is "$code == 200 and d['type'] == 1" "$tmp/r"
dm=$(py 'd["id"]' "$tmp/r")
code=$(req "$tmp/r" "${auth[@]}" -X POST "$api/channels/$dm/typing")
check "typing -> 204" [ "$code" = 204 ]
curl -sS -d '{"rate_limit": {"count": 1, "retry_after": 0.5, "route": "/messages"}}' "$base/_emu/faults" >/dev/null
code=$(req "$tmp/r" "${auth[@]}" -H 'Content-Type: application/json' -d '{"content":"x"}' "$api/channels/20/messages")
check "429 with retry_after, global false, bucket headers" is "$code == 429 and d['retry_after'] == 0.5 and d['global'] is False" "$tmp/r"
check "429 carries Retry-After" grep -qi '^retry-after:' "$tmp/r.h"
curl -sS -d '{}' "$base/_emu/faults" >/dev/null

# Gateway: identify, dispatch, resume with replay, zombie (withheld ACK), 4004
cat >"$tmp/gw.py" <<'PYEOF'
import asyncio, json, sys, urllib.request
import websockets
base, token = sys.argv[1], sys.argv[2]
ws_url = base.replace("http://", "ws://") + "/gateway?v=10&encoding=json"
def post(path, body):
    r = urllib.request.urlopen(urllib.request.Request(base + path, json.dumps(body).encode(), {"Content-Type": "application/json"}))
    return json.load(r)
async def recv(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), 5))
async def main():
    out = {}
    async with websockets.connect(ws_url) as ws:
        hello = await recv(ws)
        out["hello"] = hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
        await ws.send(json.dumps({"op": 2, "d": {"token": token, "intents": 37377, "properties": {}}}))
        ready = await recv(ws)
        out["ready"] = ready["t"] == "READY" and ready["s"] == 1 and ready["d"]["session_id"]
        guild = await recv(ws)
        out["guild_create"] = guild["t"] == "GUILD_CREATE" and any(r.get("tags", {}).get("bot_id") for r in guild["d"]["roles"])
        await ws.send(json.dumps({"op": 1, "d": 2}))
        out["ack"] = (await recv(ws))["op"] == 11
        post("/_emu/inject", {"author_id": "1001", "content": "hello"})
        m = await recv(ws)
        out["dispatch"] = m["t"] == "MESSAGE_CREATE" and m["s"] == 3 and "guild_id" not in m["d"]
        sid, seq, resume_url = ready["d"]["session_id"], m["s"], ready["d"]["resume_gateway_url"]
    post("/_emu/inject", {"author_id": "1001", "content": "missed"})
    async with websockets.connect(resume_url + "?v=10&encoding=json") as ws:
        await recv(ws)
        await ws.send(json.dumps({"op": 6, "d": {"token": token, "session_id": sid, "seq": seq}}))
        replay = await recv(ws)
        resumed = await recv(ws)
        out["resume_replays"] = replay["t"] == "MESSAGE_CREATE" and replay["d"]["content"] == "missed" and resumed["t"] == "RESUMED"
    async with websockets.connect(ws_url) as ws:
        await recv(ws)
        await ws.send(json.dumps({"op": 6, "d": {"token": token, "session_id": "nope", "seq": 1}}))
        out["unknown_session_op9"] = (await recv(ws)) == {"op": 9, "d": False}
    async with websockets.connect(ws_url) as ws:
        await recv(ws)
        await ws.send(json.dumps({"op": 2, "d": {"token": "wrong", "intents": 1, "properties": {}}}))
        try:
            await recv(ws)
            out["bad_token_4004"] = False
        except websockets.ConnectionClosed as e:
            out["bad_token_4004"] = e.code == 4004
    post("/_emu/faults", {"disallow_intents": True})
    async with websockets.connect(ws_url) as ws:
        await recv(ws)
        await ws.send(json.dumps({"op": 2, "d": {"token": token, "intents": 37377, "properties": {}}}))
        try:
            await recv(ws)
            out["intents_4014"] = False
        except websockets.ConnectionClosed as e:
            out["intents_4014"] = e.code == 4014
    post("/_emu/faults", {"withhold_ack": 1})
    async with websockets.connect(ws_url) as ws:
        await recv(ws)
        await ws.send(json.dumps({"op": 2, "d": {"token": token, "intents": 1, "properties": {}}}))
        await recv(ws); await recv(ws)
        await ws.send(json.dumps({"op": 1, "d": None}))
        try:
            await asyncio.wait_for(ws.recv(), 0.5)
            out["ack_withheld"] = False
        except asyncio.TimeoutError:
            out["ack_withheld"] = True
        post("/_emu/gateway", {"action": "reconnect"})
        out["op7"] = (await recv(ws))["op"] == 7
    print(json.dumps(out))
asyncio.run(main())
PYEOF
"$PY" "$tmp/gw.py" "$base" "$TOKEN" >"$tmp/gw.json"
for k in hello ready guild_create ack dispatch resume_replays unknown_session_op9 bad_token_4004 intents_4014 ack_withheld op7; do
  check "gateway: $k" is "bool(d['$k'])" "$tmp/gw.json"
done
curl -sS "$base/_emu/stats" >"$tmp/stats"
check "stats count identify, resume, replay" is "d['identify'] == 2 and d['resumed'] == 1 and d['replayed'] == 1" "$tmp/stats"

echo "selftest: $failures failure(s)"
[[ $failures -eq 0 ]]
