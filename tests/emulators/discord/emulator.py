#!/usr/bin/env python3
"""Local emulator of the Discord API for one bot: REST (v10) and the Gateway (v10, JSON, no
compression) on one loopback port, plain http:// and ws://, for tests.

Usage: emulator.py --port 0 [--token TOKEN] [--bot-id ID] [--username NAME]
Prints exactly one line "listening on http://127.0.0.1:<port>" once ready; exits on SIGTERM/SIGINT
(and when its parent goes away). The Gateway side uses Debian's python3-websockets 10.4 (its
Sans-I/O ServerConnection, so REST and the Gateway share one port and one HTTP parser).

Emulates, as https://discord.com/developers/docs describes them:
- REST under /api/v10 with "Authorization: Bot <token>" (else 401 {"message": "401: Unauthorized",
  "code": 0}): GET /gateway/bot ({url, shards, session_start_limit}), POST /channels/{id}/messages
  (content 1..2000 characters, else 400 with code 50006 or 50035; the created message is also
  dispatched to the Gateway as MESSAGE_CREATE, authored by the bot, as Discord does),
  POST /channels/{id}/typing (204), POST /users/@me/channels {recipient_id} (the DM channel),
  GET /channels/{id}. Every answer carries X-RateLimit-Limit/-Remaining/-Reset/-Reset-After/
  -Bucket (and -Scope on 429); a 429 body is {message, retry_after, global} (+ code 0).
- The Gateway: HELLO (heartbeat_interval), HEARTBEAT -> HEARTBEAT_ACK, IDENTIFY (token -> close
  4004 when wrong; privileged MESSAGE_CONTENT intent -> close 4014 when disallowed; identify
  budget from session_start_limit -> op 9 when spent), READY (session_id, resume_gateway_url,
  user, application, unavailable guilds) then GUILD_CREATE per guild (roles with the bot's
  managed role, channels, threads), RESUME (replays the session's events after seq, then RESUMED;
  an unknown session or seq -> op 9 false), dispatch sequence numbers per session, and the
  session outliving its connection (events meanwhile are replayed on resume).
Does NOT emulate: compression, ETF, sharding, presence/voice/interactions, other REST routes,
permissions, real rate-limit windows (every route is generous unless a fault says otherwise).

Test controls (JSON, not Discord's) under /_emu/: inject, faults, gateway, sent, stats, typing,
guilds -- see tests/emulators/README.md.
"""
import argparse
import asyncio
import itertools
import json
import os
import random
import signal
import sys
import time
from urllib.parse import urlsplit, parse_qsl

try:
    from websockets.frames import Opcode
    from websockets.http11 import Request
    from websockets.server import ServerConnection
except ImportError:  # a Python without Debian's python3-websockets (e.g. a pyenv shim first)
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

MAX_BODY = 1 << 20          # request bodies above 1 MiB -> 413
MAX_HEADER = 64 << 10
MAX_EVENTS = 5000           # dispatches kept per session for resume
MAX_SENT = 100_000
TEXT_LIMIT = 2000
INTENT_MESSAGE_CONTENT = 1 << 15
EPOCH_MS = 1420070400000
_ids = itertools.count(1)


def snowflake():
    return str(((int(time.time() * 1000) - EPOCH_MS) << 22) | (next(_ids) & 0x3FFFFF))


class Session:
    def __init__(self, sid):
        self.id, self.seq, self.events, self.conn = sid, 0, [], None

    def add(self, t, d):
        self.seq += 1
        frame = {"op": 0, "s": self.seq, "t": t, "d": d}
        self.events.append(frame)
        del self.events[:-MAX_EVENTS]
        return frame


