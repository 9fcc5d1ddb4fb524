//! Output marks: where lamina's runtime adapter says an invoke's output is complete
//! ([`lamina_runtime_api::logs::output_mark`], one per stream), and the output that arrives
//! after them.
//!
//! With marks, the next event need not wait for `END`: the marks are written before the
//! runtime posts its response, and each stream is in order, so whatever follows an invoke's
//! mark on a stream belongs after its `END`. [`Marks`] holds such output back (the rest of
//! the line batch, the stream's partial line and later chunks) from the moment the mark is
//! read, which may be before the pump is told the invoke ended, and hands it back once `END`
//! and `REPORT` are out.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use lamina_runtime_api::logs as lines;

use crate::sandbox::Stream;

/// The output marks seen, per request id, and the output held back past the awaited ones.
#[derive(Default)]
pub(super) struct Marks {
    /// Set once the runtime has written a mark: from then on `END` waits for marks.
    pub(super) active: bool,
    seen: HashMap<String, u32>,
    /// The invoke between its `START` and `END`, whose marks close its streams.
    current: Option<String>,
    /// Streams that have written the current invoke's mark (or said they will not): their
    /// output is held from then on.
    closed: [bool; 2],
    /// Output past the current invoke's marks, in arrival order, raw (not yet split into
    /// lines).
    held: VecDeque<(Stream, Bytes)>,
}

fn slot(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl Marks {
    /// Invoke `request_id` has started: a mark of it read from now on closes its stream.
    /// (Output held from an invoke before it was handed back at that one's `END`.)
    pub(super) fn start_invoke(&mut self, request_id: &str) {
        self.current = Some(request_id.to_owned());
        self.closed = [false; 2];
    }

    /// The runtime answered `request_id`: wait for its marks on stdout and/or stderr. Output
    /// past each stream's mark is held (read before now or after), and all of a stream's
    /// output when its mark was left out (it said nothing during the invoke, so what comes
    /// now is the next one's).
    pub(super) fn await_invoke(&mut self, request_id: &str, on_stdout: bool, on_stderr: bool) {
        self.active = true;
        if self.current.as_deref() != Some(request_id) {
            self.start_invoke(request_id);
        }
        self.closed[0] |= !on_stdout;
        self.closed[1] |= !on_stderr;
    }

    /// The current invoke has ended: forget its marks and stop holding (what is held stays
    /// until [`Marks::take_held`]).
    pub(super) fn end_invoke(&mut self) {
        if let Some(id) = self.current.take() {
            self.seen.remove(&id);
        }
        self.closed = [false; 2];
    }

    /// Whether output of `stream` is held now (the current invoke's mark has been seen).
    pub(super) fn holds(&self, stream: Stream) -> bool {
        self.current.is_some() && self.closed[slot(stream)]
    }

    /// Whether some held output may go out now (its stream is no longer held).
    pub(super) fn releasable(&self) -> bool {
        self.held.iter().any(|(stream, _)| !self.holds(*stream))
    }

    /// Hold raw output of `stream` until [`Marks::take_held`].
    pub(super) fn hold(&mut self, stream: Stream, bytes: Bytes) {
        if !bytes.is_empty() {
            self.held.push_back((stream, bytes));
        }
    }

    /// Everything held, in arrival order.
    pub(super) fn take_held(&mut self) -> VecDeque<(Stream, Bytes)> {
        std::mem::take(&mut self.held)
    }

    /// Remove the marks from whole lines of `stream`, counting them; a mark that ends a line
    /// begun without a newline ends that line. Returns the output to emit now and whether
    /// the awaited mark closed the stream (what followed it in `whole` is held; the caller
    /// holds the stream's partial line too).
    pub(super) fn take(&mut self, stream: Stream, whole: Bytes) -> (Bytes, bool) {
        let prefix = lines::OUTPUT_MARK_PREFIX;
        if !whole.windows(prefix.len()).any(|w| w == prefix) {
            return (whole, false);
        }
        let mut out = Vec::with_capacity(whole.len());
        let mut rest = &whole[..];
        let mut closed = false;
        while let Some(at) = rest.windows(prefix.len()).position(|w| w == prefix) {
            out.extend_from_slice(&rest[..at]);
            let after = &rest[at + prefix.len()..];
            let end = after
                .iter()
                .position(|&b| b == b'\n')
                .unwrap_or(after.len());
            let id = String::from_utf8_lossy(&after[..end]).into_owned();
            self.active = true;
            if out.last().is_some_and(|&b| b != b'\n') {
                out.push(b'\n');
            }
            rest = after.get(end + 1..).unwrap_or_default();
            let awaited = self.current.as_deref() == Some(id.as_str());
            *self.seen.entry(id).or_default() += 1;
            if awaited {
                closed = true;
                self.closed[slot(stream)] = true;
                // `rest` is a suffix of `whole`.
                self.hold(stream, whole.slice(whole.len() - rest.len()..));
                rest = &[];
                break;
            }
        }
        out.extend_from_slice(rest);
        (Bytes::from(out), closed)
    }

    /// How many streams have marked the end of `id`'s output.
    pub(super) fn count(&self, id: &str) -> u32 {
        self.seen.get(id).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_marks_are_taken_out_and_counted() {
        let mut m = Marks::default();
        let plain = Bytes::from_static(b"hello\n");
        assert_eq!(m.take(Stream::Stdout, plain.clone()), (plain, false));
        assert!(!m.active);
        let mark = lines::output_mark("id-1");
        let mixed = format!("a\n{mark}partial{mark}b\n");
        let (now, closed) = m.take(Stream::Stdout, Bytes::from(mixed));
        assert_eq!(&now[..], b"a\npartial\nb\n");
        assert!(m.active && !closed);
        assert_eq!(m.count("id-1"), 2);
    }

    #[test]
    fn output_past_the_awaited_mark_is_held_until_taken() {
        let mut m = Marks::default();
        m.await_invoke("id-1", true, true);
        let mark = lines::output_mark("id-1");
        let (now, closed) = m.take(Stream::Stdout, Bytes::from(format!("one\n{mark}two\n")));
        assert_eq!(&now[..], b"one\n");
        assert!(closed && m.holds(Stream::Stdout) && !m.holds(Stream::Stderr));
        m.hold(Stream::Stdout, Bytes::from_static(b"three\n"));
        let (now, closed) = m.take(Stream::Stderr, Bytes::from(format!("err\n{mark}")));
        assert_eq!(&now[..], b"err\n");
        assert!(closed);
        assert_eq!(m.count("id-1"), 2);
        m.end_invoke();
        assert_eq!(m.count("id-1"), 0);
        assert!(!m.holds(Stream::Stdout));
        let held: Vec<_> = m.take_held().into_iter().collect();
        assert_eq!(
            held,
            vec![
                (Stream::Stdout, Bytes::from_static(b"two\n")),
                (Stream::Stdout, Bytes::from_static(b"three\n")),
            ]
        );
        assert!(!m.releasable());
    }
}
