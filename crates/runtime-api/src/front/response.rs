//! The function's answer back into HTTP, as each front does it (§8): the proxy response
//! (`statusCode`, `headers`, `multiValueHeaders`, `cookies`, `body`, `isBase64Encoded`), the
//! 2.0 format's inference for a plain JSON answer, and the fronts' own errors.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::{FrontResponse, Payload};

/// What the function (or Lambda) answered.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    /// The function returned this payload.
    Success(&'a [u8]),
    /// The function failed (`X-Amz-Function-Error`), timed out or crashed.
    FunctionError,
    /// Lambda refused the invoke (throttled, too large, not found).
    ServiceError,
}

/// The HTTP answer for `answer`.
pub fn to_http(payload: Payload, answer: Answer<'_>, request_id: &str) -> FrontResponse {
    let proxied = match answer {
        Answer::Success(body) => match payload {
            Payload::ApigwRest => v1(body),
            Payload::ApigwHttp | Payload::FunctionUrl => v2(body),
        },
        // "If the function runs but returns an error, or returns a response in the wrong
        // format, API Gateway returns a 502. If the Lambda API rejects the invocation
        // request, API Gateway returns a 500" (services-apigateway-errors.md).
        Answer::FunctionError => Err(()),
        Answer::ServiceError => return error_response(payload, 500, request_id),
    };
    match proxied {
        Ok(mut r) => {
            r.headers.retain(|(name, _)| !is_framing(name));
            r.headers.extend(front_headers(payload, request_id));
            r
        }
        Err(()) => error_response(payload, 502, request_id),
    }
}

/// Whether a header the function set is the connection's business, not the function's:
/// the front frames its own answer (the length of the body it sends, on its own
/// connection), so these are dropped as API Gateway and function URLs drop or rewrite them
/// (API Gateway developer guide, "Reserved headers" for HTTP APIs; `Content-Length`,
/// `Connection`, `Transfer-Encoding` and the hop-by-hop headers of RFC 9110 §7.6.1). Relayed,
/// a `Content-Length` counted in characters desyncs a keep-alive connection, and a
/// `Transfer-Encoding` lets a handler forge the next response.
pub fn is_framing(name: &str) -> bool {
    const DROPPED: [&str; 7] = [
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
    ];
    let name = name.trim();
    DROPPED.iter().any(|d| name.eq_ignore_ascii_case(d))
        || name
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("proxy-"))
}

/// The front's own error answer with `status` (500 or 502).
pub fn error_response(payload: Payload, status: u16, request_id: &str) -> FrontResponse {
    match payload {
        Payload::ApigwRest => own_answer(
            payload,
            status,
            r#"{"message": "Internal server error"}"#,
            Some("InternalServerErrorException"),
            request_id,
        ),
        // The HTTP API's capitalisation; the function URL body is assumed to be the same
        // ([unconfirmed] in runtime-api.md §8).
        Payload::ApigwHttp | Payload::FunctionUrl => own_answer(
            payload,
            status,
            r#"{"message":"Internal Server Error"}"#,
            None,
            request_id,
        ),
    }
}

/// No route matches: the HTTP API's 404, the REST API's famous 403.
pub fn not_found(payload: Payload, request_id: &str) -> FrontResponse {
    match payload {
        Payload::ApigwRest => own_answer(
            payload,
            403,
            r#"{"message":"Missing Authentication Token"}"#,
            Some("MissingAuthenticationTokenException"),
            request_id,
        ),
        Payload::ApigwHttp | Payload::FunctionUrl => {
            own_answer(payload, 404, r#"{"message":"Not Found"}"#, None, request_id)
        }
    }
}

/// An answer of the front itself: a JSON message, its error type header if it has one, and
/// the front's request id header.
fn own_answer(
    payload: Payload,
    status: u16,
    body: &str,
    error_type: Option<&str>,
    request_id: &str,
) -> FrontResponse {
    let mut headers: Vec<(String, String)> = error_type
        .map(|t| ("x-amzn-ErrorType".to_owned(), t.to_owned()))
        .into_iter()
        .collect();
    headers.push(("content-type".into(), "application/json".into()));
    headers.extend(front_headers(payload, request_id));
    FrontResponse {
        status,
        headers,
        body: body.as_bytes().to_vec(),
    }
}

/// The request id header each front adds to every answer.
/// The headers a front adds to every answer: its request id.
pub fn front_headers(payload: Payload, request_id: &str) -> Vec<(String, String)> {
    match payload {
        Payload::ApigwHttp => vec![("apigw-requestid".into(), request_id.into())],
        Payload::ApigwRest | Payload::FunctionUrl => {
            vec![("x-amzn-RequestId".into(), request_id.into())]
        }
    }
}

/// A header value as the fronts accept it: a string, or a number or boolean written out.
fn header_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn status(v: Option<&Value>) -> Option<u16> {
    let n = match v? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    // A 1xx is no final answer: the front cannot send it as one, so it is a malformed
    // response (502), as an out-of-range status is.
    (200..=599).contains(&n).then_some(n as u16)
}

/// `body` (a string, or absent/null for none), decoded when `isBase64Encoded`.
fn body(fields: &Map<String, Value>) -> Result<Vec<u8>, ()> {
    let text = match fields.get("body") {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s,
        Some(_) => return Err(()),
    };
    match fields.get("isBase64Encoded") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(text.as_bytes().to_vec()),
        Some(Value::Bool(true)) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| ()),
        Some(_) => Err(()),
    }
}

