//! The HTTP front in streaming mode (a function URL with `InvokeMode: RESPONSE_STREAM`, API
//! Gateway REST with `responseTransferMode: STREAM`; runtime-api.md §8): the answer's body
//! goes to the HTTP client as the function writes it. A stream with the HTTP-integration
//! content type opens with a prelude that gives the status, headers and cookies; any other
//! answer is sent as written with status 200 and the function's content type (a handler that
//! never sends a prelude, cdkd #664).

use bytes::{Bytes, BytesMut};
use http::{Response, StatusCode};
use lamina_runtime_api::front::prelude::{self, Split, HTTP_INTEGRATION_CONTENT_TYPE};
use lamina_runtime_api::front::{self, Answer as FrontAnswer, FrontResponse, Payload};

use super::to_hyper;
use crate::http_util::Body;
use crate::invoke::{Answer, ResponseBody};

/// The HTTP answer for a streaming front.
pub(super) async fn respond(
    answer: Option<Answer>,
    payload: Payload,
    request_id: &str,
) -> Response<Body> {
    let (body, content_type) = match answer {
        Some(Answer::Success { body, content_type }) => (body, content_type),
        Some(Answer::FunctionError { .. }) => {
            return to_hyper(front::to_http(
                payload,
                FrontAnswer::FunctionError,
                request_id,
            ))
        }
        Some(Answer::Service(_)) | None => {
            return to_hyper(front::to_http(
                payload,
                FrontAnswer::ServiceError,
                request_id,
            ))
        }
    };
    if !content_type.eq_ignore_ascii_case(HTTP_INTEGRATION_CONTENT_TYPE) {
        let head = FrontResponse {
            status: 200,
            headers: vec![("content-type".into(), content_type)],
            body: Vec::new(),
        };
        let body = match body {
            ResponseBody::Buffered(b) => crate::http_util::full(b),
            ResponseBody::Streamed(s) => s.into_http(None),
        };
        return with_body(head, payload, request_id, body);
    }
    match body {
        ResponseBody::Buffered(b) => match prelude::split(&b, payload, request_id) {
            Split::Head { head, body_at } => {
                let rest = b.slice(body_at..);
                streamed_head(head, crate::http_util::full(rest))
            }
            Split::NeedMore => {
                bad_prelude(payload, request_id, "the answer ends inside its prelude")
            }
            Split::Invalid(why) => bad_prelude(payload, request_id, &why),
        },
        ResponseBody::Streamed(mut s) => {
            // Read only as far as the prelude's end; the rest streams.
            let mut buf = BytesMut::new();
            loop {
                let Some(chunk) = s.chunks.recv().await else {
                    return bad_prelude(payload, request_id, "the stream ended inside its prelude");
                };
                buf.extend_from_slice(&chunk);
                match prelude::split(&buf, payload, request_id) {
                    Split::NeedMore => continue,
                    Split::Invalid(why) => return bad_prelude(payload, request_id, &why),
                    Split::Head { head, body_at } => {
                        let rest: Bytes = buf.freeze().slice(body_at..);
                        return streamed_head(head, s.into_http(Some(rest)));
                    }
                }
            }
        }
    }
}

/// `head` with the front's own headers and `body`.
fn with_body(
    mut head: FrontResponse,
    payload: Payload,
    request_id: &str,
    body: Body,
) -> Response<Body> {
    head.headers
        .extend(front::front_headers(payload, request_id));
    streamed_head(head, body)
}

fn streamed_head(head: FrontResponse, body: Body) -> Response<Body> {
    let mut out = to_hyper(head);
    *out.body_mut() = body;
    out
}

/// A prelude the front cannot read: the cloud's 502 for a response in the wrong format.
fn bad_prelude(payload: Payload, request_id: &str, why: &str) -> Response<Body> {
    tracing::warn!("the function's HTTP-integration prelude is unreadable: {why}");
    let mut r = to_hyper(front::to_http(
        payload,
        FrontAnswer::FunctionError,
        request_id,
    ));
    if r.status() == StatusCode::OK {
        *r.status_mut() = StatusCode::BAD_GATEWAY;
    }
    r
}
