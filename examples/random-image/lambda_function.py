"""The seed's random image: ignores its input and answers with one of five image URLs.

    GET /  ->  200 {"imageUrl": "https://picsum.photos/id/237/600/400"}

Standard library only.
"""

import json
import random

IMAGES = [
    "https://picsum.photos/id/237/600/400",
    "https://picsum.photos/id/1025/600/400",
    "https://picsum.photos/id/1062/600/400",
    "https://picsum.photos/id/169/600/400",
    "https://picsum.photos/id/433/600/400",
]


def lambda_handler(event, context):
    return {
        "statusCode": 200,
        "body": json.dumps({"imageUrl": random.choice(IMAGES)}, indent=4),
    }
