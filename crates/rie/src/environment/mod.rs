//! One execution environment: a sandboxed runtime, its Runtime API listener and its log pump,
//! moving Initializing → Idle → Busy → Idle … → Dead.
//!
//! Init ends at the runtime's first `/next` (that is the Init Duration) and may take at most
//! [`INIT_TIMEOUT_MS`](lamina_runtime_api::limits::INIT_TIMEOUT_MS); a failed init is reported (`INIT_REPORT … Phase: init`) and the pool
//! re-runs it once inside the invoke (see [`crate::pool`]). An invoke ends with the runtime's answer, the runtime's exit
//! (`Runtime.ExitError`) or the function's timeout (`Sandbox.Timedout`, the environment is
//! killed); the latter two leave the environment dead, and the pool starts a fresh one.
//!
//! Split by job: the lifecycle here (launch, liveness, kill, stop), init in [`init`], an
//! invoke to its answer and `REPORT` in [`invoke`], the platform's environment variables in
//! [`vars`].

mod init;
mod invoke;
mod shutdown;
mod stream;
mod vars;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lamina_runtime_api::platform::{InitPhase, InitStart, InitType, PlatformEvent};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::config::FunctionConfig;
use crate::env_api::{self, EnvironmentApis};
use crate::error::Result;
use crate::extensions::{Extensions, FunctionInfo};
use crate::http_util::accept_loop;
use crate::listener;
use crate::logs::{self, LogSink, PumpMsg};
use crate::runtime_api::{Assigned, RuntimeState};
use crate::sandbox::{EnvSpec, Sandbox, SandboxHandle};
use lamina_runtime_api::extensions::ShutdownReason;

/// Aborts a task when dropped.
pub(super) struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The shortest init limit of a Managed-Instances environment (runtime-api.md §1.9).
const MANAGED_INIT_LIMIT: Duration = Duration::from_secs(130);

