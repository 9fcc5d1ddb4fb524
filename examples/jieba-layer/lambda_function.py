"""A Chinese tokenizer behind API Gateway, as the seed wrote it: jieba from PyPI.

    GET /?text=我来到北京清华大学  ->  {"words": ["我", "来到", "北京", "清华大学"]}

The seed's other route: jieba comes in a Lambda layer ZIP (`python/jieba/...`, which Lambda
unpacks under /opt, and /opt/python is on the Python path), and this file alone is the
deployment package. `python3 make_zips.py` makes both ZIPs from PyPI; lamina.toml names them.
"""

import json

import jieba


def lambda_handler(event, context):
    text = (event.get("queryStringParameters") or {}).get("text", "")
    words = list(jieba.cut(text))
    return {
        "statusCode": 200,
        "body": json.dumps({"words": words}, ensure_ascii=False, indent=4),
    }
