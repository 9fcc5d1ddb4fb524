#!/bin/sh
# A plain executable as a Lambda handler, on the OS-only `provided` base: lamina-ric runs it
# once per event with the event on stdin and sends back what it prints on stdout. A non-zero
# exit is reported as a function error, with the end of stderr as the message.
# The base is minimal (libc, CA bundle, tzdata, dash): this script sticks to shell builtins.
set -u
IFS= read -r event || true   # the event, one line of JSON (no trailing newline)
echo "handling request ${LAMINA_REQUEST_ID:-?}" >&2
case "$event" in
  *'"fail"'*) echo "asked to fail" >&2; exit 3 ;;
esac
printf '{"echo": %s, "requestId": "%s"}\n' "$event" "${LAMINA_REQUEST_ID:-}"
