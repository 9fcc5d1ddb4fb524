#!/usr/bin/env bash
# A function with ~1 GiB / ~20k files of dependencies vendored beside its handler
# (`pip install --target .` style, with a *.dist-info/RECORD naming them): `lamina build`
# against `docker build` (BuildKit) of the equivalent Dockerfile on the same base, same run.
#
#   benches/bigdeps.sh                  # SIZE_MB=1024 RUNS=2 REBUILD_RUNS=3 (~10 min)
#
# Scenarios, timed with hyperfine (bounded runs):
#   cold      lamina: a store holding only the base layer (what docker has after FROM), also
#             with --load into a Docker that holds none of the image;
#             docker: `docker build --no-cache` (BuildKit), the base image already loaded.
#   rebuild   after a one-line handler edit: lamina build (the vendored packages are a layer
#             of their own, so only the small code layer is written), lamina build --load
#             (also into Docker, sending only the layers Docker lacks), and BuildKit,
#             whose `COPY fn/ /var/task/` must copy the whole folder again; and lamina with
#             the dependencies as one installed folder (`--deps-dir`), one layer.
# COLD=0 runs only the rebuild scenario.
# Same base bytes for both: lamina's python3.13 rootfs `docker import`ed as bench-base:py313.
# Output: benches/out/bigdeps-*.json and benches/out/bigdeps.md. Cleans up its images and
# temp dirs; the generated tree stays in ~/.cache/lamina/bench/ for reruns.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SIZE_MB=${SIZE_MB:-1024}
RUNS=${RUNS:-2}
REBUILD_RUNS=${REBUILD_RUNS:-3}
OUTDIR=${OUTDIR:-$HERE/out}
BENCH=${LAMINA_BENCH_DIR:-$HOME/.cache/lamina/bench}
DOCKER=${DOCKER:-/usr/bin/docker}
[ -x "$DOCKER" ] || DOCKER=docker
command -v hyperfine >/dev/null || { echo "need hyperfine (apt-get install -y hyperfine)" >&2; exit 1; }
mkdir -p "$OUTDIR" "$BENCH"

(cd "$ROOT" && cargo build --release -q -p lamina)
LAMINA="$ROOT/target/release/lamina"
RIC="$ROOT/target/ric-static/x86_64-unknown-linux-gnu/release/lamina-ric"

