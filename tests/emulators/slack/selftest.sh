#!/usr/bin/env bash
# Self-test of the Slack emulator: starts it on an ephemeral port and checks the documented
# behaviours, the Web API with curl and Socket Mode with a python3-websockets client (the
# system Python's, like the emulator). Prints PASS/FAIL lines; exits non-zero on any failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
emu_pid=""
cleanup() {
  if [[ -n "$emu_pid" ]]; then kill "$emu_pid" 2>/dev/null || true; wait "$emu_pid" 2>/dev/null || true; fi
  [[ -n "${KEEP_TMP:-}" ]] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "FAIL: selftest aborted at line $LINENO"' ERR

PY=python3
python3 -c 'import websockets' 2>/dev/null || PY=/usr/bin/python3
BOT="xoxb-selftest"
APP="xapp-1-selftest"
$PY "$here/emulator.py" --port 0 --bot-token "$BOT" --app-token "$APP" --ping-interval 1 >"$tmp/out" 2>"$tmp/err" &
emu_pid=$!
for _ in $(seq 1 50); do grep -q '^listening on ' "$tmp/out" && break; sleep 0.1; done
base="$(sed -n 's/^listening on //p' "$tmp/out")"
if [[ -z "$base" ]]; then echo "FAIL: emulator did not start"; cat "$tmp/err"; exit 1; fi
api="$base/api"

failures=0
check() {  # check NAME CONDITION...
  local name="$1"; shift
  if "$@"; then echo "PASS: $name"; else echo "FAIL: $name"; failures=$((failures + 1)); fi
}
py() { python3 -c 'import json,sys; d=json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' "$1" "$2"; }
is() { [[ "$(py "$1" "$2")" == "True" ]]; }
req() { local f="$1"; shift; curl -sS -o "$f" -w '%{http_code}' "$@" || true; }
bot() { local f="$1" m="$2" body="$3"; req "$f" -H "Authorization: Bearer $BOT" -H 'Content-Type: application/json; charset=utf-8' -d "$body" "$api/$m"; }
ctl() { local f="$1" p="$2" body="$3"; req "$f" -H 'Content-Type: application/json' -d "$body" "$base/_emu/$p"; }

# Web API: auth, token types, errors
code=$(bot "$tmp/r" auth.test '{}')
check "auth.test names the bot user and team" is "$code == 200 and d['ok'] and d['user_id'] == 'U0EMUBOT1' and d['team_id'] == 'T0EMU0001' and d['bot_id'] == 'B0EMUBOT1'" "$tmp/r"
code=$(req "$tmp/r" -X POST "$api/auth.test")
check "no token -> not_authed" is "$code == 200 and d == {'ok': False, 'error': 'not_authed'}" "$tmp/r"
code=$(req "$tmp/r" -H 'Authorization: Bearer xoxb-wrong' -X POST "$api/auth.test")
check "wrong token -> invalid_auth" is "d['error'] == 'invalid_auth'" "$tmp/r"
code=$(req "$tmp/r" -d "token=$BOT" "$api/auth.test")
check "token as a form parameter" is "d['ok']" "$tmp/r"
code=$(req "$tmp/r" -H "Authorization: Bearer $BOT" -X POST "$api/apps.connections.open")
check "apps.connections.open with the bot token -> not_allowed_token_type" is "d['error'] == 'not_allowed_token_type'" "$tmp/r"
code=$(req "$tmp/r" -H "Authorization: Bearer $APP" -X POST "$api/chat.postMessage")
check "Web API with the app token -> not_allowed_token_type" is "d['error'] == 'not_allowed_token_type'" "$tmp/r"
code=$(bot "$tmp/r" no.such.method '{}')
check "unknown method -> unknown_method" is "d['error'] == 'unknown_method'" "$tmp/r"
code=$(req "$tmp/r" -H "Authorization: Bearer $BOT" -H 'Content-Type: application/json' -d '{nope' "$api/chat.postMessage")
check "bad JSON body -> invalid_json" is "d['error'] == 'invalid_json'" "$tmp/r"

# chat.postMessage (no_echo: the echoes of these posts would wait for the Socket Mode client)
ctl "$tmp/r" faults '{"no_echo": true}' >/dev/null
code=$(bot "$tmp/r" chat.postMessage '{"channel": "C404", "text": "x"}')
check "unknown channel -> channel_not_found" is "d['error'] == 'channel_not_found'" "$tmp/r"
code=$(bot "$tmp/r" chat.postMessage '{"channel": "U0AAA0001", "text": "hello dm"}')
check "a user id posts to the app's DM with them" is "d['ok'] and d['channel'] == 'D0AAA0001' and d['message']['bot_id'] == 'B0EMUBOT1'" "$tmp/r"
code=$(bot "$tmp/r" chat.postMessage '{"channel": "D0AAA0001", "text": "   "}')
check "blank text -> no_text" is "d['error'] == 'no_text'" "$tmp/r"
long=$(python3 -c 'print("{\"channel\": \"D0AAA0001\", \"text\": \"" + "\u00e9" * 40001 + "\"}")')
code=$(bot "$tmp/r" chat.postMessage "$long")
check "40,001 characters -> msg_too_long" is "d['error'] == 'msg_too_long'" "$tmp/r"
code=$(req "$tmp/r" -H "Authorization: Bearer $BOT" --data-urlencode channel=D0AAA0001 --data-urlencode 'text=threaded é' --data-urlencode thread_ts=1.000001 "$api/chat.postMessage")
check "form-encoded post with thread_ts" is "d['ok'] and d['message']['thread_ts'] == '1.000001'" "$tmp/r"
code=$(bot "$tmp/r" conversations.info '{"channel": "D0AAA0001"}')
check "conversations.info of a DM" is "d['ok'] and d['channel']['is_im'] and d['channel']['user'] == 'U0AAA0001'" "$tmp/r"
code=$(bot "$tmp/r" conversations.info '{"channel": "C999"}')
check "conversations.info of an unknown channel" is "d['error'] == 'channel_not_found'" "$tmp/r"
code=$(bot "$tmp/r" users.info '{"user": "U0AAA0001"}')
check "users.info" is "d['ok'] and d['user']['name'] == 'user-u0aaa0001'" "$tmp/r"

# faults
ctl "$tmp/r" faults '{"rate_limit": {"count": 1, "retry_after": 7, "method": "chat.postMessage"}, "no_echo": true}' >/dev/null
curl -sS -D "$tmp/h" -o "$tmp/r" -H "Authorization: Bearer $BOT" -H 'Content-Type: application/json' -d '{"channel": "D0AAA0001", "text": "x"}' "$api/chat.postMessage" >/dev/null
check "rate limit -> 429, Retry-After, ratelimited" bash -c "grep -q '^HTTP/1.1 429' '$tmp/h' && grep -qi '^Retry-After: 7' '$tmp/h' && grep -q '\"ratelimited\"' '$tmp/r'"
code=$(bot "$tmp/r" chat.postMessage '{"channel": "D0AAA0001", "text": "after"}')
check "the rate limit covers the next N calls only" is "$code == 200 and d['ok']" "$tmp/r"
ctl "$tmp/r" faults '{"fail_5xx": 1, "no_echo": true}' >/dev/null
code=$(bot "$tmp/r" auth.test '{}')
check "fail_5xx -> 503" is "$code == 503" "$tmp/r"
ctl "$tmp/r" faults '{"no_echo": true}' >/dev/null
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' 'a' >"$tmp/big"
code=$(req "$tmp/r" -H 'Content-Type: application/x-www-form-urlencoded' --data-binary @"$tmp/big" "$api/chat.postMessage")
check "body over 1 MiB -> 413" is "$code == 413" "$tmp/r"
req "$tmp/sent" "$base/_emu/sent" >/dev/null
check "sent list holds the accepted posts in order" is "[(m['channel'], m['text'], m['thread_ts']) for m in d['messages']] == [('D0AAA0001', 'hello dm', None), ('D0AAA0001', 'threaded é', '1.000001'), ('D0AAA0001', 'after', None)]" "$tmp/sent"

# Socket Mode, driven by a websockets client; each step prints one JSON line.
cat >"$tmp/sm.py" <<'EOF'
import asyncio, json, sys, urllib.request
import websockets
base, app = sys.argv[1], sys.argv[2]

def post(path, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(base + path, json.dumps(body).encode(), headers)
    return json.load(urllib.request.urlopen(req, timeout=10))

def open_url():
    return post("/api/apps.connections.open", {}, app)["url"]

async def recv(ws, timeout=5):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))

