#!/usr/bin/env bash
# Self-test of the fake model APIs (OpenAI Chat Completions + Anthropic Messages): starts
# fake_models.py on an ephemeral port and checks the documented behaviours with curl.
# Prints PASS/FAIL lines; exits non-zero on any failure.
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

python3 "$here/fake_models.py" --port 0 >"$tmp/out" 2>"$tmp/err" &
emu_pid=$!
for _ in $(seq 1 50); do grep -q '^listening on ' "$tmp/out" && break; sleep 0.1; done
base="$(sed -n 's/^listening on //p' "$tmp/out")"
if [[ -z "$base" ]]; then echo "FAIL: emulator did not start"; cat "$tmp/err"; exit 1; fi

failures=0
check() {  # check NAME COMMAND...
  local name="$1"; shift
  if "$@"; then echo "PASS: $name"; else echo "FAIL: $name"; failures=$((failures + 1)); fi
}
# py EXPR FILE: evaluate a Python expression over the JSON document d in FILE.
py() { python3 -c 'import json,sys; d=json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' "$1" "$2"; }
is() { [[ "$(py "$1" "$2")" == "True" ]]; }
# sse IN OUT: parse an SSE body (per the WHATWG rules: comments, multi-line data, CRLF/LF)
# into JSON {"events": [{"event", "data"}], "comments": N}; data is JSON-decoded when possible.
sse() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
raw = open(sys.argv[1], "rb").read().decode("utf-8")
events, comments, name, data = [], 0, None, []
for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
    if line == "":
        if data:
            text = "\n".join(data)
            try:
                val = json.loads(text)
            except ValueError:
                val = text
            events.append({"event": name or "message", "data": val})
        name, data = None, []
    elif line.startswith(":"):
        comments += 1
    else:
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
json.dump({"events": events, "comments": comments}, open(sys.argv[2], "w"))
EOF
}
# req FILE ARGS...: curl, body to FILE, prints the HTTP status.
req() { local f="$1"; shift; curl -sS -o "$f" -w '%{http_code}' "$@" || true; }
emu() { local f="$1" path="$2" body="${3:-}"; if [[ -n "$body" ]]; then req "$f" -H 'Content-Type: application/json' -d "$body" "$base$path"; else req "$f" "$base$path"; fi; }
script() { emu "$tmp/script" /_emu/script "$1" >/dev/null; }
OAI=(-H 'Authorization: Bearer sk-test-123' -H 'Content-Type: application/json')
ANT=(-H 'x-api-key: ant-test-456' -H 'anthropic-version: 2023-06-01' -H 'Content-Type: application/json')
oai_body() { echo "{\"model\":\"gpt-test\",\"stream\":$1,\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"$2\"}]${3:-}}"; }
ant_body() { echo "{\"model\":\"claude-test\",\"max_tokens\":64,\"stream\":$1,\"system\":\"be brief\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"$2\"}]}]}"; }
oai_stream() { local out="$1"; shift; curl -sS -N "${OAI[@]}" -d "$(oai_body true "$@")" "$base/v1/chat/completions" >"$out" || true; }
ant_stream() { local out="$1"; shift; curl -sS -N "${ANT[@]}" -d "$(ant_body true "$@")" "$base/v1/messages" >"$out" || true; }
stat() { emu "$tmp/stats" /_emu/stats >/dev/null; py "d['$1']" "$tmp/stats"; }
# OpenAI stream helpers over a parsed file: content text, content pieces
OJOIN='"".join(e["data"]["choices"][0]["delta"].get("content","") for e in d["events"] if isinstance(e["data"],dict) and e["data"].get("choices"))'
AJOIN='"".join(e["data"]["delta"]["text"] for e in d["events"] if e["event"]=="content_block_delta")'
DEFAULT="Hello from the fake model. You said:"

check "startup line is exactly 'listening on http://127.0.0.1:<port>'" grep -qx "listening on http://127.0.0.1:[0-9]*" "$tmp/out"

