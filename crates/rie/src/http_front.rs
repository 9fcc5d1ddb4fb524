//! The HTTP front (`lamina rie --http`): plain HTTP in, the API Gateway or function URL event
//! to the function, its proxy response back as HTTP (runtime-api.md §8). Routes pick the
//! function; the mapping itself is `lamina_runtime_api::front`'s.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use lamina_runtime_api::front::{
    self, Answer as FrontAnswer, EventContext, FrontRequest, FrontResponse, Payload, Route,
};
use lamina_runtime_api::limits::{MAX_SYNC_REQUEST, MAX_SYNC_RESPONSE};

mod stream;

use crate::error::{Error, Result};
use crate::http_util::{read_capped_in_time, Body, Capped, Peer};
use crate::invoke::{Answer, InvokeRequest};
use crate::pool::Pool;

/// Every route of every function served, and the pool behind each.
pub(crate) struct Front {
    routes: Vec<Route>,
    targets: Vec<Arc<Pool>>,
}

impl Front {
    /// Collect the routes; a function without routes takes every path (`$default`), which
    /// only one function may do.
    pub(crate) fn new<'a>(pools: impl Iterator<Item = &'a Arc<Pool>>) -> Result<Self> {
        let mut routes = Vec::new();
        let mut targets = Vec::new();
        let mut pools: Vec<&Arc<Pool>> = pools.collect();
        pools.sort_by(|a, b| a.function().name.cmp(&b.function().name));
        for pool in pools {
            let http = &pool.function().config.http;
            if http.streams() && http.payload.unwrap_or_default() == Payload::ApigwHttp {
                return Err(Error::StreamingHttpApi {
                    function: pool.function().name.to_string(),
                });
            }
            for route in pool.function().config.http.routes_or_default() {
                if let Some(i) = routes.iter().position(|r: &Route| r.key() == route.key()) {
                    return Err(Error::DuplicateRoute {
                        route: route.to_string(),
                        first: targets_name(&targets, i),
                        second: pool.function().name.to_string(),
                    });
                }
                routes.push(route);
                targets.push(pool.clone());
            }
        }
        Ok(Self { routes, targets })
    }
}

fn targets_name(targets: &[Arc<Pool>], i: usize) -> String {
    targets
        .get(i)
        .map(|p| p.function().name.to_string())
        .unwrap_or_default()
}