def out(name, value):
    print(json.dumps({"name": name, "value": value}), flush=True)

async def main():
    url = open_url()
    ws = await websockets.connect(url)
    hello = await recv(ws)
    out("hello", hello)
    try:
        await websockets.connect(url)
        out("ticket_reuse", "accepted")
    except websockets.InvalidStatusCode as e:
        out("ticket_reuse", e.status_code)
    post("/_emu/faults", {"ack_timeout_ms": 400, "no_echo": True})
    inj = post("/_emu/inject", {"channel": "C0CHAN001", "user": "U0AAA0001",
                                "text": "hi <@U0EMUBOT1> there"})
    first = await recv(ws)
    second = await recv(ws)
    out("mention_events", [first["payload"]["event"]["type"], second["payload"]["event"]["type"],
                           first["payload"]["event"]["ts"] == second["payload"]["event"]["ts"] == inj["ts"],
                           first["type"], first["retry_attempt"]])
    await ws.send(json.dumps({"envelope_id": first["envelope_id"]}))
    retry = await recv(ws)   # the second was not acknowledged: sent again
    out("retry", [retry["envelope_id"] == second["envelope_id"], retry["retry_attempt"],
                  retry["retry_reason"]])
    await ws.send(json.dumps({"envelope_id": retry["envelope_id"]}))
    post("/_emu/inject", {"channel": "D0AAA0001", "user": "U0AAA0001", "text_hex": "6869ff"})
    raw = await asyncio.wait_for(ws.recv(), 5)
    ev = json.loads(raw)
    out("text_hex", ["\\udcff" in raw, ev["payload"]["event"]["channel_type"]])
    await ws.send(json.dumps({"envelope_id": ev["envelope_id"]}))
    # refresh: a disconnect message, then the old connection closes; a new one gets events
    post("/_emu/disconnect", {"reason": "refresh_requested", "close_after_ms": 300})
    disc = await recv(ws)
    ws2 = await websockets.connect(open_url())
    hello2 = await recv(ws2)
    inj = post("/_emu/inject", {"channel": "D0AAA0001", "user": "U0AAA0001", "text": "after refresh"})
    ev = await recv(ws2)
    await ws2.send(json.dumps({"envelope_id": ev["envelope_id"]}))
    try:
        await asyncio.wait_for(ws.recv(), 3)
        closed = "not closed"
    except websockets.ConnectionClosed as e:
        closed = e.code
    out("refresh", [disc["type"], disc["reason"], hello2["num_connections"],
                    ev["payload"]["event"]["text"], closed])
    post("/_emu/faults", {"ack_timeout_ms": 400})
    post("/api/chat.postMessage", {"channel": "D0AAA0001", "text": "echo me"}, sys.argv[3])
    ev = await recv(ws2)
    await ws2.send(json.dumps({"envelope_id": ev["envelope_id"]}))
    e = ev["payload"]["event"]
    out("echo", [e["text"], e["user"], e["bot_id"], e["channel_type"]])
    await asyncio.sleep(0.2)
    out("stats", json.load(urllib.request.urlopen(base + "/_emu/stats")))
    await ws2.close()

