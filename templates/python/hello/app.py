"""A Lambda function: `handler` gets the event and the context, and returns the answer.

Try it: lamina rie . (in one terminal), then lamina invoke --event events/event.json
"""
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event, context):
    name = event.get("name", "world")
    logger.info("greeting %s", name)
    return {"message": f"Hello, {name}!", "requestId": context.aws_request_id}
