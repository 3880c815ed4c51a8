#!/usr/bin/env python3
"""bench/slack_load.py: the client side of bench/slack.sh (standard library only).

  slack_load.py inject EMU_URL LOG N THREADS USER
      Injects N DMs from USER through the Slack emulator's /_emu/inject (THREADS clients, each on
      one kept-alive connection), then polls the emulator's /_emu/stats (envelopes acknowledged
      by the worker) and LOG (the gateway's stdout: the front's "sender USER is not in
      allowFrom" line per message it refused) every 5 ms until both reach N or 60 s pass.
  slack_load.py http URL SECRET N CONC USER valid|forged
      POSTs N event_callback bodies (a DM from USER, each a new event id and ts), signed with
      SECRET as Slack signs them (v0 HMAC-SHA256 of "v0:<ts>:<body>"), or with a forged
      signature, to URL: CONC clients, each on one kept-alive connection (a closed one is
      reopened and the request sent again once), timed on the client from the request's first
      byte to the whole answer.
Prints one line "RESULT key=value ..."; exits 1 when an answer was not the expected one (200
for valid, 401 for forged) or a wait ran out, 2 on bad usage.
"""
import hashlib
import hmac
import http.client
import json
import os
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit


def conn_for(url):
    u = urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=10)


def request(conn, method, path, body, headers):
    """One request on a kept-alive connection; reopened once when the server had closed it."""
    for attempt in (0, 1):
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            if r.will_close:
                conn.close()
            return r.status, data
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            conn.close()
            if attempt:
                raise
    raise AssertionError("unreachable")


def pct(sorted_ms, p):
    if not sorted_ms:
        return 0.0
    return sorted_ms[min(len(sorted_ms) - 1, int(len(sorted_ms) * p / 100))]


def split(n, k):  # n items into k nearly equal shares
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def inject(emu, log_path, n, threads, user):
    marker = f"sender {user} is not in allowFrom".encode()
    path_stats = "/_emu/stats"

    def stats(conn):
        status, data = request(conn, "GET", path_stats, None, {})
        return json.loads(data)

    poll = conn_for(emu)
    acked0 = stats(poll)["envelopes_acked"]
    retried0 = stats(poll)["envelopes_retried"]
    errors = []

    def worker(share, tid):
        c = conn_for(emu)
        for i in range(share):
            body = json.dumps({"channel": "D0BENCH01", "user": user,
                               "text": f"bench {tid}.{i}"}).encode()
            try:
                status, _ = request(c, "POST", "/_emu/inject", body,
                                    {"Content-Type": "application/json"})
            except OSError as e:
                errors.append(str(e))
                return
            if status != 200:
                errors.append(f"inject answered {status}")
        c.close()

    log = open(log_path, "rb")
    log.seek(0, os.SEEK_END)  # only what the front logs from now on
    seen = 0
    tail = b""
    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(s, i)) for i, s in enumerate(split(n, threads))]
    for t in ts:
        t.start()
    t_injected = t_acked = t_front = None
    acked = 0
    deadline = t0 + 60
    while time.perf_counter() < deadline:
        if t_injected is None and not any(t.is_alive() for t in ts):
            t_injected = time.perf_counter()
        chunk = log.read()
        if chunk:
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop()
            seen += sum(1 for line in lines if marker in line)
        if t_front is None and seen >= n:
            t_front = time.perf_counter()
        if t_acked is None:
            acked = stats(poll)["envelopes_acked"] - acked0
            if acked >= n:
                t_acked = time.perf_counter()
        if t_injected and t_acked and t_front:
            break
        time.sleep(0.005)
    for t in ts:
        t.join(5)
    retried = stats(poll)["envelopes_retried"] - retried0

    def secs(t):
        return "%.3f" % (t - t0) if t else "-"

    def rate(t):
        return "%.0f" % (n / (t - t0)) if t else "-"

    print(f"RESULT n={n} threads={threads} inject_s={secs(t_injected)} acked_s={secs(t_acked)} "
          f"front_s={secs(t_front)} inject_rate={rate(t_injected)} acked_rate={rate(t_acked)} "
          f"front_rate={rate(t_front)} acked={acked} front_seen={seen} retried={retried} "
          f"errors={len(errors)}")
    for e in errors[:3]:
        print("error:", e, file=sys.stderr)
    return 0 if (t_acked and t_front and not errors) else 1


_last_us = [0]


def signed_body(secret, user, forged):
    # Slack's ts is the message's id (the front drops a repeat of <channel>:<ts>): microseconds,
    # strictly increasing here, and later than any earlier run's.
    _last_us[0] = max(_last_us[0] + 1, int(time.time() * 1e6))
    ts = "%d.%06d" % divmod(_last_us[0], 1000000)
    event = {"type": "message", "channel": "D0BENCH01", "channel_type": "im", "user": user,
             "text": "bench http", "ts": ts, "event_ts": ts, "team": "T0EMU0001",
             "client_msg_id": str(uuid.uuid4())}
    body = json.dumps({"token": "bench", "team_id": "T0EMU0001", "api_app_id": "A0EMU0001",
                       "event": event, "type": "event_callback",
                       "event_id": "Ev" + uuid.uuid4().hex[:12].upper(),
                       "event_time": int(time.time())}).encode()
    now = str(int(time.time()))
    sig = "v0=" + hmac.new(secret.encode(), b"v0:" + now.encode() + b":" + body,
                           hashlib.sha256).hexdigest()
    if forged:
        sig = sig[:-4] + ("0000" if not sig.endswith("0000") else "1111")
    return body, {"Content-Type": "application/json", "X-Slack-Request-Timestamp": now,
                  "X-Slack-Signature": sig}


def http_run(url, secret, n, conc, user, kind):
    forged = kind == "forged"
    want = 401 if forged else 200
    path = urlsplit(url).path
    lat, bad, errors = [], [], []
    lock = threading.Lock()
    # Bodies are made before the clock starts: the figure is the gateway's, not the signer's.
    work = [[signed_body(secret, user, forged) for _ in range(s)] for s in split(n, conc)]

    def worker(items):
        c = conn_for(url)
        mine, wrong = [], []
        for body, headers in items:
            t = time.perf_counter()
            try:
                status, _ = request(c, "POST", path, body, headers)
            except OSError as e:
                with lock:
                    errors.append(str(e))
                return
            mine.append((time.perf_counter() - t) * 1000)
            if status != want:
                wrong.append(status)
        c.close()
        with lock:
            lat.extend(mine)
            bad.extend(wrong)

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(w,)) for w in work]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    print(f"RESULT kind={kind} n={n} conc={conc} rate={len(lat) / wall:.0f} "
          f"p50_ms={pct(lat, 50):.3f} p99_ms={pct(lat, 99):.3f} max_ms={pct(lat, 100):.3f} "
          f"answered={len(lat)} unexpected={len(bad)} errors={len(errors)}"
          + (f" first_unexpected={bad[0]}" if bad else ""))
    for e in errors[:3]:
        print("error:", e, file=sys.stderr)
    return 0 if (len(lat) == n and not bad and not errors) else 1


def main(argv):
    try:
        if argv[1] == "inject" and len(argv) == 7:
            return inject(argv[2], argv[3], int(argv[4]), int(argv[5]), argv[6])
        if argv[1] == "http" and len(argv) == 8 and argv[7] in ("valid", "forged"):
            return http_run(argv[2], argv[3], int(argv[4]), int(argv[5]), argv[6], argv[7])
    except (IndexError, ValueError):
        pass
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
