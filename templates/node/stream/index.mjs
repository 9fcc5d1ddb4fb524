// A streaming Lambda function (response streaming): each line reaches the caller as it is
// written, here one every 200 ms.
//
// Try it: lamina rie . --http 8080 (in one terminal), then curl -N 'localhost:8080/?count=5'
// or lamina invoke --stream --event events/event.json

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const count = Math.min(Number(event.queryStringParameters?.count ?? event.count ?? 3) || 3, 50);
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 200,
    headers: { "content-type": "text/plain" },
  });
  for (let i = 1; i <= count; i++) {
    stream.write(`line ${i} of ${count}\n`);
    if (i < count) await sleep(200);
  }
  stream.end();
});
