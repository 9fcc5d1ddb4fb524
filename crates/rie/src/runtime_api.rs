//! One environment's Runtime API server (runtime-api.md §1): the long-polled `/next`, and the
//! `/response`, `/error` and `/init/error` posts, checked against the invoke in flight.
//!
//! Each environment has its own listener and its own [`RuntimeState`], so a runtime can only
//! ever see and answer its own events.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderMap, CONTENT_TYPE};
use http::{Method, Request, Response};
use hyper::body::Incoming;
use lamina_runtime_api::body::{normalise_error_type, RuntimeApiError, STATUS_OK};
use lamina_runtime_api::headers as h;
use lamina_runtime_api::invocation::DEFAULT_CONTENT_TYPE;
use lamina_runtime_api::limits::MAX_SYNC_RESPONSE;
use lamina_runtime_api::paths::RuntimeRoute;
use lamina_runtime_api::Invocation;
use tokio::sync::{mpsc, oneshot, watch};

use crate::http_util::{read_capped, respond, Body, Capped};
use crate::invoke::ResponseBody;
use crate::sandbox::ExitStatus;

/// Content type of an error body carrying an X-Ray `errorCause` (§1.5).
const ERROR_CAUSE_CONTENT_TYPE: &str = "application/vnd.aws.lambda.error.cause+json";
/// Default content type of a streamed response (Node `ResponseStream.js`, §1.7).
const STREAM_CONTENT_TYPE: &str = "application/octet-stream";

/// An event handed to the runtime by `/next`.
pub(crate) struct Assigned {
    pub(crate) invocation: Invocation,
    pub(crate) payload: Bytes,
}

/// How the runtime (or its death) ended an invoke.
#[derive(Debug)]
pub(crate) enum RuntimeOutcome {
    /// `/response` with this body (whole, or streamed as the runtime sends it).
    Response {
        body: ResponseBody,
        content_type: String,
    },
    /// `/error` (or a streamed response's error trailers) with this body, verbatim.
    Error {
        body: Bytes,
        content_type: String,
        /// The normalised platform-side type (§1.5).
        error_type: String,
    },
    /// The response was over [`MAX_SYNC_RESPONSE`].
    TooLarge { size: usize },
    /// `Lambda-Runtime-Function-Response-Mode` was not `streaming` (§1.4).
    InvalidResponseMode,
    /// The runtime exited before answering.
    Exited(ExitStatus),
}

/// Where the init phase stands.
#[derive(Debug, Clone)]
pub(crate) enum InitSignal {
    Running,
    /// The runtime's first `/next` arrived at this instant: init is over.
    Ready(Instant),
    /// The runtime posted `/init/error`.
    Failed {
        body: Bytes,
        content_type: String,
    },
}

struct Current {
    request_id: String,
    reply: Option<oneshot::Sender<RuntimeOutcome>>,
    /// Which of (stdout, stderr) carry this invoke's output mark, when lamina-ric said so.
    output_marks: Option<(bool, bool)>,
}

#[derive(Default)]
struct Inner {
    initialized: bool,
    exited: Option<ExitStatus>,
    current: Option<Current>,
    /// The invoke before `current`: a late second answer for it is a state transition the
    /// platform refuses (403), not an unknown id (400), even once the next event is queued.
    previous: Option<String>,
}

/// The Runtime API's view of one environment.
pub(crate) struct RuntimeState {
    inner: Mutex<Inner>,
    next_rx: tokio::sync::Mutex<mpsc::Receiver<Assigned>>,
    init: watch::Sender<InitSignal>,
}

impl RuntimeState {
    /// A fresh state and the sender events are assigned through.
    pub(crate) fn new() -> (Arc<Self>, mpsc::Sender<Assigned>) {
        let (tx, rx) = mpsc::channel(1);
        let state = Self {
            inner: Mutex::new(Inner::default()),
            next_rx: tokio::sync::Mutex::new(rx),
            init: watch::channel(InitSignal::Running).0,
        };
        (Arc::new(state), tx)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        crate::sync::lock(&self.inner)
    }

    /// Watch the init phase.
    pub(crate) fn init_rx(&self) -> watch::Receiver<InitSignal> {
        self.init.subscribe()
    }

    /// Make `request_id` the invoke in flight; its outcome is sent to `reply`.
    pub(crate) fn begin(&self, request_id: &str, reply: oneshot::Sender<RuntimeOutcome>) {
        let mut inner = self.lock();
        if let Some(status) = inner.exited {
            let _ = reply.send(RuntimeOutcome::Exited(status));
            return;
        }
        let replaced = inner.current.replace(Current {
            request_id: request_id.to_owned(),
            reply: Some(reply),
            output_marks: None,
        });
        inner.previous = replaced.map(|c| c.request_id);
    }

