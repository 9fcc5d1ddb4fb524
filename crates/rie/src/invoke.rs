//! The invoke vocabulary every hop shares: what is asked of a function ([`InvokeRequest`]),
//! what the invoker is told ([`Answer`], with a [`ResponseBody`] that is whole or streamed)
//! and the reply that carries it ([`Reply`]). A leaf: it knows no environment, pool or server.

use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body_util::BodyExt;
use hyper::body::Frame;
use tokio::sync::{mpsc, oneshot};

use crate::http_util::Body;
use crate::sandbox::ExitStatus;
use lamina_runtime_api::body::PlatformError;

/// An invoke as the pool hands it to an environment.
#[derive(Debug, Clone)]
pub(crate) struct InvokeRequest {
    pub(crate) request_id: String,
    pub(crate) trace_id: String,
    pub(crate) client_context: Option<String>,
    pub(crate) tenant_id: Option<String>,
    pub(crate) payload: Bytes,
    /// Whether the invoker asked for `X-Amz-Log-Type: Tail`.
    pub(crate) want_tail: bool,
}

/// How a streamed response ended, once its last chunk is out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StreamEnd {
    /// The runtime closed the stream.
    Complete,
    /// The function's error, from its trailers: the type as it posted it, and the body.
    FunctionError { error_type: String, body: Bytes },
    /// The platform ended the invoke mid-stream (timeout, exit, size).
    Failed(PlatformError),
}

impl StreamEnd {
    /// The error's type and body (the error's JSON), if the stream ended in one.
    pub(crate) fn error(self) -> Option<(String, Bytes)> {
        match self {
            Self::Complete => None,
            Self::FunctionError { error_type, body } => Some((error_type, body)),
            Self::Failed(e) => Some((e.error_type.clone(), e.to_json().into())),
        }
    }
}

impl From<PlatformError> for StreamEnd {
    fn from(e: PlatformError) -> Self {
        Self::Failed(e)
    }
}

/// A response body while the runtime still writes it (response streaming, runtime-api.md
/// §1.7): its chunks as they come, then how it ended. The channel is bounded, so a reader
/// that stops reading holds the runtime back (backpressure), never a growing buffer.
pub(crate) struct Streamed {
    pub(crate) chunks: mpsc::Receiver<Bytes>,
    pub(crate) end: oneshot::Receiver<StreamEnd>,
}

impl Streamed {
    /// How the stream ended, once every chunk has been taken; a writer gone without saying
    /// is an error.
    pub(crate) async fn ending(self) -> StreamEnd {
        self.end.await.unwrap_or_else(|_| {
            StreamEnd::Failed(PlatformError {
                error_type: "Runtime.Unknown".into(),
                error_message: "the response stream ended without its end".into(),
            })
        })
    }
}

impl Streamed {
    /// As an HTTP body: `first` (bytes already taken from the stream), then the chunks as
    /// they come; an error at the end cuts the body off, so the client sees it incomplete.
    pub(crate) fn into_http(self, first: Option<Bytes>) -> Body {
        let first =
            futures_util::stream::iter(first.filter(|b| !b.is_empty()).map(|b| Ok(Frame::data(b))));
        let rest = futures_util::stream::unfold(Some(self), |state| async move {
            let mut s = state?;
            match s.chunks.recv().await {
                Some(chunk) => Some((Ok(Frame::data(chunk)), Some(s))),
                None => s.ending().await.error().map(|(error_type, _)| {
                    let cut =
                        std::io::Error::other(format!("the response stream ended in {error_type}"));
                    (Err(cut), None)
                }),
            }
        });
        BodyExt::boxed_unsync(http_body_util::StreamBody::new(first.chain(rest)))
    }
}

/// A function's response body: whole, or streamed to the invoker while the runtime still
/// writes it.
pub(crate) enum ResponseBody {
    /// The whole body.
    Buffered(Bytes),
    /// The body as it comes.
    Streamed(Streamed),
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Buffered(b) => f.debug_tuple("Buffered").field(&b.len()).finish(),
            Self::Streamed(_) => f.write_str("Streamed"),
        }
    }
}

/// A streamed body went past what its reader takes, or ended in an error.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CollectError {
    /// More than the limit arrived.
    #[error("the response ({size} bytes) is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
        /// The whole response's size.
        size: usize,
    },
    /// The stream ended in an error (its trailers, or the platform's).
    #[error("the response stream ended in {error_type}")]
    Failed { error_type: String, body: Bytes },
}