# ---- OpenAI ------------------------------------------------------------------------------
code=$(req "$tmp/h" -D "$tmp/hdr" -N "${OAI[@]}" -d "$(oai_body true 'ping pong')" "$base/v1/chat/completions")
sse "$tmp/h" "$tmp/o"
check "openai stream: 200 text/event-stream, chunked" grep -qi '^content-type: text/event-stream' "$tmp/hdr"
check "openai stream: first chunk is the role delta" is 'd["events"][0]["data"]["choices"][0]["delta"] == {"role": "assistant"} and d["events"][0]["data"]["object"] == "chat.completion.chunk"' "$tmp/o"
check "openai stream: content pieces join to the default answer" is "$OJOIN == '$DEFAULT ping pong'" "$tmp/o"
check "openai stream: pieces of <= 6 chars, several of them" is 'all(len(e["data"]["choices"][0]["delta"]["content"]) <= 6 for e in d["events"][1:-2]) and len(d["events"]) > 8' "$tmp/o"
check "openai stream: same id/created/model on every chunk" is 'len({(e["data"]["id"], e["data"]["created"], e["data"]["model"]) for e in d["events"][:-1]}) == 1 and d["events"][0]["data"]["model"] == "gpt-test"' "$tmp/o"
check "openai stream: finish_reason stop, then data: [DONE] last" is 'd["events"][-2]["data"]["choices"][0]["finish_reason"] == "stop" and d["events"][-1]["data"] == "[DONE]" and "usage" not in d["events"][0]["data"]' "$tmp/o"
check "openai stream: raw body ends with 'data: [DONE]'" grep -q '^data: \[DONE\]$' "$tmp/h"

oai_stream "$tmp/h" "u" ',"stream_options":{"include_usage":true}'
sse "$tmp/h" "$tmp/o"
check "openai include_usage: null usage on chunks, final usage chunk with choices []" is 'all(e["data"]["usage"] is None for e in d["events"][:-2]) and d["events"][-2]["data"]["choices"] == [] and d["events"][-2]["data"]["usage"]["total_tokens"] > 0 and d["events"][-1]["data"] == "[DONE]"' "$tmp/o"

code=$(req "$tmp/r" "${OAI[@]}" -d "$(oai_body false 'hi there')" "$base/v1/chat/completions")
check "openai non-stream: chat.completion JSON" is "$code == 200 and d['object'] == 'chat.completion' and d['choices'][0]['message'] == {'role': 'assistant', 'content': '$DEFAULT hi there', 'refusal': None} and d['choices'][0]['finish_reason'] == 'stop' and d['usage']['total_tokens'] > 0" "$tmp/r"
code=$(req "$tmp/r" -H 'Authorization: Bearer k' "$base/v1/models")
check "openai GET /v1/models lists models" is "$code == 200 and d['object'] == 'list' and d['data'][0]['object'] == 'model'" "$tmp/r"
code=$(req "$tmp/r" -H 'Content-Type: application/json' -d "$(oai_body true x)" "$base/v1/chat/completions")
check "openai missing Authorization -> 401 OpenAI error shape" is "$code == 401 and set(d['error']) >= {'message', 'type', 'code'} and d['error']['type'] == 'invalid_request_error'" "$tmp/r"
code=$(req "$tmp/r" "${OAI[@]}" -d '{"model":"m"}' "$base/v1/chat/completions")
check "openai missing messages -> 400" is "$code == 400 and d['error']['param'] == 'messages'" "$tmp/r"

# ---- Anthropic ---------------------------------------------------------------------------
code=$(req "$tmp/h" -D "$tmp/hdr" -N "${ANT[@]}" -d "$(ant_body true 'ping pong')" "$base/v1/messages")
sse "$tmp/h" "$tmp/a"
check "anthropic stream: 200 text/event-stream with request-id" grep -qi '^request-id: ' "$tmp/hdr"
check "anthropic stream: event sequence" is '[e["event"] for e in d["events"] if e["event"] != "content_block_delta"] == ["message_start", "content_block_start", "ping", "content_block_stop", "message_delta", "message_stop"] and [e["event"] for e in d["events"]][3:-3] == ["content_block_delta"] * (len(d["events"]) - 6) and len(d["events"]) > 8' "$tmp/a"
check "anthropic stream: event names match data.type" is 'all(e["event"] == e["data"]["type"] for e in d["events"])' "$tmp/a"
check "anthropic stream: deltas join to the default answer" is "$AJOIN == '$DEFAULT ping pong'" "$tmp/a"
check "anthropic stream: message_start skeleton and end_turn + usage" is 'd["events"][0]["data"]["message"]["content"] == [] and d["events"][0]["data"]["message"]["model"] == "claude-test" and d["events"][0]["data"]["message"]["usage"]["input_tokens"] > 0 and d["events"][-2]["data"]["delta"]["stop_reason"] == "end_turn" and d["events"][-2]["data"]["usage"]["output_tokens"] > 0' "$tmp/a"