    /// The runtime is gone: fail the invoke in flight, if any.
    pub(crate) fn runtime_exited(&self, status: ExitStatus) {
        let mut inner = self.lock();
        inner.exited = Some(status);
        if let Some(reply) = inner.current.as_mut().and_then(|c| c.reply.take()) {
            let _ = reply.send(RuntimeOutcome::Exited(status));
        }
    }

    /// Check that `id` is the invoke in flight and still unanswered.
    fn check(&self, id: &str, to: &str) -> Result<(), RuntimeApiError> {
        let inner = self.lock();
        match &inner.current {
            Some(c) if c.request_id == id => match c.reply {
                Some(_) => Ok(()),
                None => Err(RuntimeApiError::invalid_state_transition(
                    "InvocationResponse",
                    to,
                    "State transition is not allowed",
                )),
            },
            _ if inner.previous.as_deref() == Some(id) => {
                Err(RuntimeApiError::invalid_state_transition(
                    "InvocationResponse",
                    to,
                    "State transition is not allowed",
                ))
            }
            _ => Err(RuntimeApiError::invalid_request_id()),
        }
    }

    /// Which output marks of invoke `id` reach the log, as its runtime said on answering
    /// ([`lamina_runtime_api::logs::OUTPUT_MARKS_HEADER`]); `None` if it did not say.
    pub(crate) fn output_marks(&self, id: &str) -> Option<(bool, bool)> {
        let inner = self.lock();
        inner
            .current
            .as_ref()
            .filter(|c| c.request_id == id)
            .and_then(|c| c.output_marks)
    }

    /// Remember what the answer to invoke `id` says of its output marks.
    fn note_output_marks(&self, id: &str, headers: &HeaderMap) {
        let marks = headers
            .get(lamina_runtime_api::logs::OUTPUT_MARKS_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(lamina_runtime_api::logs::parse_marked_streams);
        if let Some(c) = self.lock().current.as_mut().filter(|c| c.request_id == id) {
            c.output_marks = marks;
        }
    }

    /// Answer the invoke `id` with `outcome`, if it is still unanswered.
    fn complete(&self, id: &str, to: &str, outcome: RuntimeOutcome) -> Result<(), RuntimeApiError> {
        self.check(id, to)?;
        let reply = self
            .lock()
            .current
            .as_mut()
            .filter(|c| c.request_id == id)
            .and_then(|c| c.reply.take());
        match reply {
            Some(r) => {
                let _ = r.send(outcome);
                Ok(())
            }
            None => Err(RuntimeApiError::invalid_state_transition(
                "InvocationResponse",
                to,
                "State transition is not allowed",
            )),
        }
    }
}

/// Serve one Runtime API request.
pub(crate) async fn handle(state: Arc<RuntimeState>, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    // Read (or drain, past the cap) every body before answering, even a refusal: a reply to an
    // unread request makes the server drop the connection, which runtimes take for a crash.
    let body = match read_capped(&parts.headers, body, MAX_SYNC_RESPONSE).await {
        Ok(b) => b,
        Err(_) => {
            let e = RuntimeApiError::truncated();
            return respond(e.status, "application/json", e.to_json());
        }
    };
    let result = match (RuntimeRoute::parse(path), &parts.method) {
        (Some(RuntimeRoute::Next), &Method::GET) => next(&state).await,
        (Some(RuntimeRoute::Response(id)), &Method::POST) => {
            answer_first(response(&state, id, &parts.headers, body)).await
        }
        (Some(RuntimeRoute::Error(id)), &Method::POST) => {
            answer_first(error(&state, id, &parts.headers, body)).await
        }
        (Some(RuntimeRoute::InitError), &Method::POST) => init_error(&state, &parts.headers, body),
        (Some(RuntimeRoute::Ping), &Method::GET) => Ok(respond(200, "text/plain", "pong")),
        // TODO: Extensions, Telemetry and Logs APIs (§2, §3) share this listener.
        _ => Err(RuntimeApiError::not_found()),
    };
    result.unwrap_or_else(|e| respond(e.status, "application/json", e.to_json()))
}

/// Let the invoker's answer, just handed over, go out before the runtime's `202`: the
/// runtime's next `/next` is not needed before the invoker's next request, and the invoker
/// is who waits (warm p50 -6 %, BENCHMARKS.md §3h).
async fn answer_first<T>(result: T) -> T {
    tokio::task::yield_now().await;
    result
}

fn accepted() -> Response<Body> {
    respond(202, "application/json", STATUS_OK)
}

async fn next(state: &RuntimeState) -> Result<Response<Body>, RuntimeApiError> {
    {
        let mut inner = state.lock();
        if !inner.initialized {
            inner.initialized = true;
            state.init.send_replace(InitSignal::Ready(Instant::now()));
        }
    }
    // Long-poll: wait as long as it takes; never answer 204 (cargo-lambda #372).
    let mut rx = state.next_rx.lock().await;
    let Some(Assigned {
        invocation,
        payload,
    }) = rx.recv().await
    else {
        // The environment is shutting down: the cloud never answers this `/next`; the
        // runtime is stopped by signal instead (SIGTERM, then SIGKILL), quietly.
        return std::future::pending().await;
    };
    let headers = invocation.to_headers().map_err(|e| {
        tracing::error!("cannot render the event's headers: {e}");
        RuntimeApiError::internal()
    })?;
    let mut r = Response::new(crate::http_util::full(payload));
    *r.headers_mut() = headers;
    Ok(r)
}

fn content_type(headers: &HeaderMap, default: &str) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .unwrap_or(default)
        .to_owned()
}

