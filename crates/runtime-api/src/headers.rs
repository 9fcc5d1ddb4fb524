//! Header names of the Runtime API (§1.3–1.5) and the Invoke API (§4), lower-case.

/// Request id of the event (`/next` reply). Required by every client.
pub const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
/// Deadline, Unix epoch milliseconds (`/next` reply).
pub const DEADLINE_MS: &str = "lambda-runtime-deadline-ms";
/// ARN of the invoked function (`/next` reply).
pub const INVOKED_FUNCTION_ARN: &str = "lambda-runtime-invoked-function-arn";
/// X-Ray trace header (`/next` reply); the client copies it to `_X_AMZN_TRACE_ID`.
pub const TRACE_ID: &str = "lambda-runtime-trace-id";
/// Client context JSON (`/next` reply), decoded from the invoke's base64 header.
pub const CLIENT_CONTEXT: &str = "lambda-runtime-client-context";
/// Cognito identity JSON (`/next` reply).
pub const COGNITO_IDENTITY: &str = "lambda-runtime-cognito-identity";
/// Tenant id (`/next` reply), from the invoke's `X-Amz-Tenant-Id`.
pub const TENANT_ID: &str = "lambda-runtime-aws-tenant-id";
/// Per-invoke nonce on the `/next` reply, echoed by the runtime on `/response` and
/// `/error` (§1.3, §1.4; July 2026 "cross-wiring protection", aws-lambda-rust-runtime
/// #1159, python RIC #214): a post whose echo is not the invoke's current nonce is stale.
pub const INVOCATION_ID: &str = "lambda-runtime-invocation-id";
/// Error type the runtime sends with `/init/error` (§1.5).
pub const FUNCTION_ERROR_TYPE: &str = "lambda-runtime-function-error-type";
/// Base64 error body in a streamed response's trailers (§1.7).
pub const FUNCTION_ERROR_BODY: &str = "lambda-runtime-function-error-body";
/// X-Ray error cause the runtime may attach to `/error` (§1.5).
pub const XRAY_ERROR_CAUSE: &str = "lambda-runtime-function-xray-error-cause";
/// Response mode header; only `streaming` is accepted (§1.4).
pub const RESPONSE_MODE: &str = "lambda-runtime-function-response-mode";

/// Invoke API: `RequestResponse` (default), `Event` or `DryRun`.
pub const INVOCATION_TYPE: &str = "x-amz-invocation-type";
/// Invoke API: `None` or `Tail`.
pub const LOG_TYPE: &str = "x-amz-log-type";
/// Invoke API: base64 JSON client context.
pub const AMZ_CLIENT_CONTEXT: &str = "x-amz-client-context";
/// Invoke API: tenant id.
pub const AMZ_TENANT_ID: &str = "x-amz-tenant-id";
/// Invoke API reply: `Unhandled` when the function failed (§4).
pub const FUNCTION_ERROR: &str = "x-amz-function-error";
/// Invoke API reply: the version that ran.
pub const EXECUTED_VERSION: &str = "x-amz-executed-version";
/// Invoke API reply: base64 tail of the invoke's log.
pub const LOG_RESULT: &str = "x-amz-log-result";
/// Invoke API reply: the service error's type (§4).
pub const ERROR_TYPE: &str = "x-amzn-errortype";
/// Invoke API reply: request id of the invoke.
pub const AMZN_REQUEST_ID: &str = "x-amzn-requestid";
/// Invoke API request: a caller's X-Ray trace header.
pub const AMZN_TRACE_ID: &str = "x-amzn-trace-id";
