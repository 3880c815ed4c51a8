#!/usr/bin/env python3
"""Local emulator of the Telegram Bot API (https://core.telegram.org/bots/api) for tests.

Standard library only.  Usage: emulator.py --port 0 --token TOKEN [--token TOKEN2 ...]
Prints exactly one line "listening on http://127.0.0.1:<port>" once ready; exits on SIGTERM/SIGINT.

Emulates /bot<token>/<method> (methods case-insensitive; parameters from the query string and
urlencoded, multipart or JSON bodies): getMe; getUpdates (offset confirmation incl. negative
offsets, limit, long polling up to 50 s, allowed_updates, 409 Conflict for the older of two
overlapping calls); sendMessage (text/chat_id/parse_mode checks, per-chat message ids,
replies, the 4096 limit counted in UTF-16 code units); deleteWebhook, getWebhookInfo;
401/404/413 answers.  Injected messages carry "mention" and "bot_command" entities (offsets in
UTF-16 code units) and may reply to an earlier message.  Does NOT emulate: webhooks, other
update types or methods, media, other entity types, parse_mode entity parsing, chat membership
(any integer chat_id is accepted), real flood limits (only injected faults).
Test controls (JSON, not Bot API): POST /_emu/inject, POST /_emu/faults, GET /_emu/sent,
GET /_emu/stats -- see tests/emulators/README.md.
"""
import argparse
import collections
import email
import itertools
import json
import os
import re
import select
import signal
import socket
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

MAX_BODY = 1 << 20            # request bodies above 1 MiB -> 413
MAX_UPDATES = 10_000          # queued updates per token (oldest dropped)
MAX_MESSAGES = 10_000         # remembered messages per token (for reply_to_message)
MAX_SENT = 100_000            # /_emu/sent log (all tokens)
LONG_POLL_MAX = 50            # telegram-bot-api clamps getUpdates timeout to 50 s
METHODS = {m.lower(): m for m in ("getMe", "getUpdates", "sendMessage", "deleteWebhook", "getWebhookInfo")}
CONFLICT = ("Conflict: terminated by other getUpdates request; "
            "make sure that only one bot instance is running")
TEXT_LIMIT = 4096            # sendMessage text, in UTF-16 code units
MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}\b")
COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{5,32})?\b")
# Text of an update injected with "malformed": true. Its escaped form is replaced on the wire
# by raw control characters, which no JSON parser accepts inside a string.
MALFORMED = "\x00emu:malformed\x00"
MALFORMED_WIRE = (json.dumps(MALFORMED).encode(), b'"\x00emu:malformed\x00"')
STAT_KEYS = ("getUpdates", "sendMessage", "conflicts", "rate_limited", "max_concurrent_pollers")


