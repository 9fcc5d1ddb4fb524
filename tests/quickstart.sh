#!/usr/bin/env bash
# The README's quick start, as a new user runs it: its serve command (the part after
# `cargo install … &&`) with the lamina on PATH, then every curl line of the Quick start
# section verbatim, each answer compared with the `# …` line the README shows under it.
# Usage: tests/quickstart.sh [LAMINA_BIN_DIR]   (default: target/debug, built if absent)
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir="${1:-target/debug}"
[ -x "$bin_dir/lamina" ] || cargo build --locked --bin lamina
export PATH="$PWD/$bin_dir:$PATH"

# The Quick start section: from its heading to the next one.
section=$(awk '/^## Quick start/{on=1; next} /^## /{on=0} on' README.md)
serve=$(printf '%s\n' "$section" | grep -m1 '^cargo install' | sed 's/.*&& *//')
[ -n "$serve" ] || { echo "quickstart: no 'cargo install … && lamina …' line in the README"; exit 1; }

log=$(mktemp)
echo "quickstart: $serve"
bash -c "exec $serve" >"$log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 600); do
  grep -q '^serving' "$log" && break
  kill -0 $pid 2>/dev/null || { echo "quickstart: lamina exited:"; cat "$log"; exit 1; }
  sleep 1
done
grep -q '^serving' "$log" || { echo "quickstart: not serving after 600 s:"; cat "$log"; exit 1; }

# Each curl command (with its continuation lines) and the answer shown under it.
checked=0
while IFS= read -r -d $'\0' pair; do
  cmd=${pair%%$'\x1f'*}
  want=${pair#*$'\x1f'}
  got=$(bash -c "$cmd")
  if [ "$got" != "$want" ]; then
    echo "quickstart: $cmd"
    echo "  README shows: $want"
    echo "  lamina gave:  $got"
    cat "$log"
    exit 1
  fi
  echo "quickstart: ok: $got"
  checked=$((checked + 1))
done < <(printf '%s\n' "$section" | awk '
  /^curl /            { cmd=$0; cont=($0 ~ /\\$/); next }
  cont                { cmd=cmd "\n" $0; cont=($0 ~ /\\$/); next }
  /^# / && cmd != ""  { printf "%s\x1f%s%c", cmd, substr($0, 3), 0; cmd="" }
')
[ "$checked" -gt 0 ] || { echo "quickstart: no curl line with an answer in the README's Quick start"; exit 1; }
echo "quickstart: $checked curl line(s) answered as the README shows"
