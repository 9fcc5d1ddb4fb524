// lamina's Node.js worker adapter, driven by lamina-ric.
//
// Started once per execution environment as `node bootstrap.mjs <handler>` (the handler also
// in `_HANDLER`) with cwd = the task root. It loads the handler once, then runs one event at a
// time as lamina-ric sends them. stdout and stderr are the user's (the container's output);
// lamina-ric and this adapter talk over two private pipes whose fd numbers are in
// `_LAMINA_FD_IN` / `_LAMINA_FD_OUT`, in the frames of crates/runtime-api/src/worker.rs
// (golden frames: tests/fixtures/worker-frames.json).
//
// Behaviour users can observe (handler resolution and its load order, error types and
// messages, the context object, error JSON, console lines, response streaming) reproduces
// AWS's Node.js runtime interface client v4 (aws/aws-lambda-nodejs-runtime-interface-client
// 4.0.0, Apache-2.0), the client of Lambda's nodejs24.x; see
// shared/reference/language-runtimes.md. Node.js 22+, built-in modules only.

import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import util from "node:util";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Writable } from "node:stream";

// ------------------------------------------------------------------------------------------
// framing: u32 BE header length, JSON header, u64 BE body length, body bytes.
// ------------------------------------------------------------------------------------------

export function encodeFrame(header, body = Buffer.alloc(0)) {
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const head = Buffer.alloc(4 + json.length + 8);
  head.writeUInt32BE(json.length, 0);
  json.copy(head, 4);
  head.writeBigUInt64BE(BigInt(body.length), 4 + json.length);
  return Buffer.concat([head, body]);
}

/** Reads frames from a byte stream cut anywhere. */
export class FrameReader {
  constructor() {
    this.buf = Buffer.alloc(0);
  }
  push(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out = [];
    for (;;) {
      if (this.buf.length < 4) return out;
      const hlen = this.buf.readUInt32BE(0);
      if (this.buf.length < 4 + hlen + 8) return out;
      const blen = Number(this.buf.readBigUInt64BE(4 + hlen));
      const end = 4 + hlen + 8 + blen;
      if (this.buf.length < end) return out;
      const header = JSON.parse(this.buf.subarray(4, 4 + hlen).toString("utf8"));
      out.push([header, this.buf.subarray(4 + hlen + 8, end)]);
      this.buf = this.buf.subarray(end);
    }
  }
}

// ------------------------------------------------------------------------------------------
// errors (v4 utils/errors.ts, utils/error.ts)
// ------------------------------------------------------------------------------------------

function runtimeError(reason, message) {
  const e = new Error(message);
  e.name = `Runtime.${reason}`;
  return e;
}

const CALLBACK_22 =
  "ERROR: AWS Lambda does not support callback-based function handlers when using Node.js 22 with Managed Instances. To use Managed Instances, modify this function to use a supported handler signature. For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.";
const CALLBACK_24 =
  "ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. You need to modify this function to use a supported handler signature to use Node.js 24 or later. For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.";

const del = (s) => String(s).replace(/\x7F/g, "%7F");

/** The error JSON posted to the Runtime API (`formatError`): note `trace`, not `stackTrace`. */
export function formatError(err) {
  try {
    if (err instanceof Error) {
      return {
        errorType: del(err.name),
        errorMessage: del(err.message),
        trace: del(err.stack ?? "").split("\n"),
      };
    }
    return { errorType: typeof err, errorMessage: String(err), trace: [] };
  } catch {
    return {
      errorType: "handled",
      errorMessage:
        "callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack",
      trace: [],
    };
  }
}

/** The object an error log line carries (`structuredConsole.logError`). */
function errorLogRecord(err) {
  if (!(err instanceof Error)) return formatError(err);
  const rec = { errorType: err.name, errorMessage: err.message, code: err.code };
  for (const k of Object.keys(err)) rec[k] = err[k];
  rec.stack = (err.stack ?? "").split("\n");
  return rec;
}

// ------------------------------------------------------------------------------------------
// logging (v4 logging/*.ts): console.* lines with timestamp, request id and level
// ------------------------------------------------------------------------------------------

const LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
const state = { requestId: "-", tenantId: undefined };

export function logLevel(env = process.env) {
  const v = String(env.AWS_LAMBDA_LOG_LEVEL ?? "").toUpperCase();
  return LEVELS.includes(v) ? v : "TRACE";
}

export function jsonFormat(env = process.env) {
  return String(env.AWS_LAMBDA_LOG_FORMAT ?? "").toUpperCase() === "JSON";
}

