//! The Runtime API client: `GET /next`, `POST /response`, `POST /error`, `POST /init/error`.
//!
//! One keep-alive HTTP/1.1 connection to an IP address (no DNS, no TLS), reopened if the
//! server closes it. `/next` has no read timeout: the process may be frozen between events
//! (runtime-api.md §1.2). The event body is handed out unread so a worker can stream it.
//! Paths and header names come from `lamina_runtime_api`, never from here.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use lamina_runtime_api::{headers as h, paths, Invocation};
use tokio::net::TcpStream;

/// The error type the Python RIC uses for a failed Runtime API call (language-runtimes.md §7).
pub const CLIENT_ERROR_TYPE: &str = "Runtime.LambdaRuntimeClientError";
/// Python drops the X-Ray cause header when it is this big or bigger (language-runtimes.md §5).
const MAX_XRAY_CAUSE: usize = 1024 * 1024;

/// A failed Runtime API call. All are fatal to the runtime: it logs and exits non-zero, and
/// the platform reports `Runtime.ExitError`.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TCP connection could not be opened.
    #[error("cannot connect to the Lambda Runtime API at {addr}: {source}")]
    Connect {
        /// The Runtime API address.
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// The HTTP exchange failed (connection reset, malformed reply…).
    #[error("Request to Lambda Runtime '{endpoint}' endpoint failed. Reason: '{source}'")]
    Http {
        /// The path called.
        endpoint: String,
        /// The transport error.
        source: hyper::Error,
    },
    /// The Runtime API answered with an unexpected status (AWS's wording, `lambda_runtime_client.py`).
    #[error("Request to Lambda Runtime '{endpoint}' endpoint failed. Reason: '{status}'. Response body: '{body}'")]
    Status {
        /// The path called.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// The reply body, lossily decoded.
        body: String,
    },
    /// A request could not be formed from what the Runtime API handed out (e.g. a request
    /// id too long for a URI even when percent-encoded).
    #[error("cannot call the Lambda Runtime '{endpoint}' endpoint: {reason}")]
    Request {
        /// The path that was to be called (cut to 200 characters).
        endpoint: String,
        /// Why the request is not valid.
        reason: String,
    },
    /// The `/next` reply broke the wire contract (e.g. no request id).
    #[error("LAMBDA_RUNTIME Failed to get next invocation: {0}")]
    Contract(#[from] lamina_runtime_api::Error),
}

/// One event as received from `/next`, its body not yet read.
pub struct Event {
    /// The reply's headers, decoded.
    pub invocation: Invocation,
    /// The event payload, to be streamed.
    pub body: Incoming,
    /// `Content-Length` of the payload, when the server sent one.
    pub content_length: Option<u64>,
}

/// A request body: whole, or a stream of frames (a streamed response, its trailers last).
type ReqBody = UnsyncBoxBody<Bytes, Infallible>;

/// Frames of a streamed response in flight: few, so a slow platform holds the handler back.
const STREAM_DEPTH: usize = 4;

/// A client for one Runtime API endpoint.
pub struct RuntimeClient {
    addr: SocketAddr,
    host: HeaderValue,
    conn: Option<SendRequest<ReqBody>>,
    /// The last event's request id and `Lambda-Runtime-Invocation-Id`, echoed on its
    /// answer (runtime-api.md §1.4; aws-lambda-rust-runtime #1159, python RIC #214).
    invocation_id: Option<(String, HeaderValue)>,
}

/// A streamed `/response` under way (runtime-api.md §1.7): chunks go out as they are sent,
/// and [`ResponseStream::finish`] ends it, with the error in trailers when there is one.
pub struct ResponseStream {
    path: String,
    frames: tokio::sync::mpsc::Sender<Frame<Bytes>>,
    reply: std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response<Incoming>, hyper::Error>> + Send>,
    >,
}

impl ResponseStream {
    /// Send the next chunk; waits while the platform is behind (backpressure).
    pub async fn send(&mut self, chunk: Bytes) -> Result<(), ClientError> {
        if self.frames.send(Frame::data(chunk)).await.is_err() {
            // The request is over: its reply (an error) says why.
            return self.fail().await;
        }
        Ok(())
    }

    /// End the stream, with `trailers` (the function's error, output marks) when given, and
    /// wait for the platform's `202`.
    pub async fn finish(self, trailers: HeaderMap) -> Result<(), ClientError> {
        let Self {
            path,
            frames,
            reply,
        } = self;
        if !trailers.is_empty() {
            let _ = frames.send(Frame::trailers(trailers)).await;
        }
        drop(frames);
        let resp = reply.await.map_err(|source| ClientError::Http {
            endpoint: path.clone(),
            source,
        })?;
        drain(expect_status(&path, resp, StatusCode::ACCEPTED).await?).await
    }

    async fn fail(&mut self) -> Result<(), ClientError> {
        let resp = (&mut self.reply)
            .await
            .map_err(|source| ClientError::Http {
                endpoint: self.path.clone(),
                source,
            })?;
        expect_status(&self.path, resp, StatusCode::ACCEPTED).await?;
        Err(ClientError::Status {
            endpoint: self.path.clone(),
            status: 202,
            body: "the platform answered before the stream ended".into(),
        })
    }
}

impl RuntimeClient {
    /// A client for `addr`; the connection is opened on first use.
    pub fn new(addr: SocketAddr) -> Self {
        // A socket address is always a valid header value; the fallback is never taken.
        let host = HeaderValue::from_str(&addr.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("127.0.0.1"));
        Self {
            addr,
            host,
            conn: None,
            invocation_id: None,
        }
    }

    /// The nonce to echo on an answer to `request_id`: the one its `/next` carried.
    fn echo(&self, request_id: &str) -> Option<String> {
        self.invocation_id
            .as_ref()
            .filter(|(id, _)| id == request_id)
            .and_then(|(_, v)| v.to_str().ok())
            .map(str::to_owned)
    }

    /// `GET /next`: wait (without timeout) for the next event.
    pub async fn next(&mut self) -> Result<Event, ClientError> {
        let resp = self
            .call(Method::GET, paths::NEXT, Bytes::new(), &[])
            .await?;
        let resp = expect_status(paths::NEXT, resp, StatusCode::OK).await?;
        let invocation = Invocation::from_headers(resp.headers())?;
        self.invocation_id = resp
            .headers()
            .get(h::INVOCATION_ID)
            .map(|v| (invocation.request_id.clone(), v.clone()));
        let content_length = resp
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok());
        Ok(Event {
            invocation,
            body: resp.into_body(),
            content_length,
        })
    }

    /// `POST /invocation/{id}/response` with the handler's result.
    pub async fn post_response(
        &mut self,
        request_id: &str,
        content_type: &str,
        body: Bytes,
        output_marks: Option<(bool, bool)>,
    ) -> Result<(), ClientError> {
        let path = paths::response(request_id);
        let mut headers = vec![(header::CONTENT_TYPE.as_str(), content_type)];
        let echo = self.echo(request_id);
        headers.extend(echo.as_deref().map(|v| (h::INVOCATION_ID, v)));
        push_output_marks(&mut headers, output_marks);
        let resp = self.call(Method::POST, &path, body, &headers).await?;
        drain(expect_status(&path, resp, StatusCode::ACCEPTED).await?).await
    }

    /// Begin a streamed `POST /invocation/{id}/response` of `content_type`.
    pub async fn open_stream(
        &mut self,
        request_id: &str,
        content_type: &str,
    ) -> Result<ResponseStream, ClientError> {
        let path = paths::response(request_id);
        let (frames, rx) = tokio::sync::mpsc::channel(STREAM_DEPTH);
        let body = ChannelBody(rx);
        let trailer = format!(
            "{}, {}, {}",
            h::FUNCTION_ERROR_TYPE,
            h::FUNCTION_ERROR_BODY,
            lamina_runtime_api::logs::OUTPUT_MARKS_HEADER
        );
        let mut headers = vec![
            (header::CONTENT_TYPE.as_str(), content_type),
            (h::RESPONSE_MODE, "streaming"),
            (header::TRAILER.as_str(), trailer.as_str()),
        ];
        let echo = self.echo(request_id);
        headers.extend(echo.as_deref().map(|v| (h::INVOCATION_ID, v)));
        let mut req = self.build(Method::POST, &path, Bytes::new(), &headers)?;
        *req.body_mut() = BodyExt::boxed_unsync(body);
        let conn = match self.conn.as_mut() {
            Some(conn) if !conn.is_closed() => conn,
            _ => self.conn.insert(self.connect().await?),
        };
        if let Err(source) = conn.ready().await {
            self.conn = None;
            return Err(ClientError::Http {
                endpoint: path,
                source,
            });
        }
        let reply = Box::pin(conn.send_request(req));
        Ok(ResponseStream {
            path,
            frames,
            reply,
        })
    }

    /// `POST /invocation/{id}/error`. Never carries `Lambda-Runtime-Function-Error-Type`:
    /// AWS's RICs send it on `/init/error` only (language-runtimes.md §5).
    pub async fn post_error(
        &mut self,
        request_id: &str,
        body: Bytes,
        xray_cause: Option<&str>,
        output_marks: Option<(bool, bool)>,
    ) -> Result<(), ClientError> {
        let path = paths::error(request_id);
        let mut headers = vec![(header::CONTENT_TYPE.as_str(), "application/json")];
        let echo = self.echo(request_id);
        headers.extend(echo.as_deref().map(|v| (h::INVOCATION_ID, v)));
        push_output_marks(&mut headers, output_marks);
        if let Some(cause) = xray_cause.filter(|c| c.len() < MAX_XRAY_CAUSE) {
            if HeaderValue::from_str(cause).is_ok() {
                headers.push((h::XRAY_ERROR_CAUSE, cause));
            }
        }
        let resp = self.call(Method::POST, &path, body, &headers).await?;
        drain(expect_status(&path, resp, StatusCode::ACCEPTED).await?).await
    }

    /// `POST /init/error` with `Lambda-Runtime-Function-Error-Type: <error_type>`.
    pub async fn post_init_error(
        &mut self,
        error_type: &str,
        body: Bytes,
    ) -> Result<(), ClientError> {
        self.post_typed_error(paths::INIT_ERROR, error_type, body)
            .await
    }

    /// `POST path` with an error JSON and `Lambda-Runtime-Function-Error-Type: <error_type>`
    /// (`/init/error`, `/restore/error`).
    async fn post_typed_error(
        &mut self,
        path: &str,
        error_type: &str,
        body: Bytes,
    ) -> Result<(), ClientError> {
        let headers = [
            (header::CONTENT_TYPE.as_str(), "application/json"),
            (h::FUNCTION_ERROR_TYPE, error_type),
        ];
        let resp = self.call(Method::POST, path, body, &headers).await?;
        drain(expect_status(path, resp, StatusCode::ACCEPTED).await?).await
    }

    /// `GET /restore/next` (SnapStart, runtime-api.md §1.10): returns once the snapshot this
    /// process was part of has been restored.
    pub async fn restore_next(&mut self) -> Result<(), ClientError> {
        let resp = self
            .call(Method::GET, paths::RESTORE_NEXT, Bytes::new(), &[])
            .await?;
        drain(expect_status(paths::RESTORE_NEXT, resp, StatusCode::OK).await?).await
    }

    /// `POST /restore/error` with `Lambda-Runtime-Function-Error-Type: <error_type>`.
    pub async fn post_restore_error(
        &mut self,
        error_type: &str,
        body: Bytes,
    ) -> Result<(), ClientError> {
        self.post_typed_error(paths::RESTORE_ERROR, error_type, body)
            .await
    }

    /// `POST path` with a JSON body; the reply's status and body.
    pub async fn post_for_body(
        &mut self,
        path: &str,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let resp = self
            .call(
                Method::POST,
                path,
                body,
                &[("content-type", "application/json")],
            )
            .await?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|source| ClientError::Http {
                endpoint: path.to_owned(),
                source,
            })?
            .to_bytes();
        Ok((status, body))
    }

    /// `POST path` with a JSON body (lamina's init to its emulator); the reply's status.
    pub async fn post_json(&mut self, path: &str, body: Bytes) -> Result<StatusCode, ClientError> {
        self.post_for_body(path, body)
            .await
            .map(|(status, _)| status)
    }

    /// Send one request on the kept-alive connection, opening a new one if the server
    /// closed it. A request that fails on a reused connection before any reply is retried
    /// once on a fresh one (the server may have closed it while we were idle).
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Bytes,
        headers: &[(&str, &str)],
    ) -> Result<Response<Incoming>, ClientError> {
        let mut fresh = false;
        loop {
            let req = self.build(method.clone(), path, body.clone(), headers)?;
            let conn = match self.conn.as_mut() {
                Some(conn) if !conn.is_closed() => conn,
                _ => {
                    fresh = true;
                    self.conn.insert(self.connect().await?)
                }
            };
            let sent = match conn.ready().await {
                Ok(()) => conn.send_request(req).await,
                Err(e) => Err(e),
            };
            match sent {
                Ok(resp) => return Ok(resp),
                Err(e)
                    if !fresh
                        && (e.is_canceled() || e.is_closed() || e.is_incomplete_message()) =>
                {
                    self.conn = None;
                }
                Err(source) => {
                    self.conn = None;
                    return Err(ClientError::Http {
                        endpoint: path.to_owned(),
                        source,
                    });
                }
            }
        }
    }

    fn build(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
        headers: &[(&str, &str)],
    ) -> Result<Request<ReqBody>, ClientError> {
        let mut req = Request::new(BodyExt::boxed_unsync(Full::new(body)));
        *req.method_mut() = method;
        *req.uri_mut() = path
            .parse()
            .map_err(|e: http::uri::InvalidUri| ClientError::Request {
                endpoint: path.chars().take(200).collect(),
                reason: e.to_string(),
            })?;
        let map = req.headers_mut();
        map.insert(header::HOST, self.host.clone());
        map.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("lamina-ric/", env!("CARGO_PKG_VERSION"))),
        );
        for (name, value) in headers {
            if let (Ok(n), Ok(v)) = (
                header::HeaderName::try_from(*name),
                HeaderValue::from_str(value),
            ) {
                map.insert(n, v);
            }
        }
        Ok(req)
    }

    async fn connect(&self) -> Result<SendRequest<ReqBody>, ClientError> {
        let connect_err = |source| ClientError::Connect {
            addr: self.addr,
            source,
        };
        let stream = TcpStream::connect(self.addr).await.map_err(connect_err)?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| connect_err(std::io::Error::other(e)))?;
        tokio::spawn(async move {
            // Ends when the server closes the connection; the next call reconnects.
            let _ = conn.await;
        });
        Ok(sender)
    }
}

