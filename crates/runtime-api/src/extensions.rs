//! The Extensions API (`2020-01-01`, §2): paths, headers, bodies and refusals, as the cloud
//! and AWS's emulator have them (RIE `rapi/handler/agentregister.go`, `agentnext.go`,
//! `agentiniterror.go`, `agentexiterror.go`; `core/agentsmap.go` for the 10-extension limit).

use serde::{Deserialize, Serialize};

use crate::body::RuntimeApiError;

/// `POST`: register, before the runtime's first `/next`.
pub const REGISTER: &str = "/2020-01-01/extension/register";
/// `GET`: long-poll for the next lifecycle event.
pub const EVENT_NEXT: &str = "/2020-01-01/extension/event/next";
/// `POST`: the extension failed its init.
pub const INIT_ERROR: &str = "/2020-01-01/extension/init/error";
/// `POST`: the extension is exiting because of an error.
pub const EXIT_ERROR: &str = "/2020-01-01/extension/exit/error";

/// The extension's name: the file name of an external extension.
pub const NAME_HEADER: &str = "lambda-extension-name";
/// The id `register` hands out, sent with every later call.
pub const IDENTIFIER_HEADER: &str = "lambda-extension-identifier";
/// A fresh id on every event `event/next` delivers.
pub const EVENT_IDENTIFIER_HEADER: &str = "lambda-extension-event-identifier";
/// The error type of `init/error` and `exit/error`.
pub const ERROR_TYPE_HEADER: &str = "lambda-extension-function-error-type";
/// Features the extension accepts in the register response (`accountId`).
pub const ACCEPT_FEATURE_HEADER: &str = "lambda-extension-accept-feature";

/// At most this many extensions per function (docs; RIE `core.MaxAgentsAllowed`).
pub const MAX_EXTENSIONS: usize = 10;

/// The directory external extensions are started from.
pub const EXTERNAL_DIR: &str = "/opt/extensions";

/// Variables the platform keeps from extensions' environment (§2, lifecycle table: the
/// cloud's list; AWS's emulator drops every key that starts with `_`).
pub const HIDDEN_ENV: &[&str] = &[
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS",
    "LAMBDA_RUNTIME_DIR",
    "LAMBDA_TASK_ROOT",
    "AWS_LAMBDA_MAX_CONCURRENCY",
];

/// Whether an extension sees the variable `key`: not one of [`HIDDEN_ENV`], nor any that
/// starts with `_` (`_HANDLER`, `_AWS_XRAY_DAEMON_ADDRESS`, …).
pub fn visible_to_extensions(key: &str) -> bool {
    !key.starts_with('_') && !HIDDEN_ENV.contains(&key)
}

/// A lifecycle event an extension may register for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// Each invoke.
    #[serde(rename = "INVOKE")]
    Invoke,
    /// The environment's end.
    #[serde(rename = "SHUTDOWN")]
    Shutdown,
}

/// The body of `register`: `{"events":["INVOKE","SHUTDOWN"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RegisterRequest {
    /// The events asked for.
    #[serde(default)]
    pub events: Vec<EventType>,
    /// Deprecated; refused when not empty.
    #[serde(default, rename = "configurationKeys")]
    pub configuration_keys: Vec<String>,
}

impl RegisterRequest {
    /// Parse a register body as the cloud does (an unknown event type is a format error).
    pub fn parse(body: &[u8]) -> Result<Self, RuntimeApiError> {
        let req: Self = serde_json::from_slice(body)
            .map_err(|e| RuntimeApiError::forbidden(INVALID_REQUEST_FORMAT, e.to_string()))?;
        if !req.configuration_keys.is_empty() {
            return Err(RuntimeApiError::forbidden(
                INVALID_REQUEST_FORMAT,
                "configurationKeys are deprecated; use environment variables instead",
            ));
        }
        Ok(req)
    }
}

/// The body of a `register` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterResponse {
    /// Function name.
    pub function_name: String,
    /// Function version.
    pub function_version: String,
    /// The function's handler (`_HANDLER`).
    pub handler: String,
    /// The account id, when the extension accepted the `accountId` feature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// X-Ray tracing of an INVOKE event; always sent (its absence broke the `lambda-extension`
/// crate, RIE #109).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracing {
    /// `X-Amzn-Trace-Id`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The trace header.
    pub value: String,
}

/// Why the environment is shutting down (upper case, as the cloud sends it; RIE sends lower
/// case, aws-lambda-runtime-interface-emulator #94).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ShutdownReason {
    /// The environment is being retired (or the emulator stopped).
    Spindown,
    /// An invoke ran out of time.
    Timeout,
    /// Something failed: the runtime or an extension crashed, or an error was reported.
    Failure,
}

