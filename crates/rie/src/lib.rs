//! lamina's Lambda emulator core: the Invoke API, one Runtime API per environment, the
//! environment pool and the platform's log lines, with the cloud's bodies and codes
//! (`shared/reference/runtime-api.md`, cited as `§n`).
//!
//! The core does not know Docker: environments run in a [`Sandbox`] — [`ProcessSandbox`]
//! (local processes) or the engine's, `lamina_docker::DockerSandbox`.
//!
//! ```no_run
//! # async fn run() -> lamina_rie::Result<()> {
//! use std::sync::Arc;
//! use lamina_rie::{Emulator, FunctionConfig, LogSink, ProcessSandbox};
//! let bound = Emulator::bind("127.0.0.1:9000".parse().unwrap()).await?;
//! let mut f = FunctionConfig::new("hello".parse().expect("a valid name"));
//! f.command = Some(vec!["./bootstrap".into()]);
//! let sandbox = Arc::new(ProcessSandbox::default());
//! bound.serve(vec![f], sandbox, LogSink::stdout(), async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
#![warn(missing_docs, rust_2018_idioms)]

pub mod config;
mod env_api;
mod environment;
pub mod error;
pub mod events;
mod extensions;
mod http_front;
mod http_util;
mod invoke;
mod invoke_api;
mod listener;
pub mod logs;
mod pgroup;
mod pool;
pub mod process;
pub mod procfs;
mod runtime_api;
pub mod sandbox;
mod sync;
mod telemetry;

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

pub use config::FunctionConfig;
pub use error::{Error, Result};
pub use http_util::ConnectionLimits;
pub use logs::{LogEvent, LogSink};
pub use process::ProcessSandbox;
pub use sandbox::{EnvSpec, ExitStatus, Sandbox, SandboxHandle, Started};

/// How long open invoke connections may take to finish after shutdown was asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Entry point: bind the Invoke API first (so a port in use is reported before any container
/// starts), then serve.
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// Listen on `addr` for the Invoke API (lamina's default is `127.0.0.1:9000`; binding
    /// elsewhere exposes the functions to the network).
    pub async fn bind(addr: SocketAddr) -> Result<BoundEmulator> {
        let (listener, local) = listen(addr).await?;
        Ok(BoundEmulator {
            listener,
            local,
            http: None,
            updates: None,
            events_dir: None,
            limits: ConnectionLimits::CLIENTS,
            ready: None,
        })
    }
}

/// A task aborted when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Listen on `addr`, naming a port in use.
async fn listen(addr: SocketAddr) -> Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await.map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            Error::PortInUse {
                ip: addr.ip(),
                port: addr.port(),
            }
        } else {
            Error::Bind { addr, source }
        }
    })?;
    let local = listener
        .local_addr()
        .map_err(|source| Error::Bind { addr, source })?;
    Ok((listener, local))
}

/// Called once the emulator serves.
type Ready = Box<dyn FnOnce() + Send>;

/// An emulator whose Invoke API port is open but not yet served.
pub struct BoundEmulator {
    listener: TcpListener,
    local: SocketAddr,
    http: Option<(TcpListener, SocketAddr)>,
    updates: Option<tokio::sync::mpsc::UnboundedReceiver<UpdateRequest>>,
    events_dir: Option<std::path::PathBuf>,
    limits: ConnectionLimits,
    ready: Option<Ready>,
}

impl std::fmt::Debug for BoundEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundEmulator")
            .field("local", &self.local)
            .field("http", &self.http_addr())
            .field("events_dir", &self.events_dir)
            .finish()
    }
}

type UpdateRequest = (FunctionConfig, tokio::sync::oneshot::Sender<Result<()>>);

/// Hands new versions of served functions to a running emulator (`lamina rie --watch`).
#[derive(Debug, Clone)]
pub struct Updater(tokio::sync::mpsc::UnboundedSender<UpdateRequest>);

impl Updater {
    /// Switch function `f.name` to `f` once an environment of it has initialised; until then,
    /// and if its init fails, the old version keeps serving. Its routes and concurrency stay
    /// as they were when serving began.
    pub async fn update(&self, f: FunctionConfig) -> Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let name = f.name.to_string();
        self.0.send((f, tx)).map_err(|_| Error::UpdateRefused {
            function: name.clone(),
            reason: "the emulator has stopped".into(),
        })?;
        rx.await.unwrap_or_else(|_| {
            Err(Error::UpdateRefused {
                function: name,
                reason: "the emulator has stopped".into(),
            })
        })
    }
}

impl BoundEmulator {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Also serve the HTTP front (API Gateway / function URL events, §8) on `addr`.
    pub async fn with_http(mut self, addr: SocketAddr) -> Result<Self> {
        self.http = Some(listen(addr).await?);
        Ok(self)
    }

