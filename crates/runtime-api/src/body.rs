//! JSON bodies on the wire: Runtime API replies (§1.6), platform error bodies returned to the
//! invoker (§5) and the Invoke API's service errors (§4).

use serde::{Deserialize, Serialize};

/// `{"status":"OK"}`, the 202 reply to `/response`, `/error` and `/init/error`.
pub const STATUS_OK: &str = r#"{"status":"OK"}"#;

/// An error reply of the Runtime API to the runtime (§1.6): `{"errorMessage", "errorType"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeApiError {
    /// Human-readable text.
    #[serde(rename = "errorMessage")]
    pub error_message: String,
    /// Machine-readable type.
    #[serde(rename = "errorType")]
    pub error_type: String,
    /// HTTP status this error is sent with.
    #[serde(skip)]
    pub status: u16,
}

impl RuntimeApiError {
    fn new(status: u16, error_type: &str, message: impl Into<String>) -> Self {
        Self {
            error_message: message.into(),
            error_type: error_type.into(),
            status,
        }
    }
    /// 400 `InvalidRequestID`: the id is not the current invoke's.
    pub fn invalid_request_id() -> Self {
        Self::new(400, "InvalidRequestID", "Invalid request ID")
    }
    /// 400 `InvalidFunctionResponseMode`: a response-mode header other than `streaming`.
    pub fn invalid_response_mode() -> Self {
        Self::new(
            400,
            "InvalidFunctionResponseMode",
            "Invalid function response mode",
        )
    }
    /// 400 `TruncatedHTTPRequest`: the body was shorter than declared.
    pub fn truncated() -> Self {
        Self::new(
            400,
            "TruncatedHTTPRequest",
            "HTTP request detected as truncated",
        )
    }
    /// 403 `InvalidStateTransition`, e.g. a second `/response` for one invoke.
    pub fn invalid_state_transition(from: &str, to: &str, why: &str) -> Self {
        Self::new(
            403,
            "InvalidStateTransition",
            format!("State transition from {from} to {to} failed for runtime. Error: {why}"),
        )
    }
    /// 413 `RequestEntityTooLarge`: the response is over the sync limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Exceeded maximum allowed payload size ({limit} bytes)."),
        )
    }
    /// 410 `InvokeTimeout`: an answer to an invoke that already timed out, or one carrying
    /// a stale `Lambda-Runtime-Invocation-Id` (§1.6; RIE-LMI `RenderInvokeTimeout`, RAPID
    /// `ErrorRuntimeInvokeTimeout`). The runtime should log it and go back to `/next`.
    pub fn invoke_timeout() -> Self {
        Self::new(410, "InvokeTimeout", "Invoke timeout")
    }
    /// 500 `InternalServerError`.
    pub fn internal() -> Self {
        Self::new(500, "InternalServerError", "Internal Server Error")
    }
    /// 403 with `error_type`: how the Extensions and Telemetry APIs refuse a call (§2, §3.1;
    /// RIE `rendering.RenderForbiddenWithTypeMsg`).
    pub fn forbidden(error_type: &str, message: impl Into<String>) -> Self {
        Self::new(403, error_type, message)
    }
    /// 404 for a path that is not part of the Runtime API.
    pub fn not_found() -> Self {
        Self::new(404, "NotFound", "Not found")
    }
    /// This error as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| STATUS_OK.to_owned())
    }
}

/// A platform-made error body returned to the invoker with `X-Amz-Function-Error: Unhandled`
/// (§5): `{"errorType": T, "errorMessage": "RequestId: <id> Error: <text>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformError {
    /// E.g. `Runtime.ExitError`, `Sandbox.Timedout`.
    #[serde(rename = "errorType")]
    pub error_type: String,
    /// `RequestId: <id> Error: <text>`.
    #[serde(rename = "errorMessage")]
    pub error_message: String,
}

impl PlatformError {
    /// The generic shape (AWS emulator `GetErrorResponseWithFormattedErrorMessage`).
    pub fn new(error_type: &str, request_id: &str, text: &str) -> Self {
        Self {
            error_type: error_type.into(),
            error_message: format!("RequestId: {request_id} Error: {text}"),
        }
    }
    /// The runtime process exited during the invoke (§5, RIE #86):
    /// `Runtime exited with error: exit status 42` or `… signal: killed`.
    pub fn runtime_exit(request_id: &str, exit: &ExitReason) -> Self {
        Self::new(
            "Runtime.ExitError",
            request_id,
            &format!("Runtime exited with error: {exit}"),
        )
    }
    /// The runtime exited without error while an invoke was in flight.
    pub fn runtime_exit_ok(request_id: &str) -> Self {
        Self::new(
            "Runtime.ExitError",
            request_id,
            "Runtime exited without providing a reason",
        )
    }
    /// The invoke ran out of time (§5): `Task timed out after 3.00 seconds`, `%.2f` seconds
    /// (the cloud's fractional form, not the AWS emulator's `%d.00`, RIE #21).
    pub fn timeout(request_id: &str, timeout_ms: u64) -> Self {
        Self::new(
            "Sandbox.Timedout",
            request_id,
            &format!(
                "Task timed out after {:.2} seconds",
                timeout_ms as f64 / 1000.0
            ),
        )
    }
    /// The environment ran out of memory (§5).
    pub fn out_of_memory(request_id: &str) -> Self {
        Self::new(
            "Runtime.OutOfMemory",
            request_id,
            "Runtime exited with error: signal: killed",
        )
    }
    /// The response was over the limit (§5, AWS emulator `interop/model.go` wording).
    pub fn response_too_large(size: usize, limit: usize) -> Self {
        Self {
            error_type: "Function.ResponseSizeTooLarge".into(),
            error_message: format!(
                "Response payload size ({size} bytes) exceeded maximum allowed payload size ({limit} bytes)."
            ),
        }
    }
    /// This error as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// How a runtime process ended, worded as Go's `os/exec` does (the cloud's text, §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    /// Exited with this status code.
    Code(i64),
    /// Killed by this signal number.
    Signal(i32),
}

