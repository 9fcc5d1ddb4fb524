#!/usr/bin/env bash
# Node.js 24: warm invoke latency of an echo handler through `lamina rie` against AWS's
# emulator running AWS's own Node client, in the same run; and, streaming, the delay from the
# handler's first write to the first byte at the caller.
#
#   benches/node.sh                  # ROUNDS=9 rounds of N=1000 invokes each, STREAM_N=300
#   ROUNDS=15 N=1000 benches/node.sh
#
# Contenders (127.0.0.1 only; containers named bench-node-*, removed on exit):
#   lamina           lamina rie of the echo function, built by `lamina build` on the nodejs24
#                    base (lamina-ric and lamina's Node adapter)
#   aws-rie+aws-ric  AWS's RIE (from the aws-sam-cli wheel) as the entrypoint of the same
#                    image, running AWS's Node client `aws-lambda-ric` 4.0.2 from npm
#                    (`node …/aws-lambda-ric/index.mjs`, handler in _HANDLER), published with
#                    docker run -p, as AWS documents it
# Both are up during the rounds and measured in alternation (N invokes each per round); the
# medians of the rounds' p50s are compared. AWS's emulator has no streaming route (404), so
# the streaming figure is lamina's alone, beside its own buffered p50.
#
# aws-lambda-ric builds a native addon (curl and aws-lambda-cpp from its own sources) when npm
# installs it: this runs once on the host and is cached in ~/.cache/lamina/bench/node-awsric.
# It needs the host's node, npm, a C/C++ toolchain and make; cmake comes from PyPI into a
# venv there too. The addon is N-API (ABI-stable), so the host's Node builds it for Node 24.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
N=${N:-1000}
ROUNDS=${ROUNDS:-9}
STREAM_N=${STREAM_N:-300}
BENCH=${LAMINA_BENCH_DIR:-$HOME/.cache/lamina/bench}
OUTDIR=${OUTDIR:-$HERE/out}
DOCKER=${DOCKER:-/usr/bin/docker}
[ -x "$DOCKER" ] || DOCKER=docker
mkdir -p "$BENCH" "$OUTDIR"
CLIENT="$HERE/node_client.py"

