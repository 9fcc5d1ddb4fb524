//! `InvokeWithResponseStream`'s answer (runtime-api.md §4.1): 200 as soon as the invoke
//! starts, then an AWS event stream — a `PayloadChunk` per chunk the runtime sends, as it
//! arrives, then one `InvokeComplete` saying how the invoke ended. A buffered function answers
//! the same route with its whole body in one `PayloadChunk`; a function error travels in
//! `InvokeComplete`, not in the HTTP status.

use base64::Engine as _;
use bytes::Bytes;
use futures_util::stream::{self, StreamExt as _};
use http::Response;
use http_body_util::BodyExt;
use hyper::body::Frame;
use lamina_runtime_api::body::ServiceError;
use lamina_runtime_api::eventstream::{invoke_complete, payload_chunk, InvokeComplete};
use tokio::sync::oneshot;

use super::TAIL_WAIT;
use crate::http_util::Body;
use crate::invoke::{Answer, ResponseBody, StreamEnd};

type Item = Result<Frame<Bytes>, std::io::Error>;

/// The HTTP response for `answer`; `tail` is the invoke's log tail when `Tail` was asked
/// for (it goes in `InvokeComplete`'s `LogResult`).
pub(super) fn respond(
    answer: Answer,
    tail: Option<oneshot::Receiver<Bytes>>,
) -> Result<Response<Body>, ServiceError> {
    let (content_type, frames): (String, stream::BoxStream<'static, Item>) = match answer {
        Answer::Service(e) => return Err(e),
        Answer::Success {
            body: ResponseBody::Buffered(b),
            content_type,
        } => {
            let chunk = (!b.is_empty()).then(|| Ok(Frame::data(payload_chunk(b))));
            let done = complete(StreamEnd::Complete, tail);
            (
                content_type,
                stream::iter(chunk).chain(stream::once(done)).boxed(),
            )
        }
        Answer::Success {
            body: ResponseBody::Streamed(s),
            content_type,
        } => {
            // Each chunk goes out as it arrives; the end once the last one is out.
            let frames = stream::unfold(Some((s, tail)), |state| async move {
                let (mut s, tail) = state?;
                match s.chunks.recv().await {
                    Some(chunk) => Some((Ok(Frame::data(payload_chunk(chunk))), Some((s, tail)))),
                    None => Some((complete(s.ending().await, tail).await, None)),
                }
            });
            (content_type, frames.boxed())
        }
        Answer::FunctionError { body, content_type } => {
            let done = complete(function_error(&body), tail);
            (content_type, stream::once(done).boxed())
        }
    };
    let mut r = Response::new(BodyExt::boxed_unsync(http_body_util::StreamBody::new(
        frames,
    )));
    if let Ok(v) = http::HeaderValue::from_str(&content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    Ok(r)
}

/// A function error's end: its `errorType` and its body (lamina's mapping, as fakecloud's;
/// the cloud's exact `ErrorCode`/`ErrorDetails` are not documented, §4.1).
fn function_error(body: &Bytes) -> StreamEnd {
    let error_type = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("errorType")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "Unhandled".into());
    StreamEnd::FunctionError {
        error_type,
        body: body.clone(),
    }
}

/// The `InvokeComplete` frame for `end`, with the log tail once it is out.
async fn complete(end: StreamEnd, tail: Option<oneshot::Receiver<Bytes>>) -> Item {
    let mut done = InvokeComplete::default();
    if let Some((error_type, body)) = end.error() {
        done.error_code = Some(error_type);
        done.error_details = Some(String::from_utf8_lossy(&body).into_owned());
    }
    if let Some(tail) = tail {
        if let Ok(Ok(bytes)) = tokio::time::timeout(TAIL_WAIT, tail).await {
            done.log_result = Some(base64::engine::general_purpose::STANDARD.encode(&bytes));
        }
    }
    Ok(Frame::data(invoke_complete(&done)))
}
