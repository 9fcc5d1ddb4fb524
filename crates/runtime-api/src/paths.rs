//! URL paths of the Runtime API (§1.2), the APIs that share its listener (Extensions §2,
//! Telemetry §3.1, Logs §3.4) and the Invoke API (§4).

/// Version prefix of the Runtime API.
pub const RUNTIME_PREFIX: &str = "/2018-06-01";
/// `GET`: long-poll for the next event (§1.2). Never answered with 204 (cargo-lambda #372).
pub const NEXT: &str = "/2018-06-01/runtime/invocation/next";
/// `POST`: the runtime failed to initialise.
pub const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";
/// Prefix of `/runtime/invocation/{id}/response` and `/runtime/invocation/{id}/error`.
pub const INVOCATION_PREFIX: &str = "/2018-06-01/runtime/invocation/";
/// `GET /runtime/restore/next` (SnapStart, §1.10).
pub const RESTORE_NEXT: &str = "/2018-06-01/runtime/restore/next";
/// `POST /runtime/restore/error` (SnapStart, §1.10).
pub const RESTORE_ERROR: &str = "/2018-06-01/runtime/restore/error";
/// `GET /ping` — kept by AWS's emulator for compatibility (§1.2).
pub const PING: &str = "/ping";

/// Version prefix of the Extensions API (`/2020-01-01/extension/…`).
pub const EXTENSIONS_PREFIX: &str = "/2020-01-01/extension/";
/// `PUT`: subscribe to the Telemetry API (the path's version never changes; the body's
/// `schemaVersion` picks the event schema, §3.1).
pub const TELEMETRY: &str = "/2022-07-01/telemetry";
/// `PUT`: subscribe to the Logs API (§3.4).
pub const LOGS: &str = "/2020-08-15/logs";

/// Which of the APIs on an environment's listener a path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvironmentApi {
    /// The Runtime API (and `/ping`).
    Runtime,
    /// The Extensions API.
    Extensions,
    /// The Telemetry API.
    Telemetry,
    /// The Logs API.
    Logs,
    /// lamina's own calls from the init it runs in the container (`crate::init`).
    Lamina,
}

impl EnvironmentApi {
    /// The API `path` (without query) belongs to; `None` for none of them.
    pub fn of(path: &str) -> Option<Self> {
        if path == PING || path.starts_with("/2018-06-01/") {
            Some(Self::Runtime)
        } else if path.starts_with(EXTENSIONS_PREFIX) {
            Some(Self::Extensions)
        } else if path == TELEMETRY {
            Some(Self::Telemetry)
        } else if path == LOGS {
            Some(Self::Logs)
        } else if path.starts_with("/lamina/") {
            Some(Self::Lamina)
        } else {
            None
        }
    }
}

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
    /// `GET /runtime/restore/next`
    RestoreNext,
    /// `POST /runtime/restore/error`
    RestoreError,
    /// `GET /ping`
    Ping,
}

