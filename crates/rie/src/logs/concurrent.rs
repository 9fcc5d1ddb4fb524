//! The pump of an environment whose invokes overlap (Lambda Managed Instances, runtime-api.md
//! §1.9). There is no "this invoke's output" to wait for: several run at once and their lines
//! interleave, as in the cloud, where the log is JSON and records "correlate by
//! requestId". So `START` goes out when an invoke begins, `END` and `REPORT` as soon as it
//! ends, each line whole as it comes, and an invoke's tail (`X-Amz-Log-Type: Tail`) is
//! its own platform records and the lines whose record names its request id.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use lamina_runtime_api::limits::TAIL_LOG_BYTES;
use lamina_runtime_api::platform::{
    PlatformEvent, PlatformRecord, RuntimeDone, RuntimeDoneMetrics, Start,
};
use tokio::sync::mpsc;

use super::format::{request_id_of, split_lines, LogStyle};
use super::lines::Partials;
use super::{settle_output, trim, EndOfInvoke, LogEvent, LogSink, PumpMsg};
use crate::sandbox::OutputStream;

/// Each invoke in flight's captured tail, by request id.
#[derive(Default)]
struct Tails(HashMap<String, Vec<u8>>);

impl Tails {
    fn add(&mut self, request_id: &str, bytes: &[u8]) {
        if let Some(t) = self.0.get_mut(request_id) {
            t.extend_from_slice(bytes);
            trim(t);
        }
    }
}

pub(super) async fn pump(
    function: Arc<str>,
    sink: LogSink,
    mut output: OutputStream,
    mut ctl: mpsc::UnboundedReceiver<PumpMsg>,
    settle: Duration,
    style: LogStyle,
) {
    let mut tails = Tails::default();
    let mut partial = Partials::default();
    let mut last_output = Instant::now();
    let (mut ctl_open, mut out_open) = (true, true);
    let emit = |bytes: Bytes, extension: Option<Arc<str>>| {
        sink.emit(LogEvent::Output {
            function: function.clone(),
            extension,
            bytes,
        });
    };
    let output_lines = |bytes: Bytes, tails: &mut Tails| {
        let Some(kept) = style.filter(bytes) else {
            return;
        };
        for line in split_lines(&kept) {
            if let Some(id) = request_id_of(line) {
                tails.add(&id, line);
            }
        }
        emit(kept, None);
    };
    let platform = |event: PlatformEvent, tails: &mut Tails| {
        let record = PlatformRecord::now(event);
        let lines = style.platform_lines(&record);
        if let Some(id) = request_id(&record.event) {
            for line in &lines {
                tails.add(id, line.as_bytes());
                tails.add(id, b"\n");
            }
        }
        sink.emit(LogEvent::Platform {
            function: function.clone(),
            record: Arc::new(record),
            lines,
        });
    };
    let out = |(stream, bytes): (crate::sandbox::Stream, Bytes),
               tails: &mut Tails,
               partial: &mut Partials| {
        if let Some(whole) = partial.push(stream, &bytes) {
            output_lines(whole, tails);
        }
    };
    loop {
        tokio::select! {
            biased;
            msg = ctl.recv(), if ctl_open => match msg {
                None => ctl_open = false,
                // Init's output settles before its records, as in the one-invoke pump: no
                // invoke runs yet.
                Some(PumpMsg::Settle { done }) => {
                    settle_output(&mut output, &mut out_open, &mut last_output, settle, &mut |b| out(b, &mut tails, &mut partial)).await;
                    let _ = done.send(());
                }
                Some(PumpMsg::Platform { event, done }) => {
                    if done.is_some() {
                        settle_output(&mut output, &mut out_open, &mut last_output, settle, &mut |b| out(b, &mut tails, &mut partial)).await;
                    }
                    platform(event, &mut tails);
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                }
                Some(PumpMsg::ExtensionOutput { extension, bytes }) => emit(bytes, Some(extension)),
                Some(PumpMsg::Start { request_id, tenant_id }) => {
                    tails.0.insert(request_id.clone(), Vec::new());
                    let start = Start { request_id, version: "$LATEST".into(), tenant_id };
                    platform(PlatformEvent::Start(start), &mut tails);
                }
                Some(PumpMsg::End(end)) => {
                    let EndOfInvoke { mut report, handle, ended, tail, .. } = *end;
                    let done = RuntimeDone {
                        request_id: report.request_id.clone(),
                        status: report.status,
                        error_type: report.error_type.clone(),
                        metrics: Some(RuntimeDoneMetrics { duration_ms: report.metrics.duration_ms }),
                    };
                    platform(PlatformEvent::RuntimeDone(done), &mut tails);
                    let _ = ended.send(());
                    // The environment's peak so far: its invokes share it.
                    if let Some(bytes) = handle.max_memory_used_bytes().await {
                        let measured = bytes.div_ceil(1024 * 1024).max(1);
                        let peak = &mut report.metrics.max_memory_used_mb;
                        *peak = (*peak).max(measured);
                    }
                    let id = report.request_id.clone();
                    platform(PlatformEvent::Report(report), &mut tails);
                    let captured = tails.0.remove(&id).unwrap_or_default();
                    if let Some(tail) = tail {
                        let start = captured.len().saturating_sub(TAIL_LOG_BYTES);
                        let _ = tail.send(Bytes::copy_from_slice(&captured[start..]));
                    }
                }
            },
            chunk = output.next(), if out_open => match chunk {
                Some(b) => { last_output = Instant::now(); out(b, &mut tails, &mut partial); }
                None => {
                    out_open = false;
                    if let Some(rest) = partial.flush() {
                        output_lines(rest, &mut tails);
                    }
                }
            },
            else => break,
        }
    }
}

/// The invoke a platform record belongs to, if any.
fn request_id(event: &PlatformEvent) -> Option<&str> {
    match event {
        PlatformEvent::Start(e) => Some(&e.request_id),
        PlatformEvent::RuntimeDone(e) => Some(&e.request_id),
        PlatformEvent::Report(e) => Some(&e.request_id),
        _ => None,
    }
}
