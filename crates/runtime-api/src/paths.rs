//! URL paths of the Runtime API (§1.2) and the Invoke API (§4).

/// Version prefix of the Runtime API.
pub const RUNTIME_PREFIX: &str = "/2018-06-01";
/// `GET`: long-poll for the next event (§1.2). Never answered with 204 (cargo-lambda #372).
pub const NEXT: &str = "/2018-06-01/runtime/invocation/next";
/// `POST`: the runtime failed to initialise.
pub const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";
/// Prefix of `/runtime/invocation/{id}/response` and `/runtime/invocation/{id}/error`.
pub const INVOCATION_PREFIX: &str = "/2018-06-01/runtime/invocation/";
/// `GET /ping` — kept by AWS's emulator for compatibility (§1.2).
pub const PING: &str = "/ping";

/// Path the runtime posts a successful result to.
pub fn response(request_id: &str) -> String {
    format!("{INVOCATION_PREFIX}{}/response", segment(request_id))
}

/// Path the runtime posts an invoke error to.
pub fn error(request_id: &str) -> String {
    format!("{INVOCATION_PREFIX}{}/error", segment(request_id))
}

/// A request id as one path segment: every byte outside RFC 3986's unreserved set is
/// percent-encoded, so an id with a space, a `/`, `..` or non-ASCII text still makes a valid
/// path that cannot climb out of `/invocation/` (the platform's ids are UUIDs, which pass
/// through unchanged). `.` is encoded too, so `..` never reads as a dot-segment.
fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A Runtime API route, parsed from a request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeRoute<'a> {
    /// `GET /runtime/invocation/next`
    Next,
    /// `POST /runtime/invocation/{id}/response`
    Response(&'a str),
    /// `POST /runtime/invocation/{id}/error`
    Error(&'a str),
    /// `POST /runtime/init/error`
    InitError,
    /// `GET /ping`
    Ping,
}

impl<'a> RuntimeRoute<'a> {
    /// Parse a request path (without query) into a route; `None` if it is not one.
    pub fn parse(path: &'a str) -> Option<Self> {
        match path {
            NEXT => return Some(Self::Next),
            INIT_ERROR => return Some(Self::InitError),
            PING => return Some(Self::Ping),
            _ => {}
        }
        let rest = path.strip_prefix(INVOCATION_PREFIX)?;
        let (id, tail) = rest.split_once('/')?;
        if id.is_empty() {
            return None;
        }
        match tail {
            "response" => Some(Self::Response(id)),
            "error" => Some(Self::Error(id)),
            _ => None,
        }
    }
}

/// Invoke API prefix (`POST /2015-03-31/functions/{name}/invocations`, §4).
pub const INVOKE_PREFIX: &str = "/2015-03-31/functions/";
/// Suffix of the invoke path.
pub const INVOKE_SUFFIX: &str = "/invocations";
/// The name AWS's emulator and base images use for the single function they serve.
pub const DEFAULT_FUNCTION: &str = "function";

/// The function name addressed by an invoke path, or `None` if the path is not an invoke.
///
/// Accepts a name, a partial ARN or a full ARN (`arn:aws:lambda:…:function:NAME[:QUALIFIER]`)
/// as the Invoke API does; the qualifier part of an ARN is dropped.
pub fn invoke_function_name(path: &str) -> Option<&str> {
    let name = path
        .strip_prefix(INVOKE_PREFIX)?
        .strip_suffix(INVOKE_SUFFIX)?;
    if name.is_empty() || name.contains('/') {
        return None;
    }
    Some(function_name_from_ref(name))
}

fn function_name_from_ref(reference: &str) -> &str {
    match reference.split_once(":function:") {
        Some((_, tail)) => tail.split(':').next().unwrap_or(tail),
        None => reference,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse() {
        assert_eq!(RuntimeRoute::parse(NEXT), Some(RuntimeRoute::Next));
        assert_eq!(
            RuntimeRoute::parse(&response("abc")),
            Some(RuntimeRoute::Response("abc"))
        );
        assert_eq!(
            RuntimeRoute::parse(&error("abc")),
            Some(RuntimeRoute::Error("abc"))
        );
        assert_eq!(
            RuntimeRoute::parse(INIT_ERROR),
            Some(RuntimeRoute::InitError)
        );
        assert_eq!(
            RuntimeRoute::parse("/2018-06-01/runtime/invocation//response"),
            None
        );
        assert_eq!(
            RuntimeRoute::parse("/2018-06-01/runtime/invocation/x/other"),
            None
        );
        assert_eq!(RuntimeRoute::parse("/nope"), None);
    }

    #[test]
    fn request_ids_stay_one_segment() {
        let uuid = "8f50c6b4-0000-4000-8000-000000000000";
        assert_eq!(
            response(uuid),
            format!("{INVOCATION_PREFIX}{uuid}/response")
        );
        assert_eq!(
            error("../a b/ü"),
            format!("{INVOCATION_PREFIX}%2E%2E%2Fa%20b%2F%C3%BC/error")
        );
    }

    #[test]
    fn invoke_names() {
        assert_eq!(
            invoke_function_name("/2015-03-31/functions/function/invocations"),
            Some("function")
        );
        assert_eq!(
            invoke_function_name(
                "/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:calc:live/invocations"
            ),
            Some("calc")
        );
        assert_eq!(
            invoke_function_name("/2015-03-31/functions//invocations"),
            None
        );
        assert_eq!(
            invoke_function_name("/2015-03-31/functions/a/b/invocations"),
            None
        );
    }
}
