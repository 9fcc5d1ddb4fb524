#!/usr/bin/env bash
# `lamina prune` on a big store: 50 tagged images (one-file Python functions, each its own
# code layer on the shared base) and 10,000 further blobs, half of them named by layer-cache
# entries (build cache), half dangling. Time and peak memory (GNU time's maximum RSS) of
# `prune --dry-run`, `prune` (the dangling ones), `prune --all` (the cache too), and of
# `system df` and `images` on the same store; the floor is `rm -rf` of as many files.
#
#   benches/prune.sh            # IMAGES=50 BLOBS=10000 (~1 min)
#
# Output: benches/out/prune.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
IMAGES=${IMAGES:-50}
BLOBS=${BLOBS:-10000}
OUTDIR=${OUTDIR:-$HERE/out}
mkdir -p "$OUTDIR"
(cd "$ROOT" && cargo build --release -q -p lamina)
LAMINA="$ROOT/target/release/lamina"
W=$(mktemp -d /tmp/bench-prune.XXXXXX)
trap 'rm -rf "$W"' EXIT
export LAMINA_STORE="$W/store"

for i in $(seq "$IMAGES"); do
  mkdir -p "$W/fn$i"
  printf 'def handler(event, context):\n    return %d\n' "$i" >"$W/fn$i/app.py"
  "$LAMINA" build "$W/fn$i" --name "fn$i" --handler app.handler --tag "fn$i:v1" >/dev/null 2>&1
done
# The further blobs, named by their digests as the store names them; every other one named
# by a layer-cache entry.
python3 - "$LAMINA_STORE" "$BLOBS" <<'PY'
import hashlib, json, os, sys
store, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    data = b"bench blob %d " % i + os.urandom(64)
    hexd = hashlib.sha256(data).hexdigest()
    with open(os.path.join(store, "blobs", "sha256", hexd), "wb") as f:
        f.write(data)
    if i % 2 == 0:
        d = "sha256:" + hexd
        entry = {"diff_id": d, "digest": d, "size": len(data), "uncompressed_size": len(data)}
        key = hashlib.sha256(b"key %d" % i).hexdigest()
        with open(os.path.join(store, "layers", key + ".json"), "w") as f:
            json.dump(entry, f)
PY
total=$(find "$LAMINA_STORE/blobs/sha256" -type f | wc -l)

measure() { # NAME CMD... → "seconds peak_kb"
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$W/time" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
  read -r secs kb <"$W/time"
  echo "| $name | $secs | $((kb / 1024)) |" >>"$W/rows"
}
: >"$W/rows"
measure "lamina images ($IMAGES images)" "$LAMINA" images
measure "lamina system df ($total blobs)" "$LAMINA" system df
measure "lamina prune --dry-run" "$LAMINA" prune --dry-run
measure "lamina prune (the $((BLOBS / 2)) dangling)" "$LAMINA" prune
measure "lamina prune --all (the $((BLOBS / 2)) cached, their entries)" "$LAMINA" prune --all
left=$(find "$LAMINA_STORE/blobs/sha256" -type f | wc -l)
# The floor: removing as many files with rm.
mkdir -p "$W/floor"
python3 -c "
import os, sys
for i in range(int(sys.argv[2])):
    open(os.path.join(sys.argv[1], str(i)), 'w').close()" "$W/floor" "$BLOBS"
measure "rm -rf of $BLOBS empty files (floor)" rm -rf "$W/floor"

{
  echo "Store: $IMAGES images, $total blobs before ($left after \`prune --all\`: the images' own). $(nproc) cores, $(uname -r)."
  echo
  echo "| command | seconds | peak RSS MiB |"
  echo "|---|---:|---:|"
  cat "$W/rows"
} | tee "$OUTDIR/prune.md"