fn string_map(v: Option<&Value>) -> Result<Vec<(String, String)>, ()> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| header_value(v).map(|v| (k.clone(), v)).ok_or(()))
            .collect(),
        Some(_) => Err(()),
    }
}

fn with_content_type(mut headers: Vec<(String, String)>) -> Vec<(String, String)> {
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("content-type".into(), "application/json".into()));
    }
    headers
}

/// Payload 2.0 answer. Valid JSON without `statusCode` is the body of a 200
/// `application/json` answer, as is; with it, the structured response.
fn v2(raw: &[u8]) -> Result<FrontResponse, ()> {
    let value: Value = serde_json::from_slice(raw).map_err(|_| ())?;
    let fields = match &value {
        Value::Object(m) if m.contains_key("statusCode") => m,
        _ => {
            return Ok(FrontResponse {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: raw.to_vec(),
            })
        }
    };
    let status = status(fields.get("statusCode")).ok_or(())?;
    let mut headers = with_content_type(string_map(fields.get("headers"))?);
    match fields.get("cookies") {
        None | Some(Value::Null) => {}
        Some(Value::Array(cookies)) => {
            for c in cookies {
                headers.push(("set-cookie".into(), c.as_str().ok_or(())?.to_owned()));
            }
        }
        Some(_) => return Err(()),
    }
    Ok(FrontResponse {
        status,
        headers,
        body: body(fields)?,
    })
}

/// Keys a REST API proxy response may have; any other is a malformed response (502).
const V1_KEYS: &[&str] = &[
    "statusCode",
    "headers",
    "multiValueHeaders",
    "body",
    "isBase64Encoded",
];