code=$(req "$tmp/r" "${ANT[@]}" -d "$(ant_body false 'hi there')" "$base/v1/messages")
check "anthropic non-stream: message JSON" is "$code == 200 and d['type'] == 'message' and d['content'] == [{'type': 'text', 'text': '$DEFAULT hi there'}] and d['stop_reason'] == 'end_turn' and d['usage']['output_tokens'] > 0" "$tmp/r"
code=$(req "$tmp/r" -H 'anthropic-version: 2023-06-01' -d "$(ant_body true x)" "$base/v1/messages")
check "anthropic missing x-api-key -> 401 authentication_error" is "$code == 401 and d['type'] == 'error' and d['error']['type'] == 'authentication_error' and bool(d['error']['message'])" "$tmp/r"
code=$(req "$tmp/r" -H 'Authorization: Bearer ant-bearer' -H 'anthropic-version: 2023-06-01' -d "$(ant_body false x)" "$base/v1/messages")
check "anthropic key as Authorization: Bearer (current SDKs) is accepted" is "$code == 200 and d['type'] == 'message'" "$tmp/r"
code=$(req "$tmp/r" -H 'x-api-key: k' -d "$(ant_body true x)" "$base/v1/messages")
check "anthropic missing anthropic-version -> 400" is "$code == 400 and d['error']['type'] == 'invalid_request_error'" "$tmp/r"
code=$(req "$tmp/r" "${ANT[@]}" -d '{"model":"m","max_tokens":5,"messages":[{"role":"system","content":"x"},{"role":"user","content":"y"}]}' "$base/v1/messages")
check "anthropic role 'system' in messages -> 400" is "$code == 400 and 'system' in d['error']['message']" "$tmp/r"
code=$(req "$tmp/r" -H 'x-api-key: k' "$base/v1/models")
check "anthropic GET /v1/models (x-api-key) -> Anthropic list shape" is "$code == 200 and d['data'][0]['type'] == 'model' and d['has_more'] is False" "$tmp/r"

# ---- request log -------------------------------------------------------------------------
emu "$tmp/log" /_emu/requests >/dev/null
check "/_emu/requests logs path, lower-case headers with auth values, parsed body" is '[r["path"] for r in d["requests"]][:2] == ["/v1/chat/completions"] * 2 and d["requests"][0]["headers"]["authorization"] == "Bearer sk-test-123" and d["requests"][0]["body"]["messages"][1]["content"] == "ping pong" and any(r["headers"].get("x-api-key") == "ant-test-456" and r["headers"]["anthropic-version"] == "2023-06-01" for r in d["requests"])' "$tmp/log"
n_logged=$(py 'len(d["requests"])' "$tmp/log")
check "/_emu/stats requests matches the log" [ "$(stat requests)" == "$n_logged" ]

# ---- script: reply / chunk_chars / timing ------------------------------------------------
script '{"reply": "héllo wörld ✓ done", "chunk_chars": 4, "delay_ms": 0, "first_delay_ms": 300}'
start=$(date +%s%N); oai_stream "$tmp/h" "ignored"; elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
sse "$tmp/h" "$tmp/o"
check "script reply + chunk_chars (UTF-8 text)" is "$OJOIN == 'héllo wörld ✓ done' and [len(e['data']['choices'][0]['delta']['content']) for e in d['events'][1:-2]] == [4, 4, 4, 4, 2]" "$tmp/o"
check "first_delay_ms delays the stream (${elapsed_ms} ms >= 300)" [ "$elapsed_ms" -ge 300 ]

