//! The Invoke API front door (runtime-api.md §4): `POST /2015-03-31/functions/{name}/invocations`,
//! routed by function name (`function` also names the single function served), answering with
//! the cloud's status codes, headers and bodies.
//!
//! Sync invokes answer as soon as the runtime does; `Event` invokes are accepted with 202 and
//! run in the background; `DryRun` is validated and answered 204.
//! `InvokeWithResponseStream` (`POST /2021-11-15/functions/{name}/response-streaming-invocations`,
//! §4.1) takes the same request and answers with an event stream (`stream`).

mod stream;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response};
use hyper::body::Incoming;
use lamina_runtime_api::body::{PlatformError, ServiceError};
use lamina_runtime_api::headers as h;
use lamina_runtime_api::invocation::function_arn;
use lamina_runtime_api::limits::{
    MAX_ASYNC_REQUEST, MAX_CLIENT_CONTEXT, MAX_SYNC_REQUEST, MAX_SYNC_RESPONSE,
};
use lamina_runtime_api::paths::{invoke_route, percent_decode, InvokeMode, DEFAULT_FUNCTION};
use lamina_runtime_api::trace;

use crate::config::{DEFAULT_ACCOUNT_ID, DEFAULT_REGION};
use crate::events::EventQueue;
use crate::http_util::{
    empty, read_capped_in_time, respond, respond_body, Body, Capped, BODY_TIMEOUT,
};
use crate::invoke::{Answer, CollectError, InvokeRequest, ResponseBody};
use crate::pool::Pool;

/// Longest wait for an invoke's `REPORT` when the invoker asked for its log tail.
const TAIL_WAIT: Duration = Duration::from_secs(2);

/// The functions served, by name.
pub(crate) struct Router {
    pools: HashMap<String, Arc<Pool>>,
    queues: HashMap<String, Arc<EventQueue>>,
    /// The only function's name, when there is exactly one (the `function` alias).
    single: Option<String>,
    region: String,
    account_id: String,
}

impl Router {
    pub(crate) fn new(pools: Vec<Arc<Pool>>, queues: Vec<Arc<EventQueue>>) -> Self {
        let (region, account_id) = pools
            .first()
            .map(|p| (p.function().region.clone(), p.function().account_id.clone()))
            .unwrap_or_else(|| (DEFAULT_REGION.into(), DEFAULT_ACCOUNT_ID.into()));
        let single = (pools.len() == 1).then(|| pools[0].function().name.to_string());
        let queues = pools
            .iter()
            .zip(queues)
            .map(|(p, q)| (p.function().name.to_string(), q))
            .collect();
        Self {
            queues,
            pools: pools
                .into_iter()
                .map(|p| (p.function().name.to_string(), p))
                .collect(),
            single,
            region,
            account_id,
        }
    }

    pub(crate) fn pools(&self) -> impl Iterator<Item = &Arc<Pool>> {
        self.pools.values()
    }

