//! One environment's Runtime API server (runtime-api.md §1): the long-polled `/next`, and the
//! `/response`, `/error` and `/init/error` posts, checked against the invoke in flight.
//!
//! Each environment has its own listener and its own [`RuntimeState`], so a runtime can only
//! ever see and answer its own events.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{HeaderMap, CONTENT_TYPE};
use http::{Method, Request, Response};
use hyper::body::Incoming;
use lamina_runtime_api::body::{normalise_error_type, RuntimeApiError, STATUS_OK};
use lamina_runtime_api::headers as h;
use lamina_runtime_api::invocation::DEFAULT_CONTENT_TYPE;
use lamina_runtime_api::limits::MAX_SYNC_RESPONSE;
use lamina_runtime_api::paths::RuntimeRoute;

use crate::http_util::{read_capped, respond, Body, Capped};
use crate::invoke::{ResponseBody, StreamEnd};

mod state;
mod stream;
use state::Restore;
pub(crate) use state::{Assigned, InitSignal, RuntimeOutcome, RuntimeState};

/// Longest wait of `/restore/next` for the environment to log the snapshot.
const RESTORE_ANSWER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// Content type of an error body carrying an X-Ray `errorCause` (§1.5).
const ERROR_CAUSE_CONTENT_TYPE: &str = "application/vnd.aws.lambda.error.cause+json";
/// Default content type of a streamed response (Node `ResponseStream.js`, §1.7).
const STREAM_CONTENT_TYPE: &str = "application/octet-stream";

/// Serve one Runtime API request.
pub(crate) async fn handle(state: Arc<RuntimeState>, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    // A streamed response is passed on as it comes, never read whole first.
    if let (Some(RuntimeRoute::Response(id)), &Method::POST) =
        (RuntimeRoute::parse(path), &parts.method)
    {
        if stream::is_streaming(&parts.headers) {
            return stream::receive(state.clone(), id, &parts.headers, body)
                .await
                .unwrap_or_else(|e| respond(e.status, "application/json", e.to_json()));
        }
    }
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
        (Some(RuntimeRoute::RestoreNext), &Method::GET) => restore_next(&state).await,
        (Some(RuntimeRoute::RestoreError), &Method::POST) => {
            restore_error(&state, &parts.headers, body)
        }
        (Some(RuntimeRoute::Ping), &Method::GET) => Ok(respond(200, "text/plain", "pong")),
        // The Extensions, Telemetry and Logs APIs share this listener (`env_api` routes them).
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

/// The `Lambda-Runtime-Invocation-Id` an answer echoes, if any (§1.4).
fn invocation_id(headers: &HeaderMap) -> Option<&str> {
    headers.get(h::INVOCATION_ID).and_then(|v| v.to_str().ok())
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
    let echo = invocation_id(headers);
    state.check(id, TO, echo)?;
    state.note_output_marks(id, headers);
    // `streaming` went to `stream::receive`; any other mode is refused (§1.4).
    if headers.get(h::RESPONSE_MODE).is_some() {
        state.complete(id, TO, echo, RuntimeOutcome::InvalidResponseMode)?;
        return Err(RuntimeApiError::invalid_response_mode());
    }
    let ct = content_type(headers, DEFAULT_CONTENT_TYPE);
    match body {
        Capped::TooLarge { size } => {
            state.complete(id, TO, echo, RuntimeOutcome::TooLarge { size })?;
            Err(RuntimeApiError::too_large(MAX_SYNC_RESPONSE))
        }
        Capped::Whole(bytes, trailers) => {
            // Error trailers on a buffered response: the same error as a streamed one's.
            let outcome = match trailers.as_ref().and_then(stream::trailer_error) {
                Some(StreamEnd::FunctionError { error_type, body }) => RuntimeOutcome::Error {
                    body,
                    content_type: DEFAULT_CONTENT_TYPE.into(),
                    error_type: normalise_error_type(&error_type),
                },
                _ => RuntimeOutcome::Response {
                    body: ResponseBody::Buffered(bytes),
                    content_type: ct,
                },
            };
            state.complete(id, TO, echo, outcome)?;
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
    let echo = invocation_id(headers);
    state.check(id, TO, echo)?;
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
        echo,
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
        return Err(not_now("InitError"));
    }
    fail_init(state, headers, body)
}

/// Init (or the restore) failed with the posted error body.
fn fail_init(
    state: &RuntimeState,
    headers: &HeaderMap,
    body: Capped,
) -> Result<Response<Body>, RuntimeApiError> {
    let (body, content_type) = error_body(headers, body)?;
    state
        .init
        .send_replace(InitSignal::Failed { body, content_type });
    Ok(accepted())
}

/// RIE's refusal of a call out of the lifecycle's order.
fn not_now(to: &str) -> RuntimeApiError {
    RuntimeApiError::invalid_state_transition("Ready", to, "State transition is not allowed")
}

/// `GET /restore/next` (SnapStart, §1.10): the snapshot is "taken" and "restored" at once
/// (lamina cannot checkpoint a process: the process that ran the before-snapshot hooks goes
/// on, as a restored one would), and the answer is the cloud's 200 with an empty body.
/// Served only in a SnapStart environment (RIE registers the route only then), once, and
/// before the first `/next`; otherwise 403 as RIE's `InvalidStateTransition`.
async fn restore_next(state: &RuntimeState) -> Result<Response<Body>, RuntimeApiError> {
    {
        let mut inner = state.lock();
        match inner.restore {
            Restore::Off => return Err(RuntimeApiError::not_found()),
            Restore::Awaiting if !inner.initialized => inner.restore = Restore::Restored,
            _ => return Err(not_now("RestoreNext")),
        }
    }
    let restored = state.restored.notified();
    state
        .init
        .send_replace(InitSignal::Restoring(Instant::now()));
    // Answered once the environment has logged the snapshot (bounded: an environment that
    // stopped listening must not hold the runtime forever).
    let _ = tokio::time::timeout(RESTORE_ANSWER_WAIT, restored).await;
    Ok(Response::new(crate::http_util::full(Bytes::new())))
}

/// `POST /restore/error`: an after-restore hook failed (§1.10); the restore fails as an
/// init does, with this body.
fn restore_error(
    state: &RuntimeState,
    headers: &HeaderMap,
    body: Capped,
) -> Result<Response<Body>, RuntimeApiError> {
    {
        let inner = state.lock();
        match inner.restore {
            Restore::Off => return Err(RuntimeApiError::not_found()),
            Restore::Restored if !inner.initialized => {}
            _ => return Err(not_now("RestoreError")),
        }
    }
    fail_init(state, headers, body)
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