function errorFields(e) {
  const out = { errorType: e?.constructor?.name ?? "Error", errorMessage: e.message };
  out.stackTrace = (e.stack ?? "").split("\n");
  for (const k of Object.keys(e)) out[k] = e[k];
  return out;
}

/** One console line, as v4's formatter writes it (without the final newline). */
export function formatLine(level, args, json, now = new Date()) {
  if (!json) {
    return `${now.toISOString()}\t${state.requestId}\t${level}\t${util.format(...args)}`;
  }
  const rec = { timestamp: now.toISOString(), level, requestId: state.requestId };
  if (state.tenantId) rec.tenantId = state.tenantId;
  if (args.length === 1) {
    const v = args[0];
    rec.message = v instanceof Error ? errorFields(v) : v;
    try {
      return JSON.stringify(rec);
    } catch {
      rec.message = util.format(v);
      return JSON.stringify(rec);
    }
  }
  rec.message = util.format(...args);
  const first = args.find((a) => a instanceof Error);
  if (first) {
    const f = errorFields(first);
    rec.errorType = f.errorType;
    rec.errorMessage = f.errorMessage;
    rec.stackTrace = f.stackTrace;
  }
  return JSON.stringify(rec);
}

function patchConsole() {
  const json = jsonFormat();
  const min = LEVELS.indexOf(logLevel());
  const write = (level) => (...args) => {
    // On stdout every newline of a line becomes `\r`, so a multi-line message stays one
    // CloudWatch event (v4 `stdout-logger.ts`).
    const line = formatLine(level, args, json).replace(/\n/g, "\r");
    fs.writeSync(1, line + "\n");
  };
  const methods = { trace: "TRACE", debug: "DEBUG", info: "INFO", log: "INFO", warn: "WARN", error: "ERROR", fatal: "FATAL" };
  for (const [name, level] of Object.entries(methods)) {
    console[name] = LEVELS.indexOf(level) >= min ? write(level) : () => {};
  }
}

function logError(label, err) {
  console.error(label, "\t" + JSON.stringify(errorLogRecord(err)));
}

// ------------------------------------------------------------------------------------------
// the `awslambda` global: response streaming (v4 utils/globals.ts, stream/*.ts)
// ------------------------------------------------------------------------------------------

const STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
const HIGH_WATER_MARK = Symbol.for("aws.lambda.runtime.handler.streaming.highWaterMark");
const HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response";

class HttpResponseStream {
  /** Open `stream` with the HTTP-integration prelude: JSON, then 8 NUL bytes, written with
   * the first `write()`. As AWS's client, an `end()` with no `write()` before it never
   * sends the prelude (aws-lambda-nodejs-runtime-interface-client #97). */
  static from(stream, prelude) {
    stream.setContentType(HTTP_INTEGRATION);
    const json = JSON.stringify(prelude ?? {});
    const original = stream.write.bind(stream);
    let first = true;
    stream.write = (chunk, ...rest) => {
      if (first) {
        first = false;
        original(Buffer.concat([Buffer.from(json), Buffer.alloc(8)]));
      }
      return original(chunk, ...rest);
    };
    return stream;
  }
}

export function installGlobal() {
  const off = String(process.env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA ?? "").toLowerCase();
  if (off === "1" || off === "true") return;
  globalThis.awslambda = {
    ...(globalThis.awslambda ?? {}),
    streamifyResponse(handler, options) {
      handler[STREAMING] = "response";
      if (typeof options?.highWaterMark === "number") {
        handler[HIGH_WATER_MARK] = parseInt(options.highWaterMark);
      }
      return handler;
    },
    HttpResponseStream,
  };
}

// ------------------------------------------------------------------------------------------
// handler loading (v4 function/*.ts, utils/handler-path.ts)
// ------------------------------------------------------------------------------------------

