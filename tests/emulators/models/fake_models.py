#!/usr/bin/env python3
"""Local fake of two model APIs (OpenAI Chat Completions and Anthropic Messages) for tests.

Standard library only.  Usage: fake_models.py --port 0
Prints exactly one line "listening on http://127.0.0.1:<port>" once ready; exits 0 on
SIGTERM/SIGINT, even with streams open.

Emulated, closely enough for an unmodified client of each API:
  * OpenAI  (https://platform.openai.com/docs/api-reference/chat):
      POST /v1/chat/completions  (Authorization: Bearer <any non-empty key>), stream true/false,
        stream_options.include_usage (null `usage` on every chunk, then a usage chunk with
        `choices: []`), `data: [DONE]` terminator; GET /v1/models.
  * Anthropic (https://docs.anthropic.com/en/api/messages, .../messages-streaming):
      POST /v1/messages  (x-api-key: <any non-empty key>, or Authorization: Bearer <key> as
        current official SDKs send it; anthropic-version required),
        stream true/false; events message_start, content_block_start, ping, content_block_delta
        (text_delta), content_block_stop, message_delta (end_turn + usage), message_stop;
        `event: error` for mid-stream failures; GET /v1/models with x-api-key or
        anthropic-version lists models in Anthropic's shape.
  Streams use Transfer-Encoding: chunked (as the real APIs do), so connections stay reusable.
  Errors use each provider's error body shape and status codes (400/401/404/429/500).

The answer is deterministic: "Hello from the fake model. You said: <last user text>" (or the
scripted `reply`), streamed in pieces of `chunk_chars` characters every `delay_ms` ms.  Token
counts are estimates (ceil(chars / 4)), not a real tokenizer.

Tools: the script's `turns` are answers taken one per model request; a turn with `tool_calls`
streams them as the API does (OpenAI `delta.tool_calls` by index, arguments in fragments of
`args_chunk` characters, finish_reason "tool_calls"; Anthropic `tool_use` content blocks with
`input_json_delta` fragments, stop_reason "tool_use"). Requests are checked as the real APIs check
them: every OpenAI `role: "tool"` message answers a `tool_calls` id of the assistant message before
it and every call is answered; every Anthropic `tool_use` block is answered by a `tool_result` in
the next user message, and every `tool_result` names a `tool_use` of the message before.

NOT emulated: images, n > 1, logprobs, max_tokens truncation, stop sequences, the Responses API,
real rate-limit headers, key validity (any non-empty key works), tool_choice.

Test controls (JSON, not part of either API) under /_emu/: POST /_emu/script, GET /_emu/script,
GET /_emu/requests, GET /_emu/stats, POST /_emu/reset -- see tests/emulators/README.md.
"""
import argparse
import collections
import itertools
import json
import os
import math
import select
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

MAX_BODY = 8 << 20           # request bodies above 8 MiB -> 413
MAX_REQUESTS = 1000          # /_emu/requests log bound (oldest dropped)
DEFAULT_CHUNK_CHARS = 6
DEFAULT_DELAY_MS = 15
SPLIT_PAUSE = 0.003          # pause between the partial writes of one event (split_writes)
MID_STREAM_ERROR = "fake mid-stream failure"
OPENAI_MODELS = ("fake-model", "gpt-4o-mini", "gpt-4o")
ANTHROPIC_MODELS = ("claude-fake-1", "claude-sonnet-4-5", "claude-haiku-4-5")
STAT_KEYS = ("requests", "streams_started", "streams_completed", "streams_aborted_by_client",
             "streams_failed", "injected_http_errors")


def _nonneg_int(v):
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError("must be a non-negative integer")
    return v


def _pos_int(v):
    if _nonneg_int(v) < 1:
        raise ValueError("must be >= 1")
    return v