class ApiError(Exception):
    def __init__(self, code, description, parameters=None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def _int(value, default):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _bool(value):
    return value is True or str(value).lower() in ("true", "1")


def _json(value):  # form fields carry arrays/objects JSON-serialized, JSON bodies natively
    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return None


def utf16_len(text):
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def entities_of(text):
    """The mention and bot_command entities Telegram would attach, offsets in UTF-16 units."""
    out = []
    for kind, pattern in (("mention", MENTION), ("bot_command", COMMAND)):
        for m in pattern.finditer(text):
            out.append({"offset": utf16_len(text[:m.start()]), "length": utf16_len(m.group()),
                        "type": kind})
    return sorted(out, key=lambda e: e["offset"])


def parse_params(query, ctype, body):
    params = dict(parse_qsl(query, keep_blank_values=True))
    kind = ctype.split(";")[0].strip().lower()
    if not body:
        return params
    if kind == "application/json":
        obj = _json(body.decode("utf-8", "replace"))
        if not isinstance(obj, dict):
            raise ApiError(400, "Bad Request: can't parse JSON object")
        params.update({k: v for k, v in obj.items() if v is not None})
    elif kind == "multipart/form-data":
        msg = email.message_from_bytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
        for part in msg.get_payload() if msg.is_multipart() else []:
            name = part.get_param("name", header="content-disposition")
            if name:
                params[name] = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    else:  # application/x-www-form-urlencoded (also the fallback, like the real server)
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


class Bot:
    def __init__(self, token):
        self.token = token
        head = token.split(":", 1)[0]  # real tokens are "<bot id>:<secret>"
        self.id = int(head) if head.isdigit() else 10**9 + zlib.crc32(token.encode()) % 10**9
        self.user = {"id": self.id, "is_bot": True, "first_name": "Emulator Bot",
                     "username": f"emu{self.id}_bot"}
        self.updates = collections.deque(maxlen=MAX_UPDATES)
        self.next_update_id = 1
        self.next_message_id = collections.defaultdict(lambda: 1)  # per chat, shared in/out
        self.chats = {}                                # chat_id -> Chat seen in injected messages
        self.messages = collections.OrderedDict()      # (chat_id, message_id) -> Message
        self.allowed_updates = None
        self.poll_gen = 0                              # bumped by every getUpdates call
        self.pollers = {}                              # gen -> "has the client gone?" callback
        self.stats = dict.fromkeys(STAT_KEYS, 0)

    def new_message(self, chat, sender, text):  # caller holds the lock
        msg = {"message_id": self.next_message_id[chat["id"]], "from": sender, "chat": chat,
               "date": int(time.time()), "text": text}
        self.next_message_id[chat["id"]] += 1
        self.messages[(chat["id"], msg["message_id"])] = msg
        if len(self.messages) > MAX_MESSAGES:
            self.messages.popitem(last=False)
        return msg


class Emulator:
    def __init__(self, tokens):
        self.cond = threading.Condition()  # guards all state; notified on new updates/pollers
        self.bots = {t: Bot(t) for t in tokens}
        self.default_token = tokens[0]
        self.sent = collections.deque(maxlen=MAX_SENT)
        self.faults = {}

    # ---- Bot API -------------------------------------------------------------------
    def call(self, token, method, query, ctype, body, gone):
        bot = self.bots.get(token)
        if bot is None:
            raise ApiError(401, "Unauthorized")
        name = METHODS.get(method.lower())
        if name is None:
            raise ApiError(404, "Not Found")
        with self.cond:
            if name in bot.stats:
                bot.stats[name] += 1
            if self.faults.get("fail_5xx", 0) > 0:
                self.faults["fail_5xx"] -= 1
                raise ApiError(502, "Bad Gateway")
        params = parse_params(query, ctype, body)
        if name == "getUpdates":
            return self.m_getUpdates(bot, params, gone)
        return getattr(self, "m_" + name)(bot, params)

    def m_getMe(self, bot, p):
        return dict(bot.user, can_join_groups=True, can_read_all_group_messages=True,
                    supports_inline_queries=False, can_connect_to_business=False,
                    has_main_web_app=False)

    def m_getUpdates(self, bot, p, gone):
        offset = _int(p.get("offset"), 0)
        limit = min(max(_int(p.get("limit"), 100), 1), 100)
        timeout = min(max(_int(p.get("timeout"), 0), 0), LONG_POLL_MAX)
        allowed = _json(p.get("allowed_updates"))
        deadline = time.monotonic() + timeout
        with self.cond:
            bot.poll_gen += 1                  # terminates any getUpdates still in progress
            gen = bot.poll_gen
            self.cond.notify_all()
            if isinstance(allowed, list):      # persists; [] means "all default types"
                bot.allowed_updates = allowed or None
            if offset < 0:                     # keep only the last -offset updates
                while len(bot.updates) > -offset:
                    bot.updates.popleft()
            elif offset > 0:                   # confirm everything below offset
                while bot.updates and bot.updates[0]["update_id"] < offset:
                    bot.updates.popleft()
            # pollers whose client already hung up (aborted long poll) are not concurrent
            alive = 1 + sum(not g() for g in bot.pollers.values())
            bot.stats["max_concurrent_pollers"] = max(bot.stats["max_concurrent_pollers"], alive)
            bot.pollers[gen] = gone
            try:
                while True:
                    if bot.poll_gen != gen:
                        bot.stats["conflicts"] += 0 if gone() else 1
                        raise ApiError(409, CONFLICT)
                    ready = list(itertools.islice(bot.updates, limit))
                    remaining = deadline - time.monotonic()
                    if ready or remaining <= 0:
                        return ready
                    self.cond.wait(remaining)
            finally:
                del bot.pollers[gen]

    def m_sendMessage(self, bot, p):
        with self.cond:
            rl = self.faults.get("rate_limit")
            if rl and rl["count"] > 0:
                rl["count"] -= 1
                bot.stats["rate_limited"] += 1
                ra = rl["retry_after"]
                raise ApiError(429, f"Too Many Requests: retry after {ra}", {"retry_after": ra})
        chat_id = p.get("chat_id")
        if chat_id in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        if _int(chat_id, None) is None:  # "@channelusername": no such chat here
            raise ApiError(400, "Bad Request: chat not found")
        chat_id = int(chat_id)
        text = "" if p.get("text") is None else str(p["text"])
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > TEXT_LIMIT:
            raise ApiError(400, "Bad Request: message is too long")
        parse_mode = str(p.get("parse_mode") or "")
        if parse_mode.lower() not in ("", "markdown", "markdownv2", "html"):
            raise ApiError(400, "Bad Request: unsupported parse_mode")
        reply = _json(p.get("reply_parameters"))
        reply = reply if isinstance(reply, dict) else {}
        reply_id = _int(reply.get("message_id", p.get("reply_to_message_id")), 0)
        reply_chat = _int(reply.get("chat_id"), chat_id)
        with self.cond:
            target = bot.messages.get((reply_chat, reply_id)) if reply_id else None
            if reply_id and target is None and not _bool(
                    reply.get("allow_sending_without_reply", p.get("allow_sending_without_reply"))):
                raise ApiError(400, "Bad Request: message to be replied not found")
            msg = bot.new_message(bot.chats.get(chat_id, {"id": chat_id, "type": "private"}), bot.user, text)
            if target:  # the nested message never carries its own reply_to_message
                msg["reply_to_message"] = {k: v for k, v in target.items() if k != "reply_to_message"}
            self.sent.append({"chat_id": chat_id, "text": text, "message_id": msg["message_id"],
                              "date": msg["date"], "token": bot.token, "parse_mode": parse_mode or None,
                              "reply_to_message_id": reply_id if target else None})
        return msg

    def m_deleteWebhook(self, bot, p):
        if _bool(p.get("drop_pending_updates")):
            with self.cond:
                bot.updates.clear()
        return True

    def m_getWebhookInfo(self, bot, p):
        return {"url": "", "has_custom_certificate": False, "pending_update_count": len(bot.updates)}

    # ---- test controls ---------------------------------------------------------------
    def bot_for(self, token):
        bot = self.bots.get(token or self.default_token)
        if bot is None:
            raise ValueError(f"unknown token {token!r}")
        return bot

    def inject(self, b):
        bot = self.bot_for(b.get("token"))
        chat_id = int(b["chat_id"])
        # text_hex: raw bytes, possibly invalid UTF-8, sent out as they are (surrogateescape).
        text = (bytes.fromhex(b["text_hex"]).decode("utf-8", "surrogateescape")
                if "text_hex" in b else str(b["text"]))
        if _bool(b.get("malformed")):  # this update's JSON will be broken on the wire
            text = MALFORMED
        ctype = b.get("chat_type", "private")
        if ctype not in ("private", "group", "supergroup"):
            raise ValueError("chat_type must be private, group or supergroup")
        user = {"id": int(b.get("from_id", chat_id if ctype == "private" else 100001)),
                "is_bot": False, "first_name": str(b.get("first_name", "Test"))}
        if b.get("username"):
            user["username"] = str(b["username"])
        chat = {"id": chat_id, "type": ctype, **({k: v for k, v in user.items() if k in ("first_name", "username")}
                if ctype == "private" else {"title": str(b.get("title", "Test Group"))})}
        with self.cond:
            bot.chats[chat_id] = chat
            reply_id = _int(b.get("reply_to_message_id"), 0)
            target = bot.messages.get((chat_id, reply_id)) if reply_id else None
            if reply_id and target is None:
                raise ValueError(f"no message {reply_id} in chat {chat_id}")
            msg = bot.new_message(chat, user, text)
            entities = b.get("entities", entities_of(text))
            if entities:
                msg["entities"] = entities
            if target:
                msg["reply_to_message"] = {k: v for k, v in target.items() if k != "reply_to_message"}
            if bot.allowed_updates and "message" not in bot.allowed_updates:
                return {"update_id": None}     # filtered out, as Telegram would
            uid = bot.next_update_id
            bot.next_update_id += 1
            bot.updates.append({"update_id": uid, "message": msg})
            self.cond.notify_all()
        return {"update_id": uid, "message_id": msg["message_id"]}

    def sent_list(self, token):
        with self.cond:
            return {"messages": [m for m in self.sent if token is None or m["token"] == token]}

    def set_faults(self, b):
        faults = {}
        for key, value in b.items():
            if key == "rate_limit":
                faults[key] = {"count": int(value.get("count", 1)),
                               "retry_after": max(1, int(value.get("retry_after", 1)))}
            elif key in ("slow_ms", "fail_5xx"):
                faults[key] = max(0, int(value))
            elif key == "ascii_json":  # \u escapes for all non-ASCII (invalid bytes: lone surrogates)
                faults[key] = bool(value)
            else:
                raise ValueError(f"unknown fault {key!r}")
        with self.cond:
            self.faults = faults   # replaces all faults; {} clears
        return {"faults": faults}

    def get_stats(self, token):
        with self.cond:
            bots = [self.bot_for(token)] if token else list(self.bots.values())
            out = {k: sum(b.stats[k] for b in bots) for k in STAT_KEYS}
            out["max_concurrent_pollers"] = max(b.stats["max_concurrent_pollers"] for b in bots)
            out["pending_updates"] = sum(len(b.updates) for b in bots)
        return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "TelegramBotAPIEmulator/1.0"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle plus the client's
        # delayed ACK adds ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        emu = self.server.emu
        url = urlsplit(self.path)
        try:
            body = self._read_body()
        except ApiError as e:  # 411/413: answer and drop the connection
            self.close_connection = True
            return self._send(e.code, {"ok": False, "error_code": e.code, "description": e.description})
        if url.path.startswith("/_emu/"):
            return self._control(emu, url, body)
        parts = url.path.split("/")
        try:
            if len(parts) != 3 or not parts[1].startswith("bot"):
                raise ApiError(404, "Not Found")
            result = emu.call(parts[1][3:], parts[2], url.query,
                              self.headers.get("Content-Type", ""), body, self._client_gone)
            code, payload = 200, {"ok": True, "result": result}
        except ApiError as e:
            code, payload = e.code, {"ok": False, "error_code": e.code, "description": e.description}
            if e.parameters:
                payload["parameters"] = e.parameters
        time.sleep(emu.faults.get("slow_ms", 0) / 1000)
        self._send(code, payload)

    do_POST = do_GET

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise ApiError(411, "Length Required")  # not emulated; clients send Content-Length
        length = _int(self.headers.get("Content-Length"), 0)
        if length > MAX_BODY:
            remaining = min(length, 8 * MAX_BODY)   # drain (bounded) so the client sees the 413
            while remaining > 0 and (got := self.rfile.read(min(remaining, 65536))):
                remaining -= len(got)
            raise ApiError(413, "Request Entity Too Large")
        return self.rfile.read(length) if length > 0 else b""

    def _client_gone(self):
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _control(self, emu, url, body):
        query = dict(parse_qsl(url.query))
        try:
            data = json.loads(body) if body.strip() else {}
            if not isinstance(data, dict):
                raise ValueError("body must be a JSON object")
            route = {("POST", "/_emu/inject"): lambda: emu.inject(data),
                     ("POST", "/_emu/faults"): lambda: emu.set_faults(data),
                     ("GET", "/_emu/sent"): lambda: emu.sent_list(query.get("token")),
                     ("GET", "/_emu/stats"): lambda: emu.get_stats(query.get("token"))}.get((self.command, url.path))
            if route is None:
                return self._send(404, {"error": f"no control endpoint {self.command} {url.path}"})
            out = route()
        except (KeyError, ValueError, TypeError, AttributeError) as e:
            return self._send(400, {"error": f"{type(e).__name__}: {e}"})
        self._send(200, out)

    def _send(self, code, payload):
        ascii_json = self.server.emu.faults.get("ascii_json", False)
        data = json.dumps(payload, ensure_ascii=ascii_json).encode("utf-8", "surrogateescape")
        data = data.replace(*MALFORMED_WIRE)
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True   # client gave up (e.g. timed-out long poll)


def main():
    ap = argparse.ArgumentParser(description="Telegram Bot API emulator for tests")
    ap.add_argument("--port", type=int, default=0, help="0 = ephemeral")
    ap.add_argument("--token", action="append", required=True, help="bot token (repeatable)")
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.block_on_close = False  # pending long polls must not delay shutdown
    server.emu = Emulator(args.token)
    stop = threading.Event()
    # A test killed before it could stop us must not leave us behind: exit with the parent.
    parent = os.getppid()

    def watch_parent():
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
