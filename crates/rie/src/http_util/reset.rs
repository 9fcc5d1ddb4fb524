//! [`ResetIfCut`]: a served connection that is cut off ends in a TCP reset, not a close.
//!
//! An environment's Runtime API connections are cut off when the environment is dropped,
//! which is after its container is gone. A plain close then sends a FIN to an address nobody
//! answers any more, and the kernel keeps resending it (an orphaned socket in `LAST_ACK`),
//! probing the address with ARP all the while. The next container the daemon gives that
//! address (Docker reuses them at once) is then unreachable from the host for about a
//! second: on this machine, `docker run -p` right after a `lamina rie` on the default bridge
//! answered its first request 850 ms late. A reset is sent once and leaves nothing behind.
//! A connection that ends normally (the client closed it, or the response said
//! `Connection: close`) closes as usual, so no response still in the send buffer is lost.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A served stream that is reset when dropped before [`Finished::set`] was called.
pub(crate) struct ResetIfCut {
    stream: TcpStream,
    finished: Finished,
}

/// Marks the connection as ended normally.
#[derive(Clone, Default)]
pub(crate) struct Finished(Arc<AtomicBool>);

impl Finished {
    pub(crate) fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

impl ResetIfCut {
    pub(crate) fn new(stream: TcpStream) -> (Self, Finished) {
        let finished = Finished::default();
        (
            Self {
                stream,
                finished: finished.clone(),
            },
            finished,
        )
    }
}

impl Drop for ResetIfCut {
    fn drop(&mut self) {
        if !self.finished.0.load(Ordering::Acquire) {
            // Zero linger: the close below sends a reset and does not block.
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for ResetIfCut {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResetIfCut {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (served, _) = listener.accept().await.unwrap();
        (client, served)
    }

    #[tokio::test]
    async fn a_connection_cut_off_is_reset() {
        let (mut client, served) = pair().await;
        drop(ResetIfCut::new(served).0);
        let mut buf = [0u8; 1];
        let read = client.read(&mut buf).await;
        assert_eq!(
            read.map_err(|e| e.kind()),
            Err(io::ErrorKind::ConnectionReset),
            "the peer sees a reset, not an end of stream"
        );
    }

    #[tokio::test]
    async fn a_connection_that_finished_closes_with_all_its_data() {
        let (mut client, served) = pair().await;
        let (mut io, finished) = ResetIfCut::new(served);
        // More than a socket's send buffer holds before the peer reads: a reset would
        // throw the rest away.
        let data = vec![7u8; 8 << 20];
        let writer = tokio::spawn(async move {
            tokio::io::AsyncWriteExt::write_all(&mut io, &data)
                .await
                .unwrap();
            tokio::io::AsyncWriteExt::shutdown(&mut io).await.unwrap();
            finished.set();
            drop(io);
        });
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert_eq!(got.len(), 8 << 20);
    }
}
