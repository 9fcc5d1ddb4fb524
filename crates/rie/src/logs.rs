//! Logs: where they go ([`LogSink`]) and the per-environment pump that frames a runtime's
//! output with platform events (`START`/`END`/`REPORT` in the text log) in the cloud's order
//! (runtime-api.md §6). Platform events travel as data ([`PlatformRecord`]) with their text
//! lines rendered once, here, from them.
//!
//! All of one environment's log traffic flows through one task, so order is by construction:
//! the environment tells the pump "invoke started" before delivering the event and "invoke
//! ended" after the runtime answered. A runtime that marks the end of each invoke's output
//! (lamina's adapter, see [`marks`]) gets `END` as soon as both marks are read, and its next
//! event without waiting for them: output past the marks is held until `END`/`REPORT` are out.
//! For any other runtime the pump prints `END` only once the output has been quiet for the
//! sandbox's settling time ([`crate::sandbox::DEFAULT_OUTPUT_SETTLE`] unless it says
//! otherwise; at most [`MAX_SETTLE`]), so output still in flight lands before `END`, and the
//! next event waits for that. The invoker's answer never waits for either.

use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt;
use lamina_runtime_api::limits::TAIL_LOG_BYTES;
use lamina_runtime_api::platform::{
    PlatformEvent, PlatformRecord, Report, RuntimeDone, RuntimeDoneMetrics, Start,
};
use tokio::sync::{mpsc, oneshot};

use crate::sandbox::{OutputStream, SandboxHandle, Stream};

mod concurrent;
mod format;
mod lines;
mod marks;
pub(crate) use format::LogStyle;
use lines::Partials;
use marks::Marks;

/// Longest wait for the output to settle, and for an invoke's output marks when the runtime
/// did not say they are written (a handler that closed its stdout never writes one).
pub const MAX_SETTLE: Duration = Duration::from_millis(100);

/// Longest wait for output marks the runtime said it wrote (lamina-ric's
/// [`lamina_runtime_api::logs::OUTPUT_MARKS_HEADER`]): they are in the container's pipes,
/// only Docker's log pipeline stands between them and the pump, and on a loaded machine
/// that takes well over [`MAX_SETTLE`] (a stream's lines then landed after `END`). Neither
/// the answer nor the next event waits for this; only `END`/`REPORT` do. The bound is for a
/// container that dies with them unread.
pub const MARKS_IN_FLIGHT: Duration = Duration::from_secs(5);

/// One piece of log output.
#[derive(Debug, Clone, PartialEq)]
pub enum LogEvent {
    /// A platform event, and its lines in the text log (`START …`, `END …`, `REPORT …`;
    /// none for some events), each without its newline.
    Platform {
        /// Function it belongs to.
        function: Arc<str>,
        /// The event, as the Telemetry API delivers it.
        record: Arc<PlatformRecord>,
        /// Its text lines.
        lines: Vec<String>,
    },
    /// Bytes the function (or one of its extensions) wrote to stdout or stderr (not split
    /// into lines).
    Output {
        /// Function it belongs to.
        function: Arc<str>,
        /// The external extension that wrote them; `None` for the function's runtime.
        extension: Option<Arc<str>>,
        /// The bytes.
        bytes: Bytes,
    },
}

/// Where log output goes; cheap to clone.
#[derive(Clone)]
pub struct LogSink(Arc<dyn Fn(LogEvent) + Send + Sync>);

impl fmt::Debug for LogSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogSink")
    }
}

impl LogSink {
    /// A sink calling `f` for each event (keep it quick: it runs on the pump task).
    pub fn new(f: impl Fn(LogEvent) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Print to stdout as the cloud's log stream reads: platform lines end with a newline,
    /// output is written as it came.
    pub fn stdout() -> Self {
        Self::new(|ev| {
            let mut out = std::io::stdout().lock();
            let _ = match ev {
                LogEvent::Platform { lines, .. } => {
                    lines.iter().try_for_each(|line| writeln!(out, "{line}"))
                }
                LogEvent::Output { bytes, .. } => out.write_all(&bytes),
            };
            let _ = out.flush();
        })
    }

    /// Drop everything.
    pub fn discard() -> Self {
        Self::new(|_| {})
    }

    /// A sink feeding a channel, and its receiver.
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<LogEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Self::new(move |ev| {
                let _ = tx.send(ev);
            }),
            rx,
        )
    }

    pub(crate) fn emit(&self, ev: LogEvent) {
        (self.0)(ev)
    }
}

