//! The invoke vocabulary every hop shares: what is asked of a function ([`InvokeRequest`]),
//! what the invoker is told ([`Answer`], with a [`ResponseBody`] that is whole or streamed)
//! and the reply that carries it ([`Reply`]). A leaf: it knows no environment, pool or server.

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt as _;
use http_body_util::BodyExt;
use tokio::sync::oneshot;

use crate::http_util::Body;

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

/// The chunks of a streamed body as they arrive; an `Err` cuts the stream off.
pub(crate) type BodyStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// A function's response body: whole, or streamed to the invoker while the runtime still
/// writes it (response streaming, runtime-api.md §1.7).
pub(crate) enum ResponseBody {
    /// The whole body.
    Buffered(Bytes),
    /// The body as it comes.
    // Constructed by response streaming; until then only by tests.
    #[allow(dead_code)]
    Streamed(BodyStream),
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Buffered(b) => f.debug_tuple("Buffered").field(&b.len()).finish(),
            Self::Streamed(_) => f.write_str("Streamed"),
        }
    }
}

/// A streamed body went past what its reader takes, or was cut off.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CollectError {
    /// More than the limit arrived.
    #[error("the response is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The stream ended in an error.
    #[error("the response stream was cut off: {0}")]
    Cut(#[from] std::io::Error),
}

impl ResponseBody {
    /// The whole body, for a reader that needs all of it (an async invoke's destination
    /// record, the HTTP front's proxy response), read up to `limit` bytes.
    pub(crate) async fn collect(self, limit: usize) -> Result<Bytes, CollectError> {
        match self {
            Self::Buffered(b) if b.len() > limit => Err(CollectError::TooLarge { limit }),
            Self::Buffered(b) => Ok(b),
            Self::Streamed(mut s) => {
                let mut whole = bytes::BytesMut::new();
                while let Some(chunk) = s.next().await {
                    let chunk = chunk?;
                    if whole.len() + chunk.len() > limit {
                        return Err(CollectError::TooLarge { limit });
                    }
                    whole.extend_from_slice(&chunk);
                }
                Ok(whole.freeze())
            }
        }
    }

    /// As an HTTP body: whole, or chunk by chunk as it comes.
    pub(crate) fn into_http(self) -> Body {
        match self {
            Self::Buffered(b) => crate::http_util::full(b),
            Self::Streamed(s) => {
                let frames = s.map(|r| r.map(hyper::body::Frame::data));
                BodyExt::boxed_unsync(http_body_util::StreamBody::new(frames))
            }
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streamed(chunks: &[&'static str]) -> ResponseBody {
        let chunks: Vec<Result<Bytes, std::io::Error>> = chunks
            .iter()
            .map(|c| Ok(Bytes::from_static(c.as_bytes())))
            .collect();
        ResponseBody::Streamed(futures_util::stream::iter(chunks).boxed())
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
            Err(CollectError::TooLarge { limit: 6 })
        ));
        assert!(matches!(
            ResponseBody::Buffered(Bytes::from_static(b"1234567"))
                .collect(6)
                .await,
            Err(CollectError::TooLarge { limit: 6 })
        ));
    }

    #[tokio::test]
    async fn a_streamed_body_reaches_http_frame_by_frame() {
        let mut body = streamed(&["a", "b"]).into_http();
        let mut frames = Vec::new();
        while let Some(f) = body.frame().await {
            frames.push(f.unwrap().into_data().unwrap());
        }
        assert_eq!(frames, [Bytes::from_static(b"a"), Bytes::from_static(b"b")]);
    }
}
