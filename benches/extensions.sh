#!/usr/bin/env bash
# Warm invoke latency with one registered external extension: a no-op that registers for
# INVOKE and SHUTDOWN and calls `next` in a loop (Python, in /opt/extensions/ from a layer
# ZIP), on examples/calculator. In the same run, one contender at a time:
#   lamina+ext        lamina rie, the image with the extension
#   lamina            lamina rie, the same function without it
#   aws-rie+ext       AWS's emulator (from the aws-sam-cli wheel) as the entrypoint of the
#                     image with the extension, running lamina-ric, published with docker run -p
# Issue 21's targets: lamina+ext ≤ 0.5× aws-rie+ext, and ≤ 1.2× lamina. Each contender's log
# is checked for the extension's "noop-ext registered" line (a contender that never started
# the extension is marked so).
#
#   benches/extensions.sh        # N=500 sequential invokes each (at most LAT_SECONDS=120 s)
# Output: benches/out/extensions.md and benches/out/extensions.jsonl.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
N=${N:-500}
LAT_SECONDS=${LAT_SECONDS:-120}
BENCH=${LAMINA_BENCH_DIR:-$HOME/.cache/lamina/bench}
OUTDIR=${OUTDIR:-$HERE/out}
DOCKER=${DOCKER:-/usr/bin/docker}
[ -x "$DOCKER" ] || DOCKER=docker
mkdir -p "$BENCH" "$OUTDIR"
CLIENT="$HERE/invoke_client.py"

(cd "$ROOT" && cargo build --release -q -p lamina)
LAMINA="$ROOT/target/release/lamina"
# shellcheck source=benches/common.sh
. "$HERE/common.sh"

W=$(mktemp -d /tmp/bench-ext.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null || true
  done
  "$DOCKER" rm -f bench-ext-rie >/dev/null 2>&1 || true
  [ "${KEEP_IMAGES:-0}" = 1 ] ||
    "$DOCKER" rmi -f bench-ext:latest bench-noext:latest bench-ext-rie:latest >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT


# --- the extension and the images -------------------------------------------------------------
mkdir -p "$W/layer/extensions"
cat >"$W/layer/extensions/noop-ext" <<'PY'
#!/usr/bin/env python3
import http.client, json, os
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
conn = http.client.HTTPConnection(host, int(port))
conn.request("POST", "/2020-01-01/extension/register", json.dumps({"events": ["INVOKE", "SHUTDOWN"]}),
             {"Lambda-Extension-Name": os.path.basename(__file__)})
r = conn.getresponse()
ext_id = r.getheader("Lambda-Extension-Identifier")
r.read()
print("noop-ext registered", flush=True)
while True:
    conn.request("GET", "/2020-01-01/extension/event/next", headers={"Lambda-Extension-Identifier": ext_id})
    r = conn.getresponse()
    if json.loads(r.read())["eventType"] == "SHUTDOWN":
        break
PY
chmod +x "$W/layer/extensions/noop-ext"
python3 - "$W" <<'PY'
import os, sys, zipfile
w = sys.argv[1]
with zipfile.ZipFile(w + "/noop.zip", "w") as z:
    info = zipfile.ZipInfo("extensions/noop-ext", (1980, 1, 1, 0, 0, 0))
    info.external_attr = (0o100755) << 16
    z.writestr(info, open(w + "/layer/extensions/noop-ext", "rb").read())
PY
STORE="$W/store"
cp -r "$ROOT/examples/calculator" "$W/fn"
"$LAMINA" --store "$STORE" build "$W/fn" --tag bench-noext --load >/dev/null
"$LAMINA" --store "$STORE" build "$W/fn" --layer "$W/noop.zip" --tag bench-ext --load >/dev/null
cp "$RIE_BIN" "$W/aws-lambda-rie"
cat >"$W/Dockerfile" <<'EOF2'
FROM bench-ext:latest
COPY aws-lambda-rie /aws-lambda-rie
ENTRYPOINT ["/aws-lambda-rie", "/var/runtime/lamina-ric"]
CMD ["app.handler"]
EOF2
DOCKER_BUILDKIT=1 "$DOCKER" build -q -t bench-ext-rie "$W" >/dev/null

# --- run ---------------------------------------------------------------------------------------
RESULTS="$W/results.jsonl"
: >"$RESULTS"
record() { # NAME LOGFILE JSON
  local ran=no
  grep -q "noop-ext registered" "$2" 2>/dev/null && ran=yes
  python3 -c 'import json,sys; d=json.loads(sys.argv[3]); d.update(name=sys.argv[1], extension_ran=sys.argv[2]); print(json.dumps(d))' \
    "$1" "$ran" "$3" >>"$RESULTS"
  echo "$1 (extension ran: $ran) $3" >&2
}
lamina_row() { # NAME IMAGE PORT
  "$LAMINA" --store "$STORE" rie "$2" --port "$3" >"$W/$3.log" 2>&1 &
  PIDS+=($!)
  wait_ready "$3"
  local r
  r=$(timeout $((LAT_SECONDS + 120)) python3 "$CLIENT" latency "$3" "$N" 5 "$LAT_SECONDS.0")
  kill -INT "${PIDS[-1]}"
  for _ in $(seq 50); do kill -0 "${PIDS[-1]}" 2>/dev/null || break; sleep 0.2; done
  record "$1" "$W/$3.log" "$r"
}
lamina_row "lamina+ext" bench-ext 9320
lamina_row "lamina" bench-noext 9321
"$DOCKER" run -d --name bench-ext-rie --memory 128m -p 127.0.0.1:9322:8080 bench-ext-rie >/dev/null
wait_ready 9322
r=$(timeout $((LAT_SECONDS + 120)) python3 "$CLIENT" latency 9322 "$N" 5 "$LAT_SECONDS.0")
"$DOCKER" logs bench-ext-rie >"$W/9322.log" 2>&1 || true
record "aws-rie+ext" "$W/9322.log" "$r"
"$DOCKER" rm -f bench-ext-rie >/dev/null

cp "$RESULTS" "$OUTDIR/extensions.jsonl"
python3 - "$RESULTS" "$OUTDIR/extensions.md" <<'PY'
import json, sys
rows = {r["name"]: r for r in map(json.loads, open(sys.argv[1]))}
out = ["| contender | extension ran | n | errors | p50 ms | p99 ms |", "|---|---|---:|---:|---:|---:|"]
for r in rows.values():
    out.append(f"| {r['name']} | {r['extension_ran']} | {r['n']} | {r['errors']} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} |")
ext, own, aws = (rows[k]["p50_ms"] for k in ("lamina+ext", "lamina", "aws-rie+ext"))
out.append("")
out.append(f"lamina+ext / aws-rie+ext: {ext / aws:.2f}x (target <= 0.5x); lamina+ext / lamina: {ext / own:.2f}x (target <= 1.2x)")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
