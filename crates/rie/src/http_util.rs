//! Small HTTP helpers shared by the servers: listening, capped body reading and response
//! building.

mod reset;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinSet;

/// A listener on `ip`, any port. An address the host does not hold yet is bound all the same
/// (`IP_FREEBIND`): Podman lists its bridge's gateway before the bridge interface exists,
/// which happens when the first container joins it; connections arrive once it does.
pub(crate) fn bind_any_port(ip: IpAddr) -> std::io::Result<TcpListener> {
    let addr = SocketAddr::new(ip, 0);
    let socket = if ip.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    match socket.bind(addr) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) && ip.is_ipv4() => {
            let on: libc::c_int = 1;
            // SAFETY: a valid socket fd and a c_int option value of the size given.
            let rc = unsafe {
                libc::setsockopt(
                    socket.as_raw_fd(),
                    libc::IPPROTO_IP,
                    libc::IP_FREEBIND,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc != 0 {
                return Err(e);
            }
            socket.bind(addr)?;
        }
        Err(e) => return Err(e),
    }
    socket.listen(1024)
}

/// The response body type of every server: whole or streamed ([`crate::invoke::ResponseBody`]).
pub(crate) type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

/// A whole body.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A request body read with a cap.
pub(crate) enum Capped {
    /// The whole body, and its trailers if any.
    Whole(Bytes, Option<HeaderMap>),
    /// The body was larger than the cap; `size` is its length (declared or counted).
    TooLarge { size: usize },
}

/// Bodies declared larger than this are refused without being read at all.
const DRAIN_MAX: usize = 64 * 1024 * 1024;

/// Read a body of at most `limit` bytes. Bytes past the limit are counted and dropped, never
/// buffered, so the client can finish sending and read the refusal (clients that are cut off
/// mid-upload report a broken pipe instead); a declared length over [`DRAIN_MAX`] is refused
/// without reading.
pub(crate) async fn read_capped(
    headers: &HeaderMap,
    mut body: Incoming,
    limit: usize,
) -> Result<Capped, hyper::Error> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(n) = declared.filter(|n| *n > limit.max(DRAIN_MAX)) {
        return Ok(Capped::TooLarge { size: n });
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(limit).min(1 << 20));
    let mut total = 0usize;
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        match frame.into_data() {
            Ok(data) => {
                total = total.saturating_add(data.len());
                if total <= limit {
                    buf.extend_from_slice(&data);
                } else if !buf.is_empty() {
                    buf = BytesMut::new();
                }
            }
            Err(frame) => {
                if let Ok(t) = frame.into_trailers() {
                    trailers = Some(t);
                }
            }
        }
    }
    if total > limit {
        return Ok(Capped::TooLarge { size: total });
    }
    Ok(Capped::Whole(buf.freeze(), trailers))
}

/// A response with a body and a content type.
pub(crate) fn respond(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    respond_body(status, content_type, full(body))
}

/// A response with a body that may stream, and a content type.
pub(crate) fn respond_body(status: u16, content_type: &str, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r
}

/// An empty response.
pub(crate) fn empty(status: u16) -> Response<Body> {
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r
}

/// What one listener allows its clients: how long a request's headers may take to arrive
/// (the first request's and each keep-alive one's — a slowloris client is cut off), and how
/// many connections it holds at once (more wait in the listen backlog, so file descriptors
/// never run out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Longest wait for a request's headers; `None` waits forever.
    pub header_timeout: Option<std::time::Duration>,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl ConnectionLimits {
    /// The invoke API's and the HTTP front's: 10 s for headers, 1,000 connections.
    pub const CLIENTS: ConnectionLimits = ConnectionLimits {
        header_timeout: Some(std::time::Duration::from_secs(10)),
        max_connections: 1_000,
    };
    /// An environment's Runtime API: only its runtime connects, and it long-polls.
    pub(crate) const RUNTIME: ConnectionLimits = ConnectionLimits {
        header_timeout: None,
        max_connections: 256,
    };
}

/// Longest wait for a whole request body once its headers are in.
pub(crate) const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// [`read_capped`] within [`BODY_TIMEOUT`]; `None` when the body did not arrive in time.
pub(crate) async fn read_capped_in_time(
    headers: &HeaderMap,
    body: Incoming,
    limit: usize,
) -> Option<Result<Capped, hyper::Error>> {
    tokio::time::timeout(BODY_TIMEOUT, read_capped(headers, body, limit))
        .await
        .ok()
}

/// Connections open at once above which a return to idle gives freed memory back.
const TRIM_AFTER: usize = 64;