class Emulator:
    def __init__(self, token, bot_id, username):
        self.token, self.bot_id, self.username = token, bot_id, username
        self.app_id = bot_id
        self.port = 0
        self.sessions = {}          # session id -> Session
        self.conns = set()          # open Gateway connections
        self.guilds = {}            # guild id -> {"id", "name", "channels": [...], "threads": [...], "role": id}
        self.dm_by_user = {}        # user id -> DM channel id
        self.channels = {}          # channel id -> channel object
        self.sent = []
        self.typing = []
        self.faults = {}
        self.budget = 1000
        self.last_identify = 0.0
        self.stats = dict.fromkeys(("identify", "resume", "resumed", "replayed", "heartbeats", "acks_withheld",
                                    "connections", "messages_created", "rate_limited", "typing",
                                    "gateway_bot", "dm_opened", "invalid_session", "rest", "channel_lookups"), 0)

    # ---- state ---------------------------------------------------------------------------
    def add_guild(self, gid, channels=(), threads=(), names=None, silent=False):
        """A guild the bot is in; one new to the bot is announced with GUILD_CREATE, a new channel
        or thread of a known one with CHANNEL_CREATE / THREAD_CREATE, as Discord does. `names`:
        {id: name} for the guild and its channels (default guild-<id>, chan-<id>, thread-<id>).
        `silent`: the new threads are announced nowhere (only GET /channels/{id} knows them), as
        for an archived thread a message brings back."""
        names = names or {}
        new = gid not in self.guilds
        g = self.guilds.setdefault(gid, {"id": gid, "name": names.get(gid, "guild-" + gid), "channels": [],
                                         "threads": [], "role": snowflake()})
        events = []
        for c in channels:
            if c not in [x["id"] for x in g["channels"]]:
                obj = {"id": c, "type": 0, "guild_id": gid, "name": names.get(c, "chan-" + c)}
                g["channels"].append(obj)
                self.channels[c] = obj
                events.append(("CHANNEL_CREATE", obj))
        for t, parent in threads:
            if t not in [x["id"] for x in g["threads"]] and t not in self.channels:
                obj = {"id": t, "type": 11, "guild_id": gid, "parent_id": parent,
                       "name": names.get(t, "thread-" + t)}
                self.channels[t] = obj
                if not silent:
                    g["threads"].append(obj)
                    events.append(("THREAD_CREATE", obj))
        if new:
            self.dispatch("GUILD_CREATE", self.guild_create(g))
        else:
            for t, d in events:
                self.dispatch(t, d)
        return g

    def guild_create(self, g):
        roles = [{"id": g["id"], "name": "@everyone"},
                 {"id": g["role"], "name": self.username, "managed": True, "tags": {"bot_id": self.bot_id}}]
        return {"id": g["id"], "name": g["name"], "unavailable": False, "roles": roles,
                "channels": g["channels"], "threads": g["threads"], "members": [], "member_count": 2}

    def dm_channel(self, user_id):
        if user_id not in self.dm_by_user:
            cid = snowflake()
            self.dm_by_user[user_id] = cid
            self.channels[cid] = {"id": cid, "type": 1, "recipients": [{"id": user_id}]}
        return self.dm_by_user[user_id]

    def dispatch(self, t, d, times=1):
        """Adds an event to every live session (replayed on resume if its connection is away)."""
        for s in list(self.sessions.values()):
            frame = s.add(t, d)
            if s.conn is not None and s.conn.ready:
                for _ in range(times):
                    s.conn.send_json(frame)

    # ---- controls ------------------------------------------------------------------------
    def inject(self, b):
        author = {"id": str(b.get("author_id", "1001")), "username": b.get("username", "user"),
                  "global_name": b.get("global_name"), "bot": bool(b.get("bot", False))}
        gid = b.get("guild_id")
        mid = snowflake()
        content = b["content"] if "content" in b else bytes.fromhex(b.get("content_hex", "")).decode("utf-8", "replace")
        d = {"id": mid, "type": 0, "content": content, "author": author, "timestamp": "", "tts": False,
             "mentions": [], "mention_roles": [], "attachments": [], "embeds": [], "pinned": False}
        if gid:
            gid = str(gid)
            channel = str(b.get("channel_id", "2001"))
            thread_parent = b.get("thread_parent")
            names = {str(k): v for k, v in (b.get("names") or {}).items()}
            self.add_guild(gid, [str(thread_parent)] if thread_parent else [channel],
                           [(channel, str(thread_parent))] if thread_parent else [], names,
                           bool(b.get("silent_thread")))
            d["guild_id"] = gid
            d["channel_id"] = channel
            d["member"] = {"roles": [str(r) for r in b.get("roles", [])], "nick": b.get("nick")}
            if b.get("mention_bot"):
                d["content"] = "<@%s> %s" % (self.bot_id, content)
                d["mentions"] = [{"id": self.bot_id, "username": self.username, "bot": True}]
            if b.get("mention_role"):
                d["mention_roles"] = [self.guilds[gid]["role"]]
        else:
            d["channel_id"] = self.dm_channel(author["id"])
        if b.get("reply_to"):
            ref = next((m for m in self.sent if m["id"] == str(b["reply_to"])), None)
            if ref:
                d["message_reference"] = {"message_id": ref["id"], "channel_id": ref["channel_id"]}
                d["referenced_message"] = ref["message"]
        if "raw" in b:  # a hostile payload, sent as it is
            d = b["raw"]
        self.dispatch("MESSAGE_CREATE", d, times=2 if b.get("duplicate") else 1)
        return {"id": d.get("id") if isinstance(d, dict) else None, "channel_id": d.get("channel_id") if isinstance(d, dict) else None}

    def gateway_action(self, b):
        action = b.get("action")
        conns = list(self.conns)
        for c in conns:
            if action == "reconnect":
                c.send_json({"op": 7, "d": None})
            elif action == "invalid_session":
                c.send_json({"op": 9, "d": bool(b.get("resumable", False))})
                self.stats["invalid_session"] += 1
            elif action == "close":
                c.close(int(b.get("code", 4000)), b.get("reason", ""))
            elif action == "drop":
                c.drop()
            elif action == "heartbeat_request":
                c.send_json({"op": 1, "d": None})
            elif action == "raw":
                c.send_text(b.get("text", ""))
            else:
                raise ValueError("unknown action")
        return {"connections": len(conns)}

    def set_faults(self, b):
        allowed = {"rate_limit", "withhold_ack", "disallow_intents", "identify_budget", "identify_spacing_ms",
                   "heartbeat_interval", "slow_ms", "fail_5xx", "reject_token", "gateway_reject_token"}
        unknown = set(b) - allowed
        if unknown:
            raise ValueError("unknown faults: %s" % sorted(unknown))
        self.faults = dict(b)
        if "identify_budget" in b:
            self.budget = int(b["identify_budget"])
        return {"ok": True}

    def get_stats(self):
        out = dict(self.stats)
        out["connected"] = sum(1 for c in self.conns if c.ready)
        out["sessions"] = len(self.sessions)
        out["identify_budget"] = self.budget
        return out

    # ---- REST ----------------------------------------------------------------------------
    def rest(self, method, path, headers, body):
        self.stats["rest"] += 1
        if headers.get("authorization") != "Bot " + self.token or self.faults.get("reject_token"):
            return 401, {"message": "401: Unauthorized", "code": 0}, {}
        parts = [p for p in path.split("/") if p]
        route = "%s /%s" % (method, "/".join(parts[:2]))
        if self.faults.get("fail_5xx", 0) > 0:
            self.faults["fail_5xx"] -= 1
            return 502, {"message": "Bad Gateway"}, {}
        rl = self.faults.get("rate_limit")
        if rl and rl.get("count", 0) > 0 and (not rl.get("route") or rl["route"] in path) and method == "POST":
            rl["count"] -= 1
            self.stats["rate_limited"] += 1
            after = float(rl.get("retry_after", 0.2))
            glob = bool(rl.get("global", False))
            h = {"Retry-After": str(max(1, int(after + 0.999))), "X-RateLimit-Scope": "global" if glob else "user"}
            if glob:
                h["X-RateLimit-Global"] = "true"
            else:
                h.update({"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Bucket": "emu-" + route.replace(" ", "-").replace("/", "_"),
                          "X-RateLimit-Reset-After": "%.3f" % after, "X-RateLimit-Reset": "%.3f" % (time.time() + after)})
            return 429, {"message": "You are being rate limited.", "retry_after": after, "global": glob, "code": 0}, h
        ok_headers = {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "49", "X-RateLimit-Reset-After": "1.000",
                      "X-RateLimit-Reset": "%.3f" % (time.time() + 1), "X-RateLimit-Bucket": "emu-" + "-".join(parts[:1])}
        if method == "GET" and parts == ["gateway", "bot"]:
            self.stats["gateway_bot"] += 1
            return 200, {"url": "ws://127.0.0.1:%d/gateway" % self.port, "shards": 1,
                         "session_start_limit": {"total": 1000, "remaining": max(self.budget, 0),
                                                 "reset_after": 86_400_000, "max_concurrency": 1}}, ok_headers
        if method == "POST" and len(parts) == 3 and parts[0] == "channels" and parts[2] == "messages":
            try:
                b = json.loads(body or b"{}")
            except ValueError:
                return 400, {"message": "400: Bad Request", "code": 50109}, ok_headers
            content = b.get("content") if isinstance(b, dict) else None
            if not isinstance(content, str) or not content.strip():
                return 400, {"message": "Cannot send an empty message", "code": 50006}, ok_headers
            if len(content) > TEXT_LIMIT:
                return 400, {"message": "Invalid Form Body", "code": 50035,
                             "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH",
                                                                 "message": "Must be 2000 or fewer in length."}]}}}, ok_headers
            cid = parts[1]
            if cid not in self.channels:
                return 404, {"message": "Unknown Channel", "code": 10003}, ok_headers
            mid = snowflake()
            msg = {"id": mid, "type": 0, "channel_id": cid, "content": content,
                   "author": {"id": self.bot_id, "username": self.username, "bot": True},
                   "mentions": [], "mention_roles": [], "attachments": [], "embeds": []}
            if self.channels[cid].get("guild_id"):
                msg["guild_id"] = self.channels[cid]["guild_id"]
            self.sent.append({"id": mid, "channel_id": cid, "content": content, "time": time.time(), "message": msg})
            del self.sent[:-MAX_SENT]
            self.stats["messages_created"] += 1
            self.dispatch("MESSAGE_CREATE", msg)  # Discord tells the bot about its own message
            return 200, msg, ok_headers
        if method == "POST" and len(parts) == 3 and parts[0] == "channels" and parts[2] == "typing":
            self.stats["typing"] += 1
            self.typing.append({"channel_id": parts[1], "time": time.time()})
            del self.typing[:-MAX_SENT]
            return 204, None, ok_headers
        if method == "POST" and parts == ["users", "@me", "channels"]:
            try:
                b = json.loads(body or b"{}")
                uid = str(b["recipient_id"])
            except (ValueError, KeyError, TypeError):
                return 400, {"message": "Invalid Form Body", "code": 50035}, ok_headers
            self.stats["dm_opened"] += 1
            return 200, {"id": self.dm_channel(uid), "type": 1, "recipients": [{"id": uid}]}, ok_headers
        if method == "GET" and len(parts) == 2 and parts[0] == "channels":
            self.stats["channel_lookups"] += 1
            c = self.channels.get(parts[1])
            return (200, c, ok_headers) if c else (404, {"message": "Unknown Channel", "code": 10003}, ok_headers)
        return 404, {"message": "404: Not Found", "code": 0}, ok_headers


