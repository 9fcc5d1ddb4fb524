#!/bin/sh
# A Lambda function as a plain executable: the event arrives on stdin, the answer is what it
# prints on stdout; a non-zero exit is a function error (stderr is its message).
#
# Try it: lamina rie . (in one terminal), then lamina invoke --event events/event.json
event=$(cat)
echo "got $event" >&2
printf '{"message": "Hello from a shell!", "event": %s}\n' "$event"