asyncio.run(main())
EOF
$PY "$tmp/sm.py" "$base" "$APP" "$BOT" >"$tmp/sm.out" 2>"$tmp/sm.err" || { echo "FAIL: socket mode client"; cat "$tmp/sm.err"; failures=$((failures + 1)); }
step() { python3 -c 'import json,sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["name"] == sys.argv[2]: print(json.dumps(d["value"]))' "$tmp/sm.out" "$1" >"$tmp/step"; }
step hello; check "hello with num_connections, debug_info and app id" is "d['type'] == 'hello' and d['num_connections'] == 1 and d['connection_info']['app_id'] == 'A0EMU0001' and 'host' in d['debug_info']" "$tmp/step"
step ticket_reuse; check "a connection URL works once" is "d == 401" "$tmp/step"
step mention_events; check "a channel mention comes as message + app_mention, same ts" is "d == ['message', 'app_mention', True, 'events_api', 0]" "$tmp/step"
step retry; check "an unacknowledged envelope is sent again with retry_attempt 1" is "d == [True, 1, 'timeout']" "$tmp/step"
step text_hex; check "raw bytes arrive as lone-surrogate escapes; D ids are im" is "d == [True, 'im']" "$tmp/step"
step refresh; check "refresh_requested: disconnect, new connection served, old one closed" is "d[:4] == ['disconnect', 'refresh_requested', 2, 'after refresh'] and d[4] == 1001" "$tmp/step"
step echo; check "the app's own post comes back as an event with bot_id" is "d == ['echo me', 'U0EMUBOT1', 'B0EMUBOT1', 'im']" "$tmp/step"
step stats; check "stats count envelopes, retries and acks" is "d['envelopes_retried'] == 1 and d['envelopes_acked'] == 5 and d['connections_opened'] == 2 and d['max_open_connections'] == 2 and d['disconnects_sent'] == 1 and d['open_connections'] == 1 and d['pending_envelopes'] == 0" "$tmp/step"