/// A request body fed through a channel, frame by frame (hyper's `Body` over tokio's
/// receiver, written here rather than pulling `tokio-stream` and `futures` into the static
/// client for one adapter).
struct ChannelBody(tokio::sync::mpsc::Receiver<Frame<Bytes>>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|f| f.map(Ok))
    }
}

/// Pass a reply through if it has the expected status; otherwise read its body into the error.
async fn expect_status(
    endpoint: &str,
    resp: Response<Incoming>,
    want: StatusCode,
) -> Result<Response<Incoming>, ClientError> {
    // Any 2xx is accepted: emulators differ on 200 vs 202 for posts.
    if resp.status() == want || resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status().as_u16();
    let body = match resp.into_body().collect().await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
        Err(e) => format!("<unreadable: {e}>"),
    };
    Err(ClientError::Status {
        endpoint: endpoint.to_owned(),
        status,
        body,
    })
}

/// Read a reply body to its end so the connection can carry the next request.
async fn drain(resp: Response<Incoming>) -> Result<(), ClientError> {
    // A body cut short only costs the connection (reopened on the next call).
    let _ = resp.into_body().collect().await;
    Ok(())
}

/// Tell lamina's emulator which output marks of this invoke reach it (`output`).
fn push_output_marks(headers: &mut Vec<(&str, &str)>, marks: Option<(bool, bool)>) {
    if let Some((stdout, stderr)) = marks {
        headers.push((
            lamina_runtime_api::logs::OUTPUT_MARKS_HEADER,
            lamina_runtime_api::logs::marked_streams_value(stdout, stderr),
        ));
    }
}
