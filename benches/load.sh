#!/usr/bin/env bash
# Bounded loopback load test of `lamina rie`: 10,000 invokes at client concurrency 32, mixed
# success (89%), exception (10%) and timeout (1%), against --concurrency 8.
#
#   benches/load.sh            # N=10000 CONC=32 MAX_SECONDS=600 (~3 min on 2 cores)
#
# Checks, and exits non-zero on any failure: every invoke got exactly one answer and it is the
# right one for its kind (the handler's own request id for successes); the handler saw every
# request id exactly once (none lost or duplicated; from its `seen` lines); every log line is
# whole (no START/END/REPORT inside another line); no container is left afterwards.
# Output: benches/out/load.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
N=${N:-10000}
CONC=${CONC:-32}
MAX_SECONDS=${MAX_SECONDS:-600}
PORT=${PORT:-9320}
OUTDIR=${OUTDIR:-$HERE/out}
mkdir -p "$OUTDIR"
(cd "$ROOT" && cargo build --release -q -p lamina)
LAMINA="$ROOT/target/release/lamina"
W=$(mktemp -d /tmp/bench-load.XXXXXX)
RIE_PID=
cleanup() {
  [ -n "$RIE_PID" ] && kill -INT "$RIE_PID" 2>/dev/null && wait "$RIE_PID" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
"$LAMINA" build "$HERE/fixtures/mixed" --tag bench-mixed --load >/dev/null
"$LAMINA" rie bench-mixed --port "$PORT" --concurrency 8 --events-dir "$W/events" >"$W/rie.out" 2>"$W/rie.err" &
RIE_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
SUMMARY=$(python3 "$HERE/load_client.py" "$PORT" "$N" "$CONC" "$MAX_SECONDS" "$W/answers.jsonl")
RSS_KB=$(awk '/VmHWM/ {print $2}' "/proc/$RIE_PID/status")
kill -INT "$RIE_PID"; wait "$RIE_PID" 2>/dev/null || true; RIE_PID=
LEFT=$(docker ps -aq --filter label=dev.lamina.rie | wc -l)
VERDICT=$(python3 - "$W/answers.jsonl" "$W/rie.out" "$N" "$LEFT" <<'PY'
import json, re, sys
answers = [json.loads(l) for l in open(sys.argv[1])]
log = open(sys.argv[2], encoding="utf-8", errors="replace").read().split("\n")
n, left = int(sys.argv[3]), int(sys.argv[4])
problems = []
if len(answers) != n:
    problems.append(f"{len(answers)} answers for {n} invokes")
wrong = [a for a in answers if not a["ok"]]
if wrong:
    problems.append(f"{len(wrong)} wrong answers, e.g. {wrong[:2]}")
seen = {}
for line in log:
    m = re.match(r"seen (\S+) (\d+)$", line)
    if m:
        seen.setdefault(m.group(1), []).append(int(m.group(2)))
ids = {a["request_id"] for a in answers}
dups = {k: v for k, v in seen.items() if len(v) > 1}
if dups:
    problems.append(f"{len(dups)} request ids delivered twice")
lost = ids - set(seen)
if lost:
    problems.append(f"{len(lost)} answered ids the handler never saw")
extra = set(seen) - ids
if extra:
    problems.append(f"{len(extra)} deliveries nobody asked for")
torn = [l for l in log if re.search(r".(START|END|REPORT) RequestId: ", l)]
if torn:
    problems.append(f"{len(torn)} torn log lines, e.g. {torn[:1]}")
if left:
    problems.append(f"{left} containers left")
print("ok" if not problems else "; ".join(problems))
PY
)
{
  echo "# lamina rie under load ($(date -u +%F), $(nproc) cores)"
  echo
  echo "$N invokes, client concurrency $CONC, \`--concurrency 8\`: $SUMMARY"
  echo
  echo "peak RSS of lamina rie: $((RSS_KB / 1024)) MB; containers left: $LEFT; verdict: $VERDICT"
} | tee "$OUTDIR/load.md"
[ "$VERDICT" = ok ]
