//! Logs: where lines go ([`LogSink`]) and the per-environment pump that frames a runtime's
//! output with `START`/`END`/`REPORT` in the cloud's order (runtime-api.md §6).
//!
//! All of one environment's log traffic flows through one task, so order is by construction:
//! the environment tells the pump "invoke started" before delivering the event and "invoke
//! ended" after the runtime answered; the pump prints `END` only once the output has been
//! quiet for [`QUIET`] (at most [`MAX_SETTLE`]), so output that is still in flight from the
//! container lands before `END`. The invoker's answer never waits for this, and neither does
//! the next event for longer than the settling.

use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;
use lamina_runtime_api::limits::TAIL_LOG_BYTES;
use lamina_runtime_api::logs::{self as lines, Report, ReportStatus};
use tokio::sync::{mpsc, oneshot};

use crate::sandbox::{OutputStream, SandboxHandle};

/// How long the output must have been silent before `END` is printed, unless the sandbox
/// says otherwise ([`crate::Sandbox::output_settle`]).
pub const QUIET: Duration = Duration::from_millis(5);
/// Longest wait for the output to settle.
pub const MAX_SETTLE: Duration = Duration::from_millis(100);

/// One piece of log output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    /// A platform line (`START …`, `END …`, `REPORT …`), without its newline.
    Platform {
        /// Function it belongs to.
        function: Arc<str>,
        /// The line.
        line: String,
    },
    /// Bytes the function wrote to stdout or stderr (not split into lines).
    Output {
        /// Function it belongs to.
        function: Arc<str>,
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
                LogEvent::Platform { line, .. } => writeln!(out, "{line}"),
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
    /// An invoke begins: print `START`, capture output for the tail.
    Start { request_id: String },
    /// The invoke is over: settle, `END`, measure memory, `REPORT`.
    End(Box<EndOfInvoke>),
}

pub(crate) struct EndOfInvoke {
    pub(crate) report: Report,
    pub(crate) handle: Arc<dyn SandboxHandle>,
    /// Set for timeouts: print the historical `Task timed out` line after `REPORT` (§6).
    pub(crate) timeout_ms: Option<u64>,
    /// Signalled once `END` is out: the next event may be delivered.
    pub(crate) ended: oneshot::Sender<()>,
    /// Receives the last [`TAIL_LOG_BYTES`] of the invoke's log, `REPORT` included.
    pub(crate) tail: Option<oneshot::Sender<Bytes>>,
}

/// Start the pump of one environment.
pub(crate) fn spawn_pump(
    function: Arc<str>,
    sink: LogSink,
    output: OutputStream,
    settle: Duration,
) -> mpsc::UnboundedSender<PumpMsg> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(pump(function, sink, output, rx, settle));
    tx
}

async fn pump(
    function: Arc<str>,
    sink: LogSink,
    mut output: OutputStream,
    mut ctl: mpsc::UnboundedReceiver<PumpMsg>,
    settle: Duration,
) {
    let mut capture: Option<Vec<u8>> = None;
    let mut last_output = Instant::now();
    let (mut ctl_open, mut out_open) = (true, true);
    let platform = |line: String, capture: &mut Option<Vec<u8>>| {
        if let Some(c) = capture.as_mut() {
            c.extend_from_slice(line.as_bytes());
            c.push(b'\n');
            trim(c);
        }
        sink.emit(LogEvent::Platform {
            function: function.clone(),
            line,
        });
    };
    let out = |bytes: Bytes, capture: &mut Option<Vec<u8>>| {
        if let Some(c) = capture.as_mut() {
            c.extend_from_slice(&bytes);
            trim(c);
        }
        sink.emit(LogEvent::Output {
            function: function.clone(),
            bytes,
        });
    };
    loop {
        tokio::select! {
            biased;
            msg = ctl.recv(), if ctl_open => match msg {
                None => ctl_open = false,
                Some(PumpMsg::Settle { done }) => {
                    settle_output(&mut output, &mut out_open, &mut last_output, settle, &mut |b| out(b, &mut capture)).await;
                    let _ = done.send(());
                }
                Some(PumpMsg::Start { request_id }) => {
                    capture = Some(Vec::new());
                    platform(lines::start_line(&request_id, "$LATEST"), &mut capture);
                }
                Some(PumpMsg::End(end)) => {
                    let EndOfInvoke { mut report, handle, timeout_ms, ended, tail } = *end;
                    // Measure while the output settles; REPORT needs it, END does not.
                    let memory = tokio::spawn(async move { handle.max_memory_used_bytes().await });
                    // Settle: output already on its way lands before END. Quiet is counted from
                    // the later of the last output and now, so bytes still in a pipe are read.
                    settle_output(&mut output, &mut out_open, &mut last_output, settle, &mut |b| out(b, &mut capture)).await;
                    platform(lines::end_line(&report.request_id), &mut capture);
                    let _ = ended.send(());
                    if let Ok(Some(bytes)) = memory.await {
                        report.max_memory_used_mb = bytes.div_ceil(1024 * 1024).max(1);
                    }
                    platform(report.line(), &mut capture);
                    if let (Some(ms), ReportStatus::Timeout) = (timeout_ms, report.status) {
                        platform(lines::timeout_line(&iso8601_now(), &report.request_id, ms), &mut capture);
                    }
                    let captured = capture.take().unwrap_or_default();
                    if let Some(tail) = tail {
                        let start = captured.len().saturating_sub(TAIL_LOG_BYTES);
                        let _ = tail.send(Bytes::copy_from_slice(&captured[start..]));
                    }
                }
            },
            chunk = output.next(), if out_open => match chunk {
                Some(b) => { last_output = Instant::now(); out(b, &mut capture); }
                None => out_open = false,
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
    emit: &mut impl FnMut(Bytes),
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

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn now_parts() -> (i64, u32, u32, u64, u32) {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    (y, m, d, secs % 86_400, since.subsec_millis())
}

/// `2024-05-01T12:00:00.123Z`, now, in UTC.
pub(crate) fn iso8601_now() -> String {
    let (y, m, d, s, ms) = now_parts();
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// A log stream name of the cloud's shape: `YYYY/MM/DD/[$LATEST]<32 hex>` (§9).
pub(crate) fn log_stream_name() -> String {
    let (y, m, d, _, _) = now_parts();
    format!(
        "{y:04}/{m:02}/{d:02}/[$LATEST]{}",
        uuid::Uuid::new_v4().simple()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn stream_name_shape() {
        let n = log_stream_name();
        let (date, rest) = n.split_at(11);
        assert_eq!(date.matches('/').count(), 3, "{n}");
        let hex = rest.strip_prefix("[$LATEST]").unwrap();
        assert_eq!(hex.len(), 32);
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
