//! The environments of one function: use a free invoke slot of a running one (each
//! environment has one, or the function's `max_concurrency` under Managed Instances), start
//! a new one while under the function's concurrency, otherwise wait in a bounded queue; a
//! full queue is answered with `TooManyRequestsException` (429). A Managed-Instances
//! function has no queue: with every slot busy the invoke is refused at once.
//!
//! Two semaphores carry the rules: `admission` (slots + queue length) is taken without
//! waiting when the invoke arrives — failing means 429 — and `running` (slots: concurrency ×
//! slots per environment) is awaited before a slot is taken, so at most `concurrency`
//! environments exist.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use lamina_runtime_api::body::ServiceError;
use lamina_runtime_api::platform::InitPhase;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::FunctionConfig;
use crate::environment::Environment;
use crate::invoke::{Answer, InvokeRequest, Reply};
use crate::logs::LogSink;
use crate::sandbox::Sandbox;
use crate::sync::lock;

pub(crate) struct Pool {
    /// The function's current version; environments keep the version they started with.
    function: Mutex<Arc<FunctionConfig>>,
    sandbox: Arc<dyn Sandbox>,
    sink: LogSink,
    admission: Arc<Semaphore>,
    running: Arc<Semaphore>,
    /// Environments with a free invoke slot.
    idle: Mutex<Vec<Arc<Environment>>>,
    /// Held while an environment whose slots are shared (Managed Instances) starts: the
    /// invokes that arrive meanwhile take its other slots instead of starting their own.
    starting: tokio::sync::Mutex<()>,
    live: Mutex<Vec<Weak<Environment>>>,
    numbers: AtomicU64,
    closed: AtomicBool,
}

/// The runtime's shutdown budget: SIGTERM, then SIGKILL after this (the cloud gives the
/// runtime up to 300 ms; runtime-api.md, lifecycle table, Shutdown).
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_millis(300);

