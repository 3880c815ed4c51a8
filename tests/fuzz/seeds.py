#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (corpus/<target>/) and the protocol dictionary
(protocol.dict) from the repository's own inputs: the protocol schema, the real frames captured
from OpenClaw (shared/protocol/frames, when present), the text samples and invalid UTF-8 of
shared/data, and Cap'n Proto messages encoded with `capnp encode` from ipc/*.capnp.
Run it again after a schema or capture change; the output is checked in (small: a few dozen
files per target). Fails loudly (an exception) when an input it needs is missing."""
import atexit
import hashlib
import json
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SHARED = pathlib.Path(os.environ.get("CLAWGATE_SHARED", ROOT.parent / "shared"))
SEP = b"\xff"  # frame separator in the front_* inputs


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def write(target, seeds):
    d = HERE / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    for f in d.iterdir():
        if not f.name.startswith("crash-"):  # inputs that once crashed stay, as regressions
            f.unlink()
    seen = set()
    for s in seeds:
        h = hashlib.sha1(s).hexdigest()[:16]
        if h in seen:
            continue
        seen.add(h)
        (d / h).write_bytes(s)
    print(f"{target}: {len(seen)} seeds")


def captured_frames():
    """Client frames (dir "sent") from the real captures, in order, per connection."""
    conns = []
    for p in sorted((SHARED / "protocol" / "frames").glob("*.json")):
        doc = json.loads(p.read_text())
        if not isinstance(doc, dict):
            continue
        for c in doc.get("connections", []):
            sent = [t["frame"] for t in c.get("transcript", [])
                    if t.get("dir") == "sent" and "frame" in t]
            if sent:
                conns.append(sent)
    if not conns:
        sys.exit("seeds.py: no captured frames under " + str(SHARED / "protocol" / "frames"))
    return conns


def text_samples():
    samples = json.loads((SHARED / "data" / "text-samples.json").read_text())
    bad = []
    for line in (SHARED / "data" / "invalid-utf8.hex").read_text().splitlines():
        if line and not line.startswith("#"):
            bad.append(bytes.fromhex(line.split()[0]))
    return [s.encode() for s in samples.values() if isinstance(s, str)], bad


def generated_capnp(into):
    """control.capnp imports the children's config schema, which the build generates from the
    config schema (ipc/CMakeLists.txt): generated here the same way, into `into`."""
    (into / "clawgate").mkdir()
    subprocess.run([sys.executable, str(ROOT / "schema" / "gen_child_config.py"),
                    str(ROOT / "schema" / "config.schema.json"),
                    str(ROOT / "schema" / "child_config.json"),
                    str(into / "clawgate" / "child_config.capnp"), str(into / "gen.hpp"),
                    str(into / "gen.cpp")], check=True)
    return into


def capnp_encode(schema, root, text, imports):
    return subprocess.run(["capnp", "encode", "-I", str(imports), str(ROOT / "ipc" / schema), root],
                          input=text.encode(), capture_output=True, check=True).stdout


def main():
    schema = json.loads((ROOT / "schema" / "protocol.schema.json").read_text())
    conns = captured_frames()
    texts, bad_utf8 = text_samples()

    # --- dictionary: method and event names, property names, enum values from the schema.
    tokens = set()
    tokens.update(schema["methods"].keys())
    tokens.update(schema["events"].keys())

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.get("properties", {}).items():
                tokens.add(k)
            for v in node.get("enum", []):
                if isinstance(v, str):
                    tokens.add(v)
            if isinstance(node.get("const"), str):
                tokens.add(node["const"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(schema["definitions"])
    tokens.update(["operator.admin", "operator.read", "operator.write", "operator", "node",
                   "req", "res", "event", "telegram", "main", "agent:main:main", "cli",
                   "webchat-ui", "webchat", "gateway-client", "backend"])
    lines = ["# Method and event names, keys and enum values of schema/protocol.schema.json",
             "# (written by seeds.py; libFuzzer -dict=)."]
    for t in sorted(tokens):
        lines.append('"%s"' % t.replace("\\", "\\\\").replace('"', '\\"'))
    lines += ['"\\"type\\":\\"req\\""', '"{\\"type\\":\\"req\\",\\"id\\":\\"1\\",\\"method\\":\\""',
              '"\\xff"', '"\\"params\\":{"', '":null"', '":true"', '":[]"', '":{}"',
              '"9223372036854775807"', '"-1"', '"1e308"', '"\\\\u0000"', '"\\\\ud800"']
    (HERE / "protocol.dict").write_text("\n".join(lines) + "\n")
    print(f"protocol.dict: {len(lines) - 2} entries")

    # --- front: requests after hello-ok, handshakes, connect params.
    connects = [f for c in conns for f in c if f.get("method") == "connect"]
    by_method = {}
    for c in conns:
        for f in c:
            if f.get("method") not in (None, "connect"):
                by_method.setdefault(f["method"], f)
    requests = list(by_method.values())  # one real frame per method
    frames = [compact(f) for f in requests]
    frames += [compact({"type": "req", "id": "x" + str(i), "method": m, "params": {}})
               for i, m in enumerate(schema["methods"]) if m not in by_method]
    frames += [
        compact({"type": "req", "id": "s", "method": "send",
                 "params": {"to": "42", "message": t.decode(), "channel": "telegram",
                            "idempotencyKey": "k1"}}) for t in texts[:4]]
    frames += [
        compact({"type": "req", "id": "a", "method": "chat.send",
                 "params": {"sessionKey": "main", "message": "hi", "idempotencyKey": "r1"}})
        + SEP + compact({"type": "req", "id": "b", "method": "chat.history",
                         "params": {"sessionKey": "main"}}),
        compact({"type": "req", "id": "c", "method": "cron.add",
                 "params": {"name": "j", "schedule": {"kind": "cron", "expr": "*/5 * * * *"},
                            "sessionTarget": "main",
                            "payload": {"kind": "systemEvent", "text": "tick"}}}),
        compact({"type": "req", "id": "c", "method": "cron.add",
                 "params": {"name": "at", "schedule": {"kind": "at", "at": "2026-11-24T20:00:00Z"},
                            "sessionTarget": "isolated",
                            "payload": {"kind": "agentTurn", "message": "hi"}}}),
        b'{"type":"req","id":"deep","method":"health","params":' + b"[" * 70 + b"]" * 70 + b"}",
        b'{"type":"req","id":"nul","method":"system-event","params":{"text":"a\\u0000b"}}',
        b"not json", b"", b'{"type":"req"}', b"[]",
    ]
    frames += [b'{"type":"req","id":"u","method":"chat.send","params":{"sessionKey":"main",'
               b'"message":"' + b + b'","idempotencyKey":"u"}}' for b in bad_utf8]
    write("front_frames", frames)

    hs = [b"\x00" + compact(c[0]) + b"".join(SEP + compact(f) for f in c[1:4]) for c in conns]
    hs += [bytes([flags]) + compact(connects[0]) for flags in (1, 3, 5, 8, 16, 0x40)]
    hs += [b"\x00" + compact(requests[0]), b"\x00not json", b"\x00" + b"[" * 80]
    write("front_handshake", hs)

    kinds = {}
    for c in connects:
        p = c["params"]
        kinds.setdefault((p["client"]["id"], p["client"]["mode"], p.get("role"),
                          p["minProtocol"], p["maxProtocol"], "auth" in p), p)
    params = [bytes([flags]) + compact(p) for flags in (0, 1, 8) for p in kinds.values()]
    params += [b"\x00{}", b"\x00" + compact({"minProtocol": 5, "maxProtocol": 9,
                                              "client": {"id": "cli", "version": "1",
                                                         "platform": "linux", "mode": "cli"}})]
    write("front_connect", params)

    # --- Cap'n Proto messages, per receiver (first byte: see ipc_link.cpp).
    tmp = tempfile.mkdtemp(prefix="clawgate-seeds-")
    atexit.register(shutil.rmtree, tmp, True)
    imports = generated_capnp(pathlib.Path(tmp))

    def e(schema_file, root, text):
        return capnp_encode(schema_file, root, text, imports)

    def out_of_range(msg, word, patched):
        """`msg` with its one data word `word` (the enums as encoded) replaced by `patched`:
        enum values past the schema's last, which `capnp encode` cannot write."""
        at = [i for i in range(len(msg)) if msg.startswith(word, i)]
        if len(at) > 1:  # the same bytes elsewhere too, off a word boundary: the data word is aligned
            at = [i for i in at if i % 8 == 0]
        assert len(at) == 1, (msg, word)
        return msg[:at[0]] + patched + msg[at[0] + len(word):]
    data_from_worker = [
        e("data.capnp", "Data", '(hello = (channel = "telegram", accountId = "default", generation = 1))'),
        e("data.capnp", "Data", '(inbound = (id = "7", chatId = "42", chatType = direct, senderId = "42", '
          'senderName = "Ann", text = "hello", messageId = "3", tsMs = 1700000000000))'),
        e("data.capnp", "Data", '(delivery = (deliveryId = "d1", ok = true, messageIds = ["1", "2"]))'),
        e("data.capnp", "Data", '(delivery = (deliveryId = "d1", ok = false, '
          'error = (code = unavailable, message = "x", retryable = true, retryAfterMs = 5)))'),
        e("data.capnp", "Data", '(status = (connected = true, detail = "polling as @bot", botUsername = "bot"))'),
        e("data.capnp", "Data", '(inboundAck = "7")'),
    ]
    hello = data_from_worker[0]
    # chatType past the end of ChatType (the word it shares with the Inbound's bools, then
    # tsMs's first bytes).
    data_from_worker.append(out_of_range(data_from_worker[1], b"\x00" * 8 + b"\x00\x68\xe5\xcf",
                                         b"\x05\x00" + b"\x00" * 6 + b"\x00\x68\xe5\xcf"))
    ipc = [b"\x00" + m for m in data_from_worker]
    ipc += [b"\x00" + hello + m for m in data_from_worker[1:]]
    agent_from_worker = [
        e("agent.capnp", "AgentMsg", '(hello = "offline")'),
        e("agent.capnp", "AgentMsg", '(event = (runId = "run-1", stream = lifecycle, phase = start))'),
        e("agent.capnp", "AgentMsg", '(event = (runId = "run-1", stream = assistant, text = "Hi", delta = "Hi"))'),
        e("agent.capnp", "AgentMsg", '(done = (runId = "run-1", ok = true, text = "Hi", model = "offline", '
          'inputTokens = 3, outputTokens = 1))'),
        e("agent.capnp", "AgentMsg", '(done = (runId = "run-1", ok = false, error = (code = rateLimited, message = "x")))'),
        e("agent.capnp", "AgentMsg", '(resume = (runId = "run-1", sessionKey = "agent:main:run-1", '
          'origin = (kind = cron, startedAtMs = 1), text = "Hal"))'),
        e("agent.capnp", "AgentMsg", '(resume = (runId = "run-1", sessionKey = "agent:main:run-1", '
          'origin = (kind = channel, channel = "telegram", to = "42"), ended = true, '
          'done = (runId = "run-1", ok = true, text = "Hallo")))'),
        e("agent.capnp", "AgentMsg", '(resumed = void)'),
    ]
    # Stream and phase, and a resume's origin kind, past the end of their enums.
    agent_from_worker.append(out_of_range(
        e("agent.capnp", "AgentMsg", '(event = (runId = "run-1", stream = assistant, phase = start, delta = "Hi"))'),
        b"\x01\x00\x01\x00\x00\x00\x00\x00", b"\x07\x00\x09\x00\x00\x00\x00\x00"))
    agent_from_worker.append(out_of_range(
        e("agent.capnp", "AgentMsg", '(resume = (runId = "run-1", sessionKey = "agent:main:run-1", '
          'origin = (kind = heartbeat, startedAtMs = 0)))'),
        b"\x04\x00\x00\x00\x00\x00\x00\x00", b"\x0b\x00\x00\x00\x00\x00\x00\x00"))
    ipc += [b"\x01" + m for m in agent_from_worker]
    ipc.append(b"\x01" + b"".join(agent_from_worker))
    control = [
        e("control.capnp", "Control", '(reload = (front = (configSnapshot = '
          '"{\\"path\\":null,\\"exists\\":false,\\"valid\\":true,\\"issues\\":[]}")))'),
        e("control.capnp", "Control", '(reload = (front = (configSnapshot = "not json")))'),
        e("control.capnp", "Control", '(reload = (agent = (agents = (defaults = (maxTokens = 5)))))'),
        e("control.capnp", "Control", '(reload = (telegram = (botToken = "1:x", pollTimeoutSeconds = 0)))'),
        e("control.capnp", "Control", '(stop = void)'),
        e("control.capnp", "Control", '(children = [(name = "telegram", role = channel, channel = "telegram", '
          'accountId = "default", state = running, pid = 5, generation = 1)])'),
        e("control.capnp", "Control", '(restartResult = (requestId = 1, ok = true))'),
        e("control.capnp", "Control", '(lifecycleResult = (requestId = 2, ok = true, running = true, '
          'outcome = retry, reason = "task-owned", credentialEnv = ["TELEGRAM_BOT_TOKEN"]))'),
        e("control.capnp", "Control", '(peer = (name = "telegram", channel = "telegram", generation = 2))'),
    ]
    ipc += [b"\x02" + m for m in control]
    data_from_front = [
        e("data.capnp", "Data", '(outbound = (deliveryId = "d1", to = "42", text = "hello there"))'),
        e("data.capnp", "Data", '(inboundAck = "7")'),
        e("data.capnp", "Data", '(hello = (channel = "telegram"))'),
    ]
    ipc += [b"\x03" + m for m in data_from_front]
    agent_from_front = [
        e("agent.capnp", "AgentMsg", '(run = (runId = "r1", sessionKey = "agent:main:main", '
          'messages = [(role = user, text = "hi")], timeoutMs = 1000))'),
        e("agent.capnp", "AgentMsg", '(abort = "r1")'),
        e("agent.capnp", "AgentMsg", '(run = (runId = "r2", sessionKey = "agent:main:main", '
          'origin = (kind = agent, channel = "telegram", to = "42"), '
          'messages = [(role = user, text = "hi"), (role = assistant, text = "Hallo")]))'),
    ]
    # A message role, and an origin kind, past the end of their enums.
    agent_from_front.append(out_of_range(
        e("agent.capnp", "AgentMsg", '(run = (runId = "r3", messages = [(role = system, text = "hi")]))'),
        b"\x02\x00\x00\x00\x00\x00\x00\x00", b"\x09\x00\x00\x00\x00\x00\x00\x00"))
    agent_from_front.append(out_of_range(
        e("agent.capnp", "AgentMsg", '(run = (runId = "r4", origin = (kind = cron)))'),
        b"\x03\x00\x00\x00\x00\x00\x00\x00", b"\x0c\x00\x00\x00\x00\x00\x00\x00"))
    ipc += [b"\x04" + m for m in agent_from_front]
    ipc.append(b"\x04" + b"".join(agent_from_front))
    ipc += [b"\x00" + struct.pack("<II", 0, 1 << 30), b"\x00" + struct.pack("<I", 0xFFFFFFFF),
            b"\x02" + hello[:12]]
    write("ipc_link", ipc)

    # --- SSE and the providers' streams.
    sse = [b"\x00data: hello\n\n", b"\x02\x03\x05event: ping\r\ndata: a\r\ndata: b\r\n\r\n",
           b"\x00: keep-alive\n\ndata:x\n\n", b"\x01\x01data\n\nid: 1\nretry: 5\n\n",
           b"\x00data: " + texts[0] + b"\n\n", b"\x00data: " + bad_utf8[0] + b"\n\n"]
    write("sse", sse)

    def sse_body(events):
        out = b""
        for ev, data in events:
            if ev:
                out += b"event: " + ev.encode() + b"\n"
            out += b"data: " + (data if isinstance(data, bytes) else compact(data)) + b"\n\n"
        return out
    oa = [{"choices": [{"delta": {"role": "assistant"}}]},
          {"choices": [{"delta": {"content": "Hel"}}]},
          {"choices": [{"delta": {"content": texts[1].decode()}}]},
          {"choices": [{"delta": {}, "finish_reason": "stop"}]},
          {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}}]
    openai = [b"\x00" + sse_body([(None, x) for x in oa] + [(None, b"[DONE]")]),
              b"\x03\x05\x07\x0b" + sse_body([(None, x) for x in oa]),
              b"\x00" + sse_body([(None, {"error": {"message": "overloaded"}})]),
              b"\x00" + sse_body([(None, {"error": "plain"})]),
              b"\x00: OPENROUTER PROCESSING\n\n" + sse_body([(None, oa[1])])]
    write("openai_stream", openai)
    an = [("message_start", {"type": "message_start", "message": {"usage": {"input_tokens": 12}}}),
          ("content_block_start", {"type": "content_block_start", "index": 0,
                                   "content_block": {"type": "text", "text": ""}}),
          ("ping", {"type": "ping"}),
          ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                   "delta": {"type": "text_delta", "text": "Hello"}}),
          ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                   "delta": {"type": "text_delta", "text": texts[2].decode()}}),
          ("content_block_stop", {"type": "content_block_stop", "index": 0}),
          ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                             "usage": {"output_tokens": 5}}),
          ("message_stop", {"type": "message_stop"})]
    anthropic = [b"\x00" + sse_body(an), b"\x04\x01\x02\x03\x04" + sse_body(an),
                 b"\x00" + sse_body([("error", {"type": "error",
                                                "error": {"type": "overloaded_error",
                                                          "message": "Overloaded"}})])]
    write("anthropic_stream", anthropic)

    # --- Telegram getUpdates bodies.
    def upd(i, text, chat_type="private", extra=None):
        m = {"message_id": i, "from": {"id": 42, "is_bot": False, "first_name": "Ann",
                                       "last_name": "Lee", "username": "ann"},
             "chat": {"id": 42 if chat_type == "private" else -100, "type": chat_type},
             "date": 1700000000, "text": text}
        if extra:
            m.update(extra)
        return {"update_id": 1000 + i, "message": m}
    tg = [compact({"ok": True, "result": []}),
          compact({"ok": True, "result": [upd(1, "hi"), upd(2, texts[0].decode(), "group")]}),
          compact({"ok": True, "result": [upd(3, "x", extra={"entities": [{"type": "bot_command",
                                                                             "offset": 0,
                                                                             "length": 1}]}),
                                          {"update_id": 1010, "edited_message": {"text": "e"}}]}),
          compact({"ok": True, "result": [{"update_id": 5, "message": {"photo": []}}]}),
          compact({"ok": False, "error_code": 409, "description": "Conflict"})]
    write("telegram_updates", tg)

    # --- Discord: byte 0 even, Gateway messages (one per line); odd, a REST answer.
    def msg(mid, content, guild=True, extra=None):
        d = {"id": str(1000000000000000000 + mid), "channel_id": "20", "content": content,
             "author": {"id": "30", "username": "ann", "global_name": "Ann"},
             "mentions": [], "mention_roles": []}
        if guild:
            d.update({"guild_id": "10", "member": {"roles": ["5", "77"], "nick": "A"}})
        if extra:
            d.update(extra)
        return compact({"op": 0, "s": 2 + mid, "t": "MESSAGE_CREATE", "d": d})
    dc = [b"\x00" + msg(1, "hi", False),
          b"\x00" + b"\n".join([msg(2, "<@900> " + texts[0].decode()), msg(3, "<@&77>", extra={
              "referenced_message": {"author": {"id": "900"}}, "mentions": [{"id": "900"}]})]),
          b"\x00" + compact({"op": 0, "s": 9, "t": "GUILD_CREATE", "d": {
              "id": "10", "roles": [{"id": "77", "tags": {"bot_id": "900"}}],
              "threads": [{"id": "50", "type": 11, "parent_id": "20"}]}}),
          b"\x00" + b"\n".join([compact({"op": 11}), compact({"op": 1, "d": None}),
                                 compact({"op": 7, "d": None}), compact({"op": 9, "d": True})]),
          b"\x01X-RateLimit-Remaining: 0\nX-RateLimit-Reset-After: 1.5\nX-RateLimit-Bucket: abc\n\n"
          + compact({"id": "1", "content": "ok"}),
          b"\x01Retry-After: 2\nX-RateLimit-Global: true\n\n"
          + compact({"message": "You are being rate limited.", "retry_after": 0.25, "global": True}),
          b"\x01\n" + compact({"url": "wss://gateway.discord.gg",
                                "session_start_limit": {"total": 1000, "remaining": 999,
                                                        "reset_after": 1000, "max_concurrency": 1}}),
          b"\x01\n```python\nprint(1)\n```\n" + texts[1]]
    write("discord_payloads", dc)

    # --- config files (JSON with comments).
    cfg = [(ROOT / "deploy" / "clawgate.json.example").read_bytes(),
           b'// comment\n{"gateway": {"port": 18789, "bind": "loopback", /* c */ "auth": {"mode": "token", "token": "t"}}}',
           compact({"gateway": {"auth": {"mode": "password", "password": "p",
                                         "rateLimit": {"maxAttempts": 3, "windowMs": 1000,
                                                       "lockoutMs": 5000, "exemptLoopback": False}},
                                "controlUi": {"allowedOrigins": ["https://ui.example"]},
                                "bind": "lan"}}),
           compact({"channels": {"telegram": {"botToken": "123:abc", "dmPolicy": "allowlist",
                                              "allowFrom": ["42", "@ann"],
                                              "accounts": {"work": {"botToken": "9:x"}}}},
                    "session": {"dmScope": "per-peer"}}),
           compact({"agents": {"defaults": {"model": "openai/gpt-4o-mini",
                                            "heartbeat": {"every": "30m"}}},
                    "models": {"providers": {"openai": {"apiKey": "${OPENAI_API_KEY}"}}}}),
           b'{"gateway": {"port": 99999}}', b"[]", b"{"]
    write("config_text", cfg)

    # --- cron expressions, ISO times, durations (8 bytes of "after" first).
    after = struct.pack("<q", 1_795_550_400_000)
    cron = [after + s.encode() for s in [
        "*/5 * * * *", "0 9 * * 1-5", "30 2 29 2 *", "0 0 31 2 *", "0,15,30,45 * * * 0,7",
        "5-55/10 1-23/2 1,15 */3 *", "0 2 * * 0", "59 23 31 12 *",
        "2026-11-24T20:00:00Z", "2026-11-24T22:00:00.250+02:00", "2024-02-29T12:00:00",
        "30m", "500ms", "2d", "99999999999999999999m"]]
    cron.append(struct.pack("<q", -(2**63)) + b"* * * * *")
    cron.append(struct.pack("<q", 2**63 - 1) + b"* * * * *")
    write("cron_time", cron)

    # --- HTTP requests the front reads (first byte: read size).
    up = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1:18789\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
    http = [b"\xff" + up + b"Origin: http://localhost:18789\r\n\r\n",
            b"\x10" + up + b"Origin: https://evil.example\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
            b"\x00" + up + b"Sec-WebSocket-Protocol: a, b\r\nSec-WebSocket-Extensions: "
            b"permessage-deflate; client_max_window_bits\r\nForwarded: for=1.2.3.4\r\n\r\n",
            b"\xff" + up.replace(b"Host: 127.0.0.1:18789", b"Host: [::1]:18789") + b"\r\n",
            b"\x40GET /index.html?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n",
            b"\xffGET /healthz HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8\r\n\r\n",
            b"\xffPOST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello",
            b"\xffGET / HTTP/1.0\r\n\r\n", b"\xffGET  HTTP/1.1\r\nHost:\r\n\r\n"]
    write("http_request", http)


if __name__ == "__main__":
    main()
