//! The worker's stdout and stderr, carried by lamina-ric when lamina's emulator reads output
//! marks (`_LAMINA_OUTPUT_MARKS=1`; never in the cloud).
//!
//! The Python adapter marks the end of each invoke's output on both streams before it
//! answers. Passed straight to the container, every mark costs the container's log pipeline
//! (containerd-shim, dockerd, the attach stream) two hops, even for an invoke that printed
//! nothing. Here each stream goes through lamina-ric instead: bytes are forwarded as they
//! come, and a mark is forwarded only when its stream carried something since the last one.
//! The runtime loop then tells the emulator which marks to expect
//! ([`lamina_runtime_api::logs::OUTPUT_MARKS_HEADER`]), so a quiet invoke costs nothing.

use std::collections::HashMap;
use std::time::Duration;

use lamina_runtime_api::logs::OUTPUT_MARK_PREFIX;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::stdio::{self, Stream};

/// How long the loop waits for the forwarders to reach an invoke's marks (they were written
/// before the answer, so they are already in the pipes; a handler that closed its stdout
/// never writes one): past it, every mark is expected. The emulator's own bound for a
/// missing mark is the same 100 ms (`lamina_rie::logs::MAX_SETTLE`).
const MARK_WAIT: Duration = Duration::from_millis(100);
/// How long a dying worker's last output may take to be forwarded.
const DRAIN_WAIT: Duration = Duration::from_millis(500);
/// How long output not yet followed by a mark waits for more before it is passed on.
const LINGER: Duration = Duration::from_millis(1);
/// A "mark" longer than this without its newline is output, not a mark.
const MAX_MARK: usize = 4096;

/// One stream's mark for an invoke, as its forwarder saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    stdout: bool,
    request_id: String,
    /// Forwarded (the stream carried output since its last mark) or left out.
    forwarded: bool,
}

/// The forwarders of a worker's stdout and stderr.
pub struct Output {
    seen: mpsc::UnboundedReceiver<Seen>,
    /// Marks seen for invokes not asked about yet: request id → (stdout, stderr) forwarded.
    early: HashMap<String, [Option<bool>; 2]>,
    done: Vec<tokio::task::JoinHandle<()>>,
}

impl Output {
    /// Forward `stdout` to this process's stdout and `stderr` to its stderr.
    pub fn forward(
        stdout: impl AsyncRead + Unpin + Send + 'static,
        stderr: impl AsyncRead + Unpin + Send + 'static,
    ) -> Self {
        let (tx, seen) = mpsc::unbounded_channel();
        let done = vec![
            tokio::spawn(forward_stream(
                stdout,
                stdio::writer(Stream::Stdout),
                true,
                tx.clone(),
            )),
            tokio::spawn(forward_stream(
                stderr,
                stdio::writer(Stream::Stderr),
                false,
                tx,
            )),
        ];
        Self {
            seen,
            early: HashMap::new(),
            done,
        }
    }

    /// Which of (stdout, stderr) forwarded their mark for `request_id`, once both streams
    /// have reached it; `None` if they did not within [`MARK_WAIT`] (the emulator then
    /// expects both, and waits for a left-out one only its bounded time).
    pub async fn marks_of(&mut self, request_id: &str) -> Option<(bool, bool)> {
        let deadline = tokio::time::Instant::now() + MARK_WAIT;
        loop {
            if let Some([Some(out), Some(err)]) = self.early.get(request_id).copied() {
                self.early.remove(request_id);
                return Some((out, err));
            }
            let seen = tokio::time::timeout_at(deadline, self.seen.recv())
                .await
                .ok()??;
            let slot =
                &mut self.early.entry(seen.request_id).or_default()[usize::from(!seen.stdout)];
            *slot = Some(seen.forwarded);
            // Marks of invokes nobody asks about (a timed-out one) must not pile up.
            if self.early.len() > 16 {
                self.early.retain(|id, _| id == request_id);
            }
        }
    }

    /// Let the forwarders pass on what a dying worker wrote last (bounded: a grandchild may
    /// hold the pipes open).
    pub async fn drain(&mut self) {
        let _ = tokio::time::timeout(DRAIN_WAIT, join_all(&mut self.done)).await;
    }
}

