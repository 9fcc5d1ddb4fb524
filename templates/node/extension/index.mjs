// A Lambda function with an external extension (layer/extensions/hello-extension, which Lambda
// starts from /opt/extensions before the function): the handler asks the extension, over a
// local port, what it has seen.
//
// Try it: lamina rie . (in one terminal), then lamina invoke --event events/event.json

export const handler = async (event) => {
  const seen = await (await fetch("http://127.0.0.1:2772/")).json();
  return { message: `Hello, ${event.name ?? "world"}!`, extension: seen };
};