/// How long a retiring environment lives on after its invoke, for its last output.
const RETIRE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// A place in a function's queue, taken when an invoke is accepted.
pub(crate) struct Admission(#[allow(dead_code)] OwnedSemaphorePermit);

impl Pool {
    pub(crate) fn new(function: FunctionConfig, sandbox: Arc<dyn Sandbox>, sink: LogSink) -> Self {
        let execution = function.config.execution;
        let slots = function
            .config
            .concurrency
            .get()
            .saturating_mul(execution.slots());
        // A Managed-Instances function queues nothing: with every slot of every environment
        // busy, a new invoke is refused at once ("backpressure", seen as throttling, 429;
        // runtime-api.md §1.9).
        let queued = if execution.max_concurrency.is_some() {
            0
        } else {
            function.max_queued
        };
        Self {
            admission: Arc::new(Semaphore::new(slots.saturating_add(queued))),
            running: Arc::new(Semaphore::new(slots)),
            starting: tokio::sync::Mutex::new(()),
            function: Mutex::new(Arc::new(function)),
            sandbox,
            sink,
            idle: Mutex::new(Vec::new()),
            live: Mutex::new(Vec::new()),
            numbers: AtomicU64::new(1),
            closed: AtomicBool::new(false),
        }
    }

    pub(crate) fn function(&self) -> Arc<FunctionConfig> {
        lock(&self.function).clone()
    }

    /// Switch to a new version of the function, gracefully: an environment of it is started
    /// first, and only once its init succeeds does it serve the next invoke; idle
    /// environments of the old version stop, busy ones finish their invoke and then stop.
    /// An init that fails leaves the old version serving; its `INIT_REPORT` and output are
    /// in the log, and the error says why.
    pub(crate) async fn update(&self, new: FunctionConfig) -> Result<(), String> {
        let new = Arc::new(new);
        let env = self
            .launch_version(new.clone(), None, None)
            .await
            .map_err(|_| format!("cannot start an environment for `{}`", new.name))?;
        if let Err((failure, init)) = env.wait_init(env.init_limit()).await {
            env.report_init(InitPhase::Init, &failure, init).await;
            return Err(failure.describe());
        }
        *lock(&self.function) = new;
        let old: Vec<_> = lock(&self.idle).drain(..).collect();
        lock(&self.idle).push(env);
        for env in old {
            tokio::spawn(async move { env.stop(SHUTDOWN_GRACE).await });
        }
        Ok(())
    }

    /// Take a place in the queue, or say why not (429 when full).
    pub(crate) fn admit(&self) -> Result<Admission, ServiceError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(ServiceError::service("the emulator is shutting down"));
        }
        self.admission
            .clone()
            .try_acquire_owned()
            .map(Admission)
            .map_err(|_| ServiceError::too_many_requests())
    }

    /// Run an admitted invoke to its answer. A streamed answer keeps its environment (and
    /// its place in the concurrency) busy until the stream is over.
    pub(crate) async fn invoke(
        self: &Arc<Self>,
        admission: Admission,
        req: InvokeRequest,
    ) -> Reply {
        let Ok(running) = self.running.clone().acquire_owned().await else {
            return service("the emulator is shutting down".into());
        };
        let (env, reply) = match self.slot_or_start(&req).await {
            Ok(Slot::Taken(env)) => {
                let reply = env.invoke(req).await;
                (env, reply)
            }
            Ok(Slot::Started(ColdStart::Ready(env))) => {
                let reply = env.invoke(req).await;
                (env, reply)
            }
            Ok(Slot::Started(ColdStart::Reinitialised(env, started))) => {
                let reply = env.invoke_after_reinit(req, started).await;
                (env, reply)
            }
            Err(reply) => return reply,
        };
        match reply.settled {
            None => self.release(env),
            Some(settled) => {
                let pool = self.clone();
                tokio::spawn(async move {
                    let _ = settled.await;
                    pool.release(env);
                    drop((admission, running));
                });
                return Reply {
                    settled: None,
                    ..reply
                };
            }
        }
        reply
    }

    /// A slot of a running environment, or a fresh environment whose first slot is this
    /// invoke's. Environments with several slots start one at a time, and an invoke that
    /// waited for one to start takes a slot of it; one-slot environments start in parallel
    /// (the `running` permit already bounds how many exist).
    async fn slot_or_start(&self, req: &InvokeRequest) -> Result<Slot, Reply> {
        let tenant = req.tenant_id.as_deref();
        if let Some(env) = self.take_slot(tenant) {
            return Ok(Slot::Taken(env));
        }
        let shared = self.function().config.execution.slots() > 1;
        let _starting = if shared {
            let guard = self.starting.lock().await;
            if let Some(env) = self.take_slot(tenant) {
                return Ok(Slot::Taken(env));
            }
            Some(guard)
        } else {
            None
        };
        if tenant.is_some() {
            self.make_room_for_a_tenant().await;
        }
        let started = self.cold_start(req).await?;
        let env = match &started {
            ColdStart::Ready(env) | ColdStart::Reinitialised(env, _) => env,
        };
        env.take_slot();
        if env.has_free_slot() {
            lock(&self.idle).push(env.clone());
        }
        Ok(Slot::Started(started))
    }

    /// Give `env`'s slot back after an invoke: to the idle list, or to its end.
    fn release(&self, env: Arc<Environment>) {
        let was_full = env.release_slot();
        if env.is_retiring() {
            tokio::spawn(async move {
                tokio::time::sleep(RETIRE_GRACE).await;
                env.kill().await;
            });
        } else if !Arc::ptr_eq(env.function(), &self.function()) {
            // A new version arrived meanwhile: this one stops after its invoke.
            tokio::spawn(async move { env.stop(SHUTDOWN_GRACE).await });
        } else if was_full && env.is_alive() && !self.closed.load(Ordering::SeqCst) {
            lock(&self.idle).push(env);
        }
    }

    /// A slot of a running environment of `tenant` (environments of a tenant-isolated
    /// function serve their own tenant only; others have none): one that stays listed while
    /// it has another free.
    fn take_slot(&self, tenant: Option<&str>) -> Option<Arc<Environment>> {
        let mut idle = lock(&self.idle);
        idle.retain(|env| env.is_alive());
        let at = idle
            .iter()
            .rposition(|env| env.tenant() == tenant && env.take_slot())?;
        let env = if idle[at].has_free_slot() {
            idle[at].clone()
        } else {
            idle.remove(at)
        };
        Some(env)
    }

    /// Before an environment starts for a new tenant: when the function already has as many
    /// environments as tenant isolation allows, the one idle longest stops. The cloud keeps
    /// at most 2,500 tenant environments per 1,000 of concurrency (docs, "Troubleshooting
    /// tenant isolation"); the same ratio bounds the containers on a laptop.
    async fn make_room_for_a_tenant(&self) {
        let concurrency = self.function().config.concurrency.get();
        let cap = concurrency.saturating_mul(5).div_ceil(2);
        let live = {
            let mut live = lock(&self.live);
            live.retain(|w| w.upgrade().is_some_and(|e| e.is_alive()));
            live.len()
        };
        if live < cap {
            return;
        }
        let oldest = {
            let mut idle = lock(&self.idle);
            (!idle.is_empty() && !idle[0].is_busy()).then(|| idle.remove(0))
        };
        if let Some(env) = oldest {
            env.stop(SHUTDOWN_GRACE).await;
        }
    }

    /// Start an environment for `req`. An init that fails (error, exit, or past the 10 s
    /// limit) is reported with `INIT_REPORT … Phase: init` and re-run once inside the invoke,
    /// within the function's timeout — the cloud's "suppressed init" (Lambda's lifecycle
    /// docs, "Failures during the init phase"); only if that fails too does the invoke fail.
    async fn cold_start(&self, req: &InvokeRequest) -> Result<ColdStart, Reply> {
        let env = self.launch(None, req.tenant_id.as_deref()).await?;
        let (failure, init) = match env.wait_init(env.init_limit()).await {
            Ok(()) => return Ok(ColdStart::Ready(env)),
            Err(failed) => failed,
        };
        env.report_init(InitPhase::Init, &failure, init).await;
        drop(env);
        let started = Instant::now();
        let env = self
            .launch(Some(&req.request_id), req.tenant_id.as_deref())
            .await?;
        match env
            .wait_init(env.function().config.timeout.duration())
            .await
        {
            Ok(()) => Ok(ColdStart::Reinitialised(env, started)),
            Err((failure, init)) => {
                env.report_init(InitPhase::Invoke, &failure, init).await;
                Err(env.reinit_failed(req, failure, started))
            }
        }
    }

    async fn launch(
        &self,
        reinit_for: Option<&str>,
        tenant: Option<&str>,
    ) -> Result<Arc<Environment>, Reply> {
        self.launch_version(self.function(), reinit_for, tenant)
            .await
    }

    async fn launch_version(
        &self,
        function: Arc<FunctionConfig>,
        reinit_for: Option<&str>,
        tenant: Option<&str>,
    ) -> Result<Arc<Environment>, Reply> {
        let number = self.numbers.fetch_add(1, Ordering::Relaxed);
        let name = function.name.clone();
        let env = Environment::launch(
            function,
            self.sandbox.as_ref(),
            self.sink.clone(),
            number,
            reinit_for,
            tenant,
        )
        .await
        .map_err(|e| {
            tracing::error!("function `{name}`: {e}");
            service(format!("cannot start an environment for `{name}`: {e}"))
        })?;
        let env = Arc::new(env);
        {
            let mut live = lock(&self.live);
            live.retain(|w| w.strong_count() > 0);
            live.push(Arc::downgrade(&env));
        }
        if self.closed.load(Ordering::SeqCst) {
            env.kill().await;
        }
        Ok(env)
    }

    /// Refuse new invokes and kill every environment (in-flight invokes get the cloud's
    /// runtime-exit answer).
    pub(crate) async fn shutdown(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.admission.close();
        self.running.close();
        // Keep the idle environments (and their Runtime APIs) alive until their runtimes have
        // stopped: dropping one first would fail the runtime's pending `/next`.
        let idle: Vec<_> = lock(&self.idle).drain(..).collect();
        let live: Vec<_> = lock(&self.live)
            .drain(..)
            .filter_map(|w| w.upgrade())
            .collect();
        futures_util::future::join_all(live.iter().map(|env| env.stop(SHUTDOWN_GRACE))).await;
        drop(idle);
    }
}

/// Where an invoke runs.
enum Slot {
    /// A free slot of a running environment.
    Taken(Arc<Environment>),
    /// The first slot of an environment started for it.
    Started(ColdStart),
}

/// A started environment, ready for its first invoke.
enum ColdStart {
    /// Init succeeded.
    Ready(Arc<Environment>),
    /// The re-init inside the invoke (its `START` printed at the instant) succeeded.
    Reinitialised(Arc<Environment>, Instant),
}

fn service(message: String) -> Reply {
    Reply::now(Answer::Service(ServiceError::service(message)))
}