    fn find(&self, name: &str) -> Option<&Arc<Pool>> {
        self.pools.get(name).or_else(|| match &self.single {
            Some(only) if name == DEFAULT_FUNCTION => self.pools.get(only),
            _ => None,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

fn service_error(e: &ServiceError) -> Response<Body> {
    let mut r = respond(e.status, "application/json", e.to_json());
    r.headers_mut().insert(
        HeaderName::from_static(h::ERROR_TYPE),
        HeaderValue::from_static(e.error_type),
    );
    r
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Serve one Invoke API request.
pub(crate) async fn handle(router: Arc<Router>, req: Request<Incoming>) -> Response<Body> {
    let request_id = trace::request_id();
    let mut r = match invoke(&router, req, &request_id).await {
        Ok(r) => r,
        Err(e) => service_error(&e),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        r.headers_mut()
            .insert(HeaderName::from_static(h::AMZN_REQUEST_ID), v);
    }
    r
}

async fn invoke(
    router: &Router,
    req: Request<Incoming>,
    request_id: &str,
) -> Result<Response<Body>, ServiceError> {
    let (parts, body) = req.into_parts();
    // Read (or drain, past the cap) the body before any answer, so a refusal does not cut the
    // client off mid-upload.
    let limit = match header(&parts.headers, h::INVOCATION_TYPE) {
        Some("Event") => MAX_ASYNC_REQUEST,
        _ => MAX_SYNC_REQUEST,
    };
    let payload = read_capped_in_time(&parts.headers, body, limit).await;
    let Some((function_ref, mode)) =
        invoke_route(parts.uri.path()).filter(|_| parts.method == Method::POST)
    else {
        return Err(ServiceError {
            status: 404,
            error_type: "UnknownOperationException",
            fault: "User",
            message: format!("Unknown operation {} {}", parts.method, parts.uri.path()),
        });
    };
    let name = function_ref.name.as_str();
    let arn = |n: &str| function_arn(&router.region, &router.account_id, n);
    let pool = router
        .find(name)
        .ok_or_else(|| ServiceError::not_found_arn(&arn(name)))?;
    let query_qualifier = parts.uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "Qualifier")
            .map(|(_, v)| percent_decode(v).unwrap_or_else(|| v.to_owned()))
    });
    // The Invoke API refuses two different qualifiers, one in the name and one in the query.
    if let (Some(a), Some(b)) = (&function_ref.qualifier, &query_qualifier) {
        if a != b {
            return Err(ServiceError::invalid_parameter(
                "The derived qualifier from the function name does not match the specified qualifier.",
            ));
        }
    }
    // Only $LATEST exists locally (no published versions or aliases): any other qualifier is
    // the cloud's 404 for that qualified ARN, never silently dropped.
    if let Some(q) = function_ref
        .qualifier
        .or(query_qualifier)
        .filter(|q| q != "$LATEST")
    {
        return Err(ServiceError::not_found_arn(&format!(
            "{}:{q}",
            pool.function().arn()
        )));
    }
    let headers = &parts.headers;
    let kind = match header(headers, h::INVOCATION_TYPE) {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        Some("Event") if mode == InvokeMode::Buffered => InvocationType::Event,
        Some("DryRun") => InvocationType::DryRun,
        // `InvokeWithResponseStream` has no `Event` (ResponseStreamingInvocationType).
        Some(other) if mode == InvokeMode::Streamed => {
            return Err(ServiceError::invalid_parameter(format!(
                "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [RequestResponse, DryRun]"
            )))
        }
        Some(other) => {
            return Err(ServiceError::invalid_parameter(format!(
                "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            )))
        }
    };
    let want_tail = match header(headers, h::LOG_TYPE) {
        None | Some("None") => false,
        Some("Tail") => kind == InvocationType::RequestResponse,
        Some(other) => {
            return Err(ServiceError::invalid_parameter(format!(
                "1 validation error detected: Value '{other}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [Tail, None]"
            )))
        }
    };
    let client_context = client_context(headers)?;
    let payload = match payload {
        Some(Ok(Capped::Whole(b, _))) => b,
        Some(Ok(Capped::TooLarge { .. })) => return Err(ServiceError::request_too_large(limit)),
        None => {
            return Err(ServiceError::invalid_content(format!(
                "the request body did not arrive within {} s",
                BODY_TIMEOUT.as_secs()
            )))
        }
        Some(Err(e)) => {
            return Err(ServiceError::invalid_content(format!(
                "cannot read the request body: {e}"
            )))
        }
    };
    // The cloud only takes JSON payloads; an empty one reaches the handler as `{}`. JSON is
    // UTF-8 (RFC 8259 §8.1): the cloud refuses other bytes with 400, so they never reach the
    // handler (serde's skipping parser alone does not look inside strings).
    let payload = if payload.iter().all(u8::is_ascii_whitespace) {
        Bytes::from_static(b"{}")
    } else if let Err(e) = std::str::from_utf8(&payload) {
        let at = e.valid_up_to();
        return Err(ServiceError::invalid_content(format!(
            "Could not parse request body into json: Invalid UTF-8 byte 0x{:02x} at byte {at}",
            payload.get(at).copied().unwrap_or_default()
        )));
    } else if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
        return Err(ServiceError::invalid_content(format!(
            "Could not parse request body into json: {e}"
        )));
    } else {
        payload
    };
    let tenant_id = tenant_id(headers, pool.function().config.execution.tenant_isolation)?;
    if kind == InvocationType::DryRun {
        return Ok(empty(204));
    }
    let req = InvokeRequest {
        request_id: request_id.to_owned(),
        trace_id: header(headers, h::AMZN_TRACE_ID)
            .map(str::to_owned)
            .unwrap_or_else(trace::new_trace_header),
        client_context,
        tenant_id,
        payload,
        want_tail,
    };
    if kind == InvocationType::Event {
        // Durable before the 202: the event survives a crash of the emulator (§7).
        let queue = router
            .queues
            .get(pool.function().name.as_str())
            .ok_or_else(|| ServiceError::service("no event queue for the function"))?;
        queue.accept(&req).await?;
        return Ok(empty(202));
    }
    let admission = pool.admit()?;
    let reply = pool.invoke(admission, req).await;
    if mode == InvokeMode::Streamed {
        let mut r = stream::respond(reply.answer, reply.tail)?;
        r.headers_mut().insert(
            HeaderName::from_static(h::EXECUTED_VERSION),
            HeaderValue::from_static("$LATEST"),
        );
        return Ok(r);
    }
    let (mut r, unhandled) = match buffered(reply.answer).await {
        Answer::Success { body, content_type } => {
            (respond_body(200, &content_type, body.into_http()), false)
        }
        Answer::FunctionError { body, content_type } => (respond(200, &content_type, body), true),
        Answer::Service(e) => return Err(e),
    };
    let out = r.headers_mut();
    out.insert(
        HeaderName::from_static(h::EXECUTED_VERSION),
        HeaderValue::from_static("$LATEST"),
    );
    if unhandled {
        out.insert(
            HeaderName::from_static(h::FUNCTION_ERROR),
            HeaderValue::from_static("Unhandled"),
        );
    }
    if let Some(tail) = reply.tail {
        if let Ok(Ok(bytes)) = tokio::time::timeout(TAIL_WAIT, tail).await {
            let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
            if let Ok(v) = HeaderValue::from_str(&b64) {
                out.insert(HeaderName::from_static(h::LOG_RESULT), v);
            }
        }
    }
    Ok(r)
}

/// `Invoke` of a function that streams: the cloud buffers the stream (up to the 6 MB
/// buffered limit) and answers as for any function, an error in its trailers included.
async fn buffered(answer: Answer) -> Answer {
    let Answer::Success {
        body: body @ ResponseBody::Streamed(_),
        content_type,
    } = answer
    else {
        return answer;
    };
    match body.collect(MAX_SYNC_RESPONSE).await {
        Ok(b) => Answer::Success {
            body: ResponseBody::Buffered(b),
            content_type,
        },
        Err(CollectError::TooLarge { size, limit }) => Answer::FunctionError {
            body: PlatformError::response_too_large(size, limit)
                .to_json()
                .into(),
            content_type: "application/json".into(),
        },
        Err(CollectError::Failed { body, .. }) => Answer::FunctionError {
            body,
            content_type: "application/json".into(),
        },
    }
}

/// `X-Amz-Client-Context`: at most 3,583 bytes of base64 JSON, delivered decoded (§4). The
/// AWS emulator answers bad base64 with a 500 (§10); the cloud with a 400.
fn client_context(headers: &HeaderMap) -> Result<Option<String>, ServiceError> {
    let Some(raw) = header(headers, h::AMZ_CLIENT_CONTEXT) else {
        return Ok(None);
    };
    if raw.len() > MAX_CLIENT_CONTEXT {
        return Err(ServiceError::invalid_parameter(format!(
            "Client context must be at most {MAX_CLIENT_CONTEXT} bytes of base64"
        )));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok())
        .ok_or_else(|| {
            ServiceError::invalid_parameter(
                "Client context must be a valid Base64-encoded JSON object",
            )
        })?;
    Ok(Some(decoded))
}

/// Whether `t` has the API's `TenantId` shape.
pub(crate) fn valid_tenant_id(t: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._:/=+-@ ".contains(c);
    (1..=256).contains(&t.len()) && t.chars().all(allowed)
}

/// The invoke's tenant (`X-Amz-Tenant-Id`): required by a tenant-isolated function and
/// refused by any other, with the cloud's `InvalidParameterValueException` for both (docs
/// "Troubleshooting tenant isolation"; its exact message is the docs' error line), and held
/// to the API's `TenantId` shape (1 to 256 of `[a-zA-Z0-9._:/=+\-@ ]`, botocore's model).
fn tenant_id(headers: &HeaderMap, isolated: bool) -> Result<Option<String>, ServiceError> {
    const MISMATCH: &str = "Tenant ID configuration not specified or passed to a function when tenant isolation is not enabled.";
    let given = header(headers, h::AMZ_TENANT_ID);
    match (given, isolated) {
        (None, false) => Ok(None),
        (None, true) | (Some(_), false) => Err(ServiceError::invalid_parameter(MISMATCH)),
        (Some(t), true) => {
            if valid_tenant_id(t) {
                Ok(Some(t.to_owned()))
            } else {
                Err(ServiceError::invalid_parameter(format!(
                    "1 validation error detected: Value '{t}' at 'tenantId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9\\._:\\/=+\\-@ ]+ and length 1 to 256"
                )))
            }
        }
    }
}
