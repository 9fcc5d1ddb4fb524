//! An environment's init: waiting for the runtime's first `/next` and every extension's
//! (runtime-api.md §2: init ends when the runtime and each registered extension have called
//! `next`) within the limit, the `INIT_REPORT` of a failed one, and the answer to an invoke
//! whose re-init failed too.

use std::time::{Duration, Instant};

use bytes::Bytes;
use lamina_runtime_api::body::PlatformError;
use lamina_runtime_api::platform::{
    InitPhase, InitReport, InitReportMetrics, InitRuntimeDone, InitStart, PlatformEvent, Report,
    RestoreDone, RestoreStart, Status,
};
use tokio::sync::oneshot;

use super::invoke::{exit_answer, platform};
use super::{ms, Environment};
use crate::invoke::{Answer, InvokeRequest, Reply};
use crate::logs::PumpMsg;
use crate::runtime_api::InitSignal;
use crate::sandbox::ExitStatus;
use crate::sync::lock;

impl InitFailure {
    /// In a sentence, for the one who asked for a new version.
    pub(crate) fn describe(&self) -> String {
        match self {
            InitFailure::Error { body, .. } => {
                format!("its init failed: {}", String::from_utf8_lossy(body))
            }
            InitFailure::Restore { body, .. } => {
                format!("its restore failed: {}", String::from_utf8_lossy(body))
            }
            InitFailure::Exit(s) => format!("its runtime exited during init ({})", s.reason()),
            InitFailure::Timeout => "its init took longer than Lambda's 10 s".to_owned(),
            InitFailure::Extension { message, .. } => {
                format!("an extension failed its init ({message})")
            }
        }
    }
}

/// Why init did not complete.
pub(crate) enum InitFailure {
    /// The runtime posted `/init/error` with this body.
    Error { body: Bytes, content_type: String },
    /// The runtime posted `/restore/error` with this body (SnapStart; its
    /// `RESTORE_REPORT … Status: error` is out already).
    Restore { body: Bytes, content_type: String },
    /// The runtime exited before its first `/next`.
    Exit(ExitStatus),
    /// No `/next` within the init limit.
    Timeout,
    /// An extension failed the environment (`Extension.Crash`, `Extension.InitError`, …).
    Extension { error_type: String, message: String },
}

