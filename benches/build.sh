#!/usr/bin/env bash
# Build and one-line rebuild of examples/calculator: `lamina build` against `docker build` of the
# equivalent Dockerfile, in the same run.
#
#   benches/build.sh                 # RUNS=5 cold runs, 10 rebuild runs per tool
#   RUNS=3 REBUILD_RUNS=5 benches/build.sh
#
# Setup (not timed): lamina's python3.13 base rootfs (`lamina base build python3.13`, unpacked in
# ~/.cache/lamina from cached Debian packages) is `docker import`ed as bench-base:py313, so both
# tools start from the same bytes. A temp context holds fn/ (a copy of examples/calculator) and
# the runtime files the lamina image carries (the static lamina-ric and the Python adapter).
# Dockerfile: FROM bench-base:py313, the same ENV, COPY lamina-ric, COPY bootstrap.py,
# COPY fn/ /var/task/, WORKDIR, ENTRYPOINT, CMD — the same four-layer shape lamina writes.
#
# Timed with hyperfine (bounded run counts):
#   cold      lamina: empty --store each run (writes the base layer from the unpacked rootfs,
#             the client layer and the code layer; Debian download+unpack excluded — it is
#             timed once separately, from cached .debs, as "base unpack"); and a store that
#             holds only the base layer's blob (the like-for-like of docker's --no-cache with
#             the FROM image present: client and code layers written).
#             docker: `docker build --no-cache` (the base image is already in the daemon, so
#             docker does *less* work here: it never compresses or hashes the base).
#   rebuild   after a one-line change to fn/app.py (hyperfine --prepare rewrites the last line):
#             lamina build (to its store), lamina build --load (also into Docker), docker build
#             with BuildKit (DOCKER_BUILDKIT=1, Debian's /usr/bin/docker 20.10 client) and with
#             the legacy builder (DOCKER_BUILDKIT=0).
# Output: benches/out/build-*.json (hyperfine) and benches/out/build.md.
# Cleans up: the bench-calc* images it creates, its temp dirs. Keeps bench-base:py313 unless
# CLEAN_BASE=1 (re-imported only when the rootfs path changes).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
RUNS=${RUNS:-5}
REBUILD_RUNS=${REBUILD_RUNS:-10}
OUTDIR=${OUTDIR:-$HERE/out}
mkdir -p "$OUTDIR"
# Debian's docker.io client has BuildKit built in; a newer client without buildx does not.
DOCKER=${DOCKER:-/usr/bin/docker}
[ -x "$DOCKER" ] || DOCKER=docker
command -v hyperfine >/dev/null || { echo "need hyperfine (apt-get install -y hyperfine)" >&2; exit 1; }

(cd "$ROOT" && cargo build --release -q -p lamina)
LAMINA="$ROOT/target/release/lamina"
RIC="$ROOT/target/ric-static/x86_64-unknown-linux-gnu/release/lamina-ric"
[ -x "$RIC" ] || { echo "missing $RIC (cargo build --release -p lamina builds it)" >&2; exit 1; }

W=$(mktemp -d /tmp/bench-build.XXXXXX)
cleanup() {
  "$DOCKER" rmi -f bench-calc-docker:latest bench-calc-lamina:latest >/dev/null 2>&1 || true
  # dangling images left by rebuilds carry our label
  "$DOCKER" image prune -f --filter label=lamina-bench=build >/dev/null 2>&1 || true
  [ "${CLEAN_BASE:-0}" = 1 ] && "$DOCKER" rmi -f bench-base:py313 >/dev/null 2>&1
  rm -rf "$W"
}
trap cleanup EXIT

# --- base image shared by both -----------------------------------------------------------------
ROOTFS=$("$LAMINA" --json base build python3.13 | python3 -c 'import json,sys; print(json.load(sys.stdin)["rootfs"])')
have=$("$DOCKER" image inspect -f '{{index .Config.Labels "bench.rootfs"}}' bench-base:py313 2>/dev/null || true)
if [ "$have" != "$ROOTFS" ]; then
  tar --numeric-owner -C "$ROOTFS" -c . |
    "$DOCKER" import --change "LABEL bench.rootfs=$ROOTFS" - bench-base:py313 >/dev/null
fi

# --- context -----------------------------------------------------------------------------------
C="$W/ctx"
mkdir -p "$C/runtime"
cp -r "$ROOT/examples/calculator" "$C/fn"
rm -rf "$C/fn/__pycache__"
echo "# bench-edit 0" >>"$C/fn/app.py"
cp "$RIC" "$C/runtime/lamina-ric"
cp "$ROOT/base-images/python/bootstrap.py" "$C/runtime/bootstrap.py"
printf 'fn/lamina.toml\n**/__pycache__\n' >"$C/.dockerignore"
cat >"$C/Dockerfile" <<'EOF'
FROM bench-base:py313
LABEL lamina-bench=build
ENV LANG=en_US.UTF-8 TZ=:/etc/localtime PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin \
    LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib \
    LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime LAMINA_RUNTIME=python
