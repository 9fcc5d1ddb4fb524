//! A streamed response's HTTP-integration prelude (runtime-api.md §1.7, §8): with the content
//! type `application/vnd.awslambda.http-integration-response`, the stream opens with a JSON
//! object (`statusCode`, `headers`, `cookies`) and 8 NUL bytes, and the body follows. Node's
//! `awslambda.HttpResponseStream.from` writes it; function URLs and API Gateway REST in
//! streaming mode read it into the HTTP status and headers.

use serde_json::Value;

use super::response::{front_headers, is_framing};
use super::{FrontResponse, Payload};

/// The content type of a stream that opens with a prelude.
pub const HTTP_INTEGRATION_CONTENT_TYPE: &str =
    "application/vnd.awslambda.http-integration-response";
/// The prelude's end.
pub const DELIMITER: [u8; 8] = [0; 8];
/// Most bytes a prelude may take before its delimiter. API Gateway documents none (the
/// reference notes 16 KB, unconfirmed); lamina allows 64 KiB and answers 502 past it.
pub const MAX_PRELUDE: usize = 64 * 1024;

/// What the start of a stream holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Split {
    /// No delimiter yet, and room for more.
    NeedMore,
    /// The answer's head, and where the body starts in the bytes given.
    Head {
        /// Status and headers (the body left empty).
        head: FrontResponse,
        /// Offset of the body's first byte.
        body_at: usize,
    },
    /// Not a prelude: the front answers 502.
    Invalid(String),
}

/// Read the prelude at the start of `buf` (everything received so far) into the answer's
/// head for `payload`'s front.
pub fn split(buf: &[u8], payload: Payload, request_id: &str) -> Split {
    let Some(at) = buf.windows(DELIMITER.len()).position(|w| w == DELIMITER) else {
        return if buf.len() > MAX_PRELUDE {
            Split::Invalid(format!(
                "no prelude delimiter in the first {MAX_PRELUDE} bytes"
            ))
        } else {
            Split::NeedMore
        };
    };
    let fields = match serde_json::from_slice::<Value>(&buf[..at]) {
        Ok(Value::Object(f)) => f,
        Ok(_) => return Split::Invalid("the prelude is not a JSON object".into()),
        Err(e) => return Split::Invalid(format!("the prelude is not JSON: {e}")),
    };
    let status = match fields.get("statusCode") {
        None => 200,
        Some(v) => match v.as_u64().and_then(|n| u16::try_from(n).ok()) {
            Some(n) if (100..=599).contains(&n) => n,
            _ => return Split::Invalid(format!("statusCode {v} is not an HTTP status")),
        },
    };
    let mut headers = Vec::new();
    if let Some(Value::Object(h)) = fields.get("headers") {
        for (k, v) in h {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => v.to_string(),
                _ => continue,
            };
            if !is_framing(k) {
                headers.push((k.clone(), v));
            }
        }
    }
    if let Some(Value::Array(cookies)) = fields.get("cookies") {
        for c in cookies.iter().filter_map(Value::as_str) {
            headers.push(("set-cookie".into(), c.to_owned()));
        }
    }
    headers.extend(front_headers(payload, request_id));
    Split::Head {
        head: FrontResponse {
            status,
            headers,
            body: Vec::new(),
        },
        body_at: at + DELIMITER.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prelude_gives_status_headers_and_cookies_and_the_body_follows() {
        let mut buf = br#"{"statusCode":201,"headers":{"content-type":"text/plain","content-length":"9"},"cookies":["a=1","b=2"]}"#.to_vec();
        buf.extend_from_slice(&DELIMITER);
        buf.extend_from_slice(b"body");
        let Split::Head { head, body_at } = split(&buf, Payload::FunctionUrl, "rid") else {
            panic!("no head");
        };
        assert_eq!(head.status, 201);
        assert_eq!(&buf[body_at..], b"body");
        let has = |k: &str, v: &str| head.headers.iter().any(|(a, b)| a == k && b == v);
        assert!(has("content-type", "text/plain"));
        assert!(has("set-cookie", "a=1") && has("set-cookie", "b=2"));
        assert!(has("x-amzn-RequestId", "rid"));
        assert!(
            !head.headers.iter().any(|(k, _)| k == "content-length"),
            "framing is the front's"
        );
    }

    #[test]
    fn a_prelude_cut_short_waits_and_a_bad_one_is_refused() {
        assert_eq!(
            split(b"{\"statusCode\":2", Payload::FunctionUrl, "r"),
            Split::NeedMore
        );
        let mut bad = b"not json".to_vec();
        bad.extend_from_slice(&DELIMITER);
        assert!(matches!(
            split(&bad, Payload::FunctionUrl, "r"),
            Split::Invalid(_)
        ));
        let mut status = br#"{"statusCode":99}"#.to_vec();
        status.extend_from_slice(&DELIMITER);
        assert!(matches!(
            split(&status, Payload::FunctionUrl, "r"),
            Split::Invalid(_)
        ));
        let endless = vec![b' '; MAX_PRELUDE + 1];
        assert!(matches!(
            split(&endless, Payload::FunctionUrl, "r"),
            Split::Invalid(_)
        ));
    }
}