W=$(mktemp -d /tmp/bench-bigdeps.XXXXXX)
cleanup() {
  "$DOCKER" rmi -f bench-big-docker:latest bench-big-lamina:latest bench-big-lamina-deps:latest >/dev/null 2>&1 || true
  "$DOCKER" image prune -f --filter label=lamina-bench=bigdeps >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT

# --- the dependency tree (deterministic, generated once) ----------------------------------------
TREE="$BENCH/bigdeps-$SIZE_MB"
python3 "$HERE/gen_tree.py" "$TREE/vendorpkg" "$SIZE_MB" 7
if [ ! -f "$TREE/vendorpkg-1.0.dist-info/RECORD" ]; then
  mkdir -p "$TREE/vendorpkg-1.0.dist-info"
  (cd "$TREE" && find vendorpkg -type f | sort | sed 's/$/,,/') >"$TREE/vendorpkg-1.0.dist-info/RECORD"
fi

# --- base image shared by both -----------------------------------------------------------------
ROOTFS=$("$LAMINA" --json base build python3.13 | python3 -c 'import json,sys; print(json.load(sys.stdin)["rootfs"])')
have=$("$DOCKER" image inspect -f '{{index .Config.Labels "bench.rootfs"}}' bench-base:py313 2>/dev/null || true)
if [ "$have" != "$ROOTFS" ]; then
  tar --numeric-owner -C "$ROOTFS" -c . |
    "$DOCKER" import --change "LABEL bench.rootfs=$ROOTFS" - bench-base:py313 >/dev/null
fi

# --- context: fn/ = handler + the vendored tree (hard links: no second GiB on disk) ---------------
C="$W/ctx"
mkdir -p "$C/fn" "$C/runtime"
cp -al "$TREE/vendorpkg" "$TREE/vendorpkg-1.0.dist-info" "$C/fn/"
cp "$ROOT/examples/calculator/app.py" "$C/fn/app.py"
echo "# bench-edit 0" >>"$C/fn/app.py"
# The same function with its dependencies as one installed folder (`--deps-dir`): one layer.
mkdir -p "$C/fnd" "$C/deps"
cp -al "$TREE/vendorpkg" "$TREE/vendorpkg-1.0.dist-info" "$C/deps/"
cp "$C/fn/app.py" "$C/fnd/app.py"
cp "$RIC" "$C/runtime/lamina-ric"
cp "$ROOT/base-images/python/bootstrap.py" "$C/runtime/bootstrap.py"
cat >"$C/Dockerfile" <<'DOCKERFILE'
FROM bench-base:py313
LABEL lamina-bench=bigdeps
ENV LANG=en_US.UTF-8 TZ=:/etc/localtime PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin \
    LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime LAMINA_RUNTIME=python
COPY runtime/lamina-ric /var/runtime/lamina-ric
COPY runtime/bootstrap.py /var/runtime/lamina/python/bootstrap.py
COPY fn/ /var/task/
WORKDIR /var/task
ENTRYPOINT ["/var/runtime/lamina-ric"]
CMD ["app.handler"]
DOCKERFILE
EDIT="sed -i '\$ s/.*/# bench-edit '\"\$(date +%s%N)\"'/' '$C/fn/app.py' '$C/fnd/app.py'"
LB="'$LAMINA' --store '$W/store' build '$C/fn' --handler app.handler --tag bench-big-lamina"
LBD="'$LAMINA' --store '$W/store' build '$C/fnd' --deps-dir '$C/deps' --handler app.handler --tag bench-big-lamina-deps"
DB="env DOCKER_BUILDKIT=1 '$DOCKER' build -q -t bench-big-docker '$C'"

# --- a store holding only the base layer -------------------------------------------------------
"$LAMINA" --json --store "$W/seed" build "$ROOT/examples/calculator" --tag bench-seed >"$W/seed.json"
base=$(python3 -c 'import json,sys; print([l["digest"] for l in json.load(open(sys.argv[1]))["layers"] if l["name"]=="base"][0].split(":")[1])' "$W/seed.json")
find "$W/seed/blobs/sha256" -type f ! -name "$base" -delete
rm -rf "$W/seed/refs"/*

# --- cold (COLD=0 skips it) ---------------------------------------------------------------------
if [ "${COLD:-1}" = 1 ]; then
hyperfine -N --style basic --runs "$RUNS" --export-json "$OUTDIR/bigdeps-cold.json" \
  --prepare "sh -c 'rm -rf $W/store && cp -a $W/seed $W/store'" \
  --prepare "sh -c 'rm -rf $W/store && cp -a $W/seed $W/store && $DOCKER rmi -f bench-big-lamina:latest >/dev/null 2>&1; true'" \
  --prepare true \
  -n "lamina build (store has only the base)" "$LB" \
  -n "lamina build --load (store has only the base, Docker none of it)" "$LB --load" \
  -n "docker build --no-cache (BuildKit)" "$DB --no-cache" 2>&1 | grep -v '^ *$' || true

# What the cold --load sent: with another image in Docker holding the same vendored layer (a
# lamina image of the same folder), "cold" would send only the code layer; say so loudly.
rm -rf "$W/store" && cp -a "$W/seed" "$W/store"
"$DOCKER" rmi -f bench-big-lamina:latest >/dev/null 2>&1 || true
sent=$(eval "'$LAMINA' --json --store '$W/store' build '$C/fn' --handler app.handler --tag bench-big-lamina --load" |
  python3 -c 'import json,sys; l=json.load(sys.stdin)["load"]; print(l["layersSent"], l["layersTotal"], l["bytesSent"])')
echo "cold --load sent (layers, of, bytes): $sent"
case "$sent" in *" "*" "[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]*) ;; *)
  echo "WARNING: the cold --load did not send the GiB layer: Docker already held it (remove the other image)" >&2 ;;
esac
fi

# --- one-line handler edit -----------------------------------------------------------------------
[ -d "$W/store" ] || cp -a "$W/seed" "$W/store"
eval "$LB" >/dev/null
eval "$LB --load" >/dev/null
eval "$LBD --load" >/dev/null
eval "$DB" >/dev/null
hyperfine --style basic --runs "$REBUILD_RUNS" --export-json "$OUTDIR/bigdeps-rebuild.json" \
  --prepare "$EDIT" \
  -n "lamina build" "$LB" \
  -n "lamina build --load" "$LB --load" \
  -n "lamina build --deps-dir (one folder layer)" "$LBD" \
  -n "lamina build --deps-dir --load" "$LBD --load" \
  -n "docker build (BuildKit)" "$DB" 2>&1 | grep -v '^ *$' || true

files=$(find "$C/fn" -type f | wc -l)
mib=$(du -sm --apparent-size "$C/fn" | cut -f1)
python3 - "$OUTDIR" "$files" "$mib" <<'PY' | tee "$OUTDIR/bigdeps.md"
import json, sys
out, files, mib = sys.argv[1], sys.argv[2], sys.argv[3]
print(f"function folder: {mib} MiB, {files} files\n")
print("| scenario | tool | mean s | ± s | min s | runs | ÷ BuildKit |")
print("|---|---|---:|---:|---:|---:|---:|")
import os
for scen in ("cold", "rebuild"):
    if not os.path.exists(f"{out}/bigdeps-{scen}.json"):
        continue
    rs = {r["command"]: r for r in json.load(open(f"{out}/bigdeps-{scen}.json"))["results"]}
    bk = [r for c, r in rs.items() if "BuildKit" in c][0]["mean"]
    for cmd, r in rs.items():
        print(f"| {scen} | {cmd} | {r['mean']:.2f} | {r['stddev'] or 0:.2f} | {r['min']:.2f} | {len(r['times'])} | {r['mean'] / bk:.3f} |")
PY