/// What the environment tells its pump.
pub(crate) enum PumpMsg {
    /// Let output in flight arrive (e.g. init's, before the first `START`), then say so.
    Settle { done: oneshot::Sender<()> },
    /// An invoke begins: `START` (with its tenant, if any), and capture output for the tail.
    Start {
        request_id: String,
        tenant_id: Option<String>,
    },
    /// A platform event of init (`INIT_START`, `INIT_REPORT`): with `done`, emitted once the
    /// output in flight has settled (init's own output goes before its report), then said so.
    Platform {
        event: PlatformEvent,
        done: Option<oneshot::Sender<()>>,
    },
    /// The invoke is over: settle, `END`, measure memory, `REPORT`.
    End(Box<EndOfInvoke>),
    /// Whole lines an external extension wrote (lamina's init reads them apart from the
    /// runtime's output).
    ExtensionOutput { extension: Arc<str>, bytes: Bytes },
}

pub(crate) struct EndOfInvoke {
    pub(crate) report: Report,
    pub(crate) handle: Arc<dyn SandboxHandle>,
    /// Signalled once `END` is out: the next event may be delivered.
    pub(crate) ended: oneshot::Sender<()>,
    /// Receives the last [`TAIL_LOG_BYTES`] of the invoke's log, `REPORT` included.
    pub(crate) tail: Option<oneshot::Sender<Bytes>>,
    /// Which of (stdout, stderr) carry the invoke's output mark, when the runtime said so
    /// (lamina-ric leaves out the marks of streams that stayed quiet); else both do.
    pub(crate) output_marks: Option<(bool, bool)>,
}

/// Start the pump of one environment, writing its log in `style`; `concurrent` when its
/// invokes overlap (Lambda Managed Instances: see [`concurrent`]).
pub(crate) fn spawn_pump(
    function: Arc<str>,
    sink: LogSink,
    output: OutputStream,
    settle: Duration,
    style: LogStyle,
    concurrent: bool,
) -> mpsc::UnboundedSender<PumpMsg> {
    let (tx, rx) = mpsc::unbounded_channel();
    if concurrent {
        tokio::spawn(concurrent::pump(function, sink, output, rx, settle, style));
    } else {
        tokio::spawn(pump(function, sink, output, rx, settle, style));
    }
    tx
}

