//! One execution environment: a sandboxed runtime, its Runtime API listener and its log pump,
//! moving Initializing → Idle → Busy → Idle … → Dead.
//!
//! Init ends at the runtime's first `/next` (that is the Init Duration) and may take at most
//! [`INIT_TIMEOUT_MS`](lamina_runtime_api::limits::INIT_TIMEOUT_MS); a failed init is reported (`INIT_REPORT … Phase: init`) and the pool
//! re-runs it once inside the invoke (see [`crate::pool`]). An invoke ends with the runtime's answer, the runtime's exit
//! (`Runtime.ExitError`) or the function's timeout (`Sandbox.Timedout`, the environment is
//! killed); the latter two leave the environment dead, and the pool starts a fresh one.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use lamina_runtime_api::body::PlatformError;
use lamina_runtime_api::env as vars;
use lamina_runtime_api::limits::MAX_SYNC_RESPONSE;
use lamina_runtime_api::logs::{self as lines, InitPhase, Report, ReportStatus};
use lamina_runtime_api::Invocation;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::config::FunctionConfig;
use crate::error::Result;
use crate::http_util::accept_loop;
use crate::listener;
use crate::logs::{self, EndOfInvoke, LogSink, PumpMsg};
use crate::runtime_api::{self, Assigned, InitSignal, RuntimeOutcome, RuntimeState};
use crate::sandbox::{EnvSpec, ExitStatus, Sandbox, SandboxHandle};
use crate::sync::lock;

/// An invoke as the pool hands it to an environment.
#[derive(Debug, Clone)]
pub(crate) struct InvokeRequest {
    pub(crate) request_id: String,
    pub(crate) trace_id: String,
    pub(crate) client_context: Option<String>,
    pub(crate) tenant_id: Option<String>,
    pub(crate) payload: Bytes,
    /// Whether the invoker asked for `X-Amz-Log-Type: Tail`.
    pub(crate) want_tail: bool,
}

/// What the invoker is told.
#[derive(Debug)]
pub(crate) enum Answer {
    /// 200 with the runtime's body.
    Success { body: Bytes, content_type: String },
    /// 200 + `X-Amz-Function-Error: Unhandled` with this body.
    FunctionError { body: Bytes, content_type: String },
    /// A service error (4xx/5xx).
    Service(lamina_runtime_api::body::ServiceError),
}

/// The answer, and the invoke's log tail once `REPORT` is out (when asked for).
pub(crate) struct Reply {
    pub(crate) answer: Answer,
    pub(crate) tail: Option<oneshot::Receiver<Bytes>>,
}

impl InitFailure {
    /// In a sentence, for the one who asked for a new version.
    pub(crate) fn describe(&self) -> String {
        match self {
            InitFailure::Error { body, .. } => {
                format!("its init failed: {}", String::from_utf8_lossy(body))
            }
            InitFailure::Exit(s) => format!("its runtime exited during init ({})", s.reason()),
            InitFailure::Timeout => "its init took longer than Lambda's 10 s".to_owned(),
        }
    }
}

/// Why init did not complete.
pub(crate) enum InitFailure {
    /// The runtime posted `/init/error` with this body.
    Error { body: Bytes, content_type: String },
    /// The runtime exited before its first `/next`.
    Exit(ExitStatus),
    /// No `/next` within the init limit.
    Timeout,
}

/// Aborts a task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(crate) struct Environment {
    function: Arc<FunctionConfig>,
    rt: Arc<RuntimeState>,
    next_tx: mpsc::Sender<Assigned>,
    handle: Arc<dyn SandboxHandle>,
    pump: mpsc::UnboundedSender<PumpMsg>,
    dead: Arc<AtomicBool>,
    /// Set when an invoke ended in a way that ends the environment once its output is in
    /// (a response over the limit): the pool does not hand it out again.
    retiring: AtomicBool,
    started_at: Instant,
    init_duration: Mutex<Option<Duration>>,
    /// Resolves once the previous invoke's `END` is out; the next event waits for it.
    gate: Mutex<Option<oneshot::Receiver<()>>>,
    _server: AbortOnDrop,
    /// The Runtime API socket's directory, if it listens on one; removed with the environment.
    _socket_dir: Option<tempfile::TempDir>,
}