class GatewayConn:
    def __init__(self, emu, writer):
        self.emu, self.writer = emu, writer
        self.ws = ServerConnection(max_size=1 << 20)
        self.session = None
        self.ready = False
        self.identified = False
        self.closed = False

    def flush(self):
        for data in self.ws.data_to_send():
            if data:
                self.writer.write(data)
            else:
                self.drop()

    def send_text(self, text):
        if self.closed:
            return
        self.ws.send_text(text.encode())
        self.flush()

    def send_json(self, obj):
        self.send_text(json.dumps(obj))

    def close(self, code, reason=""):
        if self.closed:
            return
        self.ws.send_close(code, reason)
        self.flush()

    def drop(self):
        if not self.closed:
            self.closed = True
            self.writer.transport.abort()

    def hello(self):
        interval = int(self.emu.faults.get("heartbeat_interval", 41250))
        self.send_json({"op": 10, "d": {"heartbeat_interval": interval}})

    def on_text(self, text):
        emu = self.emu
        try:
            msg = json.loads(text)
            op = msg["op"]
        except (ValueError, KeyError, TypeError):
            return self.close(4002, "Error while decoding payload.")
        d = msg.get("d")
        if op == 1:
            emu.stats["heartbeats"] += 1
            withhold = emu.faults.get("withhold_ack", 0)
            if withhold > 0:
                emu.faults["withhold_ack"] = withhold - 1
                emu.stats["acks_withheld"] += 1
                return
            return self.send_json({"op": 11})
        if op == 2:
            if self.identified:
                return self.close(4005, "Already authenticated.")
            if not isinstance(d, dict) or d.get("token") != emu.token or emu.faults.get("reject_token") \
                    or emu.faults.get("gateway_reject_token"):
                return self.close(4004, "Authentication failed.")
            intents = d.get("intents", 0)
            if emu.faults.get("disallow_intents") and intents & INTENT_MESSAGE_CONTENT:
                return self.close(4014, "Disallowed intent(s).")
            spacing = emu.faults.get("identify_spacing_ms", 0) / 1000.0
            now = time.monotonic()
            if emu.budget <= 0 or (spacing and now - emu.last_identify < spacing):
                emu.stats["invalid_session"] += 1
                return self.send_json({"op": 9, "d": False})
            emu.budget -= 1
            emu.last_identify = now
            emu.stats["identify"] += 1
            self.identified = True
            sid = "%032x" % random.getrandbits(128)
            self.session = emu.sessions[sid] = Session(sid)
            self.session.conn = self
            ready = {"v": 10, "user": {"id": emu.bot_id, "username": emu.username, "bot": True},
                     "guilds": [{"id": g, "unavailable": True} for g in emu.guilds], "session_id": sid,
                     "resume_gateway_url": "ws://127.0.0.1:%d/gateway-resume" % emu.port,
                     "application": {"id": emu.app_id, "flags": 0}}
            self.ready = True
            self.send_json(self.session.add("READY", ready))
            for g in emu.guilds.values():
                self.send_json(self.session.add("GUILD_CREATE", emu.guild_create(g)))
            return
        if op == 6:
            emu.stats["resume"] += 1
            s = emu.sessions.get(d.get("session_id")) if isinstance(d, dict) else None
            seq = d.get("seq") if isinstance(d, dict) else None
            if s is None or d.get("token") != emu.token or not isinstance(seq, int) or seq > s.seq or \
                    (s.events and seq < s.events[0]["s"] - 1):
                emu.stats["invalid_session"] += 1
                return self.send_json({"op": 9, "d": False})
            if s.conn is not None and s.conn is not self:
                s.conn.session = None
                s.conn.drop()
            self.session, s.conn = s, self
            self.identified = True
            for frame in s.events:
                if frame["s"] > seq:
                    emu.stats["replayed"] += 1
                    self.send_json(frame)
            self.ready = True
            emu.stats["resumed"] += 1
            return self.send_json(s.add("RESUMED", {}))
        return self.close(4001, "Unknown opcode.")

    async def run(self, reader, raw_request):
        emu = self.emu
        self.ws.receive_data(raw_request)
        events = self.ws.events_received()
        if not events or not isinstance(events[0], Request):
            return self.drop()
        self.ws.send_response(self.ws.accept(events[0]))
        self.flush()
        emu.conns.add(self)
        emu.stats["connections"] += 1
        self.hello()
        try:
            while not self.closed:
                data = await reader.read(65536)
                if not data:
                    self.ws.receive_eof()
                else:
                    self.ws.receive_data(data)
                for ev in self.ws.events_received():
                    if ev.opcode == Opcode.TEXT:
                        self.on_text(ev.data.decode("utf-8", "replace"))
                    elif ev.opcode == Opcode.BINARY:
                        self.close(4002, "Error while decoding payload.")
                self.flush()
                if not data or self.ws.close_expected() and not self.ws.data_to_send():
                    if not data:
                        break
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed = True
            emu.conns.discard(self)
            if self.session is not None and self.session.conn is self:
                self.session.conn = None
            try:
                self.writer.close()
            except Exception:
                pass