# HTTP events mode: the emulator signs and POSTs to a URL (here a tiny receiver that checks)
cat >"$tmp/recv.py" <<'EOF'
import hashlib, hmac, json, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ts = self.headers["X-Slack-Request-Timestamp"]
        want = "v0=" + hmac.new(b"shh", b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(want, self.headers["X-Slack-Signature"]) and abs(time.time() - int(ts)) < 300
        d = json.loads(body)
        out = json.dumps({"challenge": d.get("challenge")} if ok and d["type"] == "url_verification" else {}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
s = HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
EOF
python3 "$tmp/recv.py" >"$tmp/recv.port" &
recv_pid=$!
for _ in $(seq 1 30); do [[ -s "$tmp/recv.port" ]] && break; sleep 0.1; done
rurl="http://127.0.0.1:$(cat "$tmp/recv.port")/slack/events"
ctl "$tmp/r" http_event "{\"url\": \"$rurl\", \"signing_secret\": \"shh\", \"channel\": \"C0CHAN001\", \"text\": \"signed\"}" >/dev/null
check "http_event: signed event_callback accepted" is "d['status'] == 200 and d['sent']['type'] == 'event_callback' and d['sent']['event']['text'] == 'signed'" "$tmp/r"
ctl "$tmp/r" http_event "{\"url\": \"$rurl\", \"signing_secret\": \"shh\", \"url_verification\": true}" >/dev/null
check "http_event: url_verification challenge echoed" is "d['status'] == 200 and json.loads(d['body'])['challenge'] == d['sent']['challenge']" "$tmp/r"
ctl "$tmp/r" http_event "{\"url\": \"$rurl\", \"signing_secret\": \"shh\", \"channel\": \"C0CHAN001\", \"text\": \"x\", \"bad_signature\": true}" >/dev/null
check "http_event: bad_signature is refused by a checking receiver" is "d['status'] == 401" "$tmp/r"
ctl "$tmp/r" http_event "{\"url\": \"$rurl\", \"signing_secret\": \"shh\", \"channel\": \"C0CHAN001\", \"text\": \"x\", \"timestamp_offset_s\": -301}" >/dev/null
check "http_event: a stale timestamp is refused by a checking receiver" is "d['status'] == 401" "$tmp/r"
kill "$recv_pid" 2>/dev/null || true

echo "---"
if ((failures)); then echo "FAIL: $failures check(s) failed"; exit 1; fi
echo "PASS: all checks passed"