# ---- injected HTTP errors ----------------------------------------------------------------
script '{"status_429": 2, "delay_ms": 0}'
code=$(req "$tmp/r" -D "$tmp/hdr" "${OAI[@]}" -d "$(oai_body true x)" "$base/v1/chat/completions")
check "status_429: openai 429 + retry-after: 1 + OpenAI error body" is "$code == 429 and d['error']['code'] == 'rate_limit_exceeded'" "$tmp/r"
check "status_429: retry-after header" grep -qi '^retry-after: 1' "$tmp/hdr"
code=$(req "$tmp/r" -D "$tmp/hdr" "${ANT[@]}" -d "$(ant_body true x)" "$base/v1/messages")
check "status_429: anthropic 429 rate_limit_error + retry-after" is "$code == 429 and d['type'] == 'error' and d['error']['type'] == 'rate_limit_error'" "$tmp/r"
oai_stream "$tmp/h" "after"; sse "$tmp/h" "$tmp/o"
check "status_429: the request after the N faults succeeds" is "$OJOIN == '$DEFAULT after' and d['events'][-1]['data'] == '[DONE]'" "$tmp/o"
script '{"status_500": 1}'
code=$(req "$tmp/r" "${ANT[@]}" -d "$(ant_body false x)" "$base/v1/messages")
check "status_500: anthropic 500 api_error" is "$code == 500 and d['error']['type'] == 'api_error'" "$tmp/r"
code=$(req "$tmp/r" "${ANT[@]}" -d "$(ant_body false x)" "$base/v1/messages")
check "status_500: then success" is "$code == 200" "$tmp/r"

# ---- mid-stream failures -----------------------------------------------------------------
script '{"error_after_chunks": 2, "delay_ms": 0}'
oai_stream "$tmp/h" "x"; sse "$tmp/h" "$tmp/o"
check "error_after_chunks: openai 2 content chunks, then the error event, no [DONE]" is "$OJOIN == '$DEFAULT'[:12] and d['events'][-1]['data'] == {'error': {'message': 'fake mid-stream failure', 'type': 'server_error', 'param': None, 'code': None}} and len(d['events']) == 4" "$tmp/o"
ant_stream "$tmp/h" "x"; sse "$tmp/h" "$tmp/a"
check "error_after_chunks: anthropic 2 deltas, then event: error overloaded_error, no message_stop" is "$AJOIN == '$DEFAULT'[:12] and d['events'][-1]['event'] == 'error' and d['events'][-1]['data']['error']['type'] == 'overloaded_error' and 'message_stop' not in [e['event'] for e in d['events']]" "$tmp/a"
script '{"disconnect_after_chunks": 1, "delay_ms": 0}'
rc=0; curl -sS -N "${OAI[@]}" -d "$(oai_body true x)" "$base/v1/chat/completions" >"$tmp/h" 2>/dev/null || rc=$?
check "disconnect_after_chunks: connection dropped mid-body, curl sees a partial transfer (rc=$rc)" [ "$rc" -eq 18 ]

# ---- split writes / keep-alive comments --------------------------------------------------
script '{"split_writes": true, "delay_ms": 0}'
curl -sS -N --trace-ascii "$tmp/trace" "${OAI[@]}" -d "$(oai_body true 'split ✓')" "$base/v1/chat/completions" >"$tmp/h"
sse "$tmp/h" "$tmp/o"
check "split_writes: openai stream still parses to the answer" is "$OJOIN == '$DEFAULT split ✓' and d['events'][-1]['data'] == '[DONE]'" "$tmp/o"
recvs=$(grep -c '^<= Recv data' "$tmp/trace" || true); nev=$(py 'len(d["events"])' "$tmp/o")
check "split_writes: arrives in more reads ($recvs) than events ($nev)" [ "$recvs" -ge $((2 * nev)) ]
ant_stream "$tmp/h" "split"; sse "$tmp/h" "$tmp/a"
check "split_writes: anthropic stream still parses" is "$AJOIN == '$DEFAULT split' and d['events'][-1]['event'] == 'message_stop'" "$tmp/a"
script '{"keepalive": true, "delay_ms": 0}'
oai_stream "$tmp/h" "ka"; sse "$tmp/h" "$tmp/o"
check "keepalive: ': keep-alive' comments between events" grep -q '^: keep-alive$' "$tmp/h"
check "keepalive: stream still parses" is "d['comments'] == len(d['events']) - 1 and $OJOIN == '$DEFAULT ka'" "$tmp/o"

