#!/usr/bin/env bash
# lamina on rootful Podman, through its Docker-compatible API (`podman system service`):
# the emulator's engine tests and the README's quick start, with DOCKER_HOST pointing at
# Podman's socket. `.ci/run` runs it after the Docker suite; run it by hand the same way.
# Needs Debian's `podman` (rootful: run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v podman >/dev/null 2>&1 || { echo "podman.sh: podman is not installed (apt-get install podman)"; exit 1; }
sock="${TMPDIR:-/tmp}/lamina-podman-$$.sock"
podman system service --time=0 "unix://$sock" >"${TMPDIR:-/tmp}/lamina-podman.log" 2>&1 &
service=$!
trap 'kill $service 2>/dev/null; wait $service 2>/dev/null; rm -f "$sock"' EXIT
for _ in $(seq 1 30); do
  [ -S "$sock" ] && break
  sleep 1
done
[ -S "$sock" ] || { echo "podman.sh: podman system service did not start:"; cat "${TMPDIR:-/tmp}/lamina-podman.log"; exit 1; }
export DOCKER_HOST="unix://$sock"
echo "podman.sh: $(podman --version) at $DOCKER_HOST"

# The emulator against the engine: sessions, networks, cleanup, the Runtime API's reach.
cargo test --locked -p lamina-docker --test docker
# Build, load, serve and invoke through the CLI; the HTTP front.
cargo test --locked --test e2e --test http_front
# The README's quick start: build, load into Podman, serve, the README's curl verbatim.
tests/quickstart.sh
