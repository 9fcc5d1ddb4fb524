#!/bin/sh
# A Lambda function behind an HTTP API (API Gateway, payload 2.0), as a plain executable: the
# request's event on stdin, the HTTP response as JSON on stdout.
#
# Try it: lamina rie . --http 8080 (in one terminal), then curl localhost:8080/hello
cat >/dev/null
printf '{"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "Hello from a shell!\\n"}\n'