async def read_request(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > MAX_HEADER:
        raise ValueError("header too large")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length > MAX_BODY:
        return head, method, target, headers, None
    body = await reader.readexactly(length) if length else b""
    return head, method, target, headers, body


def http_response(code, payload, extra=None, close=False):
    reason = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
              413: "Payload Too Large", 429: "Too Many Requests", 502: "Bad Gateway"}.get(code, "OK")
    body = b"" if payload is None else json.dumps(payload).encode()
    h = ["HTTP/1.1 %d %s" % (code, reason), "Content-Length: %d" % len(body)]
    if payload is not None:
        h.append("Content-Type: application/json")
    for k, v in (extra or {}).items():
        h.append("%s: %s" % (k, v))
    h.append("Connection: close" if close else "Connection: keep-alive")
    return ("\r\n".join(h) + "\r\n\r\n").encode() + body


def control(emu, method, path, query, body):
    data = json.loads(body or b"{}") if method == "POST" else {}
    routes = {("POST", "/_emu/inject"): lambda: emu.inject(data),
              ("POST", "/_emu/faults"): lambda: emu.set_faults(data),
              ("POST", "/_emu/gateway"): lambda: emu.gateway_action(data),
              ("POST", "/_emu/guilds"): lambda: {"guild": emu.add_guild(str(data["guild_id"]), [str(c) for c in data.get("channels", [])],
                                                                        [(str(t), str(p)) for t, p in data.get("threads", [])])["id"]},
              ("GET", "/_emu/sent"): lambda: {"messages": [{k: v for k, v in m.items() if k != "message"} for m in emu.sent]},
              ("GET", "/_emu/typing"): lambda: {"typing": emu.typing},
              ("GET", "/_emu/stats"): emu.get_stats}
    fn = routes.get((method, path))
    if fn is None:
        return 404, {"error": "unknown control"}
    return 200, fn()