/** Split a handler string into (moduleRoot, module, handler path). */
export function splitHandler(handler) {
  if (handler.includes("..")) {
    throw runtimeError(
      "MalformedHandlerName",
      `'${handler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const base = path.basename(handler);
  const moduleRoot = handler.slice(0, handler.length - base.length).replace(/\/$/, "");
  const m = /^([^.]*)\.(.*)$/.exec(base);
  if (!m) throw runtimeError("MalformedHandlerName", "Bad handler");
  return [moduleRoot, m[1], m[2]];
}

async function loadModule(appRoot, moduleRoot, module) {
  const p = path.resolve(appRoot, moduleRoot, module);
  try {
    for (const candidate of [p, `${p}.js`, `${p}.mjs`, `${p}.cjs`]) {
      if (fs.existsSync(candidate)) return await import(pathToFileURL(candidate).href);
    }
    const require = createRequire(path.join(appRoot, "noop.js"));
    return require(require.resolve(module, { paths: [appRoot, path.join(appRoot, moduleRoot)] }));
  } catch (e) {
    if (e instanceof SyntaxError) {
      const err = runtimeError("UserCodeSyntaxError", String(e));
      err.stack = e.stack;
      throw err;
    }
    if (e?.code === "MODULE_NOT_FOUND") throw runtimeError("ImportModuleError", String(e));
    throw e;
  }
}

function resolvePath(obj, dotted) {
  let v = obj;
  for (const key of dotted.split(".")) {
    if (v === undefined || v === null) return undefined;
    v = v[key];
  }
  return v;
}

export async function loadHandler(handlerString, appRoot) {
  const [moduleRoot, module, handlerPath] = splitHandler(handlerString);
  const mod = await loadModule(appRoot, moduleRoot, module);
  let fn = resolvePath(mod, handlerPath);
  if (fn === undefined && mod?.default !== undefined) fn = resolvePath(mod.default, handlerPath);
  if (fn === undefined) {
    throw runtimeError("HandlerNotFound", `${handlerString} is undefined or not exported`);
  }
  if (typeof fn !== "function") {
    throw runtimeError("HandlerNotFound", `${handlerString} is not a function`);
  }
  const tag = fn[STREAMING];
  if (tag && tag !== "response") {
    throw runtimeError("MalformedStreamingHandler", "Only response streaming is supported.");
  }
  if (!tag && fn.length >= 3) {
    throw runtimeError(
      "CallbackHandlerDeprecated",
      process.env.AWS_EXECUTION_ENV === "AWS_Lambda_nodejs22.x" ? CALLBACK_22 : CALLBACK_24,
    );
  }
  return fn;
}

// ------------------------------------------------------------------------------------------
// invokes
// ------------------------------------------------------------------------------------------

function parseJson(text) {
  if (text === undefined || text === null || text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function makeContext(h, env = process.env) {
  const deadline = Number(h.deadline_ms);
  return {
    awsRequestId: h.request_id,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    invokedFunctionArn: h.invoked_function_arn,
    tenantId: h.tenant_id ?? undefined,
    xRayTraceId: h.trace_id ?? undefined,
    clientContext: parseJson(h.client_context),
    identity: parseJson(h.cognito_identity),
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

class Channel {
  constructor(fd) {
    this.fd = fd;
  }
  send(header, body) {
    fs.writeSync(this.fd, encodeFrame(header, body));
  }
  /** Write without blocking the event loop (a stream's chunks: backpressure through the
   * callback). */
  sendAsync(header, body, callback) {
    fs.write(this.fd, encodeFrame(header, body), (err) => callback(err ?? null));
  }
}

function responseStream(channel, highWaterMark) {
  let contentType = "application/octet-stream";
  let started = false;
  // The chunk being written (one at a time: Writable waits for each callback).
  let inFlight = null;
  const start = () => {
    if (!started) {
      started = true;
      channel.send({ type: "stream_start", content_type: contentType });
    }
  };
  const stream = new Writable({
    highWaterMark,
    write(chunk, encoding, callback) {
      start();
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding);
      inFlight = new Promise((resolve) =>
        channel.sendAsync({ type: "stream_chunk" }, bytes, (err) => {
          inFlight = null;
          resolve();
          callback(err);
        }),
      );
    },
  });
  stream.setContentType = (t) => {
    if (started) {
      throw runtimeError("InvalidStreamingOperation", "Cannot set content-type, too late.");
    }
    contentType = t;
  };
  stream.started = () => started;
  stream.startNow = start;
  /** Drop what is still buffered and wait for the chunk being written, so that no chunk
   * frame follows the stream's last frame (they share the pipe to lamina-ric). */
  stream.abandon = async () => {
    stream.destroy();
    while (inFlight) await inFlight;
  };
  return stream;
}

export async function invokeStreaming(fn, event, context, channel) {
  const stream = responseStream(channel, fn[HIGH_WATER_MARK]);
  const finished = new Promise((resolve) => stream.on("finish", resolve));
  let result;
  try {
    result = fn(event, stream, context);
    if (!result || typeof result.then !== "function") {
      throw new Error("Streaming does not support non-async handlers.");
    }
    const value = await result;
    if (value !== undefined) console.warn("Streaming handlers ignore return values.");
    // A stream the handler never ends keeps the invoke open until its timeout.
    await finished;
    stream.startNow();
    return [{ type: "stream_end" }];
  } catch (err) {
    await stream.abandon();
    logError("Invoke Error", err);
    const e = formatError(err);
    const body = Buffer.from(JSON.stringify(e));
    // Once the response has begun, an error can only travel in its trailers (§1.7).
    const type = stream.started() ? "stream_error" : "error";
    return [{ type, error_type: e.errorType }, body];
  }
}

/** The invoke's last frame: its response or its error. */
async function invokeBuffered(fn, event, context) {
  const failed = (err) => {
    logError("Invoke Error", err);
    const e = formatError(err);
    return [{ type: "error", error_type: e.errorType }, Buffer.from(JSON.stringify(e))];
  };
  let value;
  try {
    value = await fn(event, context);
  } catch (err) {
    return failed(err);
  }
  let text;
  try {
    text = JSON.stringify(value === undefined ? null : value);
  } catch {
    return failed(runtimeError("JSONStringifyError", "Unable to stringify response body"));
  }
  return [{ type: "response", content_type: "application/json" }, Buffer.from(text ?? "null")];
}

/** The variables lamina-ric names its pipes and asks for output marks with. */
export const ENV = { fdIn: "_LAMINA_FD_IN", fdOut: "_LAMINA_FD_OUT", outputMarks: "_LAMINA_OUTPUT_MARKS" };

/** Starts the line that ends an invoke's output (crates/runtime-api/src/logs.rs). */
export const OUTPUT_MARK_PREFIX = Buffer.from("\x1e\x1flamina-end ");

function markOutputEnd(requestId) {
  const mark = Buffer.concat([OUTPUT_MARK_PREFIX, Buffer.from(`${requestId}\n`)]);
  for (const fd of [1, 2]) {
    try {
      fs.writeSync(fd, mark);
    } catch {
      // the handler closed it; the emulator falls back to waiting
    }
  }
}

/** Frames from lamina-ric. Read through a pipe handle on the event loop, not
 * `fs.createReadStream`: that blocks a thread-pool thread in `read()`, and a process whose
 * handler crashes (an unhandled rejection) then never finishes exiting. */
async function* messages(fd) {
  const reader = new FrameReader();
  const pipe = new net.Socket({ fd, readable: true, writable: false });
  for await (const chunk of pipe) {
    for (const m of reader.push(chunk)) yield m;
  }
}

export async function run(handlerString, fdIn, fdOut) {
  const channel = new Channel(fdOut);
  // Read once and hidden from the handler (and its subprocesses).
  const marks = process.env[ENV.outputMarks] === "1";
  delete process.env[ENV.outputMarks];
  installGlobal();
  patchConsole();
  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  let fn;
  try {
    if (!handlerString) {
      throw runtimeError("PlatformError", "_HANDLER environment variable is not set");
    }
    fn = await loadHandler(handlerString, appRoot);
  } catch (err) {
    logError("Init Error", err);
    const e = formatError(err);
    channel.send({ type: "init_error", error_type: e.errorType }, Buffer.from(JSON.stringify(e)));
    process.exit(1);
  }
  channel.send({ type: "ready" });
  for await (const [header, body] of messages(fdIn)) {
    if (header.type !== "invoke") throw new Error(`lamina adapter: unexpected ${header.type}`);
    state.requestId = header.request_id;
    state.tenantId = header.tenant_id ?? undefined;
    if (header.trace_id) process.env._X_AMZN_TRACE_ID = header.trace_id;
    else delete process.env._X_AMZN_TRACE_ID;
    const context = makeContext(header);
    const event = body.length ? JSON.parse(body.toString("utf8")) : {};
    const [last, lastBody] =
      fn[STREAMING] === "response"
        ? await invokeStreaming(fn, event, context, channel)
        : await invokeBuffered(fn, event, context);
    // The invoke's output is complete before its answer: the marks go first.
    if (marks) markOutputEnd(header.request_id);
    state.requestId = "-";
    channel.send(last, lastBody);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const fdIn = Number(process.env[ENV.fdIn] ?? 3);
  const fdOut = Number(process.env[ENV.fdOut] ?? 4);
  delete process.env[ENV.fdIn];
  delete process.env[ENV.fdOut];
  await run(process.env._HANDLER || process.argv[2], fdIn, fdOut);
}
