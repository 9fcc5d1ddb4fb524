// A Lambda function: `handler` gets the event and the context, and returns the answer.
//
// Try it: lamina rie . (in one terminal), then lamina invoke --event events/event.json

export const handler = async (event, context) => {
  const name = event.name ?? "world";
  console.info(`greeting ${name}`);
  return { message: `Hello, ${name}!`, requestId: context.awsRequestId };
};
