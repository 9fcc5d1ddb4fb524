#!/usr/bin/env bash
# Edit-to-new-answer latency of `lamina rie --watch` against the loop without it: a full
# `lamina build --load` and a restart of `lamina rie` to the first new answer. (SAM CLI's
# `sam build && sam local invoke` cannot run here: it pulls its emulation images from
# public.ecr.aws, which this machine cannot reach.)
#
#   benches/watch.sh          # RUNS=10 edits per mode (~2 min)
#
# Each run writes a new marker into the calculator's handler, then invokes every 20 ms
# until an answer carries it; the figure is from just before the write to that answer.
# Output: benches/out/watch.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
RUNS=${RUNS:-10}
OUTDIR=${OUTDIR:-$HERE/out}
PORT=${PORT:-9310}
mkdir -p "$OUTDIR"
(cd "$ROOT" && cargo build --release -q -p lamina)
LAMINA="$ROOT/target/release/lamina"
W=$(mktemp -d /tmp/bench-watch.XXXXXX)
RIE_PID=
cleanup() {
  [ -n "$RIE_PID" ] && kill -INT "$RIE_PID" 2>/dev/null && wait "$RIE_PID" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
cp -r "$ROOT/examples/calculator" "$W/fn"
sed -i 's/^name = .*/name = "bench-watch"/' "$W/fn/lamina.toml"
EVENT='{"queryStringParameters":{"num1":"6","num2":"3","operator":"divide"}}'
URL="http://127.0.0.1:$PORT/2015-03-31/functions/function/invocations"
ms() { date +%s%3N; }
# Write marker $1 into the handler's answer.
edit() { sed -i "s/return respond(200, {\"result\": result[^}]*})/return respond(200, {\"result\": result, \"m\": $1})/" "$W/fn/app.py"; }
# Invoke until the answer holds marker $1 (at most 60 s).
await_marker() {
  local deadline=$(( $(ms) + 60000 ))
  until curl -s --max-time 5 "$URL" -d "$EVENT" 2>/dev/null | grep -q "\\\\\"m\\\\\": $1\\b"; do
    [ "$(ms)" -lt "$deadline" ] || { echo "marker $1 never answered" >&2; exit 1; }
    sleep 0.02
  done
}
start_rie() { "$LAMINA" rie "$@" --port "$PORT" >"$W/rie.out" 2>"$W/rie.err" & RIE_PID=$!; }
stop_rie() { kill -INT "$RIE_PID"; wait "$RIE_PID" 2>/dev/null || true; RIE_PID=; }

edit 0
start_rie "$W/fn" --watch
await_marker 0
watch_ms=()
for i in $(seq 1 "$RUNS"); do
  t0=$(ms); edit "$i"; await_marker "$i"; watch_ms+=($(( $(ms) - t0 )))
done
stop_rie

restart_ms=()
for i in $(seq 1 "$RUNS"); do
  m=$((100 + i))
  t0=$(ms); edit "$m"
  "$LAMINA" build "$W/fn" --load >/dev/null 2>&1
  start_rie bench-watch:latest
  await_marker "$m"; restart_ms+=($(( $(ms) - t0 )))
  stop_rie
done

stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1; s+=$1} END {printf "%d ms median, %d min, %d max (n=%d, mean %.0f)", a[int((NR+1)/2)], a[1], a[NR], NR, s/NR}'; }
{
  echo "# lamina rie --watch: edit to new answer ($(date -u +%F), $(nproc) cores)"
  echo
  echo "| loop | edit → first new answer |"
  echo "|---|---|"
  echo "| \`lamina rie DIR --watch\` | $(stats "${watch_ms[@]}") |"
  echo "| \`lamina build --load\` + restart \`lamina rie\` | $(stats "${restart_ms[@]}") |"
} | tee "$OUTDIR/watch.md"