(cd "$ROOT" && cargo build --release -q -p lamina)
LAMINA="$ROOT/target/release/lamina"
W=$(mktemp -d /tmp/bench-node.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null || true
  done
  "$DOCKER" rm -f bench-node-awsric >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
# shellcheck source=benches/common.sh
. "$HERE/common.sh"

# --- AWS's Node client, built once --------------------------------------------------------
AWSRIC="$BENCH/node-awsric"
if [ ! -f "$AWSRIC/node_modules/aws-lambda-ric/rapid-client.node" ]; then
  [ -x "$BENCH/cmake-venv/bin/cmake" ] ||
    { python3 -m venv "$BENCH/cmake-venv" && "$BENCH/cmake-venv/bin/pip" install -q cmake; }
  mkdir -p "$AWSRIC"
  PATH="$BENCH/cmake-venv/bin:$PATH" npm_config_nodedir=${NODEDIR:-/usr} timeout 900 \
    npm install --no-audit --no-fund --prefix "$AWSRIC" aws-lambda-ric@4.0.2 >"$W/npm.log" 2>&1 ||
    { tail -30 "$W/npm.log" >&2; exit 1; }
fi

# --- images --------------------------------------------------------------------------------
FN="$W/echo"
mkdir -p "$FN"
cat >"$FN/index.mjs" <<'EOF'
export const handler = async (event) => event;
EOF
printf 'name = "bench-node"\nruntime = "nodejs24"\nhandler = "index.handler"\n' >"$FN/lamina.toml"
"$LAMINA" --store "$W/store" build "$FN" --tag bench-node --load >/dev/null

ST="$W/stream"
mkdir -p "$ST"
cat >"$ST/index.mjs" <<'EOF'
const now = () => (performance.timeOrigin + performance.now()) / 1000;
export const handler = awslambda.streamifyResponse(async (event, stream) => {
  stream.write(`t=${now().toFixed(6)}\n`);
  for (let i = 1; i < (event.chunks ?? 2); i++) stream.write(`chunk ${i}\n`);
  stream.end();
});
EOF
printf 'name = "bench-node-stream"\nruntime = "nodejs24"\nhandler = "index.handler"\n' >"$ST/lamina.toml"
"$LAMINA" --store "$W/store" build "$ST" --tag bench-node-stream --load >/dev/null

C="$W/ctx"
mkdir -p "$C"
cp "$RIE_BIN" "$C/aws-lambda-rie"
cp -r "$AWSRIC/node_modules" "$C/node_modules"
cat >"$C/Dockerfile" <<'EOF'
FROM bench-node:latest
COPY aws-lambda-rie /aws-lambda-rie
COPY node_modules/ /var/runtime/node_modules/
ENV _HANDLER=index.handler LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime
WORKDIR /var/task
ENTRYPOINT ["/aws-lambda-rie", "node", "/var/runtime/node_modules/aws-lambda-ric/index.mjs"]
CMD ["index.handler"]
EOF
DOCKER_BUILDKIT=1 "$DOCKER" build -q -t bench-node-awsric "$C" >/dev/null

ready() { # PORT
  for _ in $(seq 120); do
    curl -sf -m 5 -o /dev/null -XPOST "127.0.0.1:$1/2015-03-31/functions/function/invocations" -d '{}' && return 0
    sleep 0.5
  done
  echo "port $1 never answered" >&2
  return 1
}

"$LAMINA" --store "$W/store" rie bench-node --port 9310 >"$W/lamina.log" 2>&1 &
PIDS+=($!)
"$LAMINA" --store "$W/store" rie bench-node-stream --port 9312 >"$W/lamina-stream.log" 2>&1 &
PIDS+=($!)
"$DOCKER" run -d --name bench-node-awsric --memory 128m -p 127.0.0.1:9311:8080 bench-node-awsric >/dev/null
ready 9310
ready 9311
ready 9312

RESULTS="$W/results.jsonl"
: >"$RESULTS"
for _ in $(seq "$ROUNDS"); do
  echo "{\"name\": \"lamina\", \"r\": $(timeout 300 python3 "$CLIENT" latency 9310 "$N")}" >>"$RESULTS"
  echo "{\"name\": \"aws-rie+aws-ric\", \"r\": $(timeout 300 python3 "$CLIENT" latency 9311 "$N")}" >>"$RESULTS"
done
echo "{\"name\": \"first-byte\", \"r\": $(timeout 600 python3 "$CLIENT" first-byte 9312 "$STREAM_N")}" >>"$RESULTS"
"$DOCKER" logs bench-node-awsric 2>&1 | tail -3 >"$W/awsric.log" || true

python3 - "$RESULTS" "$N" "$ROUNDS" <<'PY' | tee "$OUTDIR/node.md"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r["name"], []).append(r["r"])
print("| contender | rounds | errors | p50 of each round, ms | median ms |")
print("|---|---:|---:|---|---:|")
for name in ("lamina", "aws-rie+aws-ric"):
    v = by[name]
    p50s = [x["p50_ms"] for x in v]
    errors = sum(x["errors"] for x in v)
    listed = ", ".join("%.3f" % p for p in p50s)
    print("| %s | %d | %d | %s | %.3f |" % (name, len(v), errors, listed, statistics.median(p50s)))
mine = statistics.median(x["p50_ms"] for x in by["lamina"])
theirs = statistics.median(x["p50_ms"] for x in by["aws-rie+aws-ric"])
print(f"\nlamina / aws-rie+aws-ric, medians of the rounds' p50 (N={sys.argv[2]} x {sys.argv[3]} rounds): {mine / theirs:.2f}x")
fb = by["first-byte"][0]
print(f"\nstreaming, handler's first write to the caller's first byte: p50 {fb['p50_ms']} ms, p99 {fb['p99_ms']} ms "
      f"(n={fb['n']}, errors {fb['errors']}); lamina's buffered warm p50 {mine:.3f} ms")
PY
