// Unit tests for lamina's Node adapter (base-images/node/bootstrap.mjs). Expected strings are
// AWS's Node client v4's (shared/reference/language-runtimes.md §3, §5, §8). Run with
// `node --test base-images/node/tests` (tests/adapters.rs runs them on the nodejs24 base);
// LAMINA_WORKER_FRAMES names the golden frames file (default: the repository's).

import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import {
  encodeFrame,
  ENV,
  FrameReader,
  formatError,
  formatLine,
  installGlobal,
  invokeStreaming,
  loadHandler,
  logLevel,
  makeContext,
  OUTPUT_MARK_PREFIX,
  splitHandler,
} from "../bootstrap.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const golden = JSON.parse(
  fs.readFileSync(
    process.env.LAMINA_WORKER_FRAMES ?? path.join(here, "../../../tests/fixtures/worker-frames.json"),
    "utf8",
  ),
);

test("every golden frame encodes byte for byte and decodes whatever the cuts", () => {
  assert.ok(golden.frames.length >= 10);
  for (const f of golden.frames) {
    const body = Buffer.from(f.body_hex, "hex");
    assert.equal(encodeFrame(f.header, body).toString("hex"), f.wire_hex, JSON.stringify(f.header));
    const wire = Buffer.from(f.wire_hex, "hex");
    for (const cut of [1, 3, 7, wire.length]) {
      const reader = new FrameReader();
      const got = [];
      for (let i = 0; i < wire.length; i += cut) got.push(...reader.push(wire.subarray(i, i + cut)));
      assert.equal(got.length, 1);
      assert.deepEqual(got[0][0], f.header);
      assert.equal(got[0][1].toString("hex"), f.body_hex);
    }
  }
  assert.equal(OUTPUT_MARK_PREFIX.toString("hex"), golden.output_mark_prefix_hex);
  assert.deepEqual(ENV, { fdIn: golden.env.fd_in, fdOut: golden.env.fd_out, outputMarks: golden.env.output_marks });
});

test("handler strings split as v4 splits them, with its errors", () => {
  assert.deepEqual(splitHandler("index.handler"), ["", "index", "handler"]);
  assert.deepEqual(splitHandler("app.a.b"), ["", "app", "a.b"]);
  assert.deepEqual(splitHandler("src/api/app.handler"), ["src/api", "app", "handler"]);
  assert.throws(() => splitHandler("../x.handler"), {
    name: "Runtime.MalformedHandlerName",
    message: "'../x.handler' is not a valid handler name. Use absolute paths when specifying root directories in handler names.",
  });
  assert.throws(() => splitHandler("index"), { name: "Runtime.MalformedHandlerName", message: "Bad handler" });
});

