//! The event a front sends the function for one HTTP request (§8): payload 2.0 for the HTTP
//! API and function URLs, payload 1.0 for the REST API, field by field as AWS documents them
//! (`urls-invocation.md`, `services-apigateway.md`).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::route::RouteMatch;
use super::{is_text, FrontRequest, Payload};

/// What the front knows beyond the request: ids, time, where it runs.
#[derive(Debug, Clone)]
pub struct EventContext {
    /// The front's request id (`requestContext.requestId`).
    pub request_id: String,
    /// The invoke's trace header; the front passes its `Root=1-…` on in `x-amzn-trace-id`.
    pub trace_header: String,
    /// When the request arrived.
    pub now: SystemTime,
    /// Region, for the AWS-shaped domain name when the request has no `Host`.
    pub region: String,
    /// Account id (`requestContext.accountId`).
    pub account_id: String,
    /// The API's id (10 characters) or the function URL's id (32).
    pub api_id: String,
    /// REST API stage (`requestContext.stage`, and the first segment of its `path`).
    pub stage: String,
}

impl EventContext {
    /// A context for `function` at `now`, with ids derived from the function's name so that
    /// they stay the same from run to run, as a deployed API's do.
    pub fn new(function: &str, payload: Payload, region: &str, account_id: &str) -> Self {
        Self {
            request_id: crate::trace::request_id(),
            trace_header: crate::trace::new_trace_header(),
            now: SystemTime::now(),
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            api_id: stable_id(
                function,
                if payload == Payload::FunctionUrl {
                    32
                } else {
                    10
                },
            ),
            stage: "Prod".into(),
        }
    }
}

/// `Root=1-…` of a full trace header (what API Gateway passes on in `x-amzn-trace-id`).
fn root_only(header: &str) -> String {
    header.split(';').next().unwrap_or(header).to_owned()
}

