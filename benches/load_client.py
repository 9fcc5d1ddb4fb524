#!/usr/bin/env python3
"""Bounded load test of a Lambda invoke API with a mixed workload (stdlib only).

    load_client.py PORT N CONCURRENCY MAX_SECONDS OUT.jsonl

Invoke n = 0..N-1 with kind "sleep" when n % 100 == 99 (past the 1 s timeout), "raise" when
n % 10 == 0, else "ok"; CONCURRENCY threads with keep-alive connections share the work and
stop at MAX_SECONDS. Every answer is checked against what its kind must give and written to
OUT.jsonl as {n, kind, status, request_id, ok}; prints a JSON summary. 127.0.0.1 only, 30 s
socket timeouts.
"""

import http.client
import json
import sys
import threading
import time

PATH = "/2015-03-31/functions/function/invocations"


def kind_of(n):
    if n % 100 == 99:
        return "sleep"
    if n % 10 == 0:
        return "raise"
    return "ok"


def check(kind, n, status, headers, body):
    """Whether the answer is the one the kind must get."""
    if status != 200:
        return False
    err = headers.get("x-amz-function-error")
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    if kind == "ok":
        return err is None and doc.get("n") == n and doc.get("id") == headers.get("x-amzn-requestid")
    if kind == "raise":
        return err == "Unhandled" and doc.get("errorType") == "ValueError" and str(n) in doc.get("errorMessage", "")
    return err == "Unhandled" and "Task timed out" in doc.get("errorMessage", "")


def main():
    port, total, conc, max_s, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    lock = threading.Lock()
    nxt = [0]
    rows = []
    deadline = time.monotonic() + max_s

    def worker():
        conn = None
        while time.monotonic() < deadline:
            with lock:
                n = nxt[0]
                if n >= total:
                    return
                nxt[0] += 1
            kind = kind_of(n)
            body = json.dumps({"n": n, "kind": kind}).encode()
            for attempt in (0, 1):
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    conn.request("POST", PATH, body, {"Content-Type": "application/json"})
                    r = conn.getresponse()
                    data = r.read()
                    hdrs = {k.lower(): v for k, v in r.getheaders()}
                    row = {"n": n, "kind": kind, "status": r.status,
                           "request_id": hdrs.get("x-amzn-requestid"),
                           "ok": check(kind, n, r.status, hdrs, data)}
                    break
                except (OSError, http.client.HTTPException) as e:
                    conn = None
                    row = {"n": n, "kind": kind, "status": None, "request_id": None, "ok": False, "error": str(e)}
                    if attempt == 1:
                        break
                    # A request that was never answered is not retried: that would hide a loss.
                    break
            with lock:
                rows.append(row)

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - t0
    with open(out, "w") as f:
        for r in sorted(rows, key=lambda r: r["n"]):
            f.write(json.dumps(r) + "\n")
    wrong = [r for r in rows if not r["ok"]]
    print(json.dumps({"sent": len(rows), "wrong": len(wrong), "seconds": round(seconds, 1),
                      "kinds": {k: sum(1 for r in rows if r["kind"] == k) for k in ("ok", "raise", "sleep")},
                      "first_wrong": wrong[:3]}))


if __name__ == "__main__":
    main()
