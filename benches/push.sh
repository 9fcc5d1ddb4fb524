#!/usr/bin/env bash
# Pushing ~1 GiB of new layers to a local registry: `lamina push` against `skopeo copy` of the
# same image (written by lamina as an OCI layout), same run, same machine. Each run starts an
# empty registry (Debian's docker-registry, the CNCF distribution server, on 127.0.0.1), so
# every blob is sent. Also: an unchanged re-push (lamina only), and the number of registry
# requests it makes (from the registry's access log), and the registry's own floor: a bare
# `curl -T` of the largest blob. Nothing here asserts.
#
#   benches/push.sh            # SIZE_MB=1024 RUNS=3 (~5 min); needs docker-registry, skopeo
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SIZE_MB=${SIZE_MB:-1024}
RUNS=${RUNS:-3}
OUTDIR=${OUTDIR:-$HERE/out}
BENCH=${LAMINA_BENCH_DIR:-$HOME/.cache/lamina/bench}
mkdir -p "$OUTDIR" "$BENCH"
(cd "$ROOT" && cargo build --release -q -p lamina)
LAMINA="$ROOT/target/release/lamina"
W=$(mktemp -d /tmp/bench-push.XXXXXX)
REG_PID=
stop_registry() { if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; fi; REG_PID=; }
trap 'stop_registry; rm -rf "$W"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_registry() { # fresh, empty registry; access log in $W/reg.log
  stop_registry
  rm -rf "$W/data"
  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\nlog:\n  level: info\n  accesslog:\n    disabled: false\n' "$W/data" "$PORT" >"$W/reg.yml"
  docker-registry serve "$W/reg.yml" >"$W/reg.log" 2>&1 &
  REG_PID=$!
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && return; sleep 0.1; done
  echo "registry did not start" >&2; exit 1
}

# The image: the calculator plus a vendored ~SIZE_MB tree (a layer of its own).
TREE="$BENCH/push-$SIZE_MB"
python3 "$HERE/gen_tree.py" "$TREE/fn/vendorpkg" "$SIZE_MB" 11
mkdir -p "$TREE/fn/vendorpkg-1.0.dist-info"
[ -f "$TREE/fn/vendorpkg-1.0.dist-info/RECORD" ] ||
  (cd "$TREE/fn" && find vendorpkg -type f | sort | sed 's/$/,,/') >"$TREE/fn/vendorpkg-1.0.dist-info/RECORD"
cp "$ROOT/examples/calculator/app.py" "$TREE/fn/app.py"
"$LAMINA" --store "$W/store" build "$TREE/fn" --handler app.handler --tag bench-push:1 \
  --output "oci:$W/oci" >/dev/null
BYTES=$(du -sb "$W/store/blobs" | cut -f1)

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
lam=(); sko=()
for _ in $(seq 1 "$RUNS"); do
  start_registry
  t0=$(now); "$LAMINA" --store "$W/store" push bench-push:1 "127.0.0.1:$PORT/bench/fn:1" --insecure >/dev/null; t1=$(now)
  lam+=("$(echo "$t1 - $t0" | bc)")
  start_registry
  t0=$(now); skopeo copy -q --dest-tls-verify=false "oci:$W/oci:bench-push:1" "docker://127.0.0.1:$PORT/bench/fn:1" >/dev/null; t1=$(now)
  sko+=("$(echo "$t1 - $t0" | bc)")
done
L=$(printf '%s\n' "${lam[@]}" | median); S=$(printf '%s\n' "${sko[@]}" | median)

# The registry's floor: one bare `curl -T` PUT (streamed, Content-Length) of the largest blob
# into a fresh registry, the one transfer no client can split (a blob's upload is sequential).
BIG=$(ls -S "$W/store/blobs/sha256" | head -1)
flo=()
for _ in $(seq 1 "$RUNS"); do
  start_registry
  loc=$(curl -s -i -XPOST "http://127.0.0.1:$PORT/v2/bench/fn/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
  case "$loc" in http*) ;; *) loc="http://127.0.0.1:$PORT$loc" ;; esac
  t0=$(now); curl -sf -o /dev/null -T "$W/store/blobs/sha256/$BIG" -H 'Content-Type: application/octet-stream' "$loc&digest=sha256:$BIG"; t1=$(now)
  flo+=("$(echo "$t1 - $t0" | bc)")
done
F=$(printf '%s\n' "${flo[@]}" | median)

# Unchanged re-push: time and requests.
start_registry
"$LAMINA" --store "$W/store" push bench-push:1 "127.0.0.1:$PORT/bench/fn:1" --insecure >/dev/null
before=$(grep -c '"GET\|"HEAD\|"PUT\|"POST\|"PATCH' "$W/reg.log" || true)
t0=$(now); "$LAMINA" --store "$W/store" push bench-push:1 "127.0.0.1:$PORT/bench/fn:1" --insecure >/dev/null; t1=$(now)
after=$(grep -c '"GET\|"HEAD\|"PUT\|"POST\|"PATCH' "$W/reg.log" || true)
R=$(echo "$t1 - $t0" | bc)
LAYERS=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(len(m["layers"]))' \
  "$W/store/blobs/sha256/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"].split(":")[1])' "$W/oci/index.json")")

{
  echo "image: $LAYERS layers + config, $(echo "$BYTES / 1048576" | bc) MiB of blobs in the store"
  echo
  echo "| push to an empty registry | median s ($RUNS runs) | ÷ skopeo |"
  echo "|---|---:|---:|"
  printf '| lamina push | %.2f | %.2f |\n' "$L" "$(echo "$L / $S" | bc -l)"
  printf '| skopeo copy (from lamina'"'"'s OCI layout) | %.2f | 1.00 |\n' "$S"
  printf '| floor: curl -T of the largest blob alone (%s MiB) | %.2f | %.2f |\n' "$(( $(stat -c %s "$W/store/blobs/sha256/$BIG") / 1048576 ))" "$F" "$(echo "$F / $S" | bc -l)"
  echo
  printf 'unchanged re-push: %.3f s, %s registry requests\n' "$R" "$((after - before))"
} | tee "$OUTDIR/push.md"