fn response(
    state: &RuntimeState,
    id: &str,
    headers: &HeaderMap,
    body: Capped,
) -> Result<Response<Body>, RuntimeApiError> {
    const TO: &str = "InvocationResponse";
    state.check(id, TO)?;
    state.note_output_marks(id, headers);
    let streaming = match headers.get(h::RESPONSE_MODE) {
        None => false,
        Some(v) if v.as_bytes().eq_ignore_ascii_case(b"streaming") => true,
        Some(_) => {
            state.complete(id, TO, RuntimeOutcome::InvalidResponseMode)?;
            return Err(RuntimeApiError::invalid_response_mode());
        }
    };
    // TODO: pass streamed responses through as they come (§1.7); buffered for now.
    let ct = content_type(
        headers,
        if streaming {
            STREAM_CONTENT_TYPE
        } else {
            DEFAULT_CONTENT_TYPE
        },
    );
    match body {
        Capped::TooLarge { size } => {
            state.complete(id, TO, RuntimeOutcome::TooLarge { size })?;
            Err(RuntimeApiError::too_large(MAX_SYNC_RESPONSE))
        }
        Capped::Whole(bytes, trailers) => {
            let outcome = match trailers
                .as_ref()
                .and_then(|t| t.get(h::FUNCTION_ERROR_TYPE))
            {
                Some(ty) => {
                    let body = trailers
                        .as_ref()
                        .and_then(|t| t.get(h::FUNCTION_ERROR_BODY))
                        .and_then(|b| {
                            base64::engine::general_purpose::STANDARD
                                .decode(b.as_bytes())
                                .ok()
                        })
                        .unwrap_or_default();
                    RuntimeOutcome::Error {
                        body: body.into(),
                        content_type: DEFAULT_CONTENT_TYPE.into(),
                        error_type: normalise_error_type(ty.to_str().unwrap_or_default()),
                    }
                }
                None => RuntimeOutcome::Response {
                    body: ResponseBody::Buffered(bytes),
                    content_type: ct,
                },
            };
            state.complete(id, TO, outcome)?;
            Ok(accepted())
        }
    }
}

fn error(
    state: &RuntimeState,
    id: &str,
    headers: &HeaderMap,
    body: Capped,
) -> Result<Response<Body>, RuntimeApiError> {
    const TO: &str = "InvocationErrorResponse";
    state.check(id, TO)?;
    state.note_output_marks(id, headers);
    let (body, content_type) = error_body(headers, body)?;
    let error_type = normalise_error_type(
        headers
            .get(h::FUNCTION_ERROR_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
    );
    state.complete(
        id,
        TO,
        RuntimeOutcome::Error {
            body,
            content_type,
            error_type,
        },
    )?;
    Ok(accepted())
}

fn init_error(
    state: &RuntimeState,
    headers: &HeaderMap,
    body: Capped,
) -> Result<Response<Body>, RuntimeApiError> {
    if state.lock().initialized {
        return Err(RuntimeApiError::invalid_state_transition(
            "Ready",
            "InitError",
            "State transition is not allowed",
        ));
    }
    let (body, content_type) = error_body(headers, body)?;
    state
        .init
        .send_replace(InitSignal::Failed { body, content_type });
    Ok(accepted())
}

/// An error body, verbatim, except that an X-Ray `errorCause` is not shown to the caller
/// (AWS emulator `invocationerror.go`, §1.5).
fn error_body(headers: &HeaderMap, body: Capped) -> Result<(Bytes, String), RuntimeApiError> {
    let bytes = match body {
        Capped::TooLarge { .. } => return Err(RuntimeApiError::too_large(MAX_SYNC_RESPONSE)),
        Capped::Whole(b, _) => b,
    };
    let ct = content_type(headers, DEFAULT_CONTENT_TYPE);
    if ct.eq_ignore_ascii_case(ERROR_CAUSE_CONTENT_TYPE) {
        if let Ok(serde_json::Value::Object(mut map)) = serde_json::from_slice(&bytes) {
            map.remove("errorCause");
            let text = serde_json::Value::Object(map).to_string();
            return Ok((text.into(), DEFAULT_CONTENT_TYPE.into()));
        }
    }
    Ok((bytes, ct))
}
