"""A Lambda function with an external extension (layer/extensions/hello-extension, which Lambda
starts from /opt/extensions before the function): the handler asks the extension, over a local
port, what it has seen.

Try it: lamina rie . (in one terminal), then lamina invoke --event events/event.json
"""
import json
import urllib.request


def handler(event, context):
    with urllib.request.urlopen("http://127.0.0.1:2772/", timeout=2) as r:
        seen = json.load(r)
    return {"message": f"Hello, {event.get('name', 'world')}!", "extension": seen}