/// Lower-case letters and digits from a hash of `seed` (FNV-1a, stretched).
fn stable_id(seed: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut out = String::with_capacity(len);
    for round in 0..len {
        for b in seed.bytes().chain([round as u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        out.push(char::from(ALPHABET[(h % ALPHABET.len() as u64) as usize]));
    }
    out
}

/// `12/Mar/2020:19:03:58 +0000`, the fronts' `time`/`requestTime`.
fn clf_time(t: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // 2020-03-12T19:03:58Z
    let iso = humantime::format_rfc3339_seconds(t).to_string();
    let month = iso
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{}/{month}/{}:{} +0000",
        iso.get(8..10).unwrap_or("01"),
        iso.get(0..4).unwrap_or("1970"),
        iso.get(11..19).unwrap_or("00:00:00")
    )
}

fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `content-type` → `Content-Type`: REST API events carry header names as clients send them,
/// and hyper gives them lower case; nearly every client sends this capitalisation.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The request's headers plus those the front adds, lower case, in order.
fn forwarded_headers(req: &FrontRequest, ctx: &EventContext) -> Vec<(String, String)> {
    let mut headers = req.headers.clone();
    let port = req
        .header("host")
        .and_then(|h| h.rsplit_once(':'))
        .map(|(_, p)| p.to_owned())
        .unwrap_or_else(|| "80".into());
    for (name, value) in [
        ("x-forwarded-for", req.source_ip.clone()),
        ("x-forwarded-port", port),
        ("x-forwarded-proto", "http".to_owned()),
        ("x-amzn-trace-id", root_only(&ctx.trace_header)),
    ] {
        if req.header(name).is_none() {
            headers.push((name.to_owned(), value));
        }
    }
    headers
}

fn body_fields(req: &FrontRequest) -> Option<(String, bool)> {
    if req.body.is_empty() {
        return None;
    }
    if is_text(req.header("content-type"), &req.body) {
        Some((String::from_utf8_lossy(&req.body).into_owned(), false))
    } else {
        Some((
            base64::engine::general_purpose::STANDARD.encode(&req.body),
            true,
        ))
    }
}

/// The domain the request was addressed to: its `Host` (so links a handler builds from
/// `domainName` lead back to the local front), else the AWS-shaped name.
fn domain(req: &FrontRequest, ctx: &EventContext, payload: Payload) -> String {
    match req.header("host") {
        Some(h) => h.to_owned(),
        None if payload == Payload::FunctionUrl => {
            format!("{}.lambda-url.{}.on.aws", ctx.api_id, ctx.region)
        }
        None => format!("{}.execute-api.{}.amazonaws.com", ctx.api_id, ctx.region),
    }
}

fn object(pairs: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::Object(pairs.into_iter().collect::<Map<_, _>>())
}

/// The event for `req`, matched to `route` (`None`: every path goes to the function).
pub fn event(
    payload: Payload,
    req: &FrontRequest,
    route: Option<&RouteMatch<'_>>,
    ctx: &EventContext,
) -> Value {
    match payload {
        Payload::ApigwHttp | Payload::FunctionUrl => v2(payload, req, route, ctx),
        Payload::ApigwRest => v1(req, route, ctx),
    }
}

/// Payload 2.0: headers lower case with repeated values comma-joined, cookies apart, query
/// values comma-joined; keys with nothing to say are left out (HTTP API) or `null` (URLs).
fn v2(
    payload: Payload,
    req: &FrontRequest,
    route: Option<&RouteMatch<'_>>,
    ctx: &EventContext,
) -> Value {
    let mut headers: Map<String, Value> = Map::new();
    let mut cookies: Vec<Value> = Vec::new();
    for (name, value) in forwarded_headers(req, ctx) {
        if name == "cookie" {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| Value::String(c.to_owned())),
            );
            continue;
        }
        match headers.get_mut(&name) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                headers.insert(name, Value::String(value));
            }
        }
    }
    let mut query: Map<String, Value> = Map::new();
    for (k, v) in req.query_pairs() {
        match query.get_mut(&k) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&v);
            }
            _ => {
                query.insert(k, Value::String(v));
            }
        }
    }
    let route_key = match (payload, route) {
        (Payload::ApigwHttp, Some(m)) => m.route.key().to_owned(),
        _ => "$default".to_owned(),
    };
    let domain = domain(req, ctx, payload);
    let prefix = domain
        .split(['.', ':'])
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut request_context = json!({
        "accountId": ctx.account_id,
        "apiId": ctx.api_id,
        "domainName": domain,
        "domainPrefix": prefix,
        "http": {
            "method": req.method,
            "path": req.path,
            "protocol": req.protocol,
            "sourceIp": req.source_ip,
            "userAgent": req.header("user-agent").unwrap_or_default(),
        },
        "requestId": ctx.request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": clf_time(ctx.now),
        "timeEpoch": epoch_ms(ctx.now),
    });
    let mut e = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": req.path,
        "rawQueryString": req.query.clone().unwrap_or_default(),
        "headers": headers,
        "isBase64Encoded": false,
    });
    let Value::Object(fields) = &mut e else {
        return e;
    };
    if !cookies.is_empty() {
        fields.insert("cookies".into(), Value::Array(cookies));
    }
    if !query.is_empty() {
        fields.insert("queryStringParameters".into(), Value::Object(query));
    }
    let params = route.map(|m| m.params.clone()).unwrap_or_default();
    if payload == Payload::FunctionUrl {
        // The documented function URL event (urls-invocation.md) spells these out as null;
        // `authorizer` appears only with IAM auth, which the local front does not do.
        fields.insert("pathParameters".into(), Value::Null);
        fields.insert("stageVariables".into(), Value::Null);
        if let Value::Object(rc) = &mut request_context {
            rc.insert("authentication".into(), Value::Null);
        }
    } else if !params.is_empty() {
        fields.insert(
            "pathParameters".into(),
            object(params.into_iter().map(|(k, v)| (k, Value::String(v)))),
        );
    }
    fields.insert("requestContext".into(), request_context);
    if let Some((body, b64)) = body_fields(req) {
        fields.insert("body".into(), Value::String(body));
        fields.insert("isBase64Encoded".into(), Value::Bool(b64));
    }
    e
}

