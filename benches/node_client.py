#!/usr/bin/env python3
"""Clients for benches/node.sh (stdlib only; every request to 127.0.0.1, 30 s socket timeout).

    node_client.py latency PORT [N=1000] [WARMUP=20]
        N sequential invokes of an echo handler on one keep-alive connection; each answer must
        echo the event. Prints JSON {n, errors, p50_ms, p90_ms, p99_ms}.
    node_client.py first-byte PORT [N=300] [WARMUP=10]
        N sequential InvokeWithResponseStream calls of a handler whose first chunk is
        "t=<epoch seconds>" written just before it is sent: the delay from that write to the
        first PayloadChunk's arrival here (same machine, same clock). Prints JSON
        {n, errors, p50_ms, p99_ms}.
"""

import http.client
import json
import statistics
import sys
import time

INVOKE = "/2015-03-31/functions/function/invocations"
STREAM = "/2021-11-15/functions/function/response-streaming-invocations"


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def latency(port, n, warmup):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times, errors = [], 0
    for i in range(warmup + n):
        event = json.dumps({"i": i}).encode()
        start = time.perf_counter()
        conn.request("POST", INVOKE, body=event, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        body = resp.read()
        took = time.perf_counter() - start
        ok = resp.status == 200 and json.loads(body or b"null") == {"i": i}
        if i >= warmup:
            times.append(took * 1000)
            errors += 0 if ok else 1
    return {
        "n": len(times),
        "errors": errors,
        "p50_ms": round(statistics.median(times), 3),
        "p90_ms": round(pct(times, 0.9), 3),
        "p99_ms": round(pct(times, 0.99), 3),
    }


def first_byte(port, n, warmup):
    delays, errors = [], 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for i in range(warmup + n):
        conn.request("POST", STREAM, body=b'{"chunks": 2}')
        resp = conn.getresponse()
        first = resp.read1(65536)
        arrived = time.time()
        rest = resp.read()
        data = first + rest
        at = data.find(b"t=")
        if resp.status != 200 or at < 0 or b"InvokeComplete" not in data:
            errors += 1
            continue
        written = float(data[at + 2 : data.index(b"\n", at)])
        if i >= warmup:
            delays.append((arrived - written) * 1000)
    return {
        "n": len(delays),
        "errors": errors,
        "p50_ms": round(statistics.median(delays), 3) if delays else None,
        "p99_ms": round(pct(delays, 0.99), 3) if delays else None,
    }


def main(argv):
    mode, port = argv[1], int(argv[2])
    n = int(argv[3]) if len(argv) > 3 else (1000 if mode == "latency" else 300)
    warmup = int(argv[4]) if len(argv) > 4 else (20 if mode == "latency" else 10)
    run = latency if mode == "latency" else first_byte
    print(json.dumps(run(port, n, warmup)))


if __name__ == "__main__":
    main(sys.argv)