/// Payload 1.0 answer: `statusCode` required, only [`V1_KEYS`]; `headers` and
/// `multiValueHeaders` merged, a name in both keeping the `multiValueHeaders` values.
fn v1(raw: &[u8]) -> Result<FrontResponse, ()> {
    let value: Value = serde_json::from_slice(raw).map_err(|_| ())?;
    let Value::Object(fields) = &value else {
        return Err(());
    };
    if fields.keys().any(|k| !V1_KEYS.contains(&k.as_str())) {
        return Err(());
    }
    let status = status(fields.get("statusCode")).ok_or(())?;
    let mut headers = Vec::new();
    match fields.get("multiValueHeaders") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, values) in m {
                let Value::Array(values) = values else {
                    return Err(());
                };
                for v in values {
                    headers.push((k.clone(), header_value(v).ok_or(())?));
                }
            }
        }
        Some(_) => return Err(()),
    }
    for (k, v) in string_map(fields.get("headers"))? {
        if !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(&k)) {
            headers.push((k, v));
        }
    }
    Ok(FrontResponse {
        status,
        headers: with_content_type(headers),
        body: body(fields)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(r: &'a FrontResponse, name: &str) -> Vec<&'a str> {
        r.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn a_plain_json_answer_is_a_200_json_body_in_payload_2() {
        let r = to_http(Payload::ApigwHttp, Answer::Success(br#"{"a": 1}"#), "id");
        assert_eq!(r.status, 200);
        assert_eq!(r.body, br#"{"a": 1}"#);
        assert_eq!(header(&r, "content-type"), ["application/json"]);
        assert_eq!(header(&r, "apigw-requestid"), ["id"]);
        let s = to_http(Payload::FunctionUrl, Answer::Success(br#""Hello""#), "id");
        assert_eq!((s.status, s.body.as_slice()), (200, &br#""Hello""#[..]));
    }

    #[test]
    fn structured_answers_map_status_headers_cookies_and_base64() {
        let raw = br#"{"statusCode": 201, "headers": {"x-a": "1", "content-type": "image/png"},
            "cookies": ["a=1", "b=2; Path=/"], "body": "AAEC", "isBase64Encoded": true}"#;
        let r = to_http(Payload::ApigwHttp, Answer::Success(raw), "id");
        assert_eq!(r.status, 201);
        assert_eq!(r.body, [0, 1, 2]);
        assert_eq!(header(&r, "set-cookie"), ["a=1", "b=2; Path=/"]);
        assert_eq!(header(&r, "content-type"), ["image/png"]);
    }

    #[test]
    fn rest_merges_multi_value_headers_and_refuses_other_keys() {
        let raw = br#"{"statusCode": 200, "headers": {"X-One": "h", "X-Both": "single"},
            "multiValueHeaders": {"X-Both": ["m1", "m2"]}, "body": "ok"}"#;
        let r = to_http(Payload::ApigwRest, Answer::Success(raw), "id");
        assert_eq!(r.status, 200);
        assert_eq!(header(&r, "x-both"), ["m1", "m2"]);
        assert_eq!(header(&r, "x-one"), ["h"]);
        assert_eq!(header(&r, "x-amzn-RequestId"), ["id"]);
        for bad in [
            &br#"{"statusCode": 200, "body": "x", "cookies": []}"#[..],
            br#"{"body": "no status"}"#,
            br#"{"statusCode": 200, "body": {"not": "a string"}}"#,
            br#"not json"#,
        ] {
            let r = to_http(Payload::ApigwRest, Answer::Success(bad), "id");
            assert_eq!(r.status, 502, "{}", String::from_utf8_lossy(bad));
            assert_eq!(r.body, br#"{"message": "Internal server error"}"#);
            assert_eq!(
                header(&r, "x-amzn-ErrorType"),
                ["InternalServerErrorException"]
            );
        }
    }

    #[test]
    fn errors_are_the_fronts_own() {
        let r = to_http(Payload::ApigwHttp, Answer::FunctionError, "id");
        assert_eq!(
            (r.status, r.body.as_slice()),
            (502, &br#"{"message":"Internal Server Error"}"#[..])
        );
        let r = to_http(Payload::ApigwRest, Answer::ServiceError, "id");
        assert_eq!(r.status, 500);
        let r = to_http(
            Payload::ApigwHttp,
            Answer::Success(br#"{"statusCode": "x"}"#),
            "id",
        );
        assert_eq!(r.status, 502);
        assert_eq!(not_found(Payload::ApigwRest, "id").status, 403);
        assert_eq!(not_found(Payload::ApigwHttp, "id").status, 404);
    }

    #[test]
    fn framing_headers_the_function_set_are_dropped_and_its_own_kept() {
        let raw = br#"{"statusCode": 200, "headers": {"Content-Length": "3", "Transfer-Encoding": "chunked", "connection": "close", "Keep-Alive": "timeout=5", "Upgrade": "h2c", "TE": "trailers", "Trailer": "x", "Proxy-Authenticate": "Basic", "X-Kept": "yes"}, "body": "\u4e2d\u6587"}"#;
        for payload in [Payload::ApigwHttp, Payload::ApigwRest, Payload::FunctionUrl] {
            let r = to_http(payload, Answer::Success(raw), "rid");
            assert_eq!(r.status, 200);
            for gone in [
                "content-length",
                "transfer-encoding",
                "connection",
                "keep-alive",
                "upgrade",
                "te",
                "trailer",
                "proxy-authenticate",
            ] {
                assert!(header(&r, gone).is_empty(), "{payload:?} kept {gone}");
            }
            assert_eq!(header(&r, "x-kept"), ["yes"]);
        }
    }

    #[test]
    fn an_informational_status_is_a_malformed_answer() {
        for code in ["100", "101", "199"] {
            let raw = format!(r#"{{"statusCode": {code}, "body": "x"}}"#);
            let r = to_http(Payload::ApigwHttp, Answer::Success(raw.as_bytes()), "rid");
            assert_eq!(r.status, 502, "{code}");
        }
    }
}
