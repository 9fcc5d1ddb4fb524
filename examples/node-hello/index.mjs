// The seed's calculator in Node.js 24 (an ES module), behind API Gateway (HTTP API, proxy
// integration) — the same contract as examples/calculator:
//
//   GET /?num1=1&num2=2&operator=add     ->  200 {"result": 3}
//   GET /?num1=1&num2=0&operator=divide  ->  400 {"error": "Cannot divide by zero"}
//   GET /?num1=1&num2=2&operator=pow     ->  400 {"error": "Invalid operator"}
//   GET /?num1=one&num2=2&operator=add   ->  400 {"error": "Invalid input"}

const respond = (statusCode, body) => ({ statusCode, body: JSON.stringify(body, null, 4) });

const operations = {
  add: (a, b) => a + b,
  subtract: (a, b) => a - b,
  multiply: (a, b) => a * b,
  divide: (a, b) => a / b,
};

export const handler = async (event, context) => {
  const params = event.queryStringParameters ?? {};
  const num1 = Number(params.num1);
  const num2 = Number(params.num2);
  if (params.num1 === undefined || params.num2 === undefined || Number.isNaN(num1) || Number.isNaN(num2)) {
    return respond(400, { error: "Invalid input" });
  }
  const operation = operations[params.operator];
  if (!operation) return respond(400, { error: "Invalid operator" });
  if (params.operator === "divide" && num2 === 0) {
    return respond(400, { error: "Cannot divide by zero" });
  }
  console.info(`${params.operator}(${num1}, ${num2}) for ${context.awsRequestId}`);
  return respond(200, { result: operation(num1, num2) });
};
