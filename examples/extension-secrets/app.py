"""Answers with the secret that the `secrets-cache` extension fetched before the first invoke.

Invoke with {"crash": true} to crash the runtime, or {"sleep": SECONDS} to run past the
timeout: the extension is told (SHUTDOWN, FAILURE or TIMEOUT) and logs it.
"""

import json
import os
import time
import urllib.request

CACHE = "http://127.0.0.1:2773"


def handler(event, context):
    event = event or {}
    if event.get("crash"):
        os._exit(3)
    if event.get("sleep"):
        time.sleep(float(event["sleep"]))
    with urllib.request.urlopen(CACHE + "/secret", timeout=2) as r:
        cached = json.load(r)
    return {"secret": cached["value"], "fetched_before_first_invoke": cached["fetched_at_init"]}