impl ResponseBody {
    /// The whole body, for a reader that needs all of it (a buffered invoke, an async
    /// invoke's destination record, the HTTP front's proxy response), read up to `limit`
    /// bytes. Past the limit the rest is still read (and dropped), so the runtime is never
    /// left blocked on a reader that went away.
    pub(crate) async fn collect(self, limit: usize) -> Result<Bytes, CollectError> {
        match self {
            Self::Buffered(b) if b.len() > limit => Err(CollectError::TooLarge {
                limit,
                size: b.len(),
            }),
            Self::Buffered(b) => Ok(b),
            Self::Streamed(mut s) => {
                let mut whole = bytes::BytesMut::new();
                let mut size = 0usize;
                while let Some(chunk) = s.chunks.recv().await {
                    size = size.saturating_add(chunk.len());
                    if size <= limit {
                        whole.extend_from_slice(&chunk);
                    }
                }
                let over = size > limit;
                match s.ending().await.error() {
                    Some((error_type, body)) => Err(CollectError::Failed { error_type, body }),
                    None if over => Err(CollectError::TooLarge { limit, size }),
                    None => Ok(whole.freeze()),
                }
            }
        }
    }

    /// As an HTTP body: whole, or chunk by chunk as it comes (an error at the end cuts the
    /// body off, so the client sees it incomplete rather than whole).
    pub(crate) fn into_http(self) -> Body {
        match self {
            Self::Buffered(b) => crate::http_util::full(b),
            Self::Streamed(s) => s.into_http(None),
        }
    }
}

/// What the invoker is told when the runtime's process ended mid-invoke (§5).
pub(crate) fn exit_error(id: &str, status: ExitStatus) -> PlatformError {
    match status {
        ExitStatus::OomKilled => PlatformError::out_of_memory(id),
        ExitStatus::Code(0) => PlatformError::runtime_exit_ok(id),
        s => PlatformError::runtime_exit(id, &s.reason()),
    }
}

/// What the invoker is told.
#[derive(Debug)]
pub(crate) enum Answer {
    /// 200 with the runtime's body.
    Success {
        body: ResponseBody,
        content_type: String,
    },
    /// 200 + `X-Amz-Function-Error: Unhandled` with this body.
    FunctionError { body: Bytes, content_type: String },
    /// A service error (4xx/5xx).
    Service(lamina_runtime_api::body::ServiceError),
}

/// The answer, and the invoke's log tail once `REPORT` is out (when asked for).
pub(crate) struct Reply {
    pub(crate) answer: Answer,
    pub(crate) tail: Option<oneshot::Receiver<Bytes>>,
    /// For a streamed answer: resolves once the stream is over and the environment is
    /// settled (it stays busy until then).
    pub(crate) settled: Option<oneshot::Receiver<()>>,
}

impl Reply {
    /// A reply with nothing after the answer.
    pub(crate) fn now(answer: Answer) -> Self {
        Self {
            answer,
            tail: None,
            settled: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A streamed body of `chunks` ending with `end`.
    pub(crate) fn streamed_with(chunks: &[&'static str], end: StreamEnd) -> ResponseBody {
        let (tx, rx) = mpsc::channel(chunks.len().max(1));
        for c in chunks {
            tx.try_send(Bytes::from_static(c.as_bytes())).unwrap();
        }
        let (end_tx, end_rx) = oneshot::channel();
        end_tx.send(end).unwrap();
        ResponseBody::Streamed(Streamed {
            chunks: rx,
            end: end_rx,
        })
    }

    fn streamed(chunks: &[&'static str]) -> ResponseBody {
        streamed_with(chunks, StreamEnd::Complete)
    }

    #[tokio::test]
    async fn a_streamed_body_collects_to_its_chunks_in_order() {
        let whole = streamed(&["data: 1\n\n", "data: 2\n\n"])
            .collect(100)
            .await
            .unwrap();
        assert_eq!(&whole[..], b"data: 1\n\ndata: 2\n\n");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_whole_or_streamed() {
        assert!(matches!(
            streamed(&["12345", "678"]).collect(6).await,
            Err(CollectError::TooLarge { limit: 6, size: 8 })
        ));
        assert!(matches!(
            ResponseBody::Buffered(Bytes::from_static(b"1234567"))
                .collect(6)
                .await,
            Err(CollectError::TooLarge { limit: 6, size: 7 })
        ));
    }

    #[tokio::test]
    async fn a_stream_that_ends_in_an_error_collects_to_that_error() {
        let end = StreamEnd::FunctionError {
            error_type: "Runtime.Boom".into(),
            body: Bytes::from_static(b"{}"),
        };
        match streamed_with(&["part"], end).collect(100).await {
            Err(CollectError::Failed { error_type, .. }) => assert_eq!(error_type, "Runtime.Boom"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_streamed_body_reaches_http_frame_by_frame_and_an_error_cuts_it_off() {
        let mut body = streamed(&["a", "b"]).into_http();
        let mut frames = Vec::new();
        while let Some(f) = body.frame().await {
            frames.push(f.unwrap().into_data().unwrap());
        }
        assert_eq!(frames, [Bytes::from_static(b"a"), Bytes::from_static(b"b")]);

        let end = StreamEnd::FunctionError {
            error_type: "Runtime.Boom".into(),
            body: Bytes::new(),
        };
        let mut body = streamed_with(&["a"], end).into_http();
        assert!(body.frame().await.unwrap().is_ok());
        assert!(body.frame().await.unwrap().is_err(), "cut off, not ended");
    }
}
