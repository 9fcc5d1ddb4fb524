#!/bin/sh
# A streaming Lambda function as a plain executable: with LAMINA_RESPONSE_MODE=streaming (in
# lamina.toml) each line it prints reaches the caller as it is written.
#
# Try it: lamina rie . (in one terminal), then lamina invoke --stream --event events/event.json
cat >/dev/null
for i in 1 2 3; do
  echo "line $i of 3"
  [ "$i" -lt 3 ] && sleep 0.2
done
exit 0
