//! The private protocol between `lamina-ric` and a language worker (the Python adapter).
//!
//! The worker's stdout and stderr belong to the user (they are the container's output), so the
//! RIC and the worker talk over two extra pipes: fd 3 (RIC → worker) and fd 4 (worker → RIC),
//! named to the worker by `_LAMINA_FD_IN` / `_LAMINA_FD_OUT`.
//!
//! Every message is
//!
//! ```text
//! +--------------------+-------------------+--------------------+--------------+
//! | header len: u32 BE | header: JSON text | body len: u64 BE   | body bytes   |
//! +--------------------+-------------------+--------------------+--------------+
//! ```
//!
//! The header is a JSON object tagged by `"type"` ([`Header`]); the body is opaque bytes (the
//! event, the response, or an error JSON). The body length comes before the body so the RIC can
//! stream a large event from the HTTP response straight into the pipe. The Python side of this
//! module is the "framing" section of `base-images/python/bootstrap.py`; keep both in step.

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Environment variable naming the fd the worker reads messages from.
pub const ENV_FD_IN: &str = "_LAMINA_FD_IN";
/// Environment variable naming the fd the worker writes messages to.
pub const ENV_FD_OUT: &str = "_LAMINA_FD_OUT";
/// The worker's read end (RIC → worker).
pub const WORKER_FD_IN: i32 = 3;
/// The worker's write end (worker → RIC).
pub const WORKER_FD_OUT: i32 = 4;

/// Largest header accepted; headers are a few hundred bytes (an X-Ray cause may be bigger).
const MAX_HEADER: u32 = 4 << 20;
/// Largest body accepted from a worker. Far over the 6 MiB sync limit (the Runtime API
/// answers 413 to what is too large) but keeps a corrupt length from exhausting memory.
const MAX_BODY: u64 = 1 << 30;

/// A message header, one variant per message kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Header {
    /// Worker → RIC: the handler is imported; the body is empty.
    Ready,
    /// Worker → RIC: init failed; the body is the error JSON to post to `/init/error`.
    InitError {
        /// Sent as `Lambda-Runtime-Function-Error-Type`.
        error_type: String,
    },
    /// RIC → worker: run the handler; the body is the event.
    Invoke {
        /// `Lambda-Runtime-Aws-Request-Id`.
        request_id: String,
        /// Unix epoch ms; `u64::MAX` when the platform sent none.
        deadline_ms: u64,
        /// `Lambda-Runtime-Invoked-Function-Arn`.
        invoked_function_arn: String,
        /// `Lambda-Runtime-Trace-Id`; `None` means delete `_X_AMZN_TRACE_ID`.
        trace_id: Option<String>,
        /// Client context JSON text.
        client_context: Option<String>,
        /// Cognito identity JSON text.
        cognito_identity: Option<String>,
        /// Tenant id.
        tenant_id: Option<String>,
        /// Content type of the event.
        content_type: String,
    },
    /// Worker → RIC: the handler returned; the body is the encoded result.
    Response {
        /// `application/json`, or `application/unknown` for `bytes` results.
        content_type: String,
    },
    /// Worker → RIC: the invoke failed; the body is the error JSON to post to `/error`.
    Error {
        /// The error's type (informational: never sent as a header on invoke errors).
        error_type: String,
        /// X-Ray cause JSON for `Lambda-Runtime-Function-XRay-Error-Cause`, if small enough.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        xray_cause: Option<String>,
    },
}

/// Write a header and announce a body of `body_len` bytes; the caller writes the body next.
pub async fn write_header<W: AsyncWrite + Unpin>(
    w: &mut W,
    header: &Header,
    body_len: u64,
) -> std::io::Result<()> {
    let json = serde_json::to_vec(header).map_err(std::io::Error::other)?;
    let mut buf = Vec::with_capacity(12 + json.len());
    buf.extend_from_slice(&(json.len() as u32).to_be_bytes());
    buf.extend_from_slice(&json);
    buf.extend_from_slice(&body_len.to_be_bytes());
    w.write_all(&buf).await
}

/// Write a whole message.
pub async fn write_message<W: AsyncWrite + Unpin>(
    w: &mut W,
    header: &Header,
    body: &[u8],
) -> std::io::Result<()> {
    write_header(w, header, body.len() as u64).await?;
    w.write_all(body).await?;
    w.flush().await
}

/// Read one message. `Ok(None)` means the peer closed the pipe cleanly between messages.
pub async fn read_message<R: AsyncRead + Unpin>(
    r: &mut R,
) -> std::io::Result<Option<(Header, Vec<u8>)>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let header_len = u32::from_be_bytes(len);
    if header_len > MAX_HEADER {
        return Err(invalid(format!("frame header of {header_len} bytes")));
    }
    let mut json = vec![0u8; header_len as usize];
    r.read_exact(&mut json).await?;
    let header: Header = serde_json::from_slice(&json).map_err(|e| invalid(e.to_string()))?;
    let mut len = [0u8; 8];
    r.read_exact(&mut len).await?;
    let body_len = u64::from_be_bytes(len);
    if body_len > MAX_BODY {
        return Err(invalid(format!("frame body of {body_len} bytes")));
    }
    let mut body = vec![0u8; body_len as usize];
    r.read_exact(&mut body).await?;
    Ok(Some((header, body)))
}

fn invalid(what: String) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("bad worker frame: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_wire_layout() {
        let header = Header::Response {
            content_type: "application/json".into(),
        };
        let mut buf = Vec::new();
        write_message(&mut buf, &header, b"{}").await.unwrap();
        let json = br#"{"type":"response","content_type":"application/json"}"#;
        assert_eq!(&buf[..4], &(json.len() as u32).to_be_bytes());
        assert_eq!(&buf[4..4 + json.len()], json);
        assert_eq!(&buf[4 + json.len()..12 + json.len()], &2u64.to_be_bytes());
        let mut r = &buf[..];
        assert_eq!(
            read_message(&mut r).await.unwrap(),
            Some((header, b"{}".to_vec()))
        );
        assert_eq!(read_message(&mut r).await.unwrap(), None, "clean EOF");
    }

    #[tokio::test]
    async fn truncated_frame_is_an_error() {
        let mut buf = Vec::new();
        write_message(&mut buf, &Header::Ready, b"abc")
            .await
            .unwrap();
        let mut r = &buf[..buf.len() - 1];
        assert!(read_message(&mut r).await.is_err());
    }
}
