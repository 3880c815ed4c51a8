#!/usr/bin/env bash
# Self-test of the Telegram Bot API emulator: starts it on an ephemeral port and checks the
# documented behaviours with curl. Prints PASS/FAIL lines; exits non-zero on any failure.
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

TOKEN="123456:TEST-token"
TOKEN2="777:other"
python3 "$here/emulator.py" --port 0 --token "$TOKEN" --token "$TOKEN2" >"$tmp/out" 2>"$tmp/err" &
emu_pid=$!
for _ in $(seq 1 50); do grep -q '^listening on ' "$tmp/out" && break; sleep 0.1; done
base="$(sed -n 's/^listening on //p' "$tmp/out")"
if [[ -z "$base" ]]; then echo "FAIL: emulator did not start"; cat "$tmp/err"; exit 1; fi
api="$base/bot$TOKEN"

failures=0
check() {  # check NAME CONDITION...
  local name="$1"; shift
  if "$@"; then echo "PASS: $name"; else echo "FAIL: $name"; failures=$((failures + 1)); fi
}
# py EXPR FILE: evaluate a Python expression over the JSON document d in FILE.
py() { python3 -c 'import json,sys; d=json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' "$1" "$2"; }
is() { [[ "$(py "$1" "$2")" == "True" ]]; }
# req FILE ARGS...: curl, body to FILE, prints the HTTP status.
req() { local f="$1"; shift; curl -sS -o "$f" -w '%{http_code}' "$@" || true; }
post_json() { local f="$1" url="$2" body="$3"; req "$f" -H 'Content-Type: application/json' -d "$body" "$url"; }

# getMe, auth, unknown method
code=$(req "$tmp/me" "$api/getMe")
check "getMe returns the bot user" is 'd["ok"] and d["result"]["id"] == 123456 and d["result"]["is_bot"] is True and "username" in d["result"] and "can_join_groups" in d["result"]' "$tmp/me"
code=$(req "$tmp/r" "$base/botnope:bad/getMe")
check "unknown token -> 401 Unauthorized" is "$code == 401 and d == {'ok': False, 'error_code': 401, 'description': 'Unauthorized'}" "$tmp/r"
code=$(req "$tmp/r" "$api/noSuchMethod")
check "unknown method -> 404 Not Found" is "$code == 404 and d['description'] == 'Not Found'" "$tmp/r"
code=$(req "$tmp/r" "$api/GETME")
check "method names are case-insensitive" is "$code == 200 and d['ok']" "$tmp/r"
code=$(req "$tmp/r" -X POST "$api/deleteWebhook")
check "deleteWebhook -> true" is "$code == 200 and d['result'] is True" "$tmp/r"
code=$(req "$tmp/r" "$api/getWebhookInfo")
check "getWebhookInfo -> empty url" is "$code == 200 and d['result']['url'] == ''" "$tmp/r"

# inject + getUpdates, offset confirmation
post_json "$tmp/inj" "$base/_emu/inject" '{"chat_id": 42, "from_id": 42, "first_name": "Ann", "text": "hello"}' >/dev/null
uid=$(py 'd["update_id"]' "$tmp/inj")
code=$(req "$tmp/r" "$api/getUpdates")
check "getUpdates returns the injected update" is "$code == 200 and len(d['result']) == 1 and d['result'][0]['update_id'] == $uid and d['result'][0]['message']['text'] == 'hello' and d['result'][0]['message']['chat'] == {'id': 42, 'type': 'private', 'first_name': 'Ann'}" "$tmp/r"
code=$(req "$tmp/r" "$api/getUpdates")
check "unconfirmed update is returned again" is "len(d['result']) == 1" "$tmp/r"
code=$(req "$tmp/r" "$api/getUpdates?offset=$((uid + 1))")
check "getUpdates with offset=id+1 returns nothing" is "d['ok'] and d['result'] == []" "$tmp/r"
code=$(req "$tmp/r" "$api/getUpdates")
check "offset confirmation forgot the update" is "d['result'] == []" "$tmp/r"

# negative offset: keep only the last -offset updates
for t in a b c; do post_json "$tmp/inj" "$base/_emu/inject" "{\"chat_id\": 42, \"text\": \"$t\"}" >/dev/null; done
code=$(req "$tmp/r" -d offset=-1 "$api/getUpdates")
check "negative offset returns the last update (form body)" is "[u['message']['text'] for u in d['result']] == ['c']" "$tmp/r"
code=$(req "$tmp/r" "$api/getUpdates")
check "negative offset forgot earlier updates" is "[u['message']['text'] for u in d['result']] == ['c']" "$tmp/r"
last=$(py 'd["result"][-1]["update_id"]' "$tmp/r")
code=$(post_json "$tmp/r" "$api/getUpdates" "{\"offset\": $((last + 1)), \"limit\": 5}")
check "JSON body offset confirms" is "d['result'] == []" "$tmp/r"