pub(crate) struct Environment {
    function: Arc<FunctionConfig>,
    rt: Arc<RuntimeState>,
    /// The APIs on its listener (the Runtime API's state is `rt`), the extensions' state.
    apis: Arc<EnvironmentApis>,
    next_tx: mpsc::Sender<Assigned>,
    handle: Arc<dyn SandboxHandle>,
    pump: mpsc::UnboundedSender<PumpMsg>,
    dead: Arc<AtomicBool>,
    /// Invokes in flight, at most `slots`: the pool schedules slots, not environments.
    busy: std::sync::atomic::AtomicUsize,
    /// How many invokes it takes at once: one, as Lambda's default environments do, or
    /// the function's `max_concurrency` (Managed Instances, runtime-api.md §1.9).
    slots: usize,
    /// The tenant it serves, for a tenant-isolated function (its invokes all carry it).
    tenant: Option<String>,
    /// Its invokes overlap (Managed Instances): no invoke waits for another's `END`, and a
    /// timed-out invoke leaves the environment running (§1.9 "the code is not stopped").
    concurrent: bool,
    /// Set when an invoke ended in a way that ends the environment once its output is in
    /// (a response over the limit): the pool does not hand it out again.
    retiring: AtomicBool,
    started_at: Instant,
    /// Which phase its init runs in: its own (`init`), or inside an invoke (`invoke`).
    phase: InitPhase,
    init_duration: Mutex<Option<Duration>>,
    /// A SnapStart environment's restore time, for its first `REPORT` (in place of init's).
    restore_duration: Mutex<Option<Duration>>,
    /// Resolves once the previous invoke's `END` is out; the next event waits for it.
    gate: Mutex<Option<oneshot::Receiver<()>>>,
    /// The listener's task: shared with an ending under way, whose `SHUTDOWN` goes out on it.
    server: Arc<AbortOnDrop>,
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
        tenant: Option<&str>,
    ) -> Result<Self> {
        let api = listener::open(sandbox.runtime_api_reach())?;
        let execution = function.config.execution;
        let (slots, concurrent) = (execution.slots(), execution.max_concurrency.is_some());
        let (rt, next_tx) = RuntimeState::with_restore(slots, execution.snapstart);
        let spec = EnvSpec {
            function: function.name.to_string(),
            env_number: number,
            image: function.image.clone(),
            command: function.command.clone(),
            env: vars::environment_variables(&function, api.runtime_api),
            runtime_api_socket: api.socket.clone(),
            memory_mb: function.config.memory.mb(),
            tmp_mb: function.config.ephemeral_storage.mb(),
            cpu_nanos: function.cpu_share.then(|| {
                lamina_runtime_api::limits::cpu_nanos_for_memory(function.config.memory.mb())
            }),
        };
        let started = sandbox.start(&spec).await?;
        // Serve only once the sandbox has said who the runtime is: a runtime that connects
        // earlier waits in the listen backlog, and any other peer is turned away.
        let apis = Arc::new(EnvironmentApis::new(
            rt.clone(),
            Extensions::new(FunctionInfo {
                function_name: function.name.to_string(),
                function_version: "$LATEST".into(),
                handler: started.handler.clone().unwrap_or_default(),
                account_id: function.account_id.clone(),
                shutdown_only: concurrent,
            }),
        ));
        let served = apis.clone();
        let server = Arc::new(AbortOnDrop(tokio::spawn(accept_loop(
            api.listener,
            move |req| env_api::handle(served.clone(), req),
            std::future::pending(),
            Duration::ZERO,
            started.peer,
            crate::http_util::ConnectionLimits::RUNTIME,
        ))));
        // The environment's log also feeds its Telemetry API subscribers.
        let sink = {
            let apis = apis.clone();
            LogSink::new(move |event| {
                apis.telemetry.observe(&event);
                sink.emit(event);
            })
        };
        let pump = logs::spawn_pump(
            function.name.as_str().into(),
            sink,
            started.output,
            sandbox.output_settle(),
            logs::LogStyle::of(&execution),
            concurrent,
        );
        apis.set_pump(&pump);
        // Sent before the pump first runs, so it precedes any output of the runtime.
        let _ = pump.send(match reinit_for {
            Some(id) => PumpMsg::Start {
                request_id: id.to_owned(),
                tenant_id: tenant.map(str::to_owned),
            },
            None => PumpMsg::Platform {
                event: PlatformEvent::InitStart(InitStart {
                    initialization_type: init_type(&execution),
                    ..InitStart::new(
                        function.name.as_str(),
                        function.runtime.map(|r| r.name()),
                        &function.region,
                        function.image.as_deref().unwrap_or(function.name.as_str()),
                        InitPhase::Init,
                    )
                }),
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
            apis,
            next_tx,
            handle: started.handle,
            pump,
            dead,
            busy: std::sync::atomic::AtomicUsize::new(0),
            slots,
            tenant: tenant.map(str::to_owned),
            concurrent,
            retiring: AtomicBool::new(false),
            started_at: started.started_at,
            phase: if reinit_for.is_some() {
                InitPhase::Invoke
            } else {
                InitPhase::Init
            },
            init_duration: Mutex::new(None),
            restore_duration: Mutex::new(None),
            gate: Mutex::new(None),
            server,
            _socket_dir: api.dir,
        })
    }

    /// The version of the function this environment runs.
    pub(crate) fn function(&self) -> &Arc<FunctionConfig> {
        &self.function
    }

    /// Take one of the environment's invoke slots; `false` when all are taken.
    pub(crate) fn take_slot(&self) -> bool {
        self.busy
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.slots).then_some(n + 1)
            })
            .is_ok()
    }

    /// The tenant this environment serves, if its function isolates tenants.
    pub(crate) fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// Whether an invoke is under way.
    pub(crate) fn is_busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst) > 0
    }

    /// Whether a slot is free.
    pub(crate) fn has_free_slot(&self) -> bool {
        self.busy.load(Ordering::SeqCst) < self.slots
    }

    /// Give a slot back; `true` when every slot had been taken (the pool then lists the
    /// environment as having room again).
    pub(crate) fn release_slot(&self) -> bool {
        self.busy.fetch_sub(1, Ordering::SeqCst) == self.slots
    }

    /// How long its init may take: Lambda's 10 s, or under Managed Instances the larger of
    /// 130 s and the function's timeout (runtime-api.md §1.9, "Init complete").
    pub(crate) fn init_limit(&self) -> Duration {
        let classic = Duration::from_millis(lamina_runtime_api::limits::INIT_TIMEOUT_MS);
        if self.concurrent {
            MANAGED_INIT_LIMIT.max(self.function.config.timeout.duration())
        } else {
            classic
        }
    }

    /// How the platform says this environment was initialised.
    pub(super) fn init_type(&self) -> InitType {
        init_type(&self.function.config.execution)
    }

    pub(crate) fn is_alive(&self) -> bool {
        !self.dead.load(Ordering::SeqCst) && self.rt.exit_status().is_none()
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

    /// End the environment as the cloud's shutdown does (`SHUTDOWN` with `SPINDOWN` to
    /// extensions, SIGTERM to the runtime, SIGKILL after `grace` or the extensions' budget),
    /// its Runtime API still up meanwhile, so the runtime's pending `/next` never fails.
    pub(crate) async fn stop(&self, grace: Duration) {
        self.ending().run(ShutdownReason::Spindown, grace).await;
    }

    /// What ending this environment takes, owned.
    fn ending(&self) -> shutdown::Ending {
        shutdown::Ending {
            apis: self.apis.clone(),
            handle: self.handle.clone(),
            dead: self.dead.clone(),
            _server: self.server.clone(),
            _pump: self.pump.clone(),
        }
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

fn init_type(execution: &lamina_runtime_api::function::Execution) -> InitType {
    if execution.max_concurrency.is_some() {
        InitType::ManagedInstances
    } else if execution.snapstart {
        InitType::SnapStart
    } else {
        InitType::OnDemand
    }
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(super) fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
