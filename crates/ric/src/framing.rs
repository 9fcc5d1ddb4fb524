//! The frames lamina-ric and a language worker exchange, read and written on async pipes.
//! The contract itself — fds, header kinds, lengths — is `lamina_runtime_api::worker`'s,
//! which the adapters are tested against too (golden frames).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use lamina_runtime_api::worker::{check_body_len, check_header_len, decode_header, encode_head};
pub use lamina_runtime_api::worker::{Header, ENV_FD_IN, ENV_FD_OUT, WORKER_FD_IN, WORKER_FD_OUT};

/// Write a header and announce a body of `body_len` bytes; the caller writes the body next.
pub async fn write_header<W: AsyncWrite + Unpin>(
    w: &mut W,
    header: &Header,
    body_len: u64,
) -> std::io::Result<()> {
    w.write_all(&encode_head(header, body_len)).await
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
    let header_len = check_header_len(u32::from_be_bytes(len)).map_err(invalid)?;
    let mut json = vec![0u8; header_len];
    r.read_exact(&mut json).await?;
    let header = decode_header(&json).map_err(invalid)?;
    let mut len = [0u8; 8];
    r.read_exact(&mut len).await?;
    let body_len = check_body_len(u64::from_be_bytes(len)).map_err(invalid)?;
    let mut body = vec![0u8; body_len];
    r.read_exact(&mut body).await?;
    Ok(Some((header, body)))
}

fn invalid(e: lamina_runtime_api::worker::FrameError) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e)
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