# long polling
start=$(date +%s.%N)
code=$(req "$tmp/r" "$api/getUpdates?timeout=1")
elapsed=$(python3 -c "print($(date +%s.%N) - $start)")
check "long poll timeout=1 returns [] after ~1 s (${elapsed}s)" is "d['result'] == [] and 0.9 <= $elapsed < 2.5" "$tmp/r"

start=$(date +%s.%N)
( sleep 0.3; post_json "$tmp/inj2" "$base/_emu/inject" '{"chat_id": 42, "text": "wake"}' >/dev/null ) &
code=$(req "$tmp/r" "$api/getUpdates?timeout=5")
elapsed=$(python3 -c "print($(date +%s.%N) - $start)")
wait $!
check "long poll wakes on inject (${elapsed}s)" is "[u['message']['text'] for u in d['result']] == ['wake'] and $elapsed < 2" "$tmp/r"
last=$(py 'd["result"][-1]["update_id"]' "$tmp/r")
req "$tmp/r" "$api/getUpdates?offset=$((last + 1))" >/dev/null

# a long poll abandoned by its client, then a new one: not a conflict, not concurrent
curl -s -o /dev/null --max-time 0.5 "$api/getUpdates?timeout=5" || true
code=$(req "$tmp/r" "$api/getUpdates")
req "$tmp/st" "$base/_emu/stats?token=$TOKEN" >/dev/null
check "abandoned long poll is neither a conflict nor a concurrent poller" is "$code == 200 and d['conflicts'] == 0 and d['max_concurrent_pollers'] == 1" "$tmp/st"

# two concurrent long polls: the older one is terminated with 409
req "$tmp/p1" "$api/getUpdates?timeout=3" >"$tmp/p1.code" &
p1=$!
sleep 0.3
code2=$(req "$tmp/p2" "$api/getUpdates?timeout=1")
wait $p1
code1=$(cat "$tmp/p1.code")
check "older concurrent long poll -> 409 Conflict" is "$code1 == 409 and d['description'].startswith('Conflict: terminated by other getUpdates request')" "$tmp/p1"
check "newer concurrent long poll is served" is "$code2 == 200 and d['result'] == []" "$tmp/p2"
req "$tmp/st" "$base/_emu/stats?token=$TOKEN" >/dev/null
check "stats count the conflict and 2 concurrent pollers" is "d['conflicts'] == 1 and d['max_concurrent_pollers'] == 2" "$tmp/st"

# sendMessage validation
long=$(python3 -c 'print("x" * 4097)')
code=$(req "$tmp/r" --data-urlencode chat_id=42 --data-urlencode "text=$long" "$api/sendMessage")
check "4097-char message -> 400 message is too long" is "$code == 400 and d['description'] == 'Bad Request: message is too long'" "$tmp/r"
max=$(python3 -c 'print("é" * 4096)')
code=$(req "$tmp/r" --data-urlencode chat_id=42 --data-urlencode "text=$max" "$api/sendMessage")
check "4096 code points (non-ASCII) accepted" is "$code == 200 and len(d['result']['text']) == 4096" "$tmp/r"
emoji=$(python3 -c 'print("\U0001F600" * 2049)')
code=$(req "$tmp/r" --data-urlencode chat_id=42 --data-urlencode "text=$emoji" "$api/sendMessage")
check "2049 emoji (4098 UTF-16 units) -> 400 message is too long" is "$code == 400 and d['description'] == 'Bad Request: message is too long'" "$tmp/r"
emoji=$(python3 -c 'print("\U0001F600" * 2048)')
code=$(req "$tmp/r" --data-urlencode chat_id=42 --data-urlencode "text=$emoji" "$api/sendMessage")
check "2048 emoji (4096 UTF-16 units) accepted" is "$code == 200" "$tmp/r"
code=$(post_json "$tmp/r" "$api/sendMessage" '{"chat_id": 42, "text": ""}')
check "empty text -> 400 message text is empty" is "$code == 400 and d['description'] == 'Bad Request: message text is empty'" "$tmp/r"
code=$(post_json "$tmp/r" "$api/sendMessage" '{"text": "hi"}')
check "missing chat_id -> 400" is "$code == 400 and d['description'] == 'Bad Request: chat_id is empty'" "$tmp/r"
code=$(post_json "$tmp/r" "$api/sendMessage" '{"chat_id": 42, "text": "reply", "reply_parameters": {"message_id": 1}}')
check "sendMessage JSON with reply_parameters" is "$code == 200 and d['result']['reply_to_message']['text'] == 'hello' and d['result']['from']['is_bot']" "$tmp/r"
mid=$(py 'd["result"]["message_id"]' "$tmp/r")
code=$(req "$tmp/r" -F chat_id=42 -F "text=multipart" -F parse_mode=HTML "$api/sendMessage")
check "sendMessage multipart, message_id increases per chat" is "$code == 200 and d['result']['message_id'] == $mid + 1" "$tmp/r"

