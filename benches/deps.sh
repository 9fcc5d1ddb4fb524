#!/usr/bin/env bash
# Installing examples/jieba's requirements (jieba 0.42.1, an sdist that must be built) into the
# dependencies layer: pip against uv, both run by lamina inside a container of the python3.13
# base, same run, same machine. "cold": the installer's download/wheel cache is empty;
# "cached": it holds jieba from an earlier run. Each run uses a fresh store, so the layer is
# always installed and written (never a layer-cache hit); the base layer comes from a store
# seeded once, so only the dependency install and its layer are timed. Nothing here asserts.
#
# RUNS=3 benches/deps.sh        (needs Docker, PyPI; ~3 min)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNS="${RUNS:-3}"
CACHE="${LAMINA_CACHE:-$HOME/.cache/lamina}"
OUT="$ROOT/benches/out"
mkdir -p "$OUT"
cargo build --release -p lamina --manifest-path "$ROOT/Cargo.toml" >/dev/null 2>&1
LAMINA="$ROOT/target/release/lamina"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# A store with the base and runtime-client layers, copied for every run.
"$LAMINA" --store "$WORK/seed" build "$ROOT/examples/calculator" --json >/dev/null

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

run_once() { # installer -> seconds
  local store="$WORK/store-$RANDOM"
  cp -a "$WORK/seed" "$store"
  local t0 t1
  t0=$(date +%s.%N)
  timeout 600 "$LAMINA" --store "$store" build "$ROOT/examples/jieba" --installer "$1" --json >/dev/null 2>"$WORK/err" \
    || { cat "$WORK/err" >&2; exit 1; }
  t1=$(date +%s.%N)
  rm -rf "$store"
  echo "$t1 - $t0" | bc
}

declare -A RESULT
for installer in pip uv; do
  cold=(); cached=()
  for _ in $(seq 1 "$RUNS"); do
    rm -rf "$CACHE/installers/$installer/cache"
    cold+=("$(run_once "$installer")")
    cached+=("$(run_once "$installer")")
  done
  RESULT[$installer-cold]=$(printf '%s\n' "${cold[@]}" | median)
  RESULT[$installer-cached]=$(printf '%s\n' "${cached[@]}" | median)
done

{
  echo "| installer | cold s (median of $RUNS) | cached s | cold ÷ pip cold | cached ÷ pip cached |"
  echo "|---|---:|---:|---:|---:|"
  for installer in pip uv; do
    c=${RESULT[$installer-cold]}; w=${RESULT[$installer-cached]}
    printf '| %s | %.2f | %.2f | %.2f | %.2f |\n' "$installer" "$c" "$w" \
      "$(echo "$c / ${RESULT[pip-cold]}" | bc -l)" "$(echo "$w / ${RESULT[pip-cached]}" | bc -l)"
  done
} | tee "$OUT/deps.md"
