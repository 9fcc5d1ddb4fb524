// A streaming handler (Lambda response streaming, Node.js 24): server-sent events, one every
// 100 ms, behind an HTTP prelude, so a function URL in RESPONSE_STREAM mode (and
// `lamina rie --http`) answers `curl -N` with status 200, `text/event-stream` and each event
// as it is written.
//
//   lamina rie examples/node-stream --http 8080
//   curl -N 'localhost:8080/?count=5'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  const count = Math.min(Number(event.queryStringParameters?.count ?? event.count ?? 5) || 5, 100);
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 200,
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });
  for (let i = 1; i <= count; i++) {
    stream.write(`data: {"tick": ${i}, "at": ${Date.now()}}\n\n`);
    if (i < count) await sleep(100);
  }
  stream.end();
});