impl<'a> RuntimeRoute<'a> {
    /// Parse a request path (without query) into a route; `None` if it is not one.
    pub fn parse(path: &'a str) -> Option<Self> {
        match path {
            NEXT => return Some(Self::Next),
            INIT_ERROR => return Some(Self::InitError),
            RESTORE_NEXT => return Some(Self::RestoreNext),
            RESTORE_ERROR => return Some(Self::RestoreError),
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
/// Response-streaming invoke prefix (`POST /2021-11-15/functions/{name}/response-streaming-invocations`,
/// `InvokeWithResponseStream`, §4.1).
pub const STREAM_INVOKE_PREFIX: &str = "/2021-11-15/functions/";
/// Suffix of the response-streaming invoke path.
pub const STREAM_INVOKE_SUFFIX: &str = "/response-streaming-invocations";
/// The name AWS's emulator and base images use for the single function they serve.
pub const DEFAULT_FUNCTION: &str = "function";

/// The function an invoke path addresses: its name and the qualifier the reference carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    /// The function's name.
    pub name: String,
    /// `$LATEST`, a version or an alias, when the reference named one.
    pub qualifier: Option<String>,
}

/// The function an invoke path addresses, or `None` if the path is not an invoke.
///
/// The segment is percent-decoded first (boto3 and the AWS CLI send `arn%3Aaws%3A…` and
/// `%24LATEST`), then read as the Invoke API reads `FunctionName`: a name, `name:qualifier`, a
/// partial ARN (`ACCOUNT:function:NAME[:QUALIFIER]`) or a full ARN
/// (`arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`).
pub fn invoke_function(path: &str) -> Option<FunctionRef> {
    function_segment(
        path.strip_prefix(INVOKE_PREFIX)?
            .strip_suffix(INVOKE_SUFFIX)?,
    )
}

/// How an invoke path asks for the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokeMode {
    /// `Invoke`: the whole response in the HTTP body.
    Buffered,
    /// `InvokeWithResponseStream`: an event stream of the response's chunks.
    Streamed,
}

/// The function an invoke path of either API addresses, and which API it is.
pub fn invoke_route(path: &str) -> Option<(FunctionRef, InvokeMode)> {
    if let Some(f) = invoke_function(path) {
        return Some((f, InvokeMode::Buffered));
    }
    let raw = path
        .strip_prefix(STREAM_INVOKE_PREFIX)?
        .strip_suffix(STREAM_INVOKE_SUFFIX)?;
    Some((function_segment(raw)?, InvokeMode::Streamed))
}

/// The path of a response-streaming invoke of `function`.
pub fn stream_invoke_path(function: &str) -> String {
    format!(
        "{STREAM_INVOKE_PREFIX}{}{STREAM_INVOKE_SUFFIX}",
        segment(function)
    )
}

fn function_segment(raw: &str) -> Option<FunctionRef> {
    let decoded = percent_decode(raw)?;
    if decoded.is_empty() || decoded.contains('/') {
        return None;
    }
    let tail = match decoded.split_once(":function:") {
        Some((_, tail)) => tail,
        None => decoded.as_str(),
    };
    let (name, qualifier) = match tail.split_once(':') {
        Some((n, q)) => (n, Some(q.to_owned())),
        None => (tail, None),
    };
    if name.is_empty() || qualifier.as_deref() == Some("") {
        return None;
    }
    Some(FunctionRef {
        name: name.to_owned(),
        qualifier,
    })
}

/// `%XX` escapes decoded (RFC 3986 §2.1); `None` for a broken escape or bytes that are not
/// UTF-8. Written here because it is the inverse of [`segment`], a dozen lines.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_api_on_an_environments_listener_is_told_apart_by_its_path() {
        use EnvironmentApi::*;
        for (path, api) in [
            (NEXT, Some(Runtime)),
            ("/2018-06-01/runtime/invocation/x/response", Some(Runtime)),
            (PING, Some(Runtime)),
            ("/2020-01-01/extension/register", Some(Extensions)),
            ("/2020-01-01/extension/event/next", Some(Extensions)),
            ("/2022-07-01/telemetry", Some(Telemetry)),
            ("/2020-08-15/logs", Some(Logs)),
            (crate::init::LAUNCHED, Some(Lamina)),
            ("/2022-07-01/telemetry/x", None),
            ("/2020-01-01/extensionx", None),
            ("/", None),
        ] {
            assert_eq!(EnvironmentApi::of(path), api, "{path}");
        }
    }

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
        assert_eq!(
            RuntimeRoute::parse(RESTORE_NEXT),
            Some(RuntimeRoute::RestoreNext)
        );
        assert_eq!(
            RuntimeRoute::parse(RESTORE_ERROR),
            Some(RuntimeRoute::RestoreError)
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
        let f = |p: &str| invoke_function(&format!("{INVOKE_PREFIX}{p}{INVOKE_SUFFIX}"));
        let r = |name: &str, q: Option<&str>| {
            Some(FunctionRef {
                name: name.into(),
                qualifier: q.map(Into::into),
            })
        };
        assert_eq!(f("function"), r("function", None));
        assert_eq!(f("calc:$LATEST"), r("calc", Some("$LATEST")));
        assert_eq!(f("calc%3A%24LATEST"), r("calc", Some("$LATEST")));
        assert_eq!(
            f("arn:aws:lambda:us-east-1:123456789012:function:calc:live"),
            r("calc", Some("live"))
        );
        assert_eq!(
            f("arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Acalc"),
            r("calc", None)
        );
        assert_eq!(f("123456789012:function:calc"), r("calc", None));
        for bad in ["", "a/b", "calc:", "%zz", "a%2Fb", "%FF"] {
            assert_eq!(f(bad), None, "{bad}");
        }
        assert_eq!(
            invoke_function("/2015-03-31/functions/a/b/invocations"),
            None
        );
    }

    #[test]
    fn both_invoke_apis_are_told_apart_and_read_names_alike() {
        let calc = FunctionRef {
            name: "calc".into(),
            qualifier: None,
        };
        assert_eq!(
            invoke_route("/2015-03-31/functions/calc/invocations"),
            Some((calc.clone(), InvokeMode::Buffered))
        );
        assert_eq!(
            invoke_route(&stream_invoke_path("calc")),
            Some((calc, InvokeMode::Streamed))
        );
        assert_eq!(
            invoke_route("/2021-11-15/functions/calc%3A%24LATEST/response-streaming-invocations")
                .map(|(f, _)| f.qualifier),
            Some(Some("$LATEST".into()))
        );
        for bad in [
            "/2021-11-15/functions/calc/invocations",
            "/2015-03-31/functions/calc/response-streaming-invocations",
            "/2021-11-15/functions//response-streaming-invocations",
        ] {
            assert_eq!(invoke_route(bad), None, "{bad}");
        }
    }
}