def _nonneg_num(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise ValueError("must be a non-negative number")
    return v


def _boolean(v):
    if not isinstance(v, bool):
        raise ValueError("must be true or false")
    return v


def _string(v):
    if not isinstance(v, str):
        raise ValueError("must be a string")
    return v


def _turns(v):
    """A list of scripted answers: {reply?: str, tool_calls?: [{name, arguments, id?}]}."""
    if not isinstance(v, list):
        raise ValueError("must be a list of turns")
    out = []
    for i, t in enumerate(v):
        if not isinstance(t, dict) or set(t) - {"reply", "tool_calls"}:
            raise ValueError(f"turn {i}: an object with reply and/or tool_calls")
        if "reply" in t:
            _string(t["reply"])
        calls = t.get("tool_calls", [])
        if not isinstance(calls, list):
            raise ValueError(f"turn {i}: tool_calls must be a list")
        for c in calls:
            if (not isinstance(c, dict) or set(c) - {"name", "arguments", "id"}
                    or not isinstance(c.get("name"), str) or not isinstance(c.get("arguments"), str)
                    or not isinstance(c.get("id", ""), str)):
                raise ValueError(f"turn {i}: a tool call is {{name: str, arguments: str, id?: str}}")
        out.append(t)
    return out


SCRIPT_KEYS = {
    "reply": _string, "chunk_chars": _pos_int, "delay_ms": _nonneg_num,
    "first_delay_ms": _nonneg_num, "split_writes": _boolean, "keepalive": _boolean,
    "error_after_chunks": _nonneg_int, "disconnect_after_chunks": _nonneg_int,
    "status_429": _nonneg_int, "status_500": _nonneg_int, "hang": _boolean,
    "turns": _turns, "args_chunk": _pos_int,
}
DEFAULT_ARGS_CHUNK = 7


def dumps(obj):  # compact, UTF-8 (not \u-escaped), like the real APIs
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def est_tokens(text):
    return max(1, math.ceil(len(text) / 4)) if text else 0


def content_text(content):
    """Text of a message `content`: a string or a list of parts ({type: "text", text})."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content
                       if isinstance(p, dict) and p.get("type") in ("text", "input_text")
                       and isinstance(p.get("text"), str))
    return ""


def last_user_text(messages):
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            return content_text(m.get("content"))
    return ""


def check_openai_tools(messages):
    """The real API's tool pairing rules: tool messages answer the calls just before them."""
    open_ids = set()
    for i, m in enumerate(messages):
        role = m.get("role")
        if role == "tool":
            if m.get("tool_call_id") not in open_ids:
                raise ApiError(400, "invalid_request_error", "Invalid parameter: messages with role "
                               "'tool' must be a response to a preceeding message with 'tool_calls'.",
                               param=f"messages.[{i}].role")
            open_ids.discard(m.get("tool_call_id"))
            continue
        if open_ids:
            raise ApiError(400, "invalid_request_error", "An assistant message with 'tool_calls' "
                           "must be followed by tool messages responding to each 'tool_call_id'. "
                           f"The following tool_call_ids did not have response messages: "
                           f"{', '.join(sorted(open_ids))}", param="messages")
        if role == "assistant" and isinstance(m.get("tool_calls"), list):
            for c in m["tool_calls"]:
                fn = c.get("function") if isinstance(c, dict) else None
                if (not isinstance(c, dict) or not isinstance(c.get("id"), str) or c.get("type") != "function"
                        or not isinstance(fn, dict) or not isinstance(fn.get("arguments"), str)):
                    raise ApiError(400, "invalid_request_error", f"Invalid 'messages[{i}].tool_calls'.")
                open_ids.add(c["id"])
    if open_ids:
        raise ApiError(400, "invalid_request_error", "An assistant message with 'tool_calls' must be "
                       "followed by tool messages responding to each 'tool_call_id'.", param="messages")


def _object(text):
    try:
        v = json.loads(text or "{}")
    except ValueError:
        return {}
    return v if isinstance(v, dict) else {}


def _blocks(m, kind):
    c = m.get("content")
    return [b for b in c if isinstance(b, dict) and b.get("type") == kind] if isinstance(c, list) else []


def check_anthropic_tools(messages):
    """The real API's rules: each tool_use is answered by a tool_result in the next message."""
    for i, m in enumerate(messages):
        uses = {b.get("id") for b in _blocks(m, "tool_use")} if m.get("role") == "assistant" else set()
        for b in _blocks(m, "tool_use"):
            if not isinstance(b.get("input"), dict):
                raise ApiError(400, "invalid_request_error",
                               f"messages.{i}.content: tool_use.input: Input should be a valid dictionary")
        results = {b.get("tool_use_id") for b in _blocks(m, "tool_result")} if m.get("role") == "user" else set()
        before = messages[i - 1] if i > 0 else {}
        if results - {b.get("id") for b in _blocks(before, "tool_use")}:
            raise ApiError(400, "invalid_request_error", f"messages.{i}.content: unexpected `tool_use_id` "
                           "found in `tool_result` blocks. Each `tool_result` block must have a "
                           "corresponding `tool_use` block in the previous message.")
        after = messages[i + 1] if i + 1 < len(messages) else None
        if uses and (after is None or uses - {b.get("tool_use_id") for b in _blocks(after, "tool_result")}):
            if after is None and i == len(messages) - 1:
                continue   # a prefill ending in tool_use: the API would answer; not ours
            raise ApiError(400, "invalid_request_error", f"messages.{i + 1}: `tool_use` ids were found "
                           "without `tool_result` blocks immediately after")


class ClientGone(Exception):
    """The client closed the connection (or the server is stopping) mid-response."""


class ApiError(Exception):
    def __init__(self, status, kind, message, code=None, param=None, headers=()):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message
        self.code, self.param, self.headers = code, param, list(headers)

    def body(self, provider):
        if provider == "anthropic":
            return {"type": "error", "error": {"type": self.kind, "message": self.message}}
        return {"error": {"message": self.message, "type": self.kind, "param": self.param,
                          "code": self.code}}


def fault_error(provider, status):
    if status == 429:
        headers = [("retry-after", "1")]
        if provider == "anthropic":
            return ApiError(429, "rate_limit_error", "Number of requests has exceeded your rate "
                            "limit (fake). Please try again later.", headers=headers)
        return ApiError(429, "requests", "Rate limit reached for requests (fake). Please try "
                        "again in 1s.", code="rate_limit_exceeded", headers=headers)
    if provider == "anthropic":
        return ApiError(500, "api_error", "Internal server error (fake)")
    return ApiError(500, "server_error", "The server had an error while processing your "
                    "request. Sorry about that! (fake)")


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.ids = itertools.count(1)   # response ids; never reset, so ids stay unique
        self.stopping = threading.Event()
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = collections.deque(maxlen=MAX_REQUESTS)
            self.script = {}
            self.stats = dict.fromkeys(STAT_KEYS, 0)

    def bump(self, key, n=1):
        with self.lock:
            self.stats[key] += n

    def next_id(self):
        with self.lock:
            return next(self.ids)

    def record(self, entry):
        with self.lock:
            self.requests.append(entry)
            self.stats["requests"] += 1

    def set_script(self, data):
        script = {}
        for key, value in data.items():
            check = SCRIPT_KEYS.get(key)
            if check is None:
                raise ValueError(f"unknown script key {key!r} (known: {', '.join(SCRIPT_KEYS)})")
            try:
                script[key] = check(value)
            except ValueError as e:
                raise ValueError(f"{key}: {e}") from None
        with self.lock:
            self.script = script   # replaces the whole script; {} resets
        return {"script": script}

    def take(self):
        """Snapshot of the script for one model request, consuming a status fault if any, or
        else the next scripted turn."""
        with self.lock:
            snap = dict(self.script)
            snap.pop("turns", None)
            for key, status in (("status_429", 429), ("status_500", 500)):
                if self.script.get(key, 0) > 0:
                    self.script[key] -= 1
                    self.stats["injected_http_errors"] += 1
                    snap["fault"] = status
                    break
            turns = self.script.get("turns")
            if "fault" not in snap and turns:
                snap["turn"] = turns.pop(0)
        return snap


class Stream:
    """One SSE response body, written with chunked transfer encoding."""

    def __init__(self, handler, script):
        self.h, self.script = handler, script
        self.events = 0

    def start(self, headers):
        h = self.h
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream; charset=utf-8")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Transfer-Encoding", "chunked")
        for k, v in headers:
            h.send_header(k, v)
        try:
            h.end_headers()
        except OSError as e:
            raise ClientGone() from e
        h.server.state.bump("streams_started")

    def _chunk(self, data):
        try:
            self.h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as e:
            raise ClientGone() from e

    def send(self, text):
        """Send one complete SSE event (text must end with a blank line)."""
        if self.script.get("keepalive") and self.events:
            self._chunk(b": keep-alive\n\n")
        data = text.encode("utf-8")
        if self.script.get("split_writes") and len(data) >= 8:
            # Three writes: the first ends mid-line (inside the JSON, possibly inside a UTF-8
            # sequence), the last is the final "\n" of the blank line that ends the event.
            cuts = [0, len(data) // 2, len(data) - 1, len(data)]
            for i in range(3):
                self._chunk(data[cuts[i]:cuts[i + 1]])
                if i < 2:
                    time.sleep(SPLIT_PAUSE)
        else:
            self._chunk(data)
        self.events += 1

    def end(self):
        try:
            self.h.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as e:
            raise ClientGone() from e

    def drop(self):
        """Close the connection without finishing the chunked body (a network failure)."""
        self.h.close_connection = True
        try:
            self.h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def wait(self, seconds):
        self.h.wait(seconds)

    def hang(self):
        while True:
            self.h.wait(0.25)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeModels/1.0"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle plus the client's
        # delayed ACK adds ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # ---- plumbing ------------------------------------------------------------------------
    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass   # trailers
                    return bytes(out)
                if len(out) + size > MAX_BODY:
                    raise ApiError(413, "request_too_large", "Request exceeds the maximum size")
                out += self.rfile.read(size)
                self.rfile.readline(1024)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY:
            raise ApiError(413, "request_too_large", "Request exceeds the maximum size")
        return self.rfile.read(length) if length > 0 else b""

    def client_gone(self, timeout=0.0):
        """True if the peer closed its end; waits up to `timeout` for that to happen."""
        try:
            readable, _, _ = select.select([self.connection], [], [], timeout)
            if not readable:
                return False
            if self.connection.recv(1, socket.MSG_PEEK) == b"":
                return True
        except OSError:
            return True
        time.sleep(timeout)   # readable with data (unexpected pipelining): just wait
        return False

    def wait(self, seconds):
        """Sleep `seconds`, raising ClientGone as soon as the client disconnects."""
        deadline = time.monotonic() + seconds
        while True:
            if self.server.state.stopping.is_set():
                raise ClientGone()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self.client_gone(min(remaining, 0.1)):
                raise ClientGone()

    def send_json(self, status, payload, headers=()):
        data = dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True

    # ---- dispatch ------------------------------------------------------------------------
    def do_GET(self):
        url = urlsplit(self.path)
        if url.path in ("/v1/messages", "/v1/chat/completions"):
            provider = "anthropic" if url.path == "/v1/messages" else "openai"
        else:   # e.g. GET /v1/models: answer in the shape of whichever client is asking
            provider = "anthropic" if ("x-api-key" in self.headers
                                       or "anthropic-version" in self.headers) else "openai"
        try:
            raw = self._read_body()
        except (ApiError, ValueError) as e:
            self.close_connection = True
            err = e if isinstance(e, ApiError) else ApiError(400, "invalid_request_error", "bad chunked body")
            return self.send_json(err.status, err.body(provider))
        if url.path.startswith("/_emu/"):
            return self._control(url.path, raw)
        text = raw.decode("utf-8", "replace")
        try:
            body = json.loads(text) if text.strip() else None
        except ValueError:
            body = text
        state = self.server.state
        state.record({"method": self.command, "path": url.path, "query": url.query,
                      "headers": {k.lower(): v for k, v in self.headers.items()},
                      "body": body, "time": time.time()})
        try:
            route = {("POST", "/v1/chat/completions"): self.openai_chat,
                     ("POST", "/v1/messages"): self.anthropic_messages,
                     ("GET", "/v1/models"): self.list_models}.get((self.command, url.path))
            if route is None:
                if provider == "anthropic":
                    raise ApiError(404, "not_found_error", f"Not found: {self.command} {url.path}")
                raise ApiError(404, "invalid_request_error", f"Invalid URL ({self.command} {url.path})")
            route(body, provider)
        except ApiError as e:
            self.send_json(e.status, e.body(provider), e.headers + self._id_headers(provider))
        except ClientGone:
            self.close_connection = True
            if not state.stopping.is_set():
                state.bump("streams_aborted_by_client")

    do_POST = do_GET
    do_PUT = do_DELETE = do_PATCH = do_GET

    def _id_headers(self, provider):
        n = self.server.state.next_id()
        if provider == "anthropic":
            return [("request-id", f"req_fake{n:08d}")]
        return [("x-request-id", f"req_fake{n:08d}"), ("openai-processing-ms", "1")]

    def _control(self, path, raw):
        state = self.server.state
        try:
            data = json.loads(raw) if raw.strip() else {}
            if not isinstance(data, dict):
                raise ValueError("body must be a JSON object")
            if (self.command, path) == ("POST", "/_emu/script"):
                out = state.set_script(data)
            elif (self.command, path) == ("GET", "/_emu/script"):
                with state.lock:
                    out = {"script": dict(state.script)}
            elif (self.command, path) == ("GET", "/_emu/requests"):
                with state.lock:
                    out = {"requests": list(state.requests)}
            elif (self.command, path) == ("GET", "/_emu/stats"):
                with state.lock:
                    out = dict(state.stats)
            elif (self.command, path) == ("POST", "/_emu/reset"):
                state.reset()
                out = {"reset": True}
            else:
                return self.send_json(404, {"error": f"no control endpoint {self.command} {path}"})
        except ValueError as e:
            return self.send_json(400, {"error": str(e)})
        self.send_json(200, out)

    # ---- common --------------------------------------------------------------------------
    def _auth(self, provider):
        scheme, _, key = self.headers.get("Authorization", "").partition(" ")
        bearer = scheme.lower() == "bearer" and key.strip()
        if provider == "anthropic":
            # x-api-key is the documented header; current official SDKs send the API key as
            # "Authorization: Bearer", which the real API accepts too.
            if not (self.headers.get("x-api-key", "").strip() or bearer):
                raise ApiError(401, "authentication_error", "x-api-key header is required")
            return
        if not bearer:
            raise ApiError(401, "invalid_request_error", "You didn't provide an API key. You need "
                           "to provide your API key in an Authorization header using Bearer auth "
                           "(i.e. Authorization: Bearer YOUR_KEY).", code=None)

    def _answer(self, script, messages):
        turn = script.get("turn") or {}
        reply = turn.get("reply", script.get("reply"))
        if reply is None:
            reply = "" if turn.get("tool_calls") else (
                "Hello from the fake model. You said: " + last_user_text(messages))
        n = script.get("chunk_chars", DEFAULT_CHUNK_CHARS)
        return reply, [reply[i:i + n] for i in range(0, len(reply), n)]

    def _tool_calls(self, script, prefix):
        """The turn's tool calls with ids, each with its argument fragments."""
        n = script.get("args_chunk", DEFAULT_ARGS_CHUNK)
        out = []
        for i, c in enumerate((script.get("turn") or {}).get("tool_calls", [])):
            args = c["arguments"]
            cid = c.get("id") or f"{prefix}{self.server.state.next_id():06d}_{i}"
            out.append((cid, c["name"], args, [args[j:j + n] for j in range(0, len(args), n)]))
        return out

    def _pre_body(self, script, provider, stream):
        """Common handling once the request is valid: injected status faults, hangs, delays."""
        if "fault" in script:
            raise fault_error(provider, script["fault"])
        if script.get("hang") and not stream:
            while True:   # no headers for a non-streamed answer: nothing at all until the client goes
                self.wait(0.25)

    def _content_loop(self, s, script, pieces, send_piece, send_error):
        """Send the content pieces with the scripted delays and failures. False if failed."""
        n_err = script.get("error_after_chunks")
        n_drop = script.get("disconnect_after_chunks")
        for i in range(len(pieces) + 1):
            if n_err is not None and i == min(n_err, len(pieces)):
                send_error()
                s.end()
                self.close_connection = True
                self.server.state.bump("streams_failed")
                return False
            if n_drop is not None and i == min(n_drop, len(pieces)):
                s.drop()
                self.server.state.bump("streams_failed")
                return False
            if i == len(pieces):
                return True
            s.wait((script.get("first_delay_ms", 0) if i == 0 else
                    script.get("delay_ms", DEFAULT_DELAY_MS)) / 1000)
            send_piece(pieces[i])

    # ---- OpenAI --------------------------------------------------------------------------
    def list_models(self, body, provider):
        self._auth(provider)
        if provider == "anthropic":
            data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                    for m in ANTHROPIC_MODELS]
            out = {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
        else:
            out = {"object": "list", "data": [{"id": m, "object": "model", "created": 1700000000,
                                               "owned_by": "fake"} for m in OPENAI_MODELS]}
        self.send_json(200, out, self._id_headers(provider))

    def openai_chat(self, body, provider):
        self._auth(provider)
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_request_error", "We could not parse the JSON body of your "
                           "request. The OpenAI API expects a JSON payload.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise ApiError(400, "invalid_request_error", "you must provide a model parameter")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ApiError(400, "invalid_request_error", "Missing required parameter: 'messages'.",
                           code="missing_required_parameter", param="messages")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in ("system", "developer", "user",
                                                                "assistant", "tool", "function"):
                raise ApiError(400, "invalid_request_error", f"Invalid value for 'messages[{i}].role'.",
                               code="invalid_value", param=f"messages[{i}].role")
        check_openai_tools(messages)
        stream = body.get("stream") is True
        opts = body.get("stream_options")
        include_usage = stream and isinstance(opts, dict) and opts.get("include_usage") is True
        script = self.server.state.take()
        self._pre_body(script, provider, stream)
        reply, pieces = self._answer(script, messages)
        n = self.server.state.next_id()
        cid, created = f"chatcmpl-fake{n:08d}", int(time.time())
        prompt = "".join(content_text(m.get("content")) for m in messages)
        usage = {"prompt_tokens": est_tokens(prompt), "completion_tokens": est_tokens(reply),
                 "total_tokens": est_tokens(prompt) + est_tokens(reply)}
        headers = self._id_headers(provider)
        calls = self._tool_calls(script, "call_fake")
        finish = "tool_calls" if calls else "stop"
        if not stream:
            self.wait(script.get("first_delay_ms", 0) / 1000)
            message = {"role": "assistant", "content": reply or None, "refusal": None}
            if calls:
                message["tool_calls"] = [{"id": cid_, "type": "function",
                                          "function": {"name": name, "arguments": args}}
                                         for cid_, name, args, _ in calls]
            return self.send_json(200, {
                "id": cid, "object": "chat.completion", "created": created, "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "message": message,
                             "logprobs": None, "finish_reason": finish}],
                "usage": usage}, headers)

        def chunk(delta, finish=None, choices=True):
            obj = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                   "system_fingerprint": "fp_fake",
                   "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                "finish_reason": finish}] if choices else []}
            if include_usage:
                obj["usage"] = None
            return "data: " + dumps(obj) + "\n\n"

        s = Stream(self, script)
        s.start(headers)
        if script.get("hang"):
            s.hang()
        s.send(chunk({"role": "assistant"}))
        err = {"error": {"message": MID_STREAM_ERROR, "type": "server_error", "param": None, "code": None}}
        if not self._content_loop(s, script, pieces, lambda p: s.send(chunk({"content": p})),
                                  lambda: s.send("data: " + dumps(err) + "\n\n")):
            return
        for i, (call_id, name, _, fragments) in enumerate(calls):
            s.send(chunk({"tool_calls": [{"index": i, "id": call_id, "type": "function",
                                          "function": {"name": name, "arguments": ""}}]}))
            for f in fragments:
                s.send(chunk({"tool_calls": [{"index": i, "function": {"arguments": f}}]}))
        s.send(chunk({}, finish))
        if include_usage:
            last = json.loads(chunk({}, choices=False)[6:])
            last["usage"] = usage
            s.send("data: " + dumps(last) + "\n\n")
        s.send("data: [DONE]\n\n")
        s.end()
        self.server.state.bump("streams_completed")

    # ---- Anthropic -----------------------------------------------------------------------
    def anthropic_messages(self, body, provider):
        self._auth(provider)
        if not self.headers.get("anthropic-version", "").strip():
            raise ApiError(400, "invalid_request_error", "anthropic-version: header is required")
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_request_error", "There was an issue with your request body: "
                           "expected a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise ApiError(400, "invalid_request_error", "model: Field required")
        mt = body.get("max_tokens")
        if isinstance(mt, bool) or not isinstance(mt, int) or mt < 1:
            raise ApiError(400, "invalid_request_error", "max_tokens: Field required"
                           if mt is None else "max_tokens: Input should be a positive integer")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ApiError(400, "invalid_request_error", "messages: at least one message is required")
        for i, m in enumerate(messages):
            role = m.get("role") if isinstance(m, dict) else None
            if role not in ("user", "assistant"):
                raise ApiError(400, "invalid_request_error",
                               f'messages.{i}.role: Input should be \'user\' or \'assistant\''
                               + ('. The Messages API accepts a top-level `system` parameter, not '
                                  '"system" as an input message role.' if role == "system" else ""))
            c = m.get("content")
            if not isinstance(c, (str, list)):
                raise ApiError(400, "invalid_request_error", f"messages.{i}.content: Field required")
        check_anthropic_tools(messages)
        system = body.get("system")
        if system is not None and not isinstance(system, (str, list)):
            raise ApiError(400, "invalid_request_error", "system: Input should be a valid string or list")
        stream = body.get("stream") is True
        script = self.server.state.take()
        self._pre_body(script, provider, stream)
        reply, pieces = self._answer(script, messages)
        n = self.server.state.next_id()
        mid = f"msg_fake{n:08d}"
        prompt = content_text(system) + "".join(content_text(m.get("content")) for m in messages)
        in_tok, out_tok = est_tokens(prompt), est_tokens(reply)
        headers = self._id_headers(provider)
        calls = self._tool_calls(script, "toolu_fake")
        stop = "tool_use" if calls else "end_turn"
        content = [{"type": "text", "text": reply}] if reply or not calls else []
        content += [{"type": "tool_use", "id": cid_, "name": name, "input": _object(args)}
                    for cid_, name, args, _ in calls] if not stream else []
        message = {"id": mid, "type": "message", "role": "assistant", "model": model,
                   "content": content, "stop_reason": stop,
                   "stop_sequence": None,
                   "usage": {"input_tokens": in_tok, "cache_creation_input_tokens": 0,
                             "cache_read_input_tokens": 0, "output_tokens": out_tok}}
        if not stream:
            self.wait(script.get("first_delay_ms", 0) / 1000)
            return self.send_json(200, message, headers)

        def event(name, obj):
            return f"event: {name}\ndata: " + dumps(obj) + "\n\n"

        s = Stream(self, script)
        s.start(headers)
        if script.get("hang"):
            s.hang()
        start = dict(message, content=[], stop_reason=None,
                     usage=dict(message["usage"], output_tokens=1))
        s.send(event("message_start", {"type": "message_start", "message": start}))
        has_text = bool(reply) or not calls
        if has_text:
            s.send(event("content_block_start", {"type": "content_block_start", "index": 0,
                                                 "content_block": {"type": "text", "text": ""}}))
        s.send(event("ping", {"type": "ping"}))
        err = {"type": "error", "error": {"type": "overloaded_error", "message": MID_STREAM_ERROR}}
        if not self._content_loop(
                s, script, pieces,
                lambda p: s.send(event("content_block_delta", {
                    "type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": p}})),
                lambda: s.send(event("error", err))):
            return
        if has_text:
            s.send(event("content_block_stop", {"type": "content_block_stop", "index": 0}))
        for i, (call_id, name, _, fragments) in enumerate(calls, start=1 if has_text else 0):
            s.send(event("content_block_start", {
                "type": "content_block_start", "index": i,
                "content_block": {"type": "tool_use", "id": call_id, "name": name, "input": {}}}))
            for f in fragments:
                s.send(event("content_block_delta", {
                    "type": "content_block_delta", "index": i,
                    "delta": {"type": "input_json_delta", "partial_json": f}}))
            s.send(event("content_block_stop", {"type": "content_block_stop", "index": i}))
        s.send(event("message_delta", {"type": "message_delta",
                                       "delta": {"stop_reason": stop, "stop_sequence": None},
                                       "usage": {"output_tokens": out_tok}}))
        s.send(event("message_stop", {"type": "message_stop"}))
        s.end()
        self.server.state.bump("streams_completed")


def main():
    ap = argparse.ArgumentParser(description="Fake OpenAI + Anthropic model APIs for tests")
    ap.add_argument("--port", type=int, default=0, help="0 = ephemeral")
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.block_on_close = False   # open streams must not delay shutdown
    server.state = State()
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
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    while not stop.wait(0.5):
        pass
    server.state.stopping.set()     # hanging/sleeping streams give up
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
