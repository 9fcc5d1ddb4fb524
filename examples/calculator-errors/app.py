"""The calculator, as an error demo: the proxy event in, the proxy response out.

    GET /calc?num1=6&num2=3&operator=divide  ->  {"num1": 6.0, "num2": 3.0, "operator": "divide", "result": 2.0}

Dividing by zero is left unhandled on purpose, so you can see the error body and log
lines Lambda produces for an exception.
"""

import json
import logging
import operator

logger = logging.getLogger()
logger.setLevel(logging.INFO)

OPERATORS = {
    "add": operator.add,
    "subtract": operator.sub,
    "multiply": operator.mul,
    "divide": operator.truediv,
}


def respond(status, body):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }


def handler(event, context):
    params = event.get("queryStringParameters") or {}
    if event.get("body") and not params:
        params = json.loads(event["body"])
    try:
        num1 = float(params["num1"])
        num2 = float(params["num2"])
        op = params["operator"]
    except (KeyError, TypeError, ValueError) as exc:
        return respond(400, {"message": f"expected num1, num2 and operator: {exc}"})
    if op not in OPERATORS:
        return respond(400, {"message": f"unknown operator {op!r}; use one of {sorted(OPERATORS)}"})

    result = OPERATORS[op](num1, num2)  # divide by zero raises ZeroDivisionError
    logger.info("%s %s %s = %s (request %s)", num1, op, num2, result, context.aws_request_id)
    return respond(200, {"num1": num1, "num2": num2, "operator": op, "result": result})