# ---- connection reuse after a chunked stream ---------------------------------------------
script '{"delay_ms": 0}'
curl -sS -N -v "${OAI[@]}" -d "$(oai_body true reuse)" "$base/v1/chat/completions" "$base/v1/chat/completions" >"$tmp/h" 2>"$tmp/v"
check "keep-alive: a second request reuses the connection after a stream" grep -qiE 're-?using existing connection' "$tmp/v"
check "keep-alive: both streams complete" [ "$(grep -c '^data: \[DONE\]$' "$tmp/h")" -eq 2 ]

# ---- hang / client abort -----------------------------------------------------------------
before=$(stat streams_aborted_by_client)
script '{"hang": true}'
rc=0; curl -sS -N --max-time 1 -D "$tmp/hdr" "${OAI[@]}" -d "$(oai_body true x)" "$base/v1/chat/completions" >"$tmp/h" 2>/dev/null || rc=$?
ok=no; [ "$rc" -eq 28 ] && [ ! -s "$tmp/h" ] && grep -q '^HTTP/1.1 200' "$tmp/hdr" && ok=yes
check "hang: headers, then no body until curl times out (rc=$rc)" [ "$ok" == yes ]
after="$before"; for _ in $(seq 1 30); do after=$(stat streams_aborted_by_client); [[ "$after" -gt "$before" ]] && break; sleep 0.1; done
check "hang: streams_aborted_by_client $before -> $after" [ "$after" -eq $((before + 1)) ]
rc=0; curl -sS -N --max-time 1 "${ANT[@]}" -d "$(ant_body true x)" "$base/v1/messages" >/dev/null 2>&1 || rc=$?
for _ in $(seq 1 30); do after=$(stat streams_aborted_by_client); [[ "$after" -gt $((before + 1)) ]] && break; sleep 0.1; done
ok=no; [ "$rc" -eq 28 ] && [ "$after" -eq $((before + 2)) ] && ok=yes
check "hang: anthropic too (rc=$rc, aborted=$after)" [ "$ok" == yes ]
script '{"delay_ms": 200}'
curl -sS -N --max-time 0.5 "${OAI[@]}" -d "$(oai_body true 'a long enough message')" "$base/v1/chat/completions" >/dev/null 2>&1 || true
for _ in $(seq 1 30); do after=$(stat streams_aborted_by_client); [[ "$after" -gt $((before + 2)) ]] && break; sleep 0.1; done
check "client leaving a slow stream is counted as aborted" [ "$after" -eq $((before + 3)) ]
check "streams_completed counted" [ "$(stat streams_completed)" -ge 10 ]

# ---- reset -------------------------------------------------------------------------------
emu "$tmp/r" /_emu/reset '{}' >/dev/null
emu "$tmp/r" /_emu/requests >/dev/null
check "reset clears the request log" is 'd == {"requests": []}' "$tmp/r"
emu "$tmp/r" /_emu/script >/dev/null
check "reset clears the script" is 'd == {"script": {}}' "$tmp/r"
code=$(emu "$tmp/r" /_emu/script '{"bogus": 1}')
check "unknown script key -> 400" [ "$code" == 400 ]

# ---- SIGTERM with a stream open ----------------------------------------------------------
script '{"hang": true}'
curl -sS -N "${OAI[@]}" -d "$(oai_body true x)" "$base/v1/chat/completions" >/dev/null 2>&1 &
curl_pid=$!
sleep 0.3
start=$(date +%s%N); kill -TERM "$emu_pid"
for _ in $(seq 1 30); do kill -0 "$emu_pid" 2>/dev/null || break; sleep 0.1; done
rc=0; wait "$emu_pid" || rc=$?; emu_pid=""
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
ok=no; [ "$rc" -eq 0 ] && [ "$elapsed_ms" -lt 2000 ] && ok=yes
check "SIGTERM with an open stream: exit 0 in ${elapsed_ms} ms (rc=$rc)" [ "$ok" == yes ]
wait "$curl_pid" 2>/dev/null || true

if [[ $failures -ne 0 ]]; then echo "$failures check(s) FAILED"; exit 1; fi
echo "all checks passed"