/// Serve one HTTP request through the front.
pub(crate) async fn handle(front: Arc<Front>, req: Request<Incoming>) -> Response<Body> {
    let peer = req.extensions().get::<Peer>().map(|p| p.0.ip());
    let (parts, body) = req.into_parts();
    let body = read_capped_in_time(&parts.headers, body, MAX_SYNC_REQUEST).await;
    let request = FrontRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: Vec::new(),
        source_ip: peer.map(|ip| ip.to_string()).unwrap_or_default(),
        protocol: format!("{:?}", parts.version),
    };
    // A preflight is matched on the method it asks about.
    let preflight = request.method == "OPTIONS" && request.header("origin").is_some();
    let asked = request
        .header("access-control-request-method")
        .filter(|_| preflight)
        .unwrap_or(&request.method)
        .to_owned();
    let Some(matched) = front::select(&front.routes, &asked, &request.path) else {
        let payload = front
            .targets
            .first()
            .map(|p| p.function().config.http.payload.unwrap_or_default())
            .unwrap_or_default();
        return to_hyper(front::not_found(
            payload,
            &lamina_runtime_api::trace::request_id(),
        ));
    };
    let Some(pool) = front.targets.get(matched.index) else {
        return to_hyper(front::error_response(Payload::default(), 500, ""));
    };
    let function = pool.function();
    let payload = function.config.http.payload.unwrap_or_default();
    let origin = request.header("origin").map(str::to_owned);
    let allowed = origin
        .as_deref()
        .and_then(|o| function.config.http.cors.as_ref()?.allow(o));
    if preflight && function.config.http.cors.is_some() {
        return preflight_answer(&request, allowed);
    }
    let mut ctx = EventContext::new(
        function.name.as_str(),
        payload,
        &function.region,
        &function.account_id,
    );
    let request_id = ctx.request_id.clone();
    let request = match body {
        Some(Ok(Capped::Whole(b, _))) => FrontRequest {
            body: b.to_vec(),
            ..request
        },
        Some(Ok(Capped::TooLarge { .. })) => return too_large(),
        // API Gateway's answer to a body that does not arrive.
        None => {
            return to_hyper(FrontResponse {
                status: 408,
                headers: vec![("content-type".into(), "application/json".into())],
                body: br#"{"message":"Request Timeout"}"#.to_vec(),
            })
        }
        // A body that breaks HTTP's own framing (bad chunk sizes, cut short) is the
        // client's error: API Gateway answers 400.
        Some(Err(_)) => {
            return to_hyper(FrontResponse {
                status: 400,
                headers: vec![("content-type".into(), "application/json".into())],
                body: br#"{"message":"Bad Request"}"#.to_vec(),
            })
        }
    };
    let route = (!matched.route.is_default()).then_some(&matched);
    let event = front::event(payload, &request, route, &ctx);
    let Ok(event) = serde_json::to_vec(&event) else {
        return to_hyper(front::error_response(payload, 500, &request_id));
    };
    if event.len() > MAX_SYNC_REQUEST {
        return too_large();
    }
    // A tenant-isolated function takes its tenant from `X-Amz-Tenant-Id`, onto which a REST
    // API (or the caller of a function URL) maps it; HTTP APIs cannot invoke such functions
    // (docs "Invoking Lambda functions with tenant isolation"). Without one, the integration
    // fails as API Gateway's does: 500.
    let tenant_id = if function.config.execution.tenant_isolation {
        let given = request
            .headers
            .iter()
            .find(|(k, _)| k == lamina_runtime_api::headers::AMZ_TENANT_ID)
            .map(|(_, v)| v.clone())
            .filter(|t| payload != Payload::ApigwHttp && crate::invoke_api::valid_tenant_id(t));
        if given.is_none() {
            tracing::warn!(
                "function `{}` isolates tenants: the HTTP front needs an X-Amz-Tenant-Id header, and an HTTP API (apigw-http) cannot invoke it; use apigw-rest or function-url",
                function.name
            );
            return to_hyper(front::error_response(payload, 500, &request_id));
        }
        given
    } else {
        None
    };
    ctx.now = std::time::SystemTime::now();
    let answer = match pool.admit() {
        Err(_) => None,
        Ok(admission) => {
            let reply = pool
                .invoke(
                    admission,
                    InvokeRequest {
                        request_id: lamina_runtime_api::trace::request_id(),
                        trace_id: ctx.trace_header.clone(),
                        client_context: None,
                        tenant_id,
                        payload: Bytes::from(event),
                        want_tail: false,
                    },
                )
                .await;
            Some(reply.answer)
        }
    };
    if function.config.http.streams() {
        let mut out = stream::respond(answer, payload, &request_id).await;
        if let Some(origin) = allowed.and_then(|o| HeaderValue::try_from(o).ok()) {
            out.headers_mut().insert(
                HeaderName::from_static("access-control-allow-origin"),
                origin,
            );
        }
        return out;
    }
    let mut out = match answer {
        // The front decodes the function's proxy response, so it needs all of it.
        Some(Answer::Success { body, .. }) => match body.collect(MAX_SYNC_RESPONSE).await {
            Ok(body) => front::to_http(payload, FrontAnswer::Success(&body), &request_id),
            Err(_) => front::to_http(payload, FrontAnswer::ServiceError, &request_id),
        },
        Some(Answer::FunctionError { .. }) => {
            front::to_http(payload, FrontAnswer::FunctionError, &request_id)
        }
        Some(Answer::Service(_)) | None => {
            front::to_http(payload, FrontAnswer::ServiceError, &request_id)
        }
    };
    if let Some(origin) = allowed {
        out.headers
            .push(("access-control-allow-origin".into(), origin));
    }
    to_hyper(out)
}

/// The front's answer to a CORS preflight: it never reaches the function.
fn preflight_answer(req: &FrontRequest, allowed: Option<String>) -> Response<Body> {
    let mut headers = Vec::new();
    if let Some(origin) = allowed {
        headers.push(("access-control-allow-origin".to_owned(), origin));
        if let Some(m) = req.header("access-control-request-method") {
            headers.push(("access-control-allow-methods".to_owned(), m.to_owned()));
        }
        if let Some(h) = req.header("access-control-request-headers") {
            headers.push(("access-control-allow-headers".to_owned(), h.to_owned()));
        }
        headers.push(("access-control-max-age".to_owned(), "0".to_owned()));
    }
    to_hyper(FrontResponse {
        status: 204,
        headers,
        body: Vec::new(),
    })
}

/// Payloads over Lambda's 6 MB limit: API Gateway's 413.
fn too_large() -> Response<Body> {
    to_hyper(FrontResponse {
        status: 413,
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"message":"Request Entity Too Large"}"#.to_vec(),
    })
}

/// A front answer as hyper's; header names or values HTTP cannot carry are dropped.
fn to_hyper(r: FrontResponse) -> Response<Body> {
    let mut out = Response::new(crate::http_util::full(r.body));
    *out.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_GATEWAY);
    for (k, v) in r.headers {
        match (
            HeaderName::try_from(k.as_str()),
            HeaderValue::try_from(v.as_str()),
        ) {
            (Ok(k), Ok(v)) => {
                out.headers_mut().append(k, v);
            }
            _ => tracing::warn!("dropped response header `{k}`: not valid in HTTP"),
        }
    }
    out
}