/// Payload 1.0 (REST API proxy): single-value maps keep the last value, `multiValue*` keep
/// every value; an absent map is `null`, never `{}` (handlers test `is None`).
fn v1(req: &FrontRequest, route: Option<&RouteMatch<'_>>, ctx: &EventContext) -> Value {
    let mut single: Map<String, Value> = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in forwarded_headers(req, ctx) {
        let name = title_case(&name);
        push_multi(&mut multi, &name, &value);
        single.insert(name, Value::String(value));
    }
    let mut query: Map<String, Value> = Map::new();
    let mut multi_query: Map<String, Value> = Map::new();
    for (k, v) in req.query_pairs() {
        push_multi(&mut multi_query, &k, &v);
        query.insert(k, Value::String(v));
    }
    // With no routes configured the function sits behind `/{proxy+}` (and `/`).
    let (resource, params) = match route.filter(|m| !m.route.is_default()) {
        Some(m) => (
            m.route.template().unwrap_or("/").to_owned(),
            m.params.clone(),
        ),
        None if req.path.trim_matches('/').is_empty() => ("/".to_owned(), Vec::new()),
        None => (
            "/{proxy+}".to_owned(),
            vec![(
                "proxy".to_owned(),
                super::decode(req.path.trim_start_matches('/')),
            )],
        ),
    };
    let or_null = |m: Map<String, Value>| {
        if m.is_empty() {
            Value::Null
        } else {
            Value::Object(m)
        }
    };
    let path_parameters = if params.is_empty() {
        Value::Null
    } else {
        object(params.into_iter().map(|(k, v)| (k, Value::String(v))))
    };
    let domain = domain(req, ctx, Payload::ApigwRest);
    let prefix = domain
        .split(['.', ':'])
        .next()
        .unwrap_or_default()
        .to_owned();
    let (body, b64) = match body_fields(req) {
        Some((b, b64)) => (Value::String(b), b64),
        None => (Value::Null, false),
    };
    let user_agent = req.header("user-agent").unwrap_or_default();
    json!({
        "resource": resource,
        "path": req.path,
        "httpMethod": req.method,
        "headers": or_null(single),
        "multiValueHeaders": or_null(multi),
        "queryStringParameters": or_null(query),
        "multiValueQueryStringParameters": or_null(multi_query),
        "pathParameters": path_parameters,
        "stageVariables": Value::Null,
        "requestContext": {
            "resourceId": stable_id(&resource, 6),
            "resourcePath": resource,
            "httpMethod": req.method,
            "extendedRequestId": format!("{}=", stable_id(&ctx.request_id, 15)),
            "requestTime": clf_time(ctx.now),
            "path": format!("/{}{}", ctx.stage, req.path),
            "accountId": ctx.account_id,
            "protocol": req.protocol,
            "stage": ctx.stage,
            "domainPrefix": prefix,
            "requestTimeEpoch": epoch_ms(ctx.now),
            "requestId": ctx.request_id,
            "identity": {
                "cognitoIdentityPoolId": Value::Null,
                "accountId": Value::Null,
                "cognitoIdentityId": Value::Null,
                "caller": Value::Null,
                "sourceIp": req.source_ip,
                "principalOrgId": Value::Null,
                "accessKey": Value::Null,
                "cognitoAuthenticationType": Value::Null,
                "cognitoAuthenticationProvider": Value::Null,
                "userArn": Value::Null,
                "userAgent": user_agent,
                "user": Value::Null,
            },
            "domainName": domain,
            "apiId": ctx.api_id,
        },
        "body": body,
        "isBase64Encoded": b64,
    })
}

fn push_multi(map: &mut Map<String, Value>, key: &str, value: &str) {
    match map.get_mut(key) {
        Some(Value::Array(values)) => values.push(Value::String(value.to_owned())),
        _ => {
            map.insert(key.to_owned(), json!([value]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_the_fronts_shape() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_583_348_638_390);
        assert_eq!(clf_time(t), "04/Mar/2020:19:03:58 +0000");
        assert_eq!(epoch_ms(t), 1_583_348_638_390);
    }

    #[test]
    fn ids_are_stable_and_shaped_like_the_clouds() {
        let a = stable_id("calculator", 10);
        assert_eq!(a, stable_id("calculator", 10));
        assert_ne!(a, stable_id("other", 10));
        assert_eq!(a.len(), 10);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        assert_eq!(stable_id("x", 32).len(), 32);
    }

    #[test]
    fn header_names_are_capitalised_for_rest() {
        assert_eq!(title_case("content-type"), "Content-Type");
        assert_eq!(title_case("x-amzn-trace-id"), "X-Amzn-Trace-Id");
        assert_eq!(title_case("accept"), "Accept");
    }
}
