//! Whole lines from many workers (Lambda Managed Instances, runtime-api.md §1.9): each
//! worker's stdout and stderr are read by lamina-ric and passed on a line at a time through
//! one writer per stream, so the lines of overlapping invokes never cut into each other.
//!
//! Left to themselves, workers sharing the container's pipes would: a pipe keeps only writes
//! of up to `PIPE_BUF` (4 KiB) whole, and Python's `print` writes its text and its newline
//! apart, so another worker's line could land between them. In the cloud each worker has a
//! connection of its own to the log socket; here one writer task per stream plays that part.

use std::sync::OnceLock;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::stdio::{self, Stream};

/// A line with no newline after this many bytes goes out as it is.
const MAX_LINE: usize = 256 * 1024;

/// Whole lines on their way to one of this process's streams.
type Lines = mpsc::UnboundedSender<(Stream, Vec<u8>)>;

/// The one writer of this process's stdout and stderr, started on first use.
fn writer() -> &'static Lines {
    static WRITER: OnceLock<Lines> = OnceLock::new();
    WRITER.get_or_init(|| {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Stream, Vec<u8>)>();
        tokio::spawn(async move {
            let mut out = stdio::writer(Stream::Stdout);
            let mut err = stdio::writer(Stream::Stderr);
            while let Some((stream, bytes)) = rx.recv().await {
                let to = match stream {
                    Stream::Stdout => &mut out,
                    Stream::Stderr => &mut err,
                };
                if to.write_all(&bytes).await.is_err() || to.flush().await.is_err() {
                    return;
                }
            }
        });
        tx
    })
}

/// Pass a worker's `stdout` and `stderr` on, whole lines at a time.
pub fn forward(
    stdout: impl AsyncRead + Unpin + Send + 'static,
    stderr: impl AsyncRead + Unpin + Send + 'static,
) {
    let lines = writer();
    tokio::spawn(forward_into(stdout, Stream::Stdout, lines.clone()));
    tokio::spawn(forward_into(stderr, Stream::Stderr, lines.clone()));
}

/// Read `from` to its end, sending what it holds to `lines` in whole lines (what is left
/// without a newline at the end goes out as it is).
async fn forward_into<R: AsyncRead + Unpin>(mut from: R, stream: Stream, lines: Lines) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut partial: Vec<u8> = Vec::new();
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        partial.extend_from_slice(&buf[..n]);
        let cut = match partial.iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            None if partial.len() >= MAX_LINE => partial.len(),
            None => continue,
        };
        let rest = partial.split_off(cut);
        let whole = std::mem::replace(&mut partial, rest);
        if lines.send((stream, whole)).is_err() {
            return;
        }
    }
    if !partial.is_empty() {
        let _ = lines.send((stream, partial));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_line_written_in_pieces_goes_out_whole() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (mut w, r) = tokio::io::duplex(16);
        let task = tokio::spawn(forward_into(r, Stream::Stdout, tx));
        for piece in [
            &b"{\"requestId\": "[..],
            b"\"a\"}",
            b"\n{\"req",
            b"uestId\": \"b\"}\ntail",
        ] {
            w.write_all(piece).await.unwrap();
            tokio::task::yield_now().await;
        }
        drop(w);
        task.await.unwrap();
        let mut got = Vec::new();
        while let Ok((_, bytes)) = rx.try_recv() {
            got.push(String::from_utf8(bytes).unwrap());
        }
        assert!(
            got.iter()
                .all(|chunk| chunk.ends_with('\n') || chunk == "tail"),
            "a chunk cut a line: {got:?}"
        );
        assert_eq!(
            got.concat(),
            "{\"requestId\": \"a\"}\n{\"requestId\": \"b\"}\ntail"
        );
    }
}