    /// Keep `Event` invokes in `dir` (a folder per function), so that those accepted and not
    /// finished are delivered after a restart. Without it they live in a private temporary
    /// folder, removed when serving ends.
    pub fn with_event_queue(mut self, dir: std::path::PathBuf) -> Self {
        self.events_dir = Some(dir);
        self
    }

    /// Limits for the invoke API's and the HTTP front's clients (default
    /// [`ConnectionLimits::CLIENTS`]).
    pub fn with_connection_limits(mut self, limits: ConnectionLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Call `ready` once serving has begun: every queue and destination is usable and the
    /// servers are about to accept (what "serving" may be said after).
    pub fn on_ready(mut self, ready: impl FnOnce() + Send + 'static) -> Self {
        self.ready = Some(Box::new(ready));
        self
    }

    /// A handle to give the running emulator new versions of its functions.
    pub fn updater(&mut self) -> Updater {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.updates = Some(rx);
        Updater(tx)
    }

    /// The HTTP front's address, when it is served.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(|(_, a)| *a)
    }

    /// Serve `functions` until `shutdown` resolves; then stop accepting, kill every
    /// environment, let open invokes answer, and remove what the sandbox created.
    ///
    /// Fails before serving if a function's configuration is invalid or the sandbox cannot run
    /// it (e.g. its image is missing). Whatever happens, the sandbox is shut down on return.
    pub async fn serve(
        self,
        functions: Vec<FunctionConfig>,
        sandbox: Arc<dyn Sandbox>,
        log_sink: LogSink,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        let served = self
            .serve_inner(functions, sandbox.clone(), log_sink, shutdown)
            .await;
        let cleaned = sandbox.shutdown().await;
        served.and(cleaned)
    }

    async fn serve_inner(
        self,
        functions: Vec<FunctionConfig>,
        sandbox: Arc<dyn Sandbox>,
        log_sink: LogSink,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        if functions.is_empty() {
            return Err(Error::NoFunctions);
        }
        let mut names = HashSet::new();
        for f in &functions {
            if !names.insert(f.name.clone()) {
                return Err(Error::DuplicateFunction(f.name.to_string()));
            }
            sandbox.prepare(f).await?;
        }
        let pools = functions
            .into_iter()
            .map(|f| Arc::new(pool::Pool::new(f, sandbox.clone(), log_sink.clone())))
            .collect();
        let (events_root, temporary) = match &self.events_dir {
            Some(d) => (d.clone(), false),
            None => (
                std::env::temp_dir().join(format!(
                    "lamina-events-{}-{}",
                    std::process::id(),
                    uuid::Uuid::new_v4().simple()
                )),
                true,
            ),
        };
        let mut queues = Vec::new();
        for pool in &pools {
            queues.push(events::EventQueue::open(&events_root, Arc::clone(pool))?);
        }
        let deliveries: Vec<_> = queues
            .iter()
            .map(|q| AbortOnDrop(tokio::spawn(q.clone().run())))
            .collect();
        let router = Arc::new(invoke_api::Router::new(pools, queues));
        let front = match &self.http {
            Some(_) => Some(Arc::new(http_front::Front::new(router.pools())?)),
            None => None,
        };
        // Both servers stop once every environment is down.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let stop = {
            let router = router.clone();
            async move {
                shutdown.await;
                for pool in router.pools() {
                    pool.shutdown().await;
                }
                let _ = stop_tx.send(true);
            }
        };
        if let Some(ready) = self.ready {
            ready();
        }
        let served = router.clone();
        let invoke = http_util::accept_loop(
            self.listener,
            move |req| invoke_api::handle(served.clone(), req),
            stopped(stop_rx.clone()),
            SHUTDOWN_GRACE,
            None,
            self.limits,
        );
        let http = async {
            if let (Some((listener, _)), Some(front)) = (self.http, front) {
                http_util::accept_loop(
                    listener,
                    move |req| http_front::handle(front.clone(), req),
                    stopped(stop_rx.clone()),
                    SHUTDOWN_GRACE,
                    None,
                    self.limits,
                )
                .await;
            }
        };
        let updates = async {
            let Some(mut rx) = self.updates else {
                return;
            };
            while let Some((f, reply)) = rx.recv().await {
                let name = f.name.to_string();
                let result = match router.pools().find(|p| p.function().name == f.name) {
                    None => Err(Error::UpdateRefused {
                        function: name,
                        reason: "no function of that name is served".into(),
                    }),
                    Some(pool) => match sandbox.prepare(&f).await {
                        Err(e) => Err(e),
                        Ok(()) => pool.update(f).await.map_err(|reason| Error::UpdateRefused {
                            function: name,
                            reason,
                        }),
                    },
                };
                let _ = reply.send(result);
            }
        };
        // The update loop ends with the servers; it never holds them up.
        tokio::select! {
            _ = async { tokio::join!(stop, invoke, http) } => {}
            () = async { updates.await; std::future::pending::<()>().await } => {}
        }
        drop(deliveries);
        if temporary {
            let _ = std::fs::remove_dir_all(&events_root);
        }
        Ok(())
    }
}
