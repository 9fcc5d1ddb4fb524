#!/usr/bin/env bash
# lamina on rootful Podman, through its Docker-compatible API (`podman system service`):
# the whole test suite and the README's quick start, with DOCKER_HOST pointing at Podman's
# socket. `.ci/run` runs it after the Docker suite; run it by hand the same way.
# Needs Debian's `podman` (rootful: run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v podman >/dev/null 2>&1 || { echo "podman.sh: podman is not installed (apt-get install podman)"; exit 1; }
tmp="${TMPDIR:-/tmp}"
sock="$tmp/lamina-podman-$$.sock"
# Podman's default container limits (nofile 1048576) cannot be set where root lacks
# CAP_SYS_RESOURCE, as in many CI sandboxes: containers that lamina does not make (SAM's,
# a test's `podman run`) get this machine's own hard limits instead. lamina sets its own.
# (nproc as lamina sets it: at most 16,384, what Podman could raise itself to.) The podman
# CLI reads the same file: in remote mode it sends its own defaults.
conf="$tmp/lamina-podman-$$.conf"
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
[ "$nproc" = unlimited ] || [ "$nproc" -gt 16384 ] && nproc=16384
printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' \
  "$nofile" "$nofile" "$nproc" "$nproc" >"$conf"
export CONTAINERS_CONF="$conf"
# Started in an empty folder: Podman 4.3's service builds a remote `podman build` from the
# Dockerfile of its own working folder when there is one (the repository's, here).
(cd "$(mktemp -d)" && exec podman system service --time=0 "unix://$sock" >"$tmp/lamina-podman.log" 2>&1) &
service=$!
trap 'kill $service 2>/dev/null; wait $service 2>/dev/null; rm -f "$sock" "$conf"' EXIT
for _ in $(seq 1 30); do
  [ -S "$sock" ] && break
  sleep 1
done
[ -S "$sock" ] || { echo "podman.sh: podman system service did not start:"; cat "$tmp/lamina-podman.log"; exit 1; }
export DOCKER_HOST="unix://$sock"
# What a test does by hand goes through Podman's own CLI: Docker's cannot attach to a
# container through Podman 4's Docker API ("unable to upgrade to tcp, received 409").
export LAMINA_TEST_ENGINE_CLI="podman --url $DOCKER_HOST"
echo "podman.sh: $(podman --version) at $DOCKER_HOST"

# The README's test command, whole, against Podman.
cargo test --workspace --locked
# The README's quick start: build, load into Podman, serve, the README's curl verbatim.
tests/quickstart.sh
