//! The Extensions API's HTTP side (§2) and the calls of lamina's init (`lamina_runtime_api::
//! init`: the extensions it started, the processes it saw end), over [`super::Extensions`].

use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response};
use hyper::body::Incoming;
use lamina_runtime_api::body::{RuntimeApiError, STATUS_OK};
use lamina_runtime_api::extensions as ext;
use lamina_runtime_api::init::{self, Exited, ExtensionOutput, Launched, Process, TelemetryBatch};
use lamina_runtime_api::platform::{ExtensionReady, PlatformEvent};
use lamina_runtime_api::telemetry::{Api, Destination, Subscription};

use super::Extensions;
use crate::env_api::EnvironmentApis;
use crate::http_util::{read_capped, respond, Body, Capped};
use crate::sandbox::ExitStatus;

/// Largest body an extension call may carry (RIE-LMI `rapi/server.go`: 1 MiB).
const MAX_BODY: usize = 1024 * 1024;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn refuse(e: &RuntimeApiError) -> Response<Body> {
    respond(e.status, "application/json", e.to_json())
}

/// Read a whole request body of at most [`MAX_BODY`] bytes.
async fn body(body: Incoming, headers: &HeaderMap) -> Result<bytes::Bytes, Response<Body>> {
    match read_capped(headers, body, MAX_BODY).await {
        Ok(Capped::Whole(b, _)) => Ok(b),
        Ok(Capped::TooLarge { .. }) => Err(refuse(&RuntimeApiError::too_large(MAX_BODY))),
        Err(_) => Err(refuse(&RuntimeApiError::truncated())),
    }
}

/// Serve one Extensions API request.
pub(crate) async fn handle(apis: &EnvironmentApis, req: Request<Incoming>) -> Response<Body> {
    let (parts, incoming) = req.into_parts();
    let bytes = match body(incoming, &parts.headers).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let extensions: &Extensions = &apis.extensions;
    let id = header(&parts.headers, ext::IDENTIFIER_HEADER);
    let result = match (parts.uri.path(), &parts.method) {
        (ext::REGISTER, &Method::POST) => {
            let name = header(&parts.headers, ext::NAME_HEADER).unwrap_or_default();
            let account = header(&parts.headers, ext::ACCEPT_FEATURE_HEADER)
                .is_some_and(|f| f.split(',').any(|f| f.trim() == "accountId"));
            extensions
                .register(name, &bytes, account)
                .map(|(id, answer)| {
                    // `platform.extension` for subscribers (the body parsed, as register did).
                    if let Ok(req) = ext::RegisterRequest::parse(&bytes) {
                        apis.telemetry
                            .platform(PlatformEvent::Extension(ExtensionReady {
                                name: name.to_owned(),
                                state: "Ready".to_owned(),
                                events: req
                                    .events
                                    .iter()
                                    .filter_map(|e| serde_json::to_value(e).ok())
                                    .filter_map(|v| v.as_str().map(str::to_owned))
                                    .collect(),
                            }));
                    }
                    let mut r = respond(
                        200,
                        "application/json",
                        serde_json::to_vec(&answer).unwrap_or_default(),
                    );
                    if let Ok(v) = HeaderValue::from_str(&id) {
                        r.headers_mut()
                            .insert(HeaderName::from_static(ext::IDENTIFIER_HEADER), v);
                    }
                    r
                })
        }
        (ext::EVENT_NEXT, &Method::GET) => extensions.next(id).await.map(|event| {
            let mut r = respond(
                200,
                "application/json",
                serde_json::to_vec(&event).unwrap_or_default(),
            );
            if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
                r.headers_mut()
                    .insert(HeaderName::from_static(ext::EVENT_IDENTIFIER_HEADER), v);
            }
            r
        }),
        (ext::INIT_ERROR, &Method::POST) => extensions
            .error(
                id,
                header(&parts.headers, ext::ERROR_TYPE_HEADER),
                ext::fatal::INIT_ERROR,
            )
            .map(|()| respond(202, "application/json", STATUS_OK)),
        (ext::EXIT_ERROR, &Method::POST) => extensions
            .error(
                id,
                header(&parts.headers, ext::ERROR_TYPE_HEADER),
                ext::fatal::EXIT_ERROR,
            )
            .map(|()| respond(202, "application/json", STATUS_OK)),
        _ => Err(RuntimeApiError::not_found()),
    };
    result.unwrap_or_else(|e| refuse(&e))
}

