//! Output assembled into whole lines, per stream: a line half-written to stdout is never
//! glued to stderr's, and environments writing at once never mix text into each other's
//! lines (issue 9). A line longer than [`MAX_PARTIAL_LINE`] goes out in pieces.

use bytes::Bytes;

use crate::sandbox::Stream;

/// Each stream's partial line.
#[derive(Default)]
pub(super) struct Partials {
    stdout: LineBuffer,
    stderr: LineBuffer,
}

impl Partials {
    pub(super) fn push(&mut self, stream: Stream, bytes: &[u8]) -> Option<Bytes> {
        match stream {
            Stream::Stdout => self.stdout.push(bytes),
            Stream::Stderr => self.stderr.push(bytes),
        }
    }

    /// The partial line of `stream`, as it is (no newline added).
    pub(super) fn take(&mut self, stream: Stream) -> Bytes {
        let buffer = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        Bytes::from(std::mem::take(&mut buffer.0))
    }

    /// What either stream holds, each ended with a newline.
    pub(super) fn flush(&mut self) -> Option<Bytes> {
        match (self.stdout.flush(), self.stderr.flush()) {
            (None, None) => None,
            (Some(a), None) | (None, Some(a)) => Some(a),
            (Some(a), Some(b)) => Some([a, b].concat().into()),
        }
    }
}

/// Output bytes held back until their line is complete.
#[derive(Default)]
pub(super) struct LineBuffer(Vec<u8>);

/// A line longer than this goes out in pieces rather than waiting for its end.
pub(super) const MAX_PARTIAL_LINE: usize = 256 * 1024;

impl LineBuffer {
    /// Take `bytes`; return the whole lines now complete (through the last newline).
    pub(super) fn push(&mut self, bytes: &[u8]) -> Option<Bytes> {
        self.0.extend_from_slice(bytes);
        let cut = match self.0.iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            None if self.0.len() >= MAX_PARTIAL_LINE => self.0.len(),
            None => return None,
        };
        let rest = self.0.split_off(cut);
        Some(Bytes::from(std::mem::replace(&mut self.0, rest)))
    }

    /// What is held, ended with a newline, if anything.
    pub(super) fn flush(&mut self) -> Option<Bytes> {
        if self.0.is_empty() {
            return None;
        }
        let mut line = std::mem::take(&mut self.0);
        line.push(b'\n');
        Some(Bytes::from(line))
    }
}