impl Environment {
    /// Open the Runtime API listener and start the runtime; init is then under way.
    ///
    /// `reinit_for`: this init is the suppressed re-init inside invoke `reinit_for`, whose
    /// `START` it prints first; otherwise it is an environment's own init, which begins
    /// with `INIT_START`.
    pub(crate) async fn launch(
        function: Arc<FunctionConfig>,
        sandbox: &dyn Sandbox,
        sink: LogSink,
        number: u64,
        reinit_for: Option<&str>,
    ) -> Result<Self> {
        let api = listener::open(sandbox.runtime_api_reach())?;
        let (rt, next_tx) = RuntimeState::new();
        let spec = EnvSpec {
            function: function.name.to_string(),
            env_number: number,
            image: function.image.clone(),
            command: function.command.clone(),
            env: environment_variables(&function, api.runtime_api),
            runtime_api_socket: api.socket.clone(),
            memory_mb: function.memory.mb(),
            tmp_mb: function.ephemeral_storage.mb(),
            cpu_nanos: function
                .cpu_share
                .then(|| lamina_runtime_api::limits::cpu_nanos_for_memory(function.memory.mb())),
        };
        let started = sandbox.start(&spec).await?;
        // Serve only once the sandbox has said who the runtime is: a runtime that connects
        // earlier waits in the listen backlog, and any other peer is turned away.
        let served = rt.clone();
        let server = AbortOnDrop(tokio::spawn(accept_loop(
            api.listener,
            move |req| runtime_api::handle(served.clone(), req),
            std::future::pending(),
            Duration::ZERO,
            started.peer,
            crate::http_util::ConnectionLimits::RUNTIME,
        )));
        let pump = logs::spawn_pump(
            function.name.as_str().into(),
            sink,
            started.output,
            sandbox.output_settle(),
        );
        // Sent before the pump first runs, so it precedes any output of the runtime.
        let _ = pump.send(match reinit_for {
            Some(id) => PumpMsg::Start {
                request_id: id.to_owned(),
            },
            None => PumpMsg::Line {
                line: lines::init_start_line(
                    function.runtime.map(|r| r.name()),
                    &function.region,
                    function.image.as_deref().unwrap_or(function.name.as_str()),
                ),
                done: None,
            },
        });
        let dead = Arc::new(AtomicBool::new(false));
        {
            let (handle, rt, dead) = (started.handle.clone(), rt.clone(), dead.clone());
            tokio::spawn(async move {
                let status = handle.wait().await;
                dead.store(true, Ordering::SeqCst);
                rt.runtime_exited(status);
            });
        }
        Ok(Self {
            function,
            rt,
            next_tx,
            handle: started.handle,
            pump,
            dead,
            retiring: AtomicBool::new(false),
            started_at: started.started_at,
            init_duration: Mutex::new(None),
            gate: Mutex::new(None),
            _server: server,
            _socket_dir: api.dir,
        })
    }

    /// The version of the function this environment runs.
    pub(crate) fn function(&self) -> &Arc<FunctionConfig> {
        &self.function
    }

    pub(crate) fn is_alive(&self) -> bool {
        !self.dead.load(Ordering::SeqCst)
    }

    /// Whether the last invoke ended this environment (it is killed after a short grace, so
    /// what the runtime prints about the refusal still reaches the log).
    pub(crate) fn is_retiring(&self) -> bool {
        self.retiring.load(Ordering::SeqCst)
    }

    pub(crate) async fn kill(&self) {
        self.dead.store(true, Ordering::SeqCst);
        self.handle.kill().await;
    }

    /// End the environment as the cloud's shutdown does (SIGTERM, SIGKILL after `grace`),
    /// its Runtime API still up meanwhile, so the runtime's pending `/next` never fails.
    pub(crate) async fn stop(&self, grace: Duration) {
        self.dead.store(true, Ordering::SeqCst);
        self.handle.terminate(grace).await;
    }