impl Environment {
    /// Wait for the end of init (the runtime's first `/next`), for at most `limit`: the init
    /// phase's [`INIT_TIMEOUT_MS`](lamina_runtime_api::limits::INIT_TIMEOUT_MS), or what is left of the invoke for a re-init.
    pub(crate) async fn wait_init(
        &self,
        limit: Duration,
    ) -> std::result::Result<(), (InitFailure, Duration)> {
        let mut rx = self.rt.init_rx();
        let deadline = tokio::time::Instant::from_std(self.started_at + limit);
        // SnapStart: when the runtime asked for the restore (its init is over then).
        let mut restored_at = None;
        loop {
            let signal = rx.borrow_and_update().clone();
            match signal {
                InitSignal::Restoring(at) => {
                    if restored_at.is_none() {
                        restored_at = Some(at);
                        let d = at.saturating_duration_since(self.started_at);
                        self.init_done(ms(d));
                        self.restore_started().await;
                        self.rt.restored.notify_one();
                    }
                }
                InitSignal::Ready(at) if restored_at.is_some() => {
                    let restored = restored_at.unwrap_or(at);
                    self.apis.extensions.close_registration();
                    self.apis.telemetry.close();
                    let d = at.saturating_duration_since(restored);
                    *lock(&self.restore_duration) = Some(d);
                    let (done, settled) = oneshot::channel();
                    let _ = self.pump.send(PumpMsg::Settle { done });
                    self.restore_done(ms(d));
                    *lock(&self.gate) = Some(settled);
                    return Ok(());
                }
                InitSignal::Ready(at) => {
                    self.apis.extensions.close_registration();
                    if self.apis.extensions.any() {
                        let ready = tokio::select! {
                            r = self.apis.extensions.all_ready() => r.map_err(|(error_type, message)| InitFailure::Extension { error_type, message }),
                            () = tokio::time::sleep_until(deadline) => Err(InitFailure::Timeout),
                        };
                        if let Err(failure) = ready {
                            self.kill().await;
                            let took = match failure {
                                InitFailure::Timeout => limit,
                                _ => self.started_at.elapsed(),
                            };
                            return Err((failure, took));
                        }
                    }
                    // Subscriptions are made during init, which ends here (§3.1).
                    self.apis.telemetry.close();
                    let d = at.saturating_duration_since(self.started_at);
                    *lock(&self.init_duration) = Some(d);
                    // Init's output, still on its way, goes before the first START.
                    let (done, settled) = oneshot::channel();
                    let _ = self.pump.send(PumpMsg::Settle { done });
                    // Data for the Telemetry API; neither has a line in the text log.
                    self.init_done(ms(d));
                    *lock(&self.gate) = Some(settled);
                    return Ok(());
                }
                InitSignal::Failed { body, content_type } => {
                    self.kill().await;
                    if let Some(restored) = restored_at {
                        self.restore_failed(ms(restored.elapsed()));
                        return Err((
                            InitFailure::Restore { body, content_type },
                            self.started_at.elapsed(),
                        ));
                    }
                    return Err((
                        InitFailure::Error { body, content_type },
                        self.started_at.elapsed(),
                    ));
                }
                InitSignal::Exited(status) => {
                    self.kill().await;
                    return Err((InitFailure::Exit(status), self.started_at.elapsed()));
                }
                InitSignal::Running => {}
            }
            tokio::select! {
                changed = rx.changed() => if changed.is_err() {
                    return Err((InitFailure::Exit(ExitStatus::Signal(9)), self.started_at.elapsed()));
                },
                status = self.handle.wait() => {
                    if let InitSignal::Failed { body, content_type } = rx.borrow().clone() {
                        return Err((InitFailure::Error { body, content_type }, self.started_at.elapsed()));
                    }
                    return Err((InitFailure::Exit(status), self.started_at.elapsed()));
                }
                () = tokio::time::sleep_until(deadline) => {
                    self.kill().await;
                    return Err((InitFailure::Timeout, limit));
                }
                (error_type, message) = self.apis.extensions.failed() => {
                    self.kill().await;
                    return Err((InitFailure::Extension { error_type, message }, self.started_at.elapsed()));
                }
            }
        }
    }

    /// A successful init's `platform.initRuntimeDone` and `platform.initReport`.
    fn init_done(&self, duration_ms: f64) {
        let phase = self.phase;
        for event in [
            PlatformEvent::InitRuntimeDone(InitRuntimeDone {
                initialization_type: self.init_type(),
                phase,
                status: Status::Success,
                error_type: None,
            }),
            PlatformEvent::InitReport(InitReport {
                initialization_type: self.init_type(),
                phase,
                status: Status::Success,
                error_type: None,
                metrics: InitReportMetrics { duration_ms },
            }),
        ] {
            let _ = self.pump.send(PumpMsg::Platform { event, done: None });
        }
    }

    /// A SnapStart environment's restore begins: `RESTORE_START` (§1.10), once the init's
    /// output is out.
    async fn restore_started(&self) {
        let init = InitStart {
            initialization_type: self.init_type(),
            ..InitStart::new(
                self.function.name.as_str(),
                self.function.runtime.map(|r| r.name()),
                &self.function.region,
                self.function
                    .image
                    .as_deref()
                    .unwrap_or(self.function.name.as_str()),
                InitPhase::Init,
            )
        };
        let (done, logged) = oneshot::channel();
        let _ = self.pump.send(PumpMsg::Platform {
            event: PlatformEvent::RestoreStart(RestoreStart::from(&init)),
            done: Some(done),
        });
        let _ = logged.await;
    }

    /// A successful restore's `platform.restoreRuntimeDone` and `RESTORE_REPORT`.
    fn restore_done(&self, duration_ms: f64) {
        self.restore_ended(Status::Success, None, duration_ms);
    }