async fn pump(
    function: Arc<str>,
    sink: LogSink,
    mut output: OutputStream,
    mut ctl: mpsc::UnboundedReceiver<PumpMsg>,
    settle: Duration,
    style: LogStyle,
) {
    let mut capture: Option<Vec<u8>> = None;
    let mut partial = Partials::default();
    let mut last_output = Instant::now();
    let (mut ctl_open, mut out_open) = (true, true);
    let emit = |bytes: Bytes, extension: Option<Arc<str>>, capture: &mut Option<Vec<u8>>| {
        if let Some(c) = capture.as_mut() {
            c.extend_from_slice(&bytes);
            trim(c);
        }
        sink.emit(LogEvent::Output {
            function: function.clone(),
            extension,
            bytes,
        });
    };
    // The function's own lines, filtered by level in the JSON format (§6.1).
    let emit_output = |bytes: Bytes, capture: &mut Option<Vec<u8>>| {
        if let Some(kept) = style.filter(bytes) {
            emit(kept, None, capture);
        }
    };
    // Output goes out in whole lines, so environments writing at once never glue text into
    // each other's lines; what is left without a newline goes out before the next platform
    // line, as a line of its own (issue 9).
    let platform = |event: PlatformEvent, capture: &mut Option<Vec<u8>>, partial: &mut Partials| {
        if let Some(rest) = partial.flush() {
            emit_output(rest, capture);
        }
        let record = PlatformRecord::now(event);
        let lines = style.platform_lines(&record);
        if let Some(c) = capture.as_mut() {
            for line in &lines {
                c.extend_from_slice(line.as_bytes());
                c.push(b'\n');
            }
            trim(c);
        }
        sink.emit(LogEvent::Platform {
            function: function.clone(),
            record: Arc::new(record),
            lines,
        });
    };
    let mut marks = Marks::default();
    let out = |(stream, bytes): (Stream, Bytes),
               capture: &mut Option<Vec<u8>>,
               partial: &mut Partials,
               marks: &mut Marks| {
        if marks.holds(stream) {
            marks.hold(stream, bytes);
            return;
        }
        if let Some(whole) = partial.push(stream, &bytes) {
            let (now, closed) = marks.take(stream, whole);
            if closed {
                // The stream's partial line came after its mark: it is the next invoke's.
                marks.hold(stream, partial.take(stream));
            }
            if !now.is_empty() {
                emit_output(now, capture);
            }
        }
    };
    // Output held past an invoke's marks, once its END and REPORT are out (and any START
    // queued meanwhile, as the control channel goes first).
    let replay = |capture: &mut Option<Vec<u8>>, partial: &mut Partials, marks: &mut Marks| {
        for held in marks.take_held() {
            out(held, capture, partial, marks);
        }
    };
    loop {
        tokio::select! {
            biased;
            msg = ctl.recv(), if ctl_open => match msg {
                None => ctl_open = false,
                Some(PumpMsg::Settle { done }) => {
                    settle_output(&mut output, &mut out_open, &mut last_output, settle, &mut |b| out(b, &mut capture, &mut partial, &mut marks)).await;
                    let _ = done.send(());
                }
                Some(PumpMsg::Platform { event, done }) => {
                    if done.is_some() {
                        settle_output(&mut output, &mut out_open, &mut last_output, settle, &mut |b| out(b, &mut capture, &mut partial, &mut marks)).await;
                    }
                    platform(event, &mut capture, &mut partial);
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                }
                Some(PumpMsg::ExtensionOutput { extension, bytes }) => {
                    emit(bytes, Some(extension), &mut capture);
                }
                Some(PumpMsg::Start { request_id, tenant_id }) => {
                    marks.start_invoke(&request_id);
                    capture = Some(Vec::new());
                    let start = Start { request_id, version: "$LATEST".into(), tenant_id };
                    platform(PlatformEvent::Start(start), &mut capture, &mut partial);
                }
                Some(PumpMsg::End(end)) => {
                    let EndOfInvoke { mut report, handle, ended, tail, output_marks } = *end;
                    // Measure while the output settles; REPORT needs it, END does not.
                    let memory = tokio::spawn(async move { handle.max_memory_used_bytes().await });
                    // Settle: output already on its way lands before END. Quiet is counted from
                    // the later of the last output and now, so bytes still in a pipe are read.
                    // A runtime that marks the end of each invoke's output is waited for exactly
                    // (both streams' marks); others until their output has been quiet.
                    let mut ended = Some(ended);
                    if marks.active || output_marks.is_some() {
                        // The marks are written before the response, so output past them is
                        // the next invoke's and is held until END is out: the next event
                        // need not wait (see `marks`).
                        if let Some(ended) = ended.take() {
                            let _ = ended.send(());
                        }
                        let id = report.request_id.clone();
                        let (on_stdout, on_stderr) = output_marks.unwrap_or((true, true));
                        marks.await_invoke(&id, on_stdout, on_stderr);
                        replay(&mut capture, &mut partial, &mut marks);
                        let want = u32::from(on_stdout) + u32::from(on_stderr);
                        let bound = if output_marks.is_some() { MARKS_IN_FLIGHT } else { MAX_SETTLE };
                        let deadline = tokio::time::Instant::now() + bound;
                        while out_open && marks.count(&id) < want {
                            tokio::select! {
                                biased;
                                chunk = output.next() => match chunk {
                                    Some(b) => { last_output = Instant::now(); out(b, &mut capture, &mut partial, &mut marks); }
                                    None => out_open = false,
                                },
                                () = tokio::time::sleep_until(deadline) => break,
                            }
                        }
                        marks.end_invoke();
                    } else {
                        settle_output(&mut output, &mut out_open, &mut last_output, settle, &mut |b| out(b, &mut capture, &mut partial, &mut marks)).await;
                    }
                    let done = RuntimeDone {
                        request_id: report.request_id.clone(),
                        status: report.status,
                        error_type: report.error_type.clone(),
                        metrics: Some(RuntimeDoneMetrics { duration_ms: report.metrics.duration_ms }),
                    };
                    platform(PlatformEvent::RuntimeDone(done), &mut capture, &mut partial);
                    if let Some(ended) = ended {
                        let _ = ended.send(());
                    }
                    if let Ok(Some(bytes)) = memory.await {
                        let measured = bytes.div_ceil(1024 * 1024).max(1);
                        let peak = &mut report.metrics.max_memory_used_mb;
                        *peak = (*peak).max(measured);
                    }
                    platform(PlatformEvent::Report(report), &mut capture, &mut partial);
                    let captured = capture.take().unwrap_or_default();
                    if let Some(tail) = tail {
                        let start = captured.len().saturating_sub(TAIL_LOG_BYTES);
                        let _ = tail.send(Bytes::copy_from_slice(&captured[start..]));
                    }
                }
            },
            () = std::future::ready(()), if marks.releasable() => {
                replay(&mut capture, &mut partial, &mut marks);
                if !out_open {
                    // The output ended while this was held: its last line ends here too.
                    if let Some(rest) = partial.flush() {
                        emit_output(rest, &mut capture);
                    }
                }
            }
            chunk = output.next(), if out_open => match chunk {
                Some(b) => { last_output = Instant::now(); out(b, &mut capture, &mut partial, &mut marks); }
                None => {
                    out_open = false;
                    if let Some(rest) = partial.flush() {
                        emit_output(rest, &mut capture);
                    }
                }
            },
            else => break,
        }
    }
}