    /// Wait for the end of init (the runtime's first `/next`), for at most `limit`: the init
    /// phase's [`INIT_TIMEOUT_MS`](lamina_runtime_api::limits::INIT_TIMEOUT_MS), or what is left of the invoke for a re-init.
    pub(crate) async fn wait_init(
        &self,
        limit: Duration,
    ) -> std::result::Result<(), (InitFailure, Duration)> {
        let mut rx = self.rt.init_rx();
        let deadline = tokio::time::Instant::from_std(self.started_at + limit);
        loop {
            let signal = rx.borrow_and_update().clone();
            match signal {
                InitSignal::Ready(at) => {
                    let d = at.saturating_duration_since(self.started_at);
                    *lock(&self.init_duration) = Some(d);
                    // Init's output, still on its way, goes before the first START.
                    let (done, settled) = oneshot::channel();
                    let _ = self.pump.send(PumpMsg::Settle { done });
                    *lock(&self.gate) = Some(settled);
                    return Ok(());
                }
                InitSignal::Failed { body, content_type } => {
                    self.kill().await;
                    return Err((
                        InitFailure::Error { body, content_type },
                        self.started_at.elapsed(),
                    ));
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
            }
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
        let status = match failure {
            InitFailure::Timeout => ReportStatus::Timeout,
            InitFailure::Error { .. } | InitFailure::Exit(_) => ReportStatus::Error,
        };
        let (done, settled) = oneshot::channel();
        let _ = self.pump.send(PumpMsg::Line {
            line: lines::init_report_line(ms(init), phase, status),
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
        let timeout_ms = self.function.timeout.millis();
        let (answer, status, timed_out) = match failure {
            // §5: init failure → the body posted to /init/error, 200 + Unhandled.
            InitFailure::Error { body, content_type } => (
                Answer::FunctionError { body, content_type },
                ReportStatus::Error,
                None,
            ),
            InitFailure::Exit(s) => (exit_answer(id, s), ReportStatus::Error, None),
            // The re-init ran out of the invoke's own time: the function's timeout.
            InitFailure::Timeout => (
                platform(PlatformError::timeout(id, timeout_ms)),
                ReportStatus::Timeout,
                Some(timeout_ms),
            ),
        };
        let report = Report {
            request_id: id.clone(),
            duration_ms: ms(started.elapsed()),
            memory_size_mb: self.function.memory.mb(),
            max_memory_used_mb: 0,
            init_duration_ms: None,
            status,
        };
        let tail = self.finish(report, timed_out, req.want_tail);
        Reply { answer, tail }
    }

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
        let gate = lock(&self.gate).take();
        if let Some(gate) = gate {
            let _ = gate.await;
        }
        let id = req.request_id.clone();
        let timeout = self
            .function
            .timeout
            .duration()
            .saturating_sub(reinit_started.map(|t| t.elapsed()).unwrap_or_default());
        let invocation = Invocation {
            request_id: id.clone(),
            deadline_ms: epoch_ms().saturating_add(timeout.as_millis() as u64),
            invoked_function_arn: self.function.arn(),
            trace_id: Some(req.trace_id.clone()),
            client_context: req.client_context.clone(),
            cognito_identity: None,
            tenant_id: req.tenant_id.clone(),
            content_type: lamina_runtime_api::invocation::DEFAULT_CONTENT_TYPE.into(),
        };
        let (tx, rx) = oneshot::channel();
        self.rt.begin(&id, tx);
        if reinit_started.is_none() {
            let _ = self.pump.send(PumpMsg::Start {
                request_id: id.clone(),
            });
        }
        let t0 = reinit_started.unwrap_or_else(Instant::now);
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
        let duration = t0.elapsed();
        // An OOM kill used all the memory there was; the container may be gone before its
        // peak can be read, so that is what REPORT says (as the cloud's does).
        let oom = matches!(outcome, Some(RuntimeOutcome::Exited(ExitStatus::OomKilled)));
        let (answer, status, timed_out) = match outcome {
            Some(RuntimeOutcome::Response { body, content_type }) => (
                Answer::Success { body, content_type },
                ReportStatus::Ok,
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
                    ReportStatus::Ok,
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
                    ReportStatus::Error,
                    None,
                )
            }
            Some(RuntimeOutcome::InvalidResponseMode) => (
                platform(PlatformError::new(
                    "Runtime.InvalidResponseModeHeader",
                    &id,
                    "invalid response mode header",
                )),
                ReportStatus::Error,
                None,
            ),
            Some(RuntimeOutcome::Exited(s)) => (exit_answer(&id, s), ReportStatus::Error, None),
            None => {
                self.kill().await;
                let ms_ = self.function.timeout.millis();
                (
                    platform(PlatformError::timeout(&id, ms_)),
                    ReportStatus::Timeout,
                    Some(ms_),
                )
            }
        };
        // After a re-init, its time is the invoke's (it ran inside it).
        let init = lock(&self.init_duration)
            .take()
            .filter(|_| reinit_started.is_none());
        let report = Report {
            request_id: id,
            duration_ms: ms(duration),
            memory_size_mb: self.function.memory.mb(),
            max_memory_used_mb: if oom { self.function.memory.mb() } else { 0 },
            init_duration_ms: init.map(ms),
            status,
        };
        let tail = self.finish(report, timed_out, req.want_tail);
        Reply { answer, tail }
    }

    /// Hand the end of an invoke to the pump; the next event waits for its `END`.
    fn finish(
        &self,
        report: Report,
        timeout_ms: Option<u64>,
        want_tail: bool,
    ) -> Option<oneshot::Receiver<Bytes>> {
        let (ended, gate) = oneshot::channel();
        *lock(&self.gate) = Some(gate);
        let (tail_tx, tail_rx) = if want_tail {
            let (t, r) = oneshot::channel();
            (Some(t), Some(r))
        } else {
            (None, None)
        };
        let output_marks = self.rt.output_marks(&report.request_id);
        let _ = self.pump.send(PumpMsg::End(Box::new(EndOfInvoke {
            report,
            handle: self.handle.clone(),
            timeout_ms,
            ended,
            tail: tail_tx,
            output_marks,
        })));
        tail_rx
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        if self.is_alive() {
            let handle = self.handle.clone();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move { handle.kill().await });
            }
        }
    }
}

