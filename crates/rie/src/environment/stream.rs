//! An invoke whose runtime streams its response (runtime-api.md §1.7): the invoker is
//! answered as the stream begins, and the rest of the invoke — the stream's end, the
//! function's timeout over the whole stream, the extensions' `next`, `END` and `REPORT` —
//! runs on a task of its own, which keeps the environment busy until it is over.

use std::time::{Duration, Instant};

use lamina_runtime_api::body::PlatformError;
use lamina_runtime_api::extensions::ShutdownReason;
use lamina_runtime_api::platform::{Report, Status};
use tokio::sync::oneshot;

use super::{ms, Environment};
use crate::invoke::{Answer, Reply, ResponseBody, StreamEnd, Streamed};
use crate::logs::PumpMsg;
use crate::sync::lock;

/// What a streamed invoke carries from its start.
pub(super) struct StreamedInvoke {
    pub(super) request_id: String,
    pub(super) started: Instant,
    /// The function's time for the invoke (from `started`).
    pub(super) limit: Duration,
    /// Whether the environment's init ran inside this invoke (its time is the invoke's).
    pub(super) after_reinit: bool,
    pub(super) extension_invokes: usize,
    pub(super) want_tail: bool,
    pub(super) body: Streamed,
    pub(super) content_type: String,
}

impl Environment {
    /// Answer with the stream as it comes, and finish the invoke once it is over.
    pub(super) fn answer_streamed(&self, inv: StreamedInvoke) -> Reply {
        let init = lock(&self.init_duration)
            .take()
            .filter(|_| !inv.after_reinit);
        let memory = self.function.config.memory.mb();
        let mut report = Report::new(&inv.request_id, 0.0, memory, Status::Success);
        report.metrics.init_duration_ms = init.map(ms);
        // The next event waits for this invoke's `END`, set before the environment is
        // handed back.
        let (mut end, tail) = self.end_of_open(report, inv.want_tail);
        let rt = self.rt.clone();
        let (end_tx, end_rx) = oneshot::channel();
        let (settled_tx, settled) = oneshot::channel();
        let (apis, pump, ending) = (self.apis.clone(), self.pump.clone(), self.ending());
        let timeout_ms = self.function.config.timeout.millis();
        let Streamed {
            chunks,
            end: runtime_end,
        } = inv.body;
        let id = inv.request_id;
        let deadline = tokio::time::Instant::from_std(inv.started + inv.limit);
        tokio::spawn(async move {
            let stream_end = match tokio::time::timeout_at(deadline, runtime_end).await {
                Ok(Ok(e)) => e,
                Ok(Err(_)) => PlatformError::new(
                    "Runtime.Unknown",
                    &id,
                    "the response stream ended without its end",
                )
                .into(),
                Err(_) => {
                    // Out of time mid-stream: the environment ends as any timed-out one
                    // (extensions hear SHUTDOWN with TIMEOUT), and the stream with the
                    // cloud's timeout error.
                    end.report.status = Status::Timeout;
                    end.report.error_type = Some("Sandbox.Timedout".into());
                    end.report.timed_out_after_ms = Some(timeout_ms);
                    ending.clone().spawn(ShutdownReason::Timeout);
                    PlatformError::timeout(&id, timeout_ms).into()
                }
            };
            // The platform's failures are the invoke's (a function's own error is a
            // response, as for a buffered one).
            if let StreamEnd::Failed(e) = &stream_end {
                if end.report.timed_out_after_ms.is_none() {
                    end.report.status = Status::Error;
                    end.report.error_type = Some(e.error_type.clone());
                }
            }
            let _ = end_tx.send(stream_end);
            // The runtime's trailers said which of its output marks reach the log.
            end.output_marks = rt.end(&id);
            if inv.extension_invokes > 0 && end.report.timed_out_after_ms.is_none() {
                match tokio::time::timeout_at(deadline, apis.extensions.all_ready()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => ending.spawn(ShutdownReason::Failure),
                    Err(_) => ending.spawn(ShutdownReason::Timeout),
                }
            }
            end.report = end.report.with_duration(ms(inv.started.elapsed()));
            let _ = pump.send(PumpMsg::End(Box::new(end)));
            let _ = settled_tx.send(());
        });
        Reply {
            answer: Answer::Success {
                body: ResponseBody::Streamed(Streamed {
                    chunks,
                    end: end_rx,
                }),
                content_type: inv.content_type,
            },
            tail,
            settled: Some(settled),
        }
    }
}
