#!/usr/bin/env bash
# Layer throughput of lamina's writer against the machine's floors, and its peak RSS as the
# layer grows.
#
#   benches/layer.sh                     # sizes 200 and 800 MiB, 3 repetitions (median kept)
#   SIZES="200 800 2000" REPS=5 benches/layer.sh
#   RSS_SIZES=3000 BIG_SIZES="256 3072" benches/layer.sh   # also peak RSS at larger sizes
#   SIZES=" " BIG_SIZES=3072 benches/layer.sh             # only the RSS runs
#
# For each size: a deterministic tree (benches/gen_tree.py, seed 42) under
# ~/.cache/lamina/bench/trees/, page cache warmed, then timed (median of REPS):
#   lamina     crates/image/examples/layer_bench: tar -> sha256 -> gzip -1 (flate2/zlib-rs in
#              128 KiB blocks on every core, crates/image/src/pgzip.rs) -> sha256 -> file, as
#              `lamina build` writes a layer (its timing includes hashing the files for the
#              cache key, which pigz does not do)
#   pigz       tar -c | pigz -1 -p NPROC | sha256sum
#   gzip       tar -c | gzip -1 | sha256sum
#   gzip+2sha  tar -c | tee >(sha256sum) | gzip -1 | sha256sum   (the same work as lamina, but
#              in 4 processes)
#   tar|sha    tar -c | sha256sum
#   openssl    openssl dgst -sha256 on the tar file (tar written to a temp file first)
# MiB/s are of the uncompressed tar. Peak RSS of the lamina writer from /usr/bin/time -v.
# Results go to stdout as a markdown table and to $OUT (default benches/out/layer.md).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SIZES=${SIZES:-"200 800"}
REPS=${REPS:-3}
BENCH=${LAMINA_BENCH_DIR:-$HOME/.cache/lamina/bench}
OUT=${OUT:-$HERE/out/layer.md}
NPROC=$(nproc)
mkdir -p "$BENCH/trees" "$(dirname "$OUT")"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