/// `PUT /2022-07-01/telemetry` (§3.1) or `PUT /2020-08-15/logs` (§3.4, `api`) from a
/// registered extension: 200 `"OK"`.
pub(crate) async fn subscribe(
    apis: &EnvironmentApis,
    api: Api,
    req: Request<Incoming>,
) -> Response<Body> {
    let (parts, incoming) = req.into_parts();
    let bytes = match body(incoming, &parts.headers).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if parts.method != Method::PUT {
        return refuse(&RuntimeApiError::not_found());
    }
    let subscribed = apis
        .extensions
        .name_of(header(&parts.headers, ext::IDENTIFIER_HEADER))
        .and_then(|name| {
            let subscription = Subscription::parse_for(api, &bytes)?;
            apis.telemetry.subscribe(&name, subscription)
        });
    match subscribed {
        Ok(()) => respond(200, "text/plain", "OK"),
        Err(e) => refuse(&e),
    }
}

/// Serve one call of lamina's init.
pub(crate) async fn handle_init(apis: &EnvironmentApis, req: Request<Incoming>) -> Response<Body> {
    let (parts, incoming) = req.into_parts();
    let bytes = match body(incoming, &parts.headers).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let format = |e: serde_json::Error| {
        RuntimeApiError::forbidden(ext::INVALID_REQUEST_FORMAT, e.to_string())
    };
    match (parts.uri.path(), &parts.method) {
        (init::LAUNCHED, &Method::POST) => {
            let launched: Launched = match serde_json::from_slice(&bytes).map_err(format) {
                Ok(l) => l,
                Err(e) => return refuse(&e),
            };
            apis.extensions.launched(&launched.extensions);
            respond(200, "application/json", STATUS_OK)
        }
        (init::REGISTERED, &Method::POST) => match apis.extensions.all_registered().await {
            Ok(()) => respond(200, "application/json", STATUS_OK),
            Err(error_type) => {
                let mut r = respond(500, "application/json", STATUS_OK);
                if let Ok(v) = HeaderValue::from_str(&error_type) {
                    r.headers_mut()
                        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    r.headers_mut().insert(
                        HeaderName::from_static("lambda-runtime-function-error-type"),
                        v,
                    );
                }
                r
            }
        },
        (init::TELEMETRY_NEXT, &Method::POST) => {
            let batch = apis.telemetry.next_batch().await;
            let (protocol, port, path) = match batch.destination {
                Destination::Http { port, path } => ("HTTP", port, path),
                Destination::Tcp { port } => ("TCP", port, String::new()),
            };
            let answer = TelemetryBatch {
                protocol: protocol.into(),
                port,
                path,
                body: batch.body,
            };
            respond(
                200,
                "application/json",
                serde_json::to_vec(&answer).unwrap_or_default(),
            )
        }
        (init::EXTENSION_OUTPUT, &Method::POST) => {
            let output: Vec<ExtensionOutput> = match serde_json::from_slice(&bytes).map_err(format)
            {
                Ok(o) => o,
                Err(e) => return refuse(&e),
            };
            for o in output {
                apis.extension_output(&o.extension, o.text);
            }
            respond(202, "application/json", STATUS_OK)
        }
        (init::EXITED, &Method::POST) => {
            let exited: Exited = match serde_json::from_slice(&bytes).map_err(format) {
                Ok(e) => e,
                Err(e) => return refuse(&e),
            };
            let status = match (exited.code, exited.signal) {
                _ if exited.oom_killed => ExitStatus::OomKilled,
                (_, Some(s)) => ExitStatus::Signal(s),
                (Some(c), None) => ExitStatus::Code(c),
                (None, None) => ExitStatus::Code(0),
            };
            match exited.process {
                Process::Runtime => apis.runtime.runtime_exited(status),
                Process::Extension(name) => apis.extensions.exited(
                    &name,
                    &status.reason().to_string(),
                    apis.shutting_down(),
                ),
            }
            respond(202, "application/json", STATUS_OK)
        }
        _ => refuse(&RuntimeApiError::not_found()),
    }
}
