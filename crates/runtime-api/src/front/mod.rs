//! HTTP fronts (§8): how API Gateway (HTTP API payload 2.0, REST API payload 1.0) and function
//! URLs turn a plain HTTP request into a Lambda event and the function's answer back into
//! HTTP. The mapping is pure — [`FrontRequest`] in, event JSON out; answer in,
//! [`FrontResponse`] out — so the emulator's HTTP server and `lamina event` share it.
//!
//! The events are built as JSON by hand rather than through `aws_lambda_events`' types: those
//! model what a Rust handler *reads* and serialise an absent query string as `{}`, while
//! API Gateway sends `null` (REST) or leaves the key out (HTTP API), and handlers — the seeds'
//! calculator among them — depend on exactly that.

mod event;
pub mod prelude;
mod response;
mod route;
mod settings;

pub use event::{event, EventContext};
pub use response::{error_response, front_headers, not_found, to_http, Answer};
pub use route::{select, Route, RouteMatch};
pub use settings::{Cors, HttpSettings, InvokeMode, Payload};

/// A plain HTTP request, as the front received it.
#[derive(Debug, Clone, Default)]
pub struct FrontRequest {
    /// Method, upper case.
    pub method: String,
    /// Path as sent, still percent-encoded.
    pub path: String,
    /// Query string as sent (without `?`), if any.
    pub query: Option<String>,
    /// Headers in the order received, names lower case.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// The client's address.
    pub source_ip: String,
    /// `HTTP/1.1`.
    pub protocol: String,
}

impl FrontRequest {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Query parameters in order, names and values percent-decoded.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        let Some(q) = self.query.as_deref() else {
            return Vec::new();
        };
        q.split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (decode(k), decode(v))
            })
            .filter(|(k, _)| !k.is_empty())
            .collect()
    }
}

fn decode(s: &str) -> String {
    crate::paths::percent_decode(s).unwrap_or_else(|| s.to_owned())
}

/// What the front answers the HTTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontResponse {
    /// Status code.
    pub status: u16,
    /// Headers in order; a name may repeat (`set-cookie`).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Whether a body of `content_type` travels as text (else base64, `isBase64Encoded: true`).
/// The fronts base64-encode binary media; text types pass as they are when they are UTF-8.
pub fn is_text(content_type: Option<&str>, body: &[u8]) -> bool {
    let textual = match content_type {
        None => true,
        Some(ct) => {
            let ct = ct
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            ct.starts_with("text/")
                || ct.ends_with("+json")
                || ct.ends_with("+xml")
                || [
                    "application/json",
                    "application/xml",
                    "application/javascript",
                    "application/x-www-form-urlencoded",
                    "application/graphql",
                    "application/yaml",
                    "application/x-yaml",
                ]
                .contains(&ct.as_str())
        }
    };
    textual && std::str::from_utf8(body).is_ok()
}