async def handle(emu, reader, writer):
    try:
        while True:
            try:
                head, method, target, headers, body = await read_request(reader)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ConnectionError):
                break
            url = urlsplit(target)
            if headers.get("upgrade", "").lower() == "websocket":
                if url.path in ("/gateway", "/gateway-resume"):
                    q = dict(parse_qsl(url.query))
                    if q.get("v", "10") != "10" or q.get("encoding", "json") != "json":
                        writer.write(http_response(400, {"message": "bad gateway query"}, close=True))
                        break
                    await GatewayConn(emu, writer).run(reader, head)
                else:
                    writer.write(http_response(404, {"message": "404: Not Found"}, close=True))
                break
            if body is None:
                writer.write(http_response(413, {"message": "Request entity too large", "code": 40005}, close=True))
                break
            if url.path.startswith("/_emu/"):
                try:
                    code, payload = control(emu, method, url.path, dict(parse_qsl(url.query)), body)
                except (ValueError, KeyError, TypeError) as e:
                    code, payload = 400, {"error": str(e)}
                writer.write(http_response(code, payload))
            elif url.path.startswith("/api/v10/"):
                slow = emu.faults.get("slow_ms", 0)
                if slow:
                    await asyncio.sleep(slow / 1000.0)
                code, payload, extra = emu.rest(method, url.path[len("/api/v10"):], headers, body)
                writer.write(http_response(code, payload, extra))
            else:
                writer.write(http_response(404, {"message": "404: Not Found", "code": 0}))
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main_async(args):
    emu = Emulator(args.token, args.bot_id, args.username)
    for spec in args.guild:
        gid, _, chans = spec.partition(":")
        emu.add_guild(gid, [c for c in chans.split(",") if c])
    server = await asyncio.start_server(lambda r, w: handle(emu, r, w), "127.0.0.1", args.port, limit=MAX_HEADER)
    emu.port = server.sockets[0].getsockname()[1]
    print("listening on http://127.0.0.1:%d" % emu.port, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    parent = os.getppid()

    async def watch_parent():
        while not stop.is_set():
            if os.getppid() != parent:
                stop.set()
            await asyncio.sleep(0.5)

    watcher = asyncio.ensure_future(watch_parent())
    await stop.wait()
    watcher.cancel()
    server.close()
    for c in list(emu.conns):
        c.drop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--token", default="discord-test-token")
    p.add_argument("--bot-id", default="900000000000000001")
    p.add_argument("--username", default="clawbot")
    p.add_argument("--guild", action="append", default=[], help="GUILD_ID:CHANNEL,CHANNEL known at start")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