/// Give the allocator's free memory back to the system (glibc keeps it otherwise: a flood
/// of connections left the emulator at 251 MB RSS; issue 9).
fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The client's address, in every request's extensions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) std::net::SocketAddr);

/// A listener [`accept_loop`] serves: TCP (every server) or a Unix socket (an environment's
/// Runtime API on an engine whose containers no host address reaches; `sandbox::RuntimeApiReach`).
pub(crate) enum Listener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A Unix socket listener.
    Unix(tokio::net::UnixListener),
}

impl From<TcpListener> for Listener {
    fn from(l: TcpListener) -> Self {
        Self::Tcp(l)
    }
}

/// One accepted connection.
enum Accepted {
    Tcp(tokio::net::TcpStream, SocketAddr),
    Unix(tokio::net::UnixStream),
}

impl Listener {
    async fn accept(&self) -> std::io::Result<Accepted> {
        match self {
            Self::Tcp(l) => l.accept().await.map(|(s, peer)| Accepted::Tcp(s, peer)),
            Self::Unix(l) => l.accept().await.map(|(s, _)| Accepted::Unix(s)),
        }
    }
}

/// Accept HTTP/1 connections until `stop` resolves, then let open connections finish their
/// current request (idle keep-alive connections close at once), for at most `grace`.
/// Connection tasks live in a [`JoinSet`] owned by this future, so dropping or aborting it
/// drops every connection.
///
/// A TCP connection from a peer other than `only_from` (when given) is closed unanswered; a
/// Unix socket is reachable only by whom its path reaches.
pub(crate) async fn accept_loop<F, Fut>(
    listener: impl Into<Listener>,
    handler: F,
    stop: impl std::future::Future<Output = ()>,
    grace: std::time::Duration,
    only_from: Option<std::net::IpAddr>,
    limits: ConnectionLimits,
) where
    F: Fn(http::Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Body>> + Send + 'static,
{
    let listener = listener.into();
    let mut conns = JoinSet::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let mut peak = 0usize;
    tokio::pin!(stop);
    loop {
        while conns.try_join_next().is_some() {}
        if conns.is_empty() && peak > TRIM_AFTER {
            release_memory();
            peak = 0;
        }
        let slot = tokio::select! {
            () = &mut stop => break,
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            () = &mut stop => break,
            a = listener.accept() => a,
            // After a flood, the last connection closing is when memory goes back, not the
            // next accept, which may never come (tests/flood_memory.rs).
            Some(_) = conns.join_next(), if peak > TRIM_AFTER => continue,
        };
        peak = peak.max(conns.len() + 1);
        let conn = Conn {
            handler: handler.clone(),
            stop: stop_rx.clone(),
            limits,
            _slot: slot,
        };
        match accepted {
            Ok(Accepted::Tcp(_, peer)) if only_from.is_some_and(|ip| ip != peer.ip()) => {
                tracing::warn!(%peer, "refused a Runtime API connection from outside its environment");
            }
            Ok(Accepted::Tcp(stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let (stream, finished) = reset::ResetIfCut::new(stream);
                conns.spawn(conn.serve(stream, Some(peer), finished));
            }
            Ok(Accepted::Unix(stream)) => {
                conns.spawn(conn.serve(stream, None, reset::Finished::default()));
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
}

/// What serving one connection needs.
struct Conn<F> {
    handler: F,
    stop: tokio::sync::watch::Receiver<bool>,
    limits: ConnectionLimits,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl<F, Fut> Conn<F>
where
    F: Fn(http::Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Body>> + Send + 'static,
{
    /// Serve HTTP/1 on `stream` until the client is done or the listener stops.
    async fn serve<S>(self, stream: S, peer: Option<SocketAddr>, finished: reset::Finished)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Self {
            handler,
            mut stop,
            limits,
            _slot,
        } = self;
        let svc = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
            if let Some(peer) = peer {
                req.extensions_mut().insert(Peer(peer));
            }
            let handler = handler.clone();
            async move { Ok::<_, Infallible>(handler(req).await) }
        });
        let io = hyper_util::rt::TokioIo::new(stream);
        // Half-close: a client that shuts its write side after the request (e.g. `nc`)
        // still gets its long-polled answer.
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.half_close(true);
        if let Some(t) = limits.header_timeout {
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(t);
        }
        let conn = builder.serve_connection(io, svc);
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => return finished.set(),
            _ = stop.wait_for(|s| *s) => conn.as_mut().graceful_shutdown(),
        }
        let _ = conn.await;
        finished.set();
    }
}
