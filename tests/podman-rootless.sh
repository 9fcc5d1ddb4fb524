#!/usr/bin/env bash
# lamina on rootless Podman: the README's quick start (build, load, serve, its curl lines
# verbatim) run by an unprivileged user against that user's own `podman system service`,
# found by lamina at $XDG_RUNTIME_DIR/podman/podman.sock without DOCKER_HOST. No host address
# reaches a rootless container, so this is the Runtime API relay's test
# (`lamina_runtime_api::relay`). `.ci/run` runs it after tests/podman.sh; run it by hand the
# same way. Needs root (it creates the user) and Debian's podman, uidmap and slirp4netns.
# Usage: tests/podman-rootless.sh [LAMINA_BIN_DIR]   (default: target/debug, built if absent)
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "podman-rootless.sh: run as root (it creates an unprivileged user)"; exit 1; }
command -v podman >/dev/null 2>&1 || { echo "podman-rootless.sh: podman is not installed (apt-get install podman uidmap slirp4netns)"; exit 1; }
command -v newuidmap >/dev/null 2>&1 || { echo "podman-rootless.sh: newuidmap is missing (apt-get install uidmap)"; exit 1; }
bin_dir="${1:-target/debug}"
[ -x "$bin_dir/lamina" ] || cargo build --locked --bin lamina

user=lamina-rootless
id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
grep -q "^$user:" /etc/subuid || usermod --add-subuids 200000-265535 --add-subgids 200000-265535 "$user"
# slirp4netns, rootless Podman's network, opens /dev/net/tun as the user. Distributions
# make it 0666; some container-based CI machines leave it 0600.
if [ -e /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
  echo "podman-rootless.sh: /dev/net/tun is $(stat -c %a /dev/net/tun); making it 0666 as distributions do"
  chmod 0666 /dev/net/tun
fi

uid=$(id -u "$user")
home=$(getent passwd "$user" | cut -d: -f6)
work=$(mktemp -d)
runtime_dir="/tmp/lamina-xdg-$uid"
cleanup() {
  pkill -u "$user" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# What the quick start reads: the README, its script, the example, and lamina itself.
mkdir -p "$work/tests" "$work/bin"
cp README.md "$work/"
cp tests/quickstart.sh "$work/tests/"
cp -r examples "$work/"
cp "$bin_dir/lamina" "$work/bin/"
# The Debian packages the base is assembled from, when this machine has them already.
cache="${LAMINA_CACHE:-$HOME/.cache/lamina}"
if [ -d "$cache/debian" ]; then
  mkdir -p "$home/.cache/lamina"
  cp -r "$cache/debian" "$home/.cache/lamina/" 2>/dev/null || true
  chown -R "$user:" "$home/.cache"
fi
chown -R "$user:" "$work"
chmod 0755 "$work"

su - "$user" -c "
  set -euo pipefail
  export XDG_RUNTIME_DIR=$runtime_dir
  mkdir -p \$XDG_RUNTIME_DIR && chmod 0700 \$XDG_RUNTIME_DIR
  unset DOCKER_HOST
  echo \"podman-rootless.sh: \$(podman --version), rootless as \$(id -un)\"
  podman system service --time=0 >\$XDG_RUNTIME_DIR/service.log 2>&1 &
  service=\$!
  trap 'kill \$service 2>/dev/null || true' EXIT
  for _ in \$(seq 1 30); do
    [ -S \$XDG_RUNTIME_DIR/podman/podman.sock ] && break
    sleep 1
  done
  [ -S \$XDG_RUNTIME_DIR/podman/podman.sock ] || { echo 'podman-rootless.sh: podman system service did not start:'; cat \$XDG_RUNTIME_DIR/service.log; exit 1; }
  cd $work && tests/quickstart.sh bin
"