command -v pigz >/dev/null || { echo "need pigz (apt-get install -y pigz)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "need GNU time (apt-get install -y time)" >&2; exit 1; }

(cd "$ROOT" && cargo build --release -q -p lamina-image --example layer_bench)
LB="$ROOT/target/release/examples/layer_bench"

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# seconds of wall time of "$@" (a shell command string), bounded to 600 s
timeit() {
  local s e
  s=$(date +%s.%N)
  timeout 600 bash -c "$1" >/dev/null
  e=$(date +%s.%N)
  echo "$e - $s" | bc -l
}

{
  echo "| MiB (tar) | files | tool | s (median of $REPS) | MiB/s | lamina ÷ tool (speed) | gzip bytes | peak RSS |"
  echo "|---:|---:|---|---:|---:|---:|---:|---:|"
} > "$OUT"

for size in $SIZES; do
  tree="$BENCH/trees/t$size"
  python3 "$HERE/gen_tree.py" "$tree" "$size" 42
  files=$(find "$tree" -type f | wc -l)
  TARC="tar --sort=name --format=gnu -C '$tree' -cf - ."
  tar --sort=name --format=gnu -C "$tree" -cf "$TMP/t.tar" .   # also warms the page cache
  tarbytes=$(stat -c %s "$TMP/t.tar")
  mib=$(echo "$tarbytes / 1048576" | bc -l)

  declare -A secs=()
  # lamina: parse the writer's own timing (excludes planning and the cache-hit pass)
  runs=()
  rss=()
  for _ in $(seq "$REPS"); do
    line=$(/usr/bin/time -v -o "$TMP/time.txt" timeout 600 "$LB" "$tree" | sed -n 1p)
    runs+=("$(sed -E 's/.* in ([0-9.]+)s.*/\1/' <<<"$line")")
    rss+=("$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/time.txt")")
  done
  secs[lamina]=$(printf '%s\n' "${runs[@]}" | median)
  lamina_rss_kb=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
  echo "size $size: lamina $line; max RSS ${lamina_rss_kb} KiB" >&2

  declare -A cmds=(
    [pigz]="$TARC | pigz -1 -p $NPROC | sha256sum"
    [gzip]="$TARC | gzip -1 | sha256sum"
    [gzip+2sha]="$TARC | tee >(sha256sum >/dev/null) | gzip -1 | sha256sum"
    [tar\|sha]="$TARC | sha256sum"
    [openssl]="openssl dgst -sha256 '$TMP/t.tar'"
  )
  for tool in pigz gzip gzip+2sha 'tar|sha' openssl; do
    runs=()
    for _ in $(seq "$REPS"); do runs+=("$(timeit "${cmds[$tool]}")"); done
    secs[$tool]=$(printf '%s\n' "${runs[@]}" | median)
    echo "size $size: $tool ${secs[$tool]}s" >&2
  done
  # output sizes (not timed): same level, different deflate implementations
  declare -A gz=()
  gz[lamina]=$(sed -E 's/.* -> ([0-9]+) bytes.*/\1/' <<<"$line")
  gz[pigz]=$(bash -c "$TARC | pigz -1 -p $NPROC | wc -c")
  gz[gzip]=$(bash -c "$TARC | gzip -1 | wc -c")
  gz[gzip+2sha]=${gz[gzip]}
  # pigz's peak RSS for comparison
  /usr/bin/time -v -o "$TMP/time.txt" bash -c "$TARC | pigz -1 -p $NPROC >/dev/null"
  pigz_rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/time.txt")

  for tool in lamina pigz gzip gzip+2sha 'tar|sha' openssl; do
    s=${secs[$tool]}
    rate=$(echo "$mib / $s" | bc -l)
    ratio=$(echo "${secs[$tool]} / ${secs[lamina]}" | bc -l)
    r=""
    [ "$tool" = lamina ] && r="${lamina_rss_kb} KiB"
    [ "$tool" = pigz ] && r="${pigz_rss} KiB (largest of tar, pigz)"
    printf '| %.0f | %d | %s | %.2f | %.0f | %.2f | %s | %s |\n' "$mib" "$files" "${tool/|/\\|}" "$s" "$rate" "$ratio" "${gz[$tool]:-}" "$r" >> "$OUT"
  done
  rm -f "$TMP/t.tar"
  unset secs cmds gz
done

# Peak RSS only (no peers), at larger sizes: does the writer's memory stay flat?
# RSS_SIZES: the same mixed tree (file count grows with size); BIG_SIZES: 64 MiB files only
# (file count stays small), to separate memory per byte from memory per file.
for spec in ${RSS_SIZES:-} $(for b in ${BIG_SIZES:-}; do echo "$b:big"; done); do
  size=${spec%%:*}
  kind=$([ "$spec" != "$size" ] && echo big || true)
  tree="$BENCH/trees/t$size$kind"
  python3 "$HERE/gen_tree.py" "$tree" "$size" 42 $kind
  line=$(/usr/bin/time -v -o "$TMP/time.txt" timeout 1800 "$LB" "$tree" | sed -n 1p)
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/time.txt")
  s=$(sed -E 's/.* in ([0-9.]+)s.*/\1/' <<<"$line")
  mib=$(sed -E 's/^([0-9]+) MiB.*/\1/' <<<"$line")
  label="lamina (RSS run${kind:+, 64 MiB files}, 1 rep)"
  printf '| %s | %d | %s | %s | %.0f | – | %s | %d KiB |\n' "$mib" "$(find "$tree" -type f | wc -l)" "$label" "$s" "$(echo "$mib / $s" | bc -l)" "$(sed -E 's/.* -> ([0-9]+) bytes.*/\1/' <<<"$line")" "$kb" >> "$OUT"
  [ "${KEEP_TREES:-1}" = 1 ] || rm -rf "$tree"
done

echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
cat "$OUT"