# entities (UTF-16 offsets), replies to an earlier message, raw bytes
post_json "$tmp/r" "$base/_emu/inject" '{"chat_id": -100, "chat_type": "group", "text": "\ud83d\ude00 @emu123456_bot hi"}' >/dev/null
post_json "$tmp/r" "$base/_emu/inject" '{"chat_id": -100, "chat_type": "group", "text": "/start@emu123456_bot", "reply_to_message_id": 1}' >/dev/null
code=$(req "$tmp/r" "$api/getUpdates")
check "mention entity offset counts the emoji as 2 units" is "d['result'][0]['message']['entities'] == [{'offset': 3, 'length': 14, 'type': 'mention'}]" "$tmp/r"
check "bot_command entity and reply_to_message" is "d['result'][1]['message']['entities'] == [{'offset': 0, 'length': 20, 'type': 'bot_command'}] and d['result'][1]['message']['reply_to_message']['message_id'] == 1" "$tmp/r"
uid=$(py 'd["result"][-1]["update_id"] + 1' "$tmp/r")
req "$tmp/r" "$api/getUpdates?offset=$uid" >/dev/null
post_json "$tmp/r" "$base/_emu/inject" '{"chat_id": 42, "text_hex": "6869ff"}' >/dev/null
code=$(req "$tmp/r" "$api/getUpdates")
python3 -c 'import sys; b = open(sys.argv[1], "rb").read(); sys.exit(0 if b"\"hi\xff\"" in b else 1)' "$tmp/r" \
  && echo "PASS: text_hex bytes go out raw" || { echo "FAIL: text_hex bytes go out raw"; failures=$((failures + 1)); }
uid=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1], "rb").read().decode("utf-8", "replace"))["result"][-1]["update_id"] + 1)' "$tmp/r")
req "$tmp/r" "$api/getUpdates?offset=$uid" >/dev/null

# faults
post_json "$tmp/r" "$base/_emu/faults" '{"rate_limit": {"count": 1, "retry_after": 7}}' >/dev/null
code=$(post_json "$tmp/r" "$api/sendMessage" '{"chat_id": 42, "text": "limited"}')
check "rate_limit fault -> 429 with retry_after" is "$code == 429 and d['parameters'] == {'retry_after': 7} and d['description'] == 'Too Many Requests: retry after 7'" "$tmp/r"
code=$(post_json "$tmp/r" "$api/sendMessage" '{"chat_id": 42, "text": "after limit"}')
check "rate limit applies to the next N calls only" is "$code == 200" "$tmp/r"
post_json "$tmp/r" "$base/_emu/faults" '{"fail_5xx": 1, "slow_ms": 300}' >/dev/null
code=$(req "$tmp/r" "$api/getMe")
check "fail_5xx fault -> 502" is "$code == 502 and d['error_code'] == 502" "$tmp/r"
start=$(date +%s.%N)
code=$(req "$tmp/r" "$api/getMe")
elapsed=$(python3 -c "print($(date +%s.%N) - $start)")
check "slow_ms delays responses (${elapsed}s)" is "$code == 200 and $elapsed >= 0.3" "$tmp/r"
post_json "$tmp/r" "$base/_emu/faults" '{}' >/dev/null
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' 'a' >"$tmp/big"
code=$(req "$tmp/r" -H 'Content-Type: application/x-www-form-urlencoded' --data-binary @"$tmp/big" "$api/sendMessage")
check "body over 1 MiB -> 413" is "$code == 413" "$tmp/r"

# sent list and stats
req "$tmp/sent" "$base/_emu/sent?token=$TOKEN" >/dev/null
check "sent list holds accepted messages in order" is "[(m['chat_id'], m['text'][:11]) for m in d['messages']] == [(42, 'ééééééééééé'), (42, '\U0001F600' * 11), (42, 'reply'), (42, 'multipart'), (42, 'after limit')] and all('message_id' in m and 'date' in m for m in d['messages'])" "$tmp/sent"
req "$tmp/sent2" "$base/_emu/sent?token=$TOKEN2" >/dev/null
check "sent list is per token" is "d['messages'] == []" "$tmp/sent2"
req "$tmp/st" "$base/_emu/stats" >/dev/null
check "stats" is "d['rate_limited'] == 1 and d['pending_updates'] == 0 and d['sendMessage'] >= 8 and d['getUpdates'] >= 10" "$tmp/st"

echo "---"
if ((failures)); then echo "FAIL: $failures check(s) failed"; exit 1; fi
echo "PASS: all checks passed"