impl std::fmt::Display for ExitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Code(c) => write!(f, "exit status {c}"),
            Self::Signal(s) => write!(f, "signal: {}", signal_name(*s)),
        }
    }
}

fn signal_name(sig: i32) -> String {
    match sig {
        6 => "aborted".into(),
        9 => "killed".into(),
        11 => "segmentation fault".into(),
        15 => "terminated".into(),
        2 => "interrupt".into(),
        other => format!("signal {other}"),
    }
}

/// Normalise a runtime-posted error type to the platform-side type (§1.5, AWS emulator
/// `fatalerror.go`): an unanchored match of `(Runtime|Function)\.[A-Z][a-zA-Z]+` is kept;
/// otherwise a `Function.` prefix gives `Function.Unknown`; anything else `Runtime.Unknown`.
pub fn normalise_error_type(posted: &str) -> String {
    for prefix in ["Runtime.", "Function."] {
        let mut from = 0;
        while let Some(pos) = posted[from..].find(prefix) {
            let start = from + pos;
            let tail = &posted[start + prefix.len()..];
            let mut chars = tail.chars();
            if chars.next().is_some_and(|c| c.is_ascii_uppercase()) {
                let len = 1 + chars.take_while(|c| c.is_ascii_alphabetic()).count();
                if len >= 2 {
                    return posted[start..start + prefix.len() + len].to_owned();
                }
            }
            from = start + prefix.len();
        }
    }
    if posted.starts_with("Function.") {
        "Function.Unknown".into()
    } else {
        "Runtime.Unknown".into()
    }
}

/// A service error of the Invoke API (§4): status, `x-amzn-ErrorType` header and a REST-JSON
/// body `{"Type":"User"|"Service","Message":…}` (shape as AWS SAM emulates it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// HTTP status.
    pub status: u16,
    /// E.g. `ResourceNotFoundException`.
    pub error_type: &'static str,
    /// `User` or `Service`.
    pub fault: &'static str,
    /// Text for the caller.
    pub message: String,
}

impl ServiceError {
    fn user(status: u16, error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error_type,
            fault: "User",
            message: message.into(),
        }
    }
    /// 404: no such function.
    pub fn not_found(name: &str) -> Self {
        Self::user(
            404,
            "ResourceNotFoundException",
            format!("Function not found: arn:aws:lambda:us-east-1:000000000000:function:{name}"),
        )
    }
    /// 404 with a full ARN in the message.
    pub fn not_found_arn(arn: &str) -> Self {
        Self::user(
            404,
            "ResourceNotFoundException",
            format!("Function not found: {arn}"),
        )
    }
    /// 413: request over the sync limit (§1.8).
    pub fn request_too_large(limit: usize) -> Self {
        Self::user(
            413,
            "RequestTooLargeException",
            format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
        )
    }
    /// 400: body is not JSON.
    pub fn invalid_content(message: impl Into<String>) -> Self {
        Self::user(400, "InvalidRequestContentException", message)
    }
    /// 400: a parameter is invalid.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::user(400, "InvalidParameterValueException", message)
    }
    /// 429: no environment free and the queue is full.
    pub fn too_many_requests() -> Self {
        Self::user(429, "TooManyRequestsException", "Rate Exceeded.")
    }
    /// 500: the emulator itself failed.
    pub fn service(message: impl Into<String>) -> Self {
        Self {
            status: 500,
            error_type: "ServiceException",
            fault: "Service",
            message: message.into(),
        }
    }
    /// The body as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::json!({"Type": self.fault, "Message": self.message}).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_api_error_bodies() {
        let e = RuntimeApiError::invalid_request_id();
        assert_eq!(e.status, 400);
        assert_eq!(
            e.to_json(),
            r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#
        );
        assert_eq!(
            RuntimeApiError::too_large(6_291_556).error_message,
            "Exceeded maximum allowed payload size (6291556 bytes)."
        );
    }

    #[test]
    fn platform_errors_match_reference() {
        let e = PlatformError::runtime_exit("abc", &ExitReason::Code(42));
        assert_eq!(
            e.to_json(),
            r#"{"errorType":"Runtime.ExitError","errorMessage":"RequestId: abc Error: Runtime exited with error: exit status 42"}"#
        );
        let t = PlatformError::timeout("abc", 3_000);
        assert_eq!(
            t.error_message,
            "RequestId: abc Error: Task timed out after 3.00 seconds"
        );
        assert_eq!(
            PlatformError::timeout("x", 1_500).error_message,
            "RequestId: x Error: Task timed out after 1.50 seconds"
        );
        assert_eq!(ExitReason::Signal(9).to_string(), "signal: killed");
    }

    #[test]
    fn error_type_normalisation() {
        assert_eq!(
            normalise_error_type("Runtime.ImportModuleError"),
            "Runtime.ImportModuleError"
        );
        assert_eq!(normalise_error_type("xx Function.Foo yy"), "Function.Foo");
        assert_eq!(normalise_error_type("Function.x"), "Function.Unknown");
        assert_eq!(normalise_error_type("Unhandled"), "Runtime.Unknown");
        assert_eq!(normalise_error_type("Runtime.A"), "Runtime.Unknown");
    }

    #[test]
    fn service_error_shape() {
        let e = ServiceError::request_too_large(6_291_456);
        assert_eq!(e.status, 413);
        assert_eq!(
            e.to_json(),
            r#"{"Message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation","Type":"User"}"#
        );
    }
}
