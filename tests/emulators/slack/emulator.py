#!/usr/bin/env python3
"""Local emulator of Slack's Web API and Socket Mode (https://api.slack.com) for tests.

Standard library plus Debian's python3-websockets (10.4) for the Socket Mode server.
Usage: emulator.py --port 0 [--bot-token xoxb-...] [--app-token xapp-...] [--ping-interval S]
Prints exactly one line "listening on http://127.0.0.1:<port>" once ready (the Web API root is
that URL + "/api"); exits on SIGTERM/SIGINT or when its parent goes away.

Emulates, for one workspace (team T0EMU0001) with one app (A0EMU0001) whose bot user is
U0EMUBOT1 (bot id B0EMUBOT1):
- Web API at /api/<method> (POST form-urlencoded or JSON, or GET with a query string; token as
  "Authorization: Bearer" or a "token" parameter): auth.test, apps.connections.open (app token
  xapp- only: a bot token gets not_allowed_token_type), chat.postMessage (channel id or a user id
  for the app's DM with them, thread_ts, no_text, msg_too_long past 40,000 characters),
  conversations.info, users.info. Errors are HTTP 200 {ok: false, error} as Slack answers them
  (not_authed, invalid_auth, channel_not_found, user_not_found, unknown_method, invalid_json,
  ...); a rate limit is HTTP 429 with Retry-After and {ok: false, error: "ratelimited"}.
- Socket Mode: apps.connections.open answers a single-use ws://127.0.0.1 URL on the Web API's
  port (relayed to the websockets server inside, so a sandbox allowing one port suffices); it sends
  hello (num_connections, debug_info, connection_info.app_id), events_api envelopes that must
  be acknowledged ({"envelope_id": ...}) within 3 s, else they are sent again (to any open
  connection) with retry_attempt/retry_reason "timeout", at most 3 retries; disconnect
  messages (refresh_requested, link_disabled, warning, too_many_websockets) on request; pings
  every --ping-interval seconds. An envelope sent to a connection that has been told to
  disconnect is avoided while another connection is open.
- Events as a real app subscribed to message.{im,mpim,channels,groups} and app_mention gets
  them: an injected channel message that mentions the bot comes as both a message and an
  app_mention event (same ts, two event ids); the app's own chat.postMessage comes back as a
  message event with bot_id (Slack echoes them).
- HTTP events (Request URL) mode, the client side: /_emu/http_event signs an event_callback or
  url_verification body (v0 HMAC-SHA256 of "v0:<ts>:<body>") and POSTs it to a URL; "body" sends
  a payload again (a retry: same event id, a fresh signature), "form_payload" an interactivity
  payload form-encoded.
Does NOT emulate: OAuth, scopes, Block Kit, files, reactions, slash commands, interactivity,
Enterprise Grid, message edits/deletes (other than injected raw events), real rate limit tiers.
Test controls (JSON): /_emu/inject, /_emu/channel, /_emu/disconnect, /_emu/drop, /_emu/hang,
/_emu/faults, /_emu/sent, /_emu/stats, /_emu/http_event -- see tests/emulators/README.md.
"""
import os
import sys

try:
    import websockets  # noqa: F401  (python3-websockets)
except ImportError:
    # A Python first on PATH (pyenv, a venv) without the Debian package: the system one has it.
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

import argparse
import asyncio
import collections
import hashlib
import hmac
import itertools
import json
import select
import signal
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import websockets.server

MAX_BODY = 1 << 20           # request bodies above 1 MiB -> 413
MAX_SENT = 100_000           # /_emu/sent log
TEXT_LIMIT = 40_000          # chat.postMessage: msg_too_long above this many characters
MAX_RETRIES = 3              # envelope re-sends after the first attempt
TEAM, APP, BOT_USER, BOT_ID = "T0EMU0001", "A0EMU0001", "U0EMUBOT1", "B0EMUBOT1"
METHODS = ("auth.test", "apps.connections.open", "chat.postMessage", "conversations.info",
           "users.info")
