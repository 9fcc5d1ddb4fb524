//! One invoke on an environment: the event handed to the extensions that asked for it and to
//! the runtime, its outcome (answer, exit, timeout) mapped to what the invoker is told, and
//! the end of its log (`END`, `REPORT`) handed to the pump once the invoke is complete — with
//! extensions, once each has called `next` again (§2: the caller has its answer as soon as
//! the runtime posts it; the invoke completes after the extensions).

use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use lamina_runtime_api::body::PlatformError;
use lamina_runtime_api::extensions::{Event as ExtensionEvent, ShutdownReason, Tracing};
use lamina_runtime_api::limits::MAX_SYNC_RESPONSE;
use lamina_runtime_api::platform::{Report, Status};
use lamina_runtime_api::Invocation;
use tokio::sync::oneshot;

use super::stream::StreamedInvoke;
use super::{epoch_ms, ms, Environment};
use crate::invoke::{Answer, InvokeRequest, Reply, ResponseBody};
use crate::logs::{EndOfInvoke, PumpMsg};
use crate::runtime_api::{Assigned, RuntimeOutcome};
use crate::sandbox::ExitStatus;
use crate::sync::lock;

impl Environment {
    /// Run one invoke on this (idle) environment.
    pub(crate) async fn invoke(&self, req: InvokeRequest) -> Reply {
        self.run_invoke(req, None).await
    }

    /// Run the invoke whose `START` this environment's re-init printed at `started`, in the
    /// time the re-init left.
    pub(crate) async fn invoke_after_reinit(&self, req: InvokeRequest, started: Instant) -> Reply {
        self.run_invoke(req, Some(started)).await
    }

    async fn run_invoke(&self, req: InvokeRequest, reinit_started: Option<Instant>) -> Reply {
        // One invoke at a time: the event waits for the previous invoke's `END`. Overlapping
        // invokes wait for nothing.
        let gate = lock(&self.gate).take().filter(|_| !self.concurrent);
        if let Some(gate) = gate {
            let _ = gate.await;
        }
        let id = req.request_id.clone();
        let timeout = self
            .function
            .config
            .timeout
            .duration()
            .saturating_sub(reinit_started.map(|t| t.elapsed()).unwrap_or_default());
        // A fresh nonce per delivery, so an answer from an earlier delivery of the same
        // request id (an async retry, a timed-out invoke still running) is told apart (§1.3).
        let nonce = uuid::Uuid::new_v4().to_string();
        let invocation = Invocation {
            request_id: id.clone(),
            deadline_ms: epoch_ms().saturating_add(timeout.as_millis() as u64),
            invoked_function_arn: self.function.arn(),
            trace_id: Some(req.trace_id.clone()),
            client_context: req.client_context.clone(),
            cognito_identity: None,
            tenant_id: req.tenant_id.clone(),
            content_type: lamina_runtime_api::invocation::DEFAULT_CONTENT_TYPE.into(),
            invocation_id: Some(nonce.clone()),
        };
        let (tx, rx) = oneshot::channel();
        self.rt.begin(&id, &nonce, tx);
        if reinit_started.is_none() {
            let _ = self.pump.send(PumpMsg::Start {
                request_id: id.clone(),
                tenant_id: req.tenant_id.clone(),
            });
        }
        let t0 = reinit_started.unwrap_or_else(Instant::now);
        // Extensions first, as Lambda releases them before the runtime (RIE `doInvoke`).
        let extension_invokes = self.apis.extensions.deliver(&ExtensionEvent::Invoke {
            deadline_ms: invocation.deadline_ms,
            request_id: id.clone(),
            invoked_function_arn: invocation.invoked_function_arn.clone(),
            tracing: Tracing {
                kind: "X-Amzn-Trace-Id".into(),
                value: req.trace_id.clone(),
            },
        });
        let assigned = Assigned {
            invocation,
            payload: req.payload.clone(),
        };
        // The channel holds one event and the environment runs one invoke at a time, so this
        // only fails once the environment is gone; the reply then says how it ended.
        let _ = self.next_tx.try_send(assigned);
        let outcome = tokio::select! {
            r = rx => r.ok(),
            () = tokio::time::sleep(timeout) => None,
        };
        if outcome.is_none() {
            // A late answer from the runtime, if it lives on, gets 410 (§1.6).
            self.rt.time_out(&id);
        }
        let outcome = match outcome {
            Some(RuntimeOutcome::Response {
                body: ResponseBody::Streamed(body),
                content_type,
            }) => {
                return self.answer_streamed(StreamedInvoke {
                    request_id: id,
                    started: t0,
                    limit: timeout,
                    after_reinit: reinit_started.is_some(),
                    extension_invokes,
                    want_tail: req.want_tail,
                    body,
                    content_type,
                })
            }
            other => other,
        };
        let duration = t0.elapsed();
        // An OOM kill used all the memory there was; the container may be gone before its
        // peak can be read, so that is what REPORT says (as the cloud's does).
        let oom = matches!(outcome, Some(RuntimeOutcome::Exited(ExitStatus::OomKilled)));
        let (answer, status, timed_out) = match outcome {
            Some(RuntimeOutcome::Response { body, content_type }) => (
                Answer::Success { body, content_type },
                Status::Success,
                None,
            ),
            Some(RuntimeOutcome::Error {
                body,
                content_type,
                error_type,
            }) => {
                tracing::debug!(request_id = %id, %error_type, "function error");
                (
                    Answer::FunctionError { body, content_type },
                    Status::Success,
                    None,
                )
            }
            Some(RuntimeOutcome::TooLarge { size }) => {
                // The runtime was refused its answer, and its state is unknown: the cloud
                // does not reuse such an environment (issue 9; AWS's emulator hands it back
                // and the next invoke fails with Runtime.ExitError).
                self.retiring.store(true, Ordering::SeqCst);
                (
                    platform(PlatformError::response_too_large(size, MAX_SYNC_RESPONSE)),
                    Status::Error,
                    None,
                )
            }
            Some(RuntimeOutcome::InvalidResponseMode) => (
                platform(PlatformError::new(
                    "Runtime.InvalidResponseModeHeader",
                    &id,
                    "invalid response mode header",
                )),
                Status::Error,
                None,
            ),
            Some(RuntimeOutcome::Exited(s)) => {
                if self.apis.extensions.any() {
                    self.ending().spawn(ShutdownReason::Failure);
                }
                (exit_answer(&id, s), Status::Error, None)
            }
            None if self.concurrent => {
                // Managed Instances: that invoke fails, the code is not stopped and the
                // other invokes go on (runtime-api.md §1.9); a late answer gets 410.
                let ms_ = self.function.config.timeout.millis();
                (
                    platform(PlatformError::timeout(&id, ms_)),
                    Status::Timeout,
                    Some(ms_),
                )
            }
            None if self.apis.extensions.any() => {
                // The extensions hear of it (SHUTDOWN, TIMEOUT) while the invoker is answered.
                self.ending().spawn(ShutdownReason::Timeout);
                let ms_ = self.function.config.timeout.millis();
                (
                    platform(PlatformError::timeout(&id, ms_)),
                    Status::Timeout,
                    Some(ms_),
                )
            }
            None => {
                self.kill().await;
                let ms_ = self.function.config.timeout.millis();
                (
                    platform(PlatformError::timeout(&id, ms_)),
                    Status::Timeout,
                    Some(ms_),
                )
            }
        };
        // After a re-init, its time is the invoke's (it ran inside it).
        let init = lock(&self.init_duration)
            .take()
            .filter(|_| reinit_started.is_none());
        let mut report = Report::new(&id, ms(duration), self.function.config.memory.mb(), status);
        if oom {
            report.metrics.max_memory_used_mb = self.function.config.memory.mb();
        }
        report.metrics.init_duration_ms = init.map(ms);
        report.metrics.restore_duration_ms = lock(&self.restore_duration)
            .take()
            .filter(|_| reinit_started.is_none())
            .map(ms);
        report.timed_out_after_ms = timed_out;
        let tail = if extension_invokes > 0 && timed_out.is_none() && self.is_alive() {
            self.finish_after_extensions(report, req.want_tail, t0, timeout)
        } else {
            self.finish(report, req.want_tail)
        };
        Reply {
            answer,
            tail,
            settled: None,
        }
    }

