#!/usr/bin/env bash
# Telemetry under load: N=10000 sequential invokes of examples/telemetry-logger (a Telemetry
# API subscriber with an HTTP destination, 25 ms buffering) under `lamina rie`; then every
# platform.report the subscriber received is counted in its file inside the container (none
# may be lost), and any platform.logsDropped noted. Prints invokes/s and the counts.
#   benches/telemetry.sh          # N=10000
# Output: benches/out/telemetry.md
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
N=${N:-10000}
PORT=${PORT:-9330}
OUTDIR=${OUTDIR:-$HERE/out}
DOCKER=${DOCKER:-/usr/bin/docker}
[ -x "$DOCKER" ] || DOCKER=docker
mkdir -p "$OUTDIR"
(cd "$ROOT" && cargo build --release -q -p lamina)
LAMINA="$ROOT/target/release/lamina"
python3 "$ROOT/examples/telemetry-logger/make_layer.py" >/dev/null
LOG=$(mktemp)
"$LAMINA" rie "$ROOT/examples/telemetry-logger" --port "$PORT" >"$LOG" 2>&1 &
PID=$!
trap 'kill -INT $PID 2>/dev/null; wait $PID 2>/dev/null; rm -f "$LOG"' EXIT
for _ in $(seq 120); do grep -q '^serving' "$LOG" && break; sleep 1; done
python3 - "$PORT" "$N" <<'PY' | tee "$OUTDIR/telemetry.md"
import http.client, json, subprocess, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
path = "/2015-03-31/functions/function/invocations"
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
ids, errors = [], 0
t0 = time.perf_counter()
for _ in range(n):
    conn.request("POST", path, b"{}")
    r = conn.getresponse()
    body = r.read()
    if r.status != 200 or b'"ok": true' not in body:
        errors += 1
    ids.append(r.getheader("x-amzn-requestid"))
seconds = time.perf_counter() - t0
# The subscriber's file, read inside its container.
cid = subprocess.run(["docker", "ps", "-q", "--filter", "label=dev.lamina.rie.function=telemetry-logger"],
                     capture_output=True, text=True).stdout.split()[0]
deadline = time.time() + 30
while True:
    out = subprocess.run(["docker", "exec", cid, "cat", "/tmp/telemetry.jsonl"], capture_output=True, text=True).stdout
    records = [json.loads(l) for l in out.splitlines() if l.strip()]
    reports = {r["record"]["requestId"] for r in records if r["type"] == "platform.report"}
    if set(ids) <= reports or time.time() > deadline:
        break
    time.sleep(0.5)
dropped = [r for r in records if r["type"] == "platform.logsDropped"]
print(f"| invokes | errors | seconds | invokes/s | platform.report received | missing | logsDropped records |")
print(f"|---:|---:|---:|---:|---:|---:|---:|")
print(f"| {n} | {errors} | {seconds:.1f} | {n / seconds:.0f} | {len(reports & set(ids))} | {len(set(ids) - reports)} | {len(dropped)} |")
sys.exit(0 if set(ids) <= reports else 1)
PY
