"""A Chinese tokenizer behind API Gateway, as the seed wrote it: jieba from PyPI.

    GET /?text=我来到北京清华大学  ->  {"words": ["我", "来到", "北京", "清华大学"]}

jieba is not part of the Lambda runtime; it comes from requirements.txt, installed into the
image by `lamina build` inside a container of the python3.13 base. Its dictionary loads on
the first call, which takes seconds: memory and timeout are raised in lamina.toml, as the
author had to on Lambda.
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