    /// Hand the end of an invoke to the pump; the next event waits for its `END`.
    pub(super) fn finish(
        &self,
        report: Report,
        want_tail: bool,
    ) -> Option<oneshot::Receiver<Bytes>> {
        let (end, tail) = self.end_of(report, want_tail);
        let _ = self.pump.send(PumpMsg::End(Box::new(end)));
        tail
    }

    /// [`Environment::finish`] once every extension that had the invoke has called `next`
    /// again (its time counts in `REPORT`'s duration, from `t0`), on a task of its own so
    /// the invoker's answer does not wait; the next event waits for it as for any `END`. An
    /// extension that fails meanwhile, or takes past the invoke's `limit`, ends the
    /// environment.
    fn finish_after_extensions(
        &self,
        report: Report,
        want_tail: bool,
        t0: Instant,
        limit: std::time::Duration,
    ) -> Option<oneshot::Receiver<Bytes>> {
        let (mut end, tail) = self.end_of(report, want_tail);
        let (apis, pump, ending) = (self.apis.clone(), self.pump.clone(), self.ending());
        let deadline = tokio::time::Instant::from_std(t0 + limit);
        tokio::spawn(async move {
            match tokio::time::timeout_at(deadline, apis.extensions.all_ready()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => ending.clone().spawn(ShutdownReason::Failure),
                Err(_) => ending.clone().spawn(ShutdownReason::Timeout),
            }
            end.report = end.report.with_duration(ms(t0.elapsed()));
            let _ = pump.send(PumpMsg::End(Box::new(end)));
        });
        tail
    }

    /// The end of an invoke as the pump takes it, with the next event's gate set and the
    /// tail's receiver when asked for.
    fn end_of(
        &self,
        report: Report,
        want_tail: bool,
    ) -> (EndOfInvoke, Option<oneshot::Receiver<Bytes>>) {
        let (mut end, tail) = self.end_of_open(report, want_tail);
        end.output_marks = self.rt.end(&end.report.request_id);
        (end, tail)
    }

    /// [`Environment::end_of`] for an invoke still under way (a streamed response): the
    /// invoke stays in flight, and its output marks are read when it ends.
    pub(super) fn end_of_open(
        &self,
        report: Report,
        want_tail: bool,
    ) -> (EndOfInvoke, Option<oneshot::Receiver<Bytes>>) {
        let (ended, gate) = oneshot::channel();
        *lock(&self.gate) = Some(gate);
        let (tail_tx, tail_rx) = if want_tail {
            let (t, r) = oneshot::channel();
            (Some(t), Some(r))
        } else {
            (None, None)
        };
        let end = EndOfInvoke {
            report,
            handle: self.handle.clone(),
            ended,
            tail: tail_tx,
            output_marks: None,
        };
        (end, tail_rx)
    }
}

pub(super) fn platform(e: PlatformError) -> Answer {
    Answer::FunctionError {
        body: e.to_json().into(),
        content_type: "application/json".into(),
    }
}

pub(super) fn exit_answer(id: &str, status: ExitStatus) -> Answer {
    platform(crate::invoke::exit_error(id, status))
}