COPY runtime/lamina-ric /var/runtime/lamina-ric
COPY runtime/bootstrap.py /var/runtime/lamina/python/bootstrap.py
COPY fn/ /var/task/
WORKDIR /var/task
ENTRYPOINT ["/var/runtime/lamina-ric"]
CMD ["app.handler"]
EOF
EDIT="sed -i '\$ s/.*/# bench-edit '\"\$(date +%s%N)\"'/' '$C/fn/app.py'"
LB="'$LAMINA' --store '$W/store' build '$C/fn' --tag bench-calc-lamina"
DB="'$DOCKER' build -q -t bench-calc-docker '$C'"

# --- base unpack from cached .debs, once (what the first `lamina build` on a machine adds) -----
mkdir -p "$W/cache"
cp -r "$HOME/.cache/lamina/debian" "$W/cache/debian"
s=$(date +%s.%N)
"$LAMINA" --cache "$W/cache" base build python3.13 >/dev/null
e=$(date +%s.%N)
BASE_UNPACK=$(echo "$e - $s" | bc -l)
rm -rf "$W/cache"

# --- a store holding only the base layer (what docker has after FROM: the base, nothing else) --
"$LAMINA" --json --store "$W/seed" build "$C/fn" --tag bench-seed >"$W/seed.json"
base_digest=$(python3 -c 'import json,sys; print([l["digest"] for l in json.load(open(sys.argv[1]))["layers"] if l["name"]=="base"][0].split(":")[1])' "$W/seed.json")
find "$W/seed/blobs/sha256" -type f ! -name "$base_digest" -delete
rm -rf "$W/seed/refs"/*

# --- cold --------------------------------------------------------------------------------------
hyperfine -N --style basic --runs "$RUNS" --export-json "$OUTDIR/build-cold.json" \
  --prepare "rm -rf '$W/store'" --prepare "sh -c 'rm -rf $W/store && cp -a $W/seed $W/store'" \
  --prepare true --prepare true \
  -n "lamina build (empty store)" "$LB" \
  -n "lamina build (store has only the base layer)" "$LB" \
  -n "docker build --no-cache (BuildKit)" "env DOCKER_BUILDKIT=1 $DB --no-cache" \
  -n "docker build --no-cache (legacy)" "env DOCKER_BUILDKIT=0 $DB --no-cache" 2>&1 |
  grep -v '^ *$' || true

# --- one-line rebuild --------------------------------------------------------------------------
eval "$LB" >/dev/null
eval "DOCKER_BUILDKIT=1 $DB" >/dev/null
eval "DOCKER_BUILDKIT=0 $DB" >/dev/null
hyperfine --style basic --runs "$REBUILD_RUNS" --export-json "$OUTDIR/build-rebuild.json" \
  --prepare "$EDIT" \
  -n "lamina build" "$LB" \
  -n "lamina build --load" "$LB --load" \
  -n "docker build (BuildKit)" "DOCKER_BUILDKIT=1 $DB" \
  -n "docker build (legacy)" "DOCKER_BUILDKIT=0 $DB" 2>&1 | grep -v '^ *$' || true

# --- sanity: the edit really produces a new image each time; docker's image has 4 layers --------
eval "$EDIT"; d1=$(eval "$LB --json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifestDigest"])')
eval "$EDIT"; d2=$(eval "$LB --json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifestDigest"])')
[ "$d1" != "$d2" ] || { echo "the one-line edit did not change the image" >&2; exit 1; }
layers=$("$DOCKER" image inspect -f '{{len .RootFS.Layers}}' bench-calc-docker)

python3 - "$OUTDIR" "$BASE_UNPACK" "$layers" <<'PY' | tee "$OUTDIR/build.md"
import json, sys
out, base_unpack, layers = sys.argv[1], float(sys.argv[2]), sys.argv[3]
def rows(name):
    return {r["command"]: r for r in json.load(open(f"{out}/build-{name}.json"))["results"]}
print("| scenario | tool | mean s | ± s | min s | runs | time ÷ lamina reference (>1: lamina faster) |")
print("|---|---|---:|---:|---:|---:|---:|")
# cold: the like-for-like reference is the store that holds only the base (docker has the FROM image)
for scen, ref in (("cold", "lamina build (store has only the base layer)"), ("rebuild", "lamina build")):
    rs = rows(scen)
    base = rs[ref]["mean"]
    for cmd, r in rs.items():
        print(f"| {scen} | {cmd} | {r['mean']:.3f} | {r['stddev'] or 0:.3f} | {r['min']:.3f} "
              f"| {len(r['times'])} | {r['mean'] / base:.2f} |")
print(f"\nbase unpack from cached .debs (once, `lamina --cache TMP base build python3.13`): {base_unpack:.2f} s")
print(f"docker image layers: {layers}")
PY
