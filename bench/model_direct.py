#!/usr/bin/env python3
# bench/model_direct.py: the fake model on its own, called as the gateway's agent worker calls it,
# for the "added by the gateway" figures of bench/agent.sh and bench/chat.sh: sequential streamed
# chat completions; per request, the time from sending it to the first content chunk and to
# `data: [DONE]`. MODE "keepalive": one connection for all; "fresh": a new connection per request
# (connect included), as the agent worker opens one per run. Stops early after 30 s and reports
# what it did; ends with one "RESULT direct ..." line.
# Usage: model_direct.py BASE_URL N WARMUP keepalive|fresh [BODY_FILE]
# BODY_FILE: the JSON request body to send (e.g. one the agent worker sent, taken from the fake
# model's /_emu/requests, so the comparison carries the same history); default: a system prompt
# and one user message.
import http.client, json, math, socket, sys, time
from urllib.parse import urlsplit

url, n, warmup, mode = urlsplit(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if len(sys.argv) > 5:
    with open(sys.argv[5]) as f:
        body = f.read()
else:
    body = json.dumps({"model": "fake-model", "stream": True, "stream_options": {"include_usage": True},
                       "messages": [{"role": "system", "content": "You are a helpful assistant."},
                                    {"role": "user", "content": "bench"}]})
headers = {"Content-Type": "application/json", "Accept": "text/event-stream",
           "Authorization": "Bearer k"}
def connect():
    # TCP_NODELAY: http.client writes the headers and the body in two send()s; without it the
    # body may wait for the ACK of the headers (Nagle), and that wait would count as the model's.
    c = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    c.connect()
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c
conn = connect()
first, done, errors = [], [], 0
t_start = time.perf_counter()
for i in range(warmup + n):
    t = time.perf_counter()
    if mode == "fresh":
        conn.close()
        conn = connect()
    t_first = t_done = None
    try:
        conn.request("POST", "/v1/chat/completions", body, headers)
        res = conn.getresponse()
        if res.status != 200:
            raise RuntimeError("HTTP %d" % res.status)
        while True:
            line = res.readline()
            if not line:
                break
            if t_first is None and line.startswith(b"data: {") and b'"content"' in line:
                t_first = time.perf_counter()
            elif line.startswith(b"data: [DONE]"):
                t_done = time.perf_counter()
        if t_first is None or t_done is None:
            raise RuntimeError("no content chunk or no [DONE]")
    except Exception as e:  # counted; a fresh connection for the next request
        errors += 1
        print("request %d: %s" % (i, e))
        conn.close()
        conn = connect()
        continue
    if i >= warmup:
        first.append((t_first - t) * 1000)
        done.append((t_done - t) * 1000)
    if time.perf_counter() - t_start > 30:
        print("stopped after 30 s")
        break
conn.close()
first.sort()
done.sort()
def pct(v, p):  # nearest rank, as clawgate-bench
    return v[min(max(math.ceil(p * len(v)), 1), len(v)) - 1] if v else 0.0
print("direct (%s): %d streamed requests (%d warm-up not counted), sequential, %s, %d errors"
      % (mode, len(first), warmup, "one keep-alive connection" if mode == "keepalive"
         else "a new connection each", errors))
print("  first content chunk p50 %.3f ms   p99 %.3f ms   max %.3f ms"
      % (pct(first, 0.5), pct(first, 0.99), first[-1] if first else 0))
print("  data: [DONE]        p50 %.3f ms   p99 %.3f ms   min %.3f ms"
      % (pct(done, 0.5), pct(done, 0.99), done[0] if done else 0))
print("RESULT direct n=%d errors=%d ft_p50_ms=%.3f ft_p99_ms=%.3f done_p50_ms=%.3f done_p99_ms=%.3f"
      " done_min_ms=%.3f"
      % (len(first), errors, pct(first, 0.5), pct(first, 0.99), pct(done, 0.5), pct(done, 0.99),
         done[0] if done else 0))
