#!/usr/bin/env python3
"""Warm-invoke latency and throughput against a Lambda invoke API (stdlib only).

    invoke_client.py latency    PORT [N=500] [WARMUP=5] [MAX_SECONDS=120]
    invoke_client.py throughput PORT [CONCURRENCY=4] [N=2000] [MAX_SECONDS=60]

latency: one keep-alive connection, N sequential invokes after WARMUP unmeasured ones, stopping
early at MAX_SECONDS (n then says how many ran); prints JSON {n, errors, p50_ms, p90_ms, p99_ms,
mean_ms, max_ms}.
throughput: CONCURRENCY threads, each with its own keep-alive connection, share a budget of N
invokes and stop at MAX_SECONDS whichever comes first; prints JSON {n, errors, seconds, rps,
ok_rps, refused, p50_ms, p99_ms} (ok_rps counts only correct answers). A response counts as an error unless it is 200 with the calculator's body
(and no X-Amz-Function-Error header). A refusal for want of capacity (429, the cloud's throttle;
or AWS's emulator's 400 `Runtime.Unavailable` in its Managed-Instances mode) is an error too,
counted apart in `refused`; the thread then backs off 2 ms before its next invoke, as an SDK
backs off a throttle rather than spinning.
Every request goes to 127.0.0.1 only; every socket has a 30 s timeout.
"""

import http.client
import json
import sys
import threading
import time

PATH = "/2015-03-31/functions/function/invocations"
EVENT = json.dumps(
    {"queryStringParameters": {"num1": "6", "num2": "3", "operator": "divide"}}
).encode()
EXPECT = b'\\"result\\": 2.0'


class Client:
    def __init__(self, port):
        self.port = port
        self.conn = None
        # Whether the last invoke was refused for want of capacity.
        self.refused = False

    def invoke(self):
        """One invoke; returns (ok, seconds). Reconnects once if the server closed the connection."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            start = time.perf_counter()
            try:
                self.conn.request(
                    "POST", PATH, body=EVENT, headers={"Content-Type": "application/json"}
                )
                resp = self.conn.getresponse()
                body = resp.read()
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    return False, time.perf_counter() - start
                continue
            took = time.perf_counter() - start
            self.refused = resp.status == 429 or (
                resp.status == 400 and b"Runtime.Unavailable" in body
            )
            ok = (
                resp.status == 200
                and resp.getheader("X-Amz-Function-Error") is None
                and EXPECT in body
            )
            if resp.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            return ok, took
        return False, 0.0


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, max(0, round(p / 100 * len(sorted_vals)) - 1))
    return sorted_vals[i]


def ms(x):
    return None if x is None else round(x * 1000, 3)


def latency(port, n=500, warmup=5, max_seconds=120.0):
    c = Client(port)
    for _ in range(warmup):
        c.invoke()
    times, errors = [], 0
    deadline = time.monotonic() + max_seconds
    for _ in range(n):
        if time.monotonic() > deadline:
            break
        ok, t = c.invoke()
        errors += not ok
        times.append(t)
    times.sort()
    return {
        "n": len(times),
        "errors": errors,
        "p50_ms": ms(pct(times, 50)),
        "p90_ms": ms(pct(times, 90)),
        "p99_ms": ms(pct(times, 99)),
        "mean_ms": ms(sum(times) / len(times)),
        "max_ms": ms(times[-1]),
    }


def throughput(port, concurrency=4, n=2000, max_seconds=60.0):
    lock = threading.Lock()
    budget = [n]
    times, errors, refused = [], [0], [0]
    deadline = time.monotonic() + max_seconds

    def worker():
        c = Client(port)
        while time.monotonic() < deadline:
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            ok, t = c.invoke()
            with lock:
                times.append(t)
                errors[0] += not ok
                refused[0] += c.refused
            if c.refused:
                time.sleep(0.002)

    # warm every connection (and, with concurrency, every environment) first
    warm = [threading.Thread(target=lambda: [Client(port).invoke() for _ in range(3)]) for _ in range(concurrency)]
    for t in warm:
        t.start()
    for t in warm:
        t.join()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    deadline = time.monotonic() + max_seconds
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.perf_counter() - start
    times.sort()
    return {
        "concurrency": concurrency,
        "n": len(times),
        "errors": errors[0],
        "seconds": round(secs, 3),
        "rps": round(len(times) / secs, 1),
        "ok_rps": round((len(times) - errors[0]) / secs, 1),
        "refused": refused[0],
        "p50_ms": ms(pct(times, 50)),
        "p99_ms": ms(pct(times, 99)),
    }


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("latency", "throughput"):
        sys.exit(__doc__)
    mode, port = sys.argv[1], int(sys.argv[2])
    args = [float(a) if "." in a else int(a) for a in sys.argv[3:]]
    result = latency(port, *args) if mode == "latency" else throughput(port, *args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