function taskRoot(files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lamina-node-"));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

test("modules load in v4's order over '', .js, .mjs, .cjs, ES modules and CommonJS", async () => {
  const dir = taskRoot({
    "esm.mjs": "export const handler = async () => 'esm';\n",
    "cjs.cjs": "exports.handler = async () => 'cjs';\n",
    "plain.js": "module.exports.handler = async () => 'js-commonjs';\n",
    "nested/deep/mod.mjs": "export const api = { v1: { get: async () => 'nested' } };\n",
    "dflt.mjs": "export default { handler: async () => 'default' };\n",
    "both.js": "exports.handler = async () => 'js first';\n",
    "both.mjs": "export const handler = async () => 'mjs second';\n",
    "typed/package.json": '{"type":"module"}\n',
    "typed/app.js": "export const handler = async () => 'js as esm';\n",
  });
  const call = async (h) => (await loadHandler(h, dir))({}, {});
  assert.equal(await call("esm.handler"), "esm");
  assert.equal(await call("cjs.handler"), "cjs");
  assert.equal(await call("plain.handler"), "js-commonjs");
  assert.equal(await call("nested/deep/mod.api.v1.get"), "nested");
  assert.equal(await call("dflt.handler"), "default");
  assert.equal(await call("both.handler"), "js first");
  assert.equal(await call("typed/app.handler"), "js as esm");
});

test("each resolution error has v4's type and message", async () => {
  const dir = taskRoot({
    "app.mjs": "export const value = 1;\nexport const handler = async () => 1;\n",
    "broken.mjs": "export const handler = async () => {\n",
    "cb.mjs": "export const handler = (event, context, callback) => callback(null, 1);\n",
    "throws.mjs": "throw new TypeError('init went wrong');\n",
  });
  await assert.rejects(loadHandler("missing.handler", dir), (e) => {
    assert.equal(e.name, "Runtime.ImportModuleError");
    assert.match(e.message, /Cannot find module 'missing'/);
    return true;
  });
  await assert.rejects(loadHandler("app.nothing", dir), {
    name: "Runtime.HandlerNotFound",
    message: "app.nothing is undefined or not exported",
  });
  await assert.rejects(loadHandler("app.value", dir), {
    name: "Runtime.HandlerNotFound",
    message: "app.value is not a function",
  });
  await assert.rejects(loadHandler("broken.handler", dir), (e) => {
    assert.equal(e.name, "Runtime.UserCodeSyntaxError");
    assert.match(e.message, /^SyntaxError: /);
    return true;
  });
  await assert.rejects(loadHandler("cb.handler", dir), {
    name: "Runtime.CallbackHandlerDeprecated",
    message:
      "ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. You need to modify this function to use a supported handler signature to use Node.js 24 or later. For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.",
  });
  await assert.rejects(loadHandler("throws.handler", dir), { name: "TypeError", message: "init went wrong" });
});

test("error bodies carry errorType, errorMessage and trace, as v4 posts them", () => {
  const e = new RangeError("out of\x7Frange");
  const body = formatError(e);
  assert.equal(body.errorType, "RangeError");
  assert.equal(body.errorMessage, "out of%7Frange");
  assert.ok(Array.isArray(body.trace) && body.trace[0].startsWith("RangeError: out of"));
  assert.deepEqual(Object.keys(body), ["errorType", "errorMessage", "trace"]);
  assert.deepEqual(formatError("plain"), { errorType: "string", errorMessage: "plain", trace: [] });
});

test("console lines are v4's text and JSON records", () => {
  const now = new Date("2026-12-07T01:02:03.004Z");
  assert.equal(formatLine("INFO", ["a %d b", 1], false, now), "2026-12-07T01:02:03.004Z\t-\tINFO\ta 1 b");
  const rec = JSON.parse(formatLine("WARN", [{ k: 1 }], true, now));
  assert.deepEqual(rec, { timestamp: "2026-12-07T01:02:03.004Z", level: "WARN", requestId: "-", message: { k: 1 } });
  const err = JSON.parse(formatLine("ERROR", ["failed:", new Error("boom")], true, now));
  assert.equal(err.errorType, "Error");
  assert.equal(err.errorMessage, "boom");
  assert.ok(err.message.startsWith("failed: Error: boom"));
  assert.equal(logLevel({}), "TRACE");
  assert.equal(logLevel({ AWS_LAMBDA_LOG_LEVEL: "warn" }), "WARN");
  assert.equal(logLevel({ AWS_LAMBDA_LOG_LEVEL: "loud" }), "TRACE");
});

test("the context object has v4's fields and a real deadline", () => {
  const deadline = Date.now() + 5000;
  const ctx = makeContext(
    {
      request_id: "r1",
      deadline_ms: deadline,
      invoked_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f",
      trace_id: "Root=1-abc",
      client_context: '{"custom":{"a":1}}',
      cognito_identity: null,
      tenant_id: null,
    },
    { AWS_LAMBDA_FUNCTION_NAME: "f", AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "128", AWS_LAMBDA_FUNCTION_VERSION: "$LATEST" },
  );
  assert.equal(ctx.awsRequestId, "r1");
  assert.equal(ctx.functionName, "f");
  assert.equal(ctx.memoryLimitInMB, "128");
  assert.equal(ctx.xRayTraceId, "Root=1-abc");
  assert.deepEqual(ctx.clientContext, { custom: { a: 1 } });
  assert.equal(ctx.identity, undefined);
  assert.equal(ctx.tenantId, undefined);
  const left = ctx.getRemainingTimeInMillis();
  assert.ok(left > 4000 && left <= 5000, String(left));
  assert.equal("callbackWaitsForEmptyEventLoop" in ctx, false);
});

test("no chunk frame follows a stream's last frame, however slow its write", async () => {
  // A channel whose chunk writes complete late, as a busy pipe makes them.
  const frames = [];
  const channel = {
    send: (header) => frames.push(header.type),
    sendAsync: (header, body, callback) =>
      setTimeout(() => {
        frames.push(header.type);
        callback(null);
      }, 50),
  };
  installGlobal();
  const late = globalThis.awslambda.streamifyResponse(async (event, stream) => {
    stream.write("x");
    stream.write("y");
    stream.setContentType("text/plain");
  });
  const [last] = await invokeStreaming(late, {}, {}, channel);
  frames.push(last.type);
  // Whatever was still to be written has had its time.
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(last.type, "stream_error");
  assert.equal(last.error_type, "Runtime.InvalidStreamingOperation");
  assert.equal(frames.at(-1), "stream_error", frames.join(", "));
  assert.equal(frames[0], "stream_start");
});