/// Read output until it has been quiet for `settle`, counted from the later of the last output
/// and now (so bytes still in a pipe are read), for at most [`MAX_SETTLE`].
async fn settle_output(
    output: &mut OutputStream,
    out_open: &mut bool,
    last_output: &mut Instant,
    settle: Duration,
    emit: &mut impl FnMut((Stream, Bytes)),
) {
    let now = Instant::now();
    let mut quiet_from = (*last_output).max(now);
    while *out_open {
        let since = quiet_from.elapsed();
        let settled = now.elapsed();
        if since >= settle || settled >= MAX_SETTLE {
            break;
        }
        let wait = (settle - since).min(MAX_SETTLE - settled);
        tokio::select! {
            biased;
            chunk = output.next() => match chunk {
                Some(b) => {
                    *last_output = Instant::now();
                    quiet_from = *last_output;
                    emit(b);
                }
                None => *out_open = false,
            },
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Keep a capture buffer bounded: only its last [`TAIL_LOG_BYTES`] are ever returned.
fn trim(c: &mut Vec<u8>) {
    if c.len() > 4 * TAIL_LOG_BYTES {
        c.drain(..c.len() - TAIL_LOG_BYTES);
    }
}

/// `2024-05-01T12:00:00.123Z`, now, in UTC.
pub(crate) fn iso8601_now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// A log stream name of the cloud's shape: `YYYY/MM/DD/[$LATEST]<32 hex>` (§9).
pub(crate) fn log_stream_name() -> String {
    let today = iso8601_now();
    let date = today.get(..10).unwrap_or("1970-01-01").replace('-', "/");
    format!("{date}/[$LATEST]{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests;
