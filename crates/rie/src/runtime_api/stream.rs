//! A streamed `/response` (runtime-api.md §1.7): `Lambda-Runtime-Function-Response-Mode:
//! streaming`, a chunked body passed on chunk by chunk as the runtime writes it, and an error
//! in HTTP trailers (`Lambda-Runtime-Function-Error-Type` / `-Body`) once it is over.
//!
//! The invoke is answered as soon as the stream begins; its end (complete, the runtime's
//! error trailers, the size cap, or a cut-off) follows the last chunk. The cloud's limits
//! hold: the first 6 MiB go at full speed, the rest at 2 MiB/s (AWS emulator
//! `interop/model.go`), 200 MiB at most. The chunk channel is bounded, so a slow reader
//! slows the runtime's writes down (TCP backpressure) instead of filling memory; a reader
//! that goes away does not stop the function, whose remaining bytes are read and dropped
//! (docs "Response streaming": a dropped client does not stop the function).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http::header::HeaderMap;
use http::Response;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use lamina_runtime_api::body::{PlatformError, RuntimeApiError};
use lamina_runtime_api::headers as h;
use lamina_runtime_api::limits::{
    MAX_STREAMED_RESPONSE, STREAM_BURST_BYTES, STREAM_BYTES_PER_SECOND,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::{accepted, content_type, RuntimeOutcome, RuntimeState, STREAM_CONTENT_TYPE};
use crate::http_util::Body;
use crate::invoke::{ResponseBody, StreamEnd, Streamed};

/// Chunks in flight between the runtime and the invoker: enough to keep both busy, few
/// enough that memory stays flat whatever the stream's size.
const CHANNEL_DEPTH: usize = 8;
/// How long a cut-off stream waits to learn whether the runtime died (its exit is what the
/// invoker is told then).
const EXIT_WAIT: Duration = Duration::from_millis(500);

/// Whether a `/response` asks to stream.
pub(super) fn is_streaming(headers: &HeaderMap) -> bool {
    headers
        .get(h::RESPONSE_MODE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"streaming"))
}

/// Take a streamed `/response` for invoke `id`.
pub(super) async fn receive(
    state: Arc<RuntimeState>,
    id: &str,
    headers: &HeaderMap,
    mut body: Incoming,
) -> Result<Response<Body>, RuntimeApiError> {
    const TO: &str = "InvocationResponse";
    let echo = super::invocation_id(headers);
    if let Err(e) = state.check(id, TO, echo) {
        drain(&mut body).await;
        return Err(e);
    }
    state.note_output_marks(id, headers);
    let (chunk_tx, chunks) = mpsc::channel(CHANNEL_DEPTH);
    let (end_tx, end) = oneshot::channel();
    state.complete(
        id,
        TO,
        echo,
        RuntimeOutcome::Response {
            body: ResponseBody::Streamed(Streamed { chunks, end }),
            content_type: content_type(headers, STREAM_CONTENT_TYPE),
        },
    )?;
    let mut sent: u64 = 0;
    let mut bucket = Bucket::new();
    let mut reader = Some(chunk_tx);
    let mut trailers = None;
    let mut cut = false;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(_) => {
                cut = true;
                break;
            }
        };
        let frame = match frame.into_data() {
            Ok(data) => {
                sent += data.len() as u64;
                if sent > MAX_STREAMED_RESPONSE {
                    reader = None; // the invoker's stream ends here; the rest is drained
                    continue;
                }
                if let Some(tx) = &reader {
                    bucket.take(data.len() as u64).await;
                    if tx.send(data).await.is_err() {
                        reader = None;
                    }
                }
                continue;
            }
            Err(frame) => frame,
        };
        if let Ok(t) = frame.into_trailers() {
            // lamina-ric says in the trailers which output marks it passed on.
            state.note_output_marks(id, &t);
            trailers = Some(t);
        }
    }
    drop(reader);
    let ending = if sent > MAX_STREAMED_RESPONSE {
        too_large(sent)
    } else if let Some(e) = trailers.as_ref().and_then(trailer_error) {
        e
    } else if cut {
        cut_off(&state, id).await
    } else {
        StreamEnd::Complete
    };
    let _ = end_tx.send(ending);
    if sent > MAX_STREAMED_RESPONSE {
        return Err(RuntimeApiError::too_large(
            usize::try_from(MAX_STREAMED_RESPONSE).unwrap_or(usize::MAX),
        ));
    }
    Ok(accepted())
}