    /// A failed restore's records (an after-restore hook raised), once its output is out.
    fn restore_failed(&self, duration_ms: f64) {
        let error_type = Some("Runtime.AfterRestoreError".to_owned());
        self.restore_ended(Status::Error, error_type, duration_ms);
    }

    fn restore_ended(&self, status: Status, error_type: Option<String>, duration_ms: f64) {
        let done = |metrics| RestoreDone {
            status,
            error_type: error_type.clone(),
            metrics,
        };
        let (settled, _) = oneshot::channel();
        for (event, settle) in [
            (PlatformEvent::RestoreRuntimeDone(done(None)), Some(settled)),
            (
                PlatformEvent::RestoreReport(done(Some(InitReportMetrics { duration_ms }))),
                None,
            ),
        ] {
            let _ = self.pump.send(PumpMsg::Platform {
                event,
                done: settle,
            });
        }
    }

    /// Log `INIT_REPORT` for this environment's failed init in `phase`, once init's output
    /// is out.
    pub(crate) async fn report_init(
        &self,
        phase: InitPhase,
        failure: &InitFailure,
        init: Duration,
    ) {
        let (status, error_type) = match failure {
            // Its own RESTORE_REPORT said it.
            InitFailure::Restore { .. } => return,
            InitFailure::Timeout => (Status::Timeout, None),
            InitFailure::Error { .. } => (Status::Error, None),
            InitFailure::Exit(_) => (Status::Error, Some("Runtime.ExitError".to_owned())),
            InitFailure::Extension { error_type, .. } => (Status::Error, Some(error_type.clone())),
        };
        let _ = self.pump.send(PumpMsg::Platform {
            event: PlatformEvent::InitRuntimeDone(InitRuntimeDone {
                initialization_type: self.init_type(),
                phase,
                status,
                error_type: error_type.clone(),
            }),
            done: None,
        });
        let (done, settled) = oneshot::channel();
        let _ = self.pump.send(PumpMsg::Platform {
            event: PlatformEvent::InitReport(InitReport {
                initialization_type: self.init_type(),
                phase,
                status,
                error_type,
                metrics: InitReportMetrics {
                    duration_ms: ms(init),
                },
            }),
            done: Some(done),
        });
        let _ = settled.await;
    }

    /// Answer the invoke whose suppressed re-init (begun at `started`) failed too, and end its
    /// log (`END`, `REPORT … Status: error|timeout`).
    pub(crate) fn reinit_failed(
        &self,
        req: &InvokeRequest,
        failure: InitFailure,
        started: Instant,
    ) -> Reply {
        let id = &req.request_id;
        let timeout_ms = self.function.config.timeout.millis();
        let (answer, status, timed_out) = match failure {
            // §5: init failure → the body posted to /init/error, 200 + Unhandled; a
            // restore's → the body posted to /restore/error.
            InitFailure::Error { body, content_type }
            | InitFailure::Restore { body, content_type } => (
                Answer::FunctionError { body, content_type },
                Status::Error,
                None,
            ),
            InitFailure::Exit(s) => (exit_answer(id, s), Status::Error, None),
            // The cloud's generic platform failure (§5), e.g. `Extension.Crash`.
            InitFailure::Extension {
                error_type,
                message,
            } => (
                platform(PlatformError::new(&error_type, id, &message)),
                Status::Error,
                None,
            ),
            // The re-init ran out of the invoke's own time: the function's timeout.
            InitFailure::Timeout => (
                platform(PlatformError::timeout(id, timeout_ms)),
                Status::Timeout,
                Some(timeout_ms),
            ),
        };
        let mut report = Report::new(
            id,
            ms(started.elapsed()),
            self.function.config.memory.mb(),
            status,
        );
        report.timed_out_after_ms = timed_out;
        let tail = self.finish(report, req.want_tail);
        Reply {
            answer,
            tail,
            settled: None,
        }
    }
}