/// An event `event/next` delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "eventType")]
pub enum Event {
    /// An invoke began.
    #[serde(rename = "INVOKE", rename_all = "camelCase")]
    Invoke {
        /// When the invoke times out (ms since the epoch).
        deadline_ms: u64,
        /// The invoke.
        request_id: String,
        /// The function's ARN.
        invoked_function_arn: String,
        /// Its trace.
        tracing: Tracing,
    },
    /// The environment is shutting down.
    #[serde(rename = "SHUTDOWN", rename_all = "camelCase")]
    Shutdown {
        /// Why.
        shutdown_reason: ShutdownReason,
        /// When the extension is killed (ms since the epoch).
        deadline_ms: u64,
    },
}

/// `Extension.InvalidExtensionName`.
pub const INVALID_NAME: &str = "Extension.InvalidExtensionName";
/// `Extension.TooManyExtensions`.
pub const TOO_MANY: &str = "Extension.TooManyExtensions";
/// `Extension.RegistrationClosed`.
pub const REGISTRATION_CLOSED: &str = "Extension.RegistrationClosed";
/// `Extension.InvalidEventType`.
pub const INVALID_EVENT_TYPE: &str = "Extension.InvalidEventType";
/// `InvalidRequestFormat`.
pub const INVALID_REQUEST_FORMAT: &str = "InvalidRequestFormat";
/// `Extension.InvalidExtensionState`.
pub const INVALID_STATE: &str = "Extension.InvalidExtensionState";
/// `Extension.MissingExtensionIdentifier`.
pub const MISSING_IDENTIFIER: &str = "Extension.MissingExtensionIdentifier";
/// `Extension.InvalidExtensionIdentifier`.
pub const INVALID_IDENTIFIER: &str = "Extension.InvalidExtensionIdentifier";
/// `Extension.UnknownExtensionIdentifier`.
pub const UNKNOWN_IDENTIFIER: &str = "Extension.UnknownExtensionIdentifier";
/// `Extension.MissingHeader`.
pub const MISSING_HEADER: &str = "Extension.MissingHeader";

/// The platform's error types when an extension fails the environment (RIE
/// `fatalerror.go`): what the invoker is told and `INIT_REPORT`/`REPORT` say.
pub mod fatal {
    /// An extension reported `init/error`.
    pub const INIT_ERROR: &str = "Extension.InitError";
    /// An extension reported `exit/error`.
    pub const EXIT_ERROR: &str = "Extension.ExitError";
    /// An extension's process ended unasked.
    pub const CRASH: &str = "Extension.Crash";
    /// An extension could not be started (or there were more than ten).
    pub const LAUNCH_ERROR: &str = "Extension.LaunchError";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_have_the_documented_json_shape() {
        let invoke = Event::Invoke {
            deadline_ms: 1_700_000_000_000,
            request_id: "id".into(),
            invoked_function_arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
            tracing: Tracing {
                kind: "X-Amzn-Trace-Id".into(),
                value: "Root=1-2-3;Parent=4;Sampled=1".into(),
            },
        };
        assert_eq!(
            serde_json::to_value(&invoke).unwrap(),
            serde_json::json!({"eventType":"INVOKE","deadlineMs":1_700_000_000_000_u64,"requestId":"id",
                "invokedFunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:f",
                "tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-2-3;Parent=4;Sampled=1"}})
        );
        let shutdown = Event::Shutdown {
            shutdown_reason: ShutdownReason::Spindown,
            deadline_ms: 5,
        };
        assert_eq!(
            serde_json::to_string(&shutdown).unwrap(),
            r#"{"eventType":"SHUTDOWN","shutdownReason":"SPINDOWN","deadlineMs":5}"#
        );
    }

    #[test]
    fn extensions_see_the_environment_less_what_the_cloud_hides() {
        for hidden in [
            "_HANDLER",
            "_X_AMZN_TRACE_ID",
            "AWS_EXECUTION_ENV",
            "LAMBDA_TASK_ROOT",
        ] {
            assert!(!visible_to_extensions(hidden), "{hidden}");
        }
        for seen in [
            "AWS_LAMBDA_RUNTIME_API",
            "AWS_REGION",
            "AWS_LAMBDA_FUNCTION_NAME",
            "PATH",
        ] {
            assert!(visible_to_extensions(seen), "{seen}");
        }
    }

    #[test]
    fn a_register_body_is_read_as_the_cloud_reads_it() {
        let r = RegisterRequest::parse(br#"{"events":["INVOKE","SHUTDOWN"]}"#).unwrap();
        assert_eq!(r.events, [EventType::Invoke, EventType::Shutdown]);
        assert!(RegisterRequest::parse(br#"{}"#).unwrap().events.is_empty());
        let bad = RegisterRequest::parse(br#"{"events":["INVOKE"],"configurationKeys":["a"]}"#)
            .unwrap_err();
        assert_eq!(
            (bad.status, bad.error_type.as_str()),
            (403, INVALID_REQUEST_FORMAT)
        );
        assert_eq!(RegisterRequest::parse(b"nope").unwrap_err().status, 403);
        assert_eq!(
            RegisterRequest::parse(br#"{"events":["RESTORE"]}"#)
                .unwrap_err()
                .error_type,
            INVALID_REQUEST_FORMAT
        );
    }
}