/// The error a runtime reported in its trailers, if it did.
pub(super) fn trailer_error(trailers: &HeaderMap) -> Option<StreamEnd> {
    let ty = trailers.get(h::FUNCTION_ERROR_TYPE)?;
    let body = trailers
        .get(h::FUNCTION_ERROR_BODY)
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.as_bytes())
                .ok()
        })
        .unwrap_or_default();
    Some(StreamEnd::FunctionError {
        error_type: String::from_utf8_lossy(ty.as_bytes()).trim().to_owned(),
        body: body.into(),
    })
}

fn too_large(sent: u64) -> StreamEnd {
    let limit = usize::try_from(MAX_STREAMED_RESPONSE).unwrap_or(usize::MAX);
    PlatformError::response_too_large(usize::try_from(sent).unwrap_or(usize::MAX), limit).into()
}

/// The stream broke before its end: the runtime's exit when it died (the usual cause),
/// else a truncated response.
async fn cut_off(state: &RuntimeState, id: &str) -> StreamEnd {
    let until = Instant::now() + EXIT_WAIT;
    loop {
        if let Some(status) = state.exit_status() {
            return crate::invoke::exit_error(id, status).into();
        }
        if Instant::now() >= until {
            // lamina's name for it: the cloud's is not documented.
            return PlatformError::new(
                "Runtime.TruncatedResponse",
                id,
                "the runtime's response stream was cut off before its end",
            )
            .into();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn drain(body: &mut Incoming) {
    while let Some(Ok(_)) = body.frame().await {}
}

/// The cloud's bandwidth for a streamed response: a bucket of [`STREAM_BURST_BYTES`] that
/// refills at [`STREAM_BYTES_PER_SECOND`]; a chunk waits until the bucket holds it.
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new() -> Self {
        Self {
            tokens: STREAM_BURST_BYTES as f64,
            last: Instant::now(),
        }
    }

    async fn take(&mut self, bytes: u64) {
        let now = Instant::now();
        let rate = STREAM_BYTES_PER_SECOND as f64;
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * rate)
            .min(STREAM_BURST_BYTES as f64);
        self.last = now;
        self.tokens -= bytes as f64;
        if self.tokens < 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(-self.tokens / rate)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[tokio::test(start_paused = true)]
    async fn the_first_six_mib_pass_at_once_and_the_rest_at_two_mib_a_second() {
        let mut b = Bucket::new();
        let start = Instant::now();
        b.take(STREAM_BURST_BYTES).await;
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst is free");
        b.take(4 * 1024 * 1024).await;
        let took = start.elapsed().as_secs_f64();
        assert!(
            (took - 2.0).abs() < 0.01,
            "4 MiB past the burst took {took} s"
        );
    }

    #[test]
    fn an_error_in_the_trailers_is_the_streams_end() {
        let mut t = HeaderMap::new();
        t.insert(h::FUNCTION_ERROR_TYPE, "Runtime.Boom".parse().unwrap());
        let body = base64::engine::general_purpose::STANDARD.encode(br#"{"errorMessage":"x"}"#);
        t.insert(h::FUNCTION_ERROR_BODY, body.parse().unwrap());
        assert_eq!(
            trailer_error(&t),
            Some(StreamEnd::FunctionError {
                error_type: "Runtime.Boom".into(),
                body: Bytes::from_static(br#"{"errorMessage":"x"}"#),
            })
        );
        assert_eq!(trailer_error(&HeaderMap::new()), None);
    }
}
