#!/usr/bin/env python3
"""bench/slack_load.py: the client side of bench/slack.sh (standard library only).

  slack_load.py inject EMU_URL LOG N THREADS USER
      Injects N DMs from USER through the Slack emulator's /_emu/inject (THREADS clients, each on
      one kept-alive connection), then polls the emulator's /_emu/stats (envelopes acknowledged
      by the worker) and LOG (the gateway's stdout: the front's "sender USER is not in
      allowFrom" line per message it refused) every 5 ms until both reach N or 60 s pass.
  slack_load.py burst EMU_URL LOG N USER START_CMD...
      With no Socket Mode connection open (the worker stopped), injects N DMs (they wait in the
      emulator), runs START_CMD (which starts the worker), and times from the moment the
      emulator reports the connection open (polled every 2 ms) until the worker has acknowledged
      all N and the front has refused all N: the gateway's pace, not the injector's.
  slack_load.py http URL SECRET N CONC USER valid|forged [NAME=PID ...]
      POSTs N event_callback bodies (a DM from USER, each a new event id and ts), signed with
      SECRET as Slack signs them (v0 HMAC-SHA256 of "v0:<ts>:<body>"), or with a forged
      signature, to URL: CONC clients, each on one kept-alive connection (a closed one is
      reopened and the request sent again once), timed on the client from the request's first
      byte to the whole answer; the CPU of the client and of each NAME=PID over the same time.
Prints one line "RESULT key=value ..."; exits 1 when an answer was not the expected one (200
for valid, 401 for forged) or a wait ran out, 2 on bad usage.
"""
import hashlib
import hmac
import http.client
import json
import os
import resource
import subprocess
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


def stats(conn):
    status, data = request(conn, "GET", "/_emu/stats", None, {})
    if status != 200:
        raise OSError(f"/_emu/stats answered {status}")
    return json.loads(data)


class LogCount:
    """Counts the lines naming `marker` that a log file gains from now on."""

    def __init__(self, path, marker):
        self.f = open(path, "rb")
        self.f.seek(0, os.SEEK_END)
        self.marker, self.tail, self.seen = marker, b"", 0

    def poll(self):
        chunk = self.f.read()
        if chunk:
            lines = (self.tail + chunk).split(b"\n")
            self.tail = lines.pop()
            self.seen += sum(1 for line in lines if self.marker in line)
        return self.seen


def inject_dm(conn, user, text, errors):
    body = json.dumps({"channel": "D0BENCH01", "user": user, "text": text}).encode()
    try:
        status, _ = request(conn, "POST", "/_emu/inject", body, {"Content-Type": "application/json"})
    except OSError as e:
        errors.append(str(e))
        return False
    if status != 200:
        errors.append(f"inject answered {status}")
    return True


def burst(emu, log_path, n, user, start_cmd):
    poll = conn_for(emu)
    deadline = time.perf_counter() + 5  # the stopped worker's connection closing
    while stats(poll)["open_connections"]:
        if time.perf_counter() > deadline:
            print("burst: a Socket Mode connection is still open after 5 s", file=sys.stderr)
            return 1
        time.sleep(0.01)
    s0 = stats(poll)
    errors = []
    c = conn_for(emu)
    for i in range(n):
        if not inject_dm(c, user, f"burst {i}", errors):
            break
    c.close()
    log = LogCount(log_path, f"sender {user} is not in allowFrom".encode())
    t_start = time.perf_counter()
    start = subprocess.run(start_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=20)
    if start.returncode:
        errors.append("start: " + start.stderr.decode(errors="replace").strip()[-200:])
    t_conn = t_acked = t_front = None
    acked = 0
    deadline = t_start + 60
    last_stats = 0.0
    while time.perf_counter() < deadline and not errors:
        now = time.perf_counter()
        if t_conn is None:
            if stats(poll)["open_connections"]:
                t_conn = time.perf_counter()
            time.sleep(0.002)
            continue
        if t_front is None and log.poll() >= n:
            t_front = now
        # The emulator is busy sending: ask it for its counts less often than the log is read.
        if t_acked is None and now - last_stats >= 0.02:
            last_stats = now
            acked = stats(poll)["envelopes_acked"] - s0["envelopes_acked"]
            if acked >= n:
                t_acked = time.perf_counter()
        if t_acked and t_front:
            break
        time.sleep(0.002)
    retried = stats(poll)["envelopes_retried"] - s0["envelopes_retried"]

    def since_conn(t):
        return "%.3f" % (t - t_conn) if t and t_conn else "-"

    def rate(t):
        return "%.0f" % (n / (t - t_conn)) if t and t_conn else "-"

    connect = "%.3f" % (t_conn - t_start) if t_conn else "-"
    print(f"RESULT n={n} connect_s={connect} "
          f"acked_s={since_conn(t_acked)} front_s={since_conn(t_front)} acked_rate={rate(t_acked)} "
          f"front_rate={rate(t_front)} acked={acked} front_seen={log.seen} retried={retried} "
          f"errors={len(errors)}")
    for e in errors[:3]:
        print("error:", e, file=sys.stderr)
    return 0 if (t_acked and t_front and not errors) else 1


def inject(emu, log_path, n, threads, user):
    poll = conn_for(emu)
    s0 = stats(poll)
    acked0, retried0 = s0["envelopes_acked"], s0["envelopes_retried"]
    errors = []

    def worker(share, tid):
        c = conn_for(emu)
        for i in range(share):
            if not inject_dm(c, user, f"bench {tid}.{i}", errors):
                break
        c.close()

    log = LogCount(log_path, f"sender {user} is not in allowFrom".encode())
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
        seen = log.poll()
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


def proc_cpu(pid):
    """utime + stime of a process in seconds (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_run(url, secret, n, conc, user, kind, watch):
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

    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    cpu0 = cpu()
    watched0 = {name: proc_cpu(pid) for name, pid in watch}
    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(w,)) for w in work]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    client_cpu = 100 * (cpu() - cpu0) / wall
    watched = "".join(f" cpu_{name}={100 * (proc_cpu(pid) - watched0[name]) / wall:.0f}%"
                      for name, pid in watch)
    lat.sort()
    print(f"RESULT kind={kind} n={n} conc={conc} rate={len(lat) / wall:.0f} "
          f"p50_ms={pct(lat, 50):.3f} p99_ms={pct(lat, 99):.3f} max_ms={pct(lat, 100):.3f} "
          f"answered={len(lat)} unexpected={len(bad)} errors={len(errors)} client_cpu={client_cpu:.0f}%{watched}"
          + (f" first_unexpected={bad[0]}" if bad else ""))
    for e in errors[:3]:
        print("error:", e, file=sys.stderr)
    return 0 if (len(lat) == n and not bad and not errors) else 1


def main(argv):
    try:
        if argv[1] == "inject" and len(argv) == 7:
            return inject(argv[2], argv[3], int(argv[4]), int(argv[5]), argv[6])
        if argv[1] == "burst" and len(argv) > 6:
            return burst(argv[2], argv[3], int(argv[4]), argv[5], argv[6:])
        if argv[1] == "http" and len(argv) >= 8 and argv[7] in ("valid", "forged"):
            watch = [(a.split("=", 1)[0], int(a.split("=", 1)[1])) for a in argv[8:]]
            return http_run(argv[2], argv[3], int(argv[4]), int(argv[5]), argv[6], argv[7], watch)
    except (IndexError, ValueError):
        pass
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