async fn join_all(handles: &mut Vec<tokio::task::JoinHandle<()>>) {
    for h in handles.iter_mut() {
        let _ = h.await;
    }
    handles.clear();
}

/// Copy `from` to `to`, passing on each mark only when output came before it since the last.
///
/// What is read goes out in one write per batch, and output not yet followed by a mark
/// lingers up to [`LINGER`] for more: a handler's line and the invoke's mark then cost the
/// container's log pipeline one trip,
/// not two.
async fn forward_stream<R, W>(
    mut from: R,
    mut to: W,
    stdout: bool,
    seen: mpsc::UnboundedSender<Seen>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut scanner = Scanner::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let read = if pending.is_empty() {
            from.read(&mut buf).await
        } else {
            match tokio::time::timeout(LINGER, from.read(&mut buf)).await {
                Ok(read) => read,
                Err(_) => {
                    if write_out(&mut to, &mut pending).await.is_err() {
                        return;
                    }
                    continue;
                }
            }
        };
        let n = match read {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut marked = false;
        for piece in scanner.push(&buf[..n]) {
            match piece {
                Piece::Output(bytes) => pending.extend_from_slice(&bytes),
                Piece::Mark {
                    request_id,
                    raw,
                    forward,
                } => {
                    let _ = seen.send(Seen {
                        stdout,
                        request_id,
                        forwarded: forward,
                    });
                    marked = true;
                    if forward {
                        pending.extend_from_slice(&raw);
                    }
                }
            }
        }
        if (marked || pending.len() >= buf.len()) && write_out(&mut to, &mut pending).await.is_err()
        {
            return;
        }
    }
    pending.extend_from_slice(&scanner.finish());
    let _ = write_out(&mut to, &mut pending).await;
}

/// Write and flush what is pending, leaving it empty.
async fn write_out<W: AsyncWrite + Unpin>(
    to: &mut W,
    pending: &mut Vec<u8>,
) -> std::io::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let result = to.write_all(pending).await;
    pending.clear();
    result?;
    to.flush().await
}

/// What a stream holds, in order.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    /// Output to pass on.
    Output(Vec<u8>),
    /// A whole mark line; `forward` when output came before it since the last mark.
    Mark {
        request_id: String,
        raw: Vec<u8>,
        forward: bool,
    },
}

/// Finds marks in a byte stream cut anywhere.
#[derive(Default)]
struct Scanner {
    /// The start of what may be a mark, waiting for the rest.
    carry: Vec<u8>,
    /// Output passed on since the last mark.
    dirty: bool,
}

impl Scanner {
    fn push(&mut self, chunk: &[u8]) -> Vec<Piece> {
        let mut data = std::mem::take(&mut self.carry);
        data.extend_from_slice(chunk);
        let prefix = OUTPUT_MARK_PREFIX;
        let mut pieces = Vec::new();
        let mut pos = 0;
        let output = |pieces: &mut Vec<Piece>, bytes: &[u8], dirty: &mut bool| {
            if !bytes.is_empty() {
                *dirty = true;
                pieces.push(Piece::Output(bytes.to_vec()));
            }
        };
        while let Some(at) = find(&data[pos..], prefix).map(|i| pos + i) {
            let Some(nl) = data[at..].iter().position(|&b| b == b'\n').map(|i| at + i) else {
                if data.len() - at > MAX_MARK {
                    break; // not a mark: all of it is output
                }
                output(&mut pieces, &data[pos..at], &mut self.dirty);
                self.carry = data[at..].to_vec();
                return pieces;
            };
            output(&mut pieces, &data[pos..at], &mut self.dirty);
            let request_id = String::from_utf8_lossy(&data[at + prefix.len()..nl]).into_owned();
            pieces.push(Piece::Mark {
                request_id,
                raw: data[at..=nl].to_vec(),
                forward: self.dirty,
            });
            self.dirty = false;
            pos = nl + 1;
        }
        // The tail may be the first bytes of a mark cut by the read.
        let keep = (1..prefix.len())
            .rev()
            .find(|&k| data.len() - pos >= k && data.ends_with(&prefix[..k]))
            .unwrap_or(0);
        output(&mut pieces, &data[pos..data.len() - keep], &mut self.dirty);
        self.carry = data[data.len() - keep..].to_vec();
        pieces
    }

    /// What is left at the end of the stream: output.
    fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.carry)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests;