fn platform(e: PlatformError) -> Answer {
    Answer::FunctionError {
        body: e.to_json().into(),
        content_type: "application/json".into(),
    }
}

fn exit_answer(id: &str, status: ExitStatus) -> Answer {
    platform(match status {
        ExitStatus::OomKilled => PlatformError::out_of_memory(id),
        ExitStatus::Code(0) => PlatformError::runtime_exit_ok(id),
        s => PlatformError::runtime_exit(id, &s.reason()),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The variables the platform sets (§9), after the user's, which may not override them.
fn environment_variables(f: &FunctionConfig, runtime_api: SocketAddr) -> Vec<(String, String)> {
    let platform: Vec<(&str, String)> = vec![
        (vars::RUNTIME_API, runtime_api.to_string()),
        (vars::FUNCTION_NAME, f.name.to_string()),
        (vars::FUNCTION_VERSION, "$LATEST".into()),
        (vars::FUNCTION_MEMORY_SIZE, f.memory.to_string()),
        (vars::LOG_GROUP_NAME, format!("/aws/lambda/{}", f.name)),
        (vars::LOG_STREAM_NAME, logs::log_stream_name()),
        (vars::REGION, f.region.clone()),
        (vars::DEFAULT_REGION, f.region.clone()),
        (vars::INITIALIZATION_TYPE, "on-demand".into()),
        // lamina's adapter then marks where each invoke's output ends (no quiet period).
        (lamina_runtime_api::logs::OUTPUT_MARKS_ENV, "1".into()),
    ];
    // The function model has already warned the user about these keys (Lambda overrides
    // them in the cloud too); here they are simply replaced.
    let mut out: Vec<(String, String)> = f
        .env
        .iter()
        .filter(|(k, _)| !platform.iter().any(|(p, _)| p == k))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    out.extend(platform.into_iter().map(|(k, v)| (k.to_owned(), v)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_variables_win() {
        let mut f = FunctionConfig::new("calc".parse().unwrap());
        f.env = vec![("AWS_REGION".into(), "x".into()), ("MY".into(), "1".into())]
            .try_into()
            .unwrap();
        let env = environment_variables(&f, "127.0.0.1:9001".parse().unwrap());
        let get = |k: &str| {
            env.iter()
                .filter(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("AWS_REGION"), ["us-east-1"]);
        assert_eq!(get("MY"), ["1"]);
        assert_eq!(get("AWS_LAMBDA_RUNTIME_API"), ["127.0.0.1:9001"]);
        assert_eq!(get("AWS_LAMBDA_LOG_GROUP_NAME"), ["/aws/lambda/calc"]);
    }
}