STAT_KEYS = ("connections_opened", "max_open_connections", "hellos", "envelopes_sent",
             "envelopes_acked", "envelopes_retried", "envelopes_dropped", "late_acks",
             "unknown_acks", "disconnects_sent", "rate_limited", "chat.postMessage",
             "auth.test", "apps.connections.open", "conversations.info", "users.info")
# Text of an event injected with "malformed": true; its escaped form is replaced on the wire
# by raw control characters, which no JSON parser accepts inside a string.
MALFORMED = "\x00emu:malformed\x00"
MALFORMED_WIRE = (json.dumps(MALFORMED), '"\x00emu:malformed\x00"')


class ApiError(Exception):
    def __init__(self, error, status=200, headers=None):
        super().__init__(error)
        self.error, self.status, self.headers = error, status, headers or {}


def _int(value, default):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def channel_kind(channel_id, given=None):
    """Slack's channel_type for an id: D = im, G = group (private), C = channel."""
    if given:
        if given not in ("im", "mpim", "channel", "group"):
            raise ValueError("channel_type must be im, mpim, channel or group")
        return given
    return {"D": "im", "G": "group"}.get(str(channel_id)[:1], "channel")


def sign(secret, ts, body):
    base = b"v0:" + str(ts).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class Emulator:
    def __init__(self, bot_token, app_token, ping_interval):
        self.lock = threading.Lock()       # guards the Web API state below
        self.bot_token, self.app_token = bot_token, app_token
        self.ping_interval = ping_interval
        self.channels = {}                 # id -> {id, kind, name, user (im)}
        self.ts_seq = itertools.count(1)
        self.sent = collections.deque(maxlen=MAX_SENT)
        self.faults = {}
        self.stats = dict.fromkeys(STAT_KEYS, 0)
        self.loop = None                   # the Socket Mode server's asyncio loop (own thread)
        self.ws_port = 0                   # the websockets server (behind the Web API's port)
        self.http_port = 0
        self.tickets = set()
        self.conns = []                    # open Socket Mode connections (Conn), oldest first
        self.pending = {}                  # envelope_id -> Envelope not yet acknowledged
        self.new_conn = None               # asyncio.Event set when a connection opens

    # ---- helpers shared by the Web API and the controls ---------------------------------
    def new_ts(self):
        return f"{int(time.time())}.{next(self.ts_seq):06d}"

    def channel(self, cid, kind=None, user=None):  # caller holds the lock
        ch = self.channels.get(cid)
        if ch is None:
            ch = {"id": cid, "kind": channel_kind(cid, kind), "name": f"emu-{cid.lower()}",
                  "user": user}
            self.channels[cid] = ch
        return ch

    def take_fault(self, method):  # caller holds the lock; raises the injected failure
        if self.faults.get("fail_5xx", 0) > 0:
            self.faults["fail_5xx"] -= 1
            raise ApiError("internal_error", 503)
        rl = self.faults.get("rate_limit")
        if rl and rl["count"] > 0 and rl.get("method") in (None, method):
            rl["count"] -= 1
            self.stats["rate_limited"] += 1
            raise ApiError("ratelimited", 429, {"Retry-After": str(rl["retry_after"])})

    # ---- Web API -------------------------------------------------------------------------
    def call(self, method, params, auth_header):
        if method not in METHODS:
            raise ApiError("unknown_method")
        token = params.get("token") or ""
        if auth_header.lower().startswith("bearer "):
            token = auth_header[7:].strip()
        if not token:
            raise ApiError("not_authed")
        with self.lock:
            self.stats[method] += 1
            self.take_fault(method)
        if method == "apps.connections.open":
            if token.startswith("xoxb-") and token == self.bot_token:
                raise ApiError("not_allowed_token_type")
            if token != self.app_token:
                raise ApiError("invalid_auth")
            return self.m_connections_open()
        if token.startswith("xapp-") and token == self.app_token:
            raise ApiError("not_allowed_token_type")
        if token != self.bot_token:
            raise ApiError("invalid_auth")
        return {"auth.test": self.m_auth_test, "chat.postMessage": self.m_post_message,
                "conversations.info": self.m_conversations_info,
                "users.info": self.m_users_info}[method](params)

    def m_auth_test(self, p):
        return {"url": "https://emu.slack.com/", "team": "Emulated Team", "user": "emubot",
                "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID,
                "is_enterprise_install": False}

    def m_connections_open(self):
        ticket = uuid.uuid4().hex
        with self.lock:
            self.tickets.add(ticket)
        return {"url": f"ws://127.0.0.1:{self.http_port}/link/?ticket={ticket}&app_id={APP}"}

    def m_post_message(self, p):
        cid = str(p.get("channel") or "")
        text = p.get("text")
        text = "" if text is None else str(text)
        if not cid:
            raise ApiError("channel_not_found")
        with self.lock:
            if cid.startswith("U"):  # a user id: the app's DM with that user
                cid = next((c["id"] for c in self.channels.values() if c.get("user") == cid),
                           "D" + cid[1:])
                self.channel(cid, "im", str(p.get("channel")))
            ch = self.channels.get(cid)
            if ch is None:
                raise ApiError("channel_not_found")
            if not text.strip() and not p.get("blocks") and not p.get("attachments"):
                raise ApiError("no_text")
            if len(text) > TEXT_LIMIT:
                raise ApiError("msg_too_long")
            thread_ts = str(p.get("thread_ts") or "") or None
            ts = self.new_ts()
            msg = {"type": "message", "text": text, "user": BOT_USER, "bot_id": BOT_ID,
                   "app_id": APP, "ts": ts, "team": TEAM}
            if thread_ts:
                msg["thread_ts"] = thread_ts
            self.sent.append({"channel": cid, "text": text, "ts": ts, "thread_ts": thread_ts,
                              "mrkdwn": p.get("mrkdwn"), "unfurl_links": p.get("unfurl_links")})
            echo = not self.faults.get("no_echo")
        if echo:  # Slack delivers the app's own messages to it as events too
            event = dict(msg, channel=cid, event_ts=ts, channel_type=ch["kind"])
            self.deliver(event)
        return {"channel": cid, "ts": ts, "message": msg}

    def m_conversations_info(self, p):
        cid = str(p.get("channel") or "")
        with self.lock:
            ch = self.channels.get(cid)
            if ch is None:
                raise ApiError("channel_not_found")
            kind = ch["kind"]
            out = {"id": cid, "created": 1700000000, "is_channel": kind == "channel",
                   "is_group": kind == "group", "is_im": kind == "im", "is_mpim": kind == "mpim",
                   "is_private": kind in ("group", "mpim", "im"), "is_member": True,
                   "is_archived": False}
            if kind == "im":
                out["user"] = ch["user"]
            else:
                out["name"] = ch["name"]
        return {"channel": out}

    def m_users_info(self, p):
        uid = str(p.get("user") or "")
        if not uid.startswith(("U", "W")):
            raise ApiError("user_not_found")
        name = "emubot" if uid == BOT_USER else f"user-{uid.lower()}"
        return {"user": {"id": uid, "team_id": TEAM, "name": name, "real_name": name.title(),
                         "is_bot": uid == BOT_USER,
                         "profile": {"display_name": name, "real_name": name.title()}}}

    # ---- events ----------------------------------------------------------------------------
    def payload(self, event):
        return {"token": "emu-verification-token", "team_id": TEAM, "context_team_id": TEAM,
                "api_app_id": APP, "event": event, "type": "event_callback",
                "event_id": "Ev" + uuid.uuid4().hex[:10].upper(), "event_time": int(time.time()),
                "authorizations": [{"enterprise_id": None, "team_id": TEAM, "user_id": BOT_USER,
                                    "is_bot": True, "is_enterprise_install": False}],
                "is_ext_shared_channel": False, "event_context": "4-" + uuid.uuid4().hex}

    def build_events(self, b):
        """The event(s) an injected message produces: [message] or [message, app_mention]."""
        cid = str(b["channel"])
        if "raw_event" in b:
            if not isinstance(b["raw_event"], dict):
                raise ValueError("raw_event must be an object")
            return [b["raw_event"]], None
        text = (bytes.fromhex(b["text_hex"]).decode("utf-8", "surrogateescape")
                if "text_hex" in b else str(b["text"]))
        if b.get("malformed"):
            text = MALFORMED
        user = str(b.get("user", "U0EMUUSR1"))
        with self.lock:
            ch = self.channel(cid, b.get("channel_type"), user if cid.startswith("D") else None)
            ts = str(b.get("ts") or self.new_ts())
        ev = {"type": "message", "channel": cid, "text": text, "ts": ts, "event_ts": ts,
              "channel_type": ch["kind"], "team": TEAM}
        if b.get("bot_id"):
            ev["bot_id"] = str(b["bot_id"])
            if b.get("user") is None:
                ev["subtype"] = "bot_message"
            else:
                ev["user"] = user
        else:
            ev["user"] = user
            ev["client_msg_id"] = str(b.get("client_msg_id") or uuid.uuid4())
        if b.get("subtype"):
            ev["subtype"] = str(b["subtype"])
        if b.get("thread_ts"):
            ev["thread_ts"] = str(b["thread_ts"])
            ev["parent_user_id"] = str(b.get("parent_user_id", BOT_USER))
        events = [ev]
        mentioned = f"<@{BOT_USER}" in text
        if mentioned and ch["kind"] in ("channel", "group") and b.get("app_mention", True):
            mention = {k: v for k, v in ev.items() if k not in ("channel_type", "subtype")}
            mention["type"] = "app_mention"
            events.append(mention)
        return events, ts

    def deliver(self, event):
        """Queues one event for Socket Mode delivery; returns its event_id."""
        payload = self.payload(event)
        env_id = asyncio.run_coroutine_threadsafe(self.start_envelope(payload), self.loop).result(5)
        return payload["event_id"], env_id

    async def start_envelope(self, payload):
        env = Envelope(payload)  # made on the loop: its asyncio.Event belongs there
        self.pending[env.id] = env
        env.task = asyncio.ensure_future(self.run_envelope(env))
        return env.id

    def pick_conn(self):
        live = [c for c in self.conns if not c.told_to_leave and not c.hung]
        if not live:
            live = [c for c in self.conns if not c.hung]
        return live[env_rr(len(live))] if live else None

    async def run_envelope(self, env):
        try:
            while env.attempt <= MAX_RETRIES:
                conn = self.pick_conn()
                while conn is None:
                    self.new_conn.clear()
                    await self.new_conn.wait()
                    conn = self.pick_conn()
                msg = {"envelope_id": env.id, "payload": env.payload, "type": "events_api",
                       "accepts_response_payload": False, "retry_attempt": env.attempt,
                       "retry_reason": "timeout" if env.attempt else ""}
                # Raw bytes injected with text_hex (surrogate-escaped) cannot go into a text
                # frame; escaped, they arrive as \udcXX lone surrogates the client must repair.
                text = json.dumps(msg, ensure_ascii=_has_surrogates(env.payload)).replace(
                    *MALFORMED_WIRE)
                try:
                    await conn.ws.send(text)
                except websockets.ConnectionClosed:
                    await asyncio.sleep(0.05)
                    continue
                self.stats["envelopes_sent"] += 1
                if env.attempt:
                    self.stats["envelopes_retried"] += 1
                try:
                    await asyncio.wait_for(env.acked.wait(), self.ack_timeout())
                    self.stats["envelopes_acked"] += 1
                    return
                except asyncio.TimeoutError:
                    env.attempt += 1
            self.stats["envelopes_dropped"] += 1
        finally:
            self.pending.pop(env.id, None)

    def ack_timeout(self):
        return self.faults.get("ack_timeout_ms", 3000) / 1000

    async def serve_ws(self, ws, path):
        query = dict(parse_qsl(urlsplit(path).query))
        conn = Conn(ws)
        self.conns.append(conn)
        self.stats["connections_opened"] += 1
        self.stats["max_open_connections"] = max(self.stats["max_open_connections"],
                                                 len(self.conns))
        try:
            hello = {"type": "hello", "num_connections": len(self.conns),
                     "debug_info": {"host": "applink-emu", "build_number": 1,
                                    "approximate_connection_time": 18060},
                     "connection_info": {"app_id": APP}}
            if query.get("debug_reconnects") == "true":
                hello["debug_info"]["approximate_connection_time"] = 360
            await ws.send(json.dumps(hello))
            self.stats["hellos"] += 1
            self.new_conn.set()
            async for message in ws:
                if conn.hung:
                    continue
                try:
                    obj = json.loads(message)
                except ValueError:
                    continue
                eid = obj.get("envelope_id") if isinstance(obj, dict) else None
                env = self.pending.get(eid)
                if env is not None:
                    env.acked.set()
                elif eid:
                    self.stats["late_acks" if eid in Envelope.seen else "unknown_acks"] += 1
        except websockets.ConnectionClosed:
            pass
        finally:
            if conn in self.conns:
                self.conns.remove(conn)

    async def process_request(self, path, headers):
        query = dict(parse_qsl(urlsplit(path).query))
        ticket = query.get("ticket", "")
        with self.lock:
            valid = ticket in self.tickets
            self.tickets.discard(ticket)  # single use, like Slack's
        if not urlsplit(path).path.startswith("/link") or not valid:
            return (HTTPStatus.UNAUTHORIZED, [("Content-Type", "text/plain")], b"invalid or used ticket\n")
        return None

    async def disconnect(self, reason, which, close_after_ms):
        targets = list(self.conns) if which == "all" else self.conns[:1]
        for conn in targets:
            conn.told_to_leave = True
            msg = {"type": "disconnect", "reason": reason,
                   "debug_info": {"host": "applink-emu"}}
            try:
                await conn.ws.send(json.dumps(msg))
                self.stats["disconnects_sent"] += 1
            except websockets.ConnectionClosed:
                continue
            # Slack closes the old connection a few seconds later (the client should have a
            # new one by then); link_disabled closes it at once.
            delay = 0 if reason == "link_disabled" else close_after_ms / 1000
            asyncio.get_running_loop().call_later(
                delay, lambda c=conn: asyncio.ensure_future(c.ws.close(1001, "disconnect")))
        return {"disconnected": len(targets)}

    async def drop(self):
        n = 0
        for conn in list(self.conns):
            conn.ws.transport.abort()  # TCP gone, no close frame
            n += 1
        return {"dropped": n}

    async def hang(self):
        for conn in self.conns:
            conn.hung = True
            conn.ws.transport.pause_reading()  # no pongs, no acks read: a dead link
            # ...that sends nothing either: its own keepalive pings stop too (a link that died
            # on the way carries no pings; a client must notice the silence).
            task = getattr(conn.ws, "keepalive_ping_task", None)
            if task is not None:
                task.cancel()
        return {"hung": len(self.conns)}

    # ---- controls --------------------------------------------------------------------------
    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def inject(self, b):
        events, ts = self.build_events(b)
        ids = [self.deliver(e) for e in events]
        return {"ts": ts, "event_ids": [i[0] for i in ids], "envelope_ids": [i[1] for i in ids]}

    def add_channel(self, b):
        cid = str(b["channel"])
        with self.lock:
            ch = self.channel(cid, b.get("channel_type"), b.get("user"))
        return {"channel": cid, "channel_type": ch["kind"]}

    def set_faults(self, b):
        faults = {}
        for key, value in b.items():
            if key == "rate_limit":
                faults[key] = {"count": int(value.get("count", 1)),
                               "retry_after": max(0, int(value.get("retry_after", 1))),
                               "method": value.get("method")}
            elif key in ("fail_5xx", "slow_ms", "ack_timeout_ms"):
                faults[key] = max(0, int(value))
            elif key == "no_echo":
                faults[key] = bool(value)
            else:
                raise ValueError(f"unknown fault {key!r}")
        with self.lock:
            self.faults = faults
        return {"faults": faults}

    def get_stats(self):
        with self.lock:
            out = dict(self.stats)
        out["open_connections"] = self.run(self._count_conns())
        out["pending_envelopes"] = len(self.pending)
        return out

    async def _count_conns(self):
        return len(self.conns)

    def http_event(self, b):
        url = str(b["url"])
        secret = str(b.get("signing_secret", ""))
        content_type = "application/json"
        if b.get("url_verification"):
            body = {"token": "emu-verification-token", "challenge": uuid.uuid4().hex,
                    "type": "url_verification"}
        elif "body" in b:  # a body sent before (its "sent"): Slack's retry of the same event
            if not isinstance(b["body"], dict):
                raise ValueError("body must be an object")
            body = b["body"]
        elif "form_payload" in b:  # interactivity: payload=<json>, form-encoded
            body = b["form_payload"]
            content_type = "application/x-www-form-urlencoded"
        else:
            events, _ = self.build_events(b)
            body = self.payload(events[0])
        if content_type == "application/json":
            raw = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogateescape")
        else:
            raw = urllib.parse.urlencode({"payload": json.dumps(body)}).encode()
        ts = int(time.time()) + _int(b.get("timestamp_offset_s"), 0)
        sig = sign(secret, ts, raw)
        if b.get("bad_signature"):
            sig = sig[:-4] + ("0000" if not sig.endswith("0000") else "1111")
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(ts),
                   "X-Slack-Signature": sig}
        if b.get("retry_num") is not None:
            headers["X-Slack-Retry-Num"] = str(int(b["retry_num"]))
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        req = urllib.request.Request(url, data=raw, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, text = r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode("utf-8", "replace")
        out = {"status": status, "body": text, "sent": body}
        return out


class Envelope:
    seen = set()  # every envelope id ever sent (to tell late acks from unknown ones)

    def __init__(self, payload):
        self.id = str(uuid.uuid4())
        Envelope.seen.add(self.id)
        self.payload = payload
        self.attempt = 0
        self.acked = asyncio.Event()
        self.task = None


class Conn:
    def __init__(self, ws):
        self.ws = ws
        self.told_to_leave = False
        self.hung = False


_rr = itertools.count()


def env_rr(n):  # round robin over the open connections, as Slack spreads envelopes
    return next(_rr) % n


def _has_surrogates(payload):
    text = payload.get("event", {}).get("text")
    return isinstance(text, str) and any("\udc80" <= ch <= "\udcff" for ch in text)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SlackEmulator/1.0"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        emu = self.server.emu
        url = urlsplit(self.path)
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self._proxy_websocket(emu)
        try:
            body = self._read_body()
        except ApiError as e:
            self.close_connection = True
            return self._send(e.status, {"ok": False, "error": e.error})
        if url.path.startswith("/_emu/"):
            return self._control(emu, url, body)
        if not url.path.startswith("/api/"):
            return self._send(404, {"ok": False, "error": "not_found"})
        headers = {}
        try:
            params = self._params(url.query, body)
            result = emu.call(url.path[5:], params, self.headers.get("Authorization", ""))
            code, payload = 200, dict({"ok": True}, **result)
        except ApiError as e:
            code, payload, headers = e.status, {"ok": False, "error": e.error}, e.headers
        time.sleep(emu.faults.get("slow_ms", 0) / 1000)
        self._send(code, payload, headers)

    do_POST = do_GET

    def _proxy_websocket(self, emu):
        """Socket Mode on the Web API's port: the upgrade request and then every byte either way
        are relayed to the websockets server (a worker's sandbox lets it connect to its API
        root's port only, as real Slack's wss:// and https:// share 443)."""
        self.close_connection = True
        upstream = socket.create_connection(("127.0.0.1", emu.ws_port))
        head = self.requestline + "\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in self.headers.items()) + "\r\n"
        upstream.sendall(head.encode("latin-1"))
        client = self.connection
        socks = [client, upstream]
        try:
            while True:
                readable, _, _ = select.select(socks, [], [])
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
        except OSError:
            pass
        finally:
            upstream.close()
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _params(self, query, body):
        params = dict(parse_qsl(query, keep_blank_values=True))
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if body and kind == "application/json":
            try:
                obj = json.loads(body.decode("utf-8"))
            except ValueError:
                raise ApiError("invalid_json")
            if not isinstance(obj, dict):
                raise ApiError("invalid_json")
            params.update(obj)
        elif body:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return params

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise ApiError("length_required", 411)
        length = _int(self.headers.get("Content-Length"), 0)
        if length > MAX_BODY:
            remaining = min(length, 8 * MAX_BODY)
            while remaining > 0 and (got := self.rfile.read(min(remaining, 65536))):
                remaining -= len(got)
            raise ApiError("request_too_large", 413)
        return self.rfile.read(length) if length > 0 else b""

    def _control(self, emu, url, body):
        try:
            data = json.loads(body) if body.strip() else {}
            if not isinstance(data, dict):
                raise ValueError("body must be a JSON object")
            route = {
                ("POST", "/_emu/inject"): lambda: emu.inject(data),
                ("POST", "/_emu/disconnect"): lambda: emu.run(emu.disconnect(
                    str(data.get("reason", "refresh_requested")), data.get("which", "all"),
                    max(0, int(data.get("close_after_ms", 5000))))),
                ("POST", "/_emu/drop"): lambda: emu.run(emu.drop()),
                ("POST", "/_emu/hang"): lambda: emu.run(emu.hang()),
                ("POST", "/_emu/faults"): lambda: emu.set_faults(data),
                ("POST", "/_emu/channel"): lambda: emu.add_channel(data),
                ("POST", "/_emu/http_event"): lambda: emu.http_event(data),
                ("GET", "/_emu/sent"): lambda: {"messages": list(emu.sent)},
                ("GET", "/_emu/stats"): emu.get_stats,
            }.get((self.command, url.path))
            if route is None:
                return self._send(404, {"error": f"no control endpoint {self.command} {url.path}"})
            out = route()
        except (KeyError, ValueError, TypeError, AttributeError) as e:
            return self._send(400, {"error": f"{type(e).__name__}: {e}"})
        self._send(200, out)

    def _send(self, code, payload, headers=None):
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8", "surrogateescape")
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def run_ws_server(emu, ready):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    emu.loop = loop
    emu.new_conn = asyncio.Event()

    async def start():
        server = await websockets.server.serve(
            emu.serve_ws, "127.0.0.1", 0, compression=None, process_request=emu.process_request,
            ping_interval=emu.ping_interval, ping_timeout=None, max_size=1 << 20)
        emu.ws_port = server.sockets[0].getsockname()[1]
        ready.set()

    loop.run_until_complete(start())
    loop.run_forever()


def main():
    ap = argparse.ArgumentParser(description="Slack Web API + Socket Mode emulator for tests")
    ap.add_argument("--port", type=int, default=0, help="0 = ephemeral")
    ap.add_argument("--bot-token", default="xoxb-emu-bot-token")
    ap.add_argument("--app-token", default="xapp-1-emu-app-token")
    ap.add_argument("--ping-interval", type=float, default=10.0, help="server pings, seconds")
    args = ap.parse_args()
    emu = Emulator(args.bot_token, args.app_token, args.ping_interval or None)
    ready = threading.Event()
    threading.Thread(target=run_ws_server, args=(emu, ready), daemon=True).start()
    if not ready.wait(10):
        sys.exit("websocket server did not start")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    server.emu = emu
    emu.http_port = server.server_address[1]
    stop = threading.Event()
    parent = os.getppid()

    def watch_parent():  # a test killed before it could stop us must not leave us behind
        while not stop.wait(1.0):
            if os.getppid() != parent:
                stop.set()

    threading.Thread(target=watch_parent, daemon=True).start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
