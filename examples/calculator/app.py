"""The seed's calculator behind API Gateway (HTTP API, proxy integration).

    GET /?num1=1&num2=2&operator=add     ->  200 {"result": 3.0}
    GET /?num1=1&num2=0&operator=divide  ->  400 {"error": "Cannot divide by zero"}
    GET /?num1=1&num2=2&operator=pow     ->  400 {"error": "Invalid operator"}
    GET /?num1=one&num2=2&operator=add   ->  400 {"error": "Invalid input"}

(`examples/calculator-errors` leaves the division by zero unhandled, to show the error body
and log lines Lambda produces for an exception.)
"""

import json


def respond(status, body):
    return {"statusCode": status, "body": json.dumps(body, indent=4)}


def handler(event, context):
    try:
        params = event["queryStringParameters"]
        num1 = float(params["num1"])
        num2 = float(params["num2"])
        operator = params["operator"]
    except (ValueError, TypeError, KeyError):
        return respond(400, {"error": "Invalid input"})

    if operator == "add":
        result = num1 + num2
    elif operator == "subtract":
        result = num1 - num2
    elif operator == "multiply":
        result = num1 * num2
    elif operator == "divide":
        if num2 == 0:
            return respond(400, {"error": "Cannot divide by zero"})
        result = num1 / num2
    else:
        return respond(400, {"error": "Invalid operator"})
    return respond(200, {"result": result})
