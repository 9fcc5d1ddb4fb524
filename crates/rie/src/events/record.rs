//! The record an asynchronous invoke's outcome leaves in a destination (runtime-api.md §7;
//! Lambda's "Configuring destinations for asynchronous invocation"): version, timestamp,
//! requestContext (requestId, functionArn with its qualifier, condition,
//! approximateInvokeCount), requestPayload, responseContext and responsePayload.

use serde_json::{json, Value};

use super::store::QueuedEvent;

/// Why the event left the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Condition {
    /// The function returned.
    Success,
    /// Every attempt failed.
    RetriesExhausted,
    /// Older than the maximum event age.
    EventAgeExceeded,
}

impl Condition {
    fn as_str(self) -> &'static str {
        match self {
            Condition::Success => "Success",
            Condition::RetriesExhausted => "RetriesExhausted",
            Condition::EventAgeExceeded => "EventAgeExceeded",
        }
    }
}

/// JSON text as a value; anything else as a string.
fn json_or_text(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// The destination record for `event`; `response` is the last attempt's answer (function
/// error or not) when there was one.
pub(crate) fn record(
    condition: Condition,
    function_arn: &str,
    event: &QueuedEvent,
    response: Option<(&[u8], bool)>,
    timestamp: &str,
) -> Value {
    let mut r = json!({
        "version": "1.0",
        "timestamp": timestamp,
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": format!("{function_arn}:$LATEST"),
            "condition": condition.as_str(),
            "approximateInvokeCount": event.attempts,
        },
        "requestPayload": json_or_text(event.payload.as_bytes()),
    });
    if let (Some((body, failed)), Value::Object(fields)) = (response, &mut r) {
        let mut context = json!({"statusCode": 200, "executedVersion": "$LATEST"});
        if failed {
            context["functionError"] = json!("Unhandled");
        }
        fields.insert("responseContext".into(), context);
        fields.insert("responsePayload".into(), json_or_text(body));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_record_has_the_clouds_fields() {
        let e = QueuedEvent {
            seq: 1,
            request_id: "id".into(),
            payload: r#"{"a": 1}"#.into(),
            trace_id: String::new(),
            client_context: None,
            tenant_id: None,
            accepted_ms: 0,
            attempts: 3,
            not_before_ms: 0,
            unrecorded: None,
        };
        let r = record(
            Condition::RetriesExhausted,
            "arn:aws:lambda:us-east-1:000000000000:function:f",
            &e,
            Some((br#"{"errorType": "X"}"#, true)),
            "2024-01-01T00:00:00.000Z",
        );
        assert_eq!(r["requestContext"]["condition"], "RetriesExhausted");
        assert_eq!(r["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(
            r["requestContext"]["functionArn"],
            "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"
        );
        assert_eq!(r["requestPayload"]["a"], 1);
        assert_eq!(r["responseContext"]["functionError"], "Unhandled");
        assert_eq!(r["responsePayload"]["errorType"], "X");
    }
}
