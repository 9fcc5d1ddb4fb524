// A Lambda function behind an HTTP API (API Gateway, payload 2.0): the event describes the
// HTTP request, the answer is the HTTP response.
//
// Try it: lamina rie . --http 8080 (in one terminal), then curl 'localhost:8080/hello?name=you'
// or lamina invoke --event events/event.json

export const handler = async (event) => {
  const name = event.queryStringParameters?.name ?? "world";
  return {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: `Hello, ${name}!`, path: event.rawPath ?? "/" }),
  };
};
