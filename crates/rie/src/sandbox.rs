//! The seam between the emulator core and whatever runs a runtime: a [`Sandbox`] starts one
//! environment's process (a container, a local process) and hands back a [`SandboxHandle`]
//! and its output.
//!
//! The core never knows Docker; it only asks a sandbox how its runtimes reach the Runtime
//! API ([`Sandbox::runtime_api_reach`]: a host address, or a Unix socket the sandbox brings
//! into the environment), and what became of a runtime it started ([`SandboxHandle::wait`]).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use lamina_runtime_api::body::ExitReason;
use tokio::sync::watch;

use crate::config::FunctionConfig;
use crate::error::Result;

/// How long a runtime's output must have been silent before an invoke's `END` is printed,
/// unless the sandbox says otherwise ([`Sandbox::output_settle`]).
pub const DEFAULT_OUTPUT_SETTLE: std::time::Duration = std::time::Duration::from_millis(2);

/// What a sandbox needs to start one environment.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvSpec {
    /// Function name.
    pub function: String,
    /// A number unique among this function's environments (for names of containers).
    pub env_number: u64,
    /// Image reference, for sandboxes that run images.
    pub image: Option<String>,
    /// Command override (container CMD, or program + arguments).
    pub command: Option<Vec<String>>,
    /// The whole environment: the platform's variables (incl. `AWS_LAMBDA_RUNTIME_API`) and the user's.
    pub env: Vec<(String, String)>,
    /// The environment's Runtime API socket, when the sandbox asked for one
    /// ([`RuntimeApiReach::Socket`]): the sandbox makes it reachable inside the environment.
    pub runtime_api_socket: Option<PathBuf>,
    /// Memory limit in MB.
    pub memory_mb: u64,
    /// Size of the writable `/tmp` in MB (the function's ephemeral storage).
    pub tmp_mb: u64,
    /// CPU limit in billionths of a CPU, when the function's CPU is capped as Lambda caps it.
    pub cpu_nanos: Option<u64>,
}

/// How a runtime's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exited with this code.
    Code(i64),
    /// Killed by this signal.
    Signal(i32),
    /// Killed by the kernel for exceeding its memory limit.
    OomKilled,
}

impl ExitStatus {
    /// The cloud's wording of this exit (`exit status 42`, `signal: killed`).
    pub fn reason(&self) -> ExitReason {
        match *self {
            Self::Code(c) => ExitReason::Code(c),
            Self::Signal(s) => ExitReason::Signal(s),
            Self::OomKilled => ExitReason::Signal(9),
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OomKilled => f.write_str("killed for exceeding its memory limit"),
            other => write!(f, "{}", other.reason()),
        }
    }
}

/// Which of the runtime's streams a piece of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// The runtime's stdout and stderr, merged in arrival order, each piece tagged with its
/// stream (lines are assembled per stream: a line half-written to one is never glued to the
/// other's).
pub type OutputStream = BoxStream<'static, (Stream, Bytes)>;

/// A started environment.
pub struct Started {
    /// Control of the running runtime.
    pub handle: Arc<dyn SandboxHandle>,
    /// Its output.
    pub output: OutputStream,
    /// When the runtime's process was started: the origin of Init Duration.
    pub started_at: Instant,
    /// The only address the environment's Runtime API listener accepts connections from
    /// (Docker: the container's address on the private network), so a listener serves its own
    /// environment and no other; `None` accepts any peer that can reach the bind address.
    pub peer: Option<IpAddr>,
    /// The function's handler as the runtime was started with it (an image's `CMD[0]`), when
    /// the sandbox knows it: what the Extensions API's `register` answers with.
    pub handler: Option<String>,
}

/// How the runtimes a sandbox starts reach their environment's Runtime API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeApiReach {
    /// A TCP listener on this host address, any port, which the runtime connects to
    /// (Docker's bridge gateway; loopback for local processes).
    Address(IpAddr),
    /// A Unix socket on this host ([`EnvSpec::runtime_api_socket`]) that the sandbox brings
    /// into the environment and serves there at `inside` (`AWS_LAMBDA_RUNTIME_API`): for an
    /// engine whose containers no host address reaches (rootless engines).
    Socket {
        /// The address the runtime connects to inside its environment.
        inside: SocketAddr,
    },
}

/// Something that runs environments: Docker containers, local processes.
pub trait Sandbox: Send + Sync {
    /// How runtimes started by this sandbox, and only they, reach their Runtime API.
    fn runtime_api_reach(&self) -> RuntimeApiReach;

    /// Check that a function can be started (e.g. that its image exists), before serving.
    fn prepare<'a>(&'a self, function: &'a FunctionConfig) -> BoxFuture<'a, Result<()>> {
        let _ = function;
        Box::pin(async { Ok(()) })
    }

    /// How long a runtime's output must be quiet before an invoke's `END` is printed: the
    /// time output may still be in flight from the runtime to us. The next event to the same
    /// environment waits this long; the invoker's answer never does.
    fn output_settle(&self) -> std::time::Duration {
        DEFAULT_OUTPUT_SETTLE
    }

    /// Start one environment's runtime.
    fn start<'a>(&'a self, spec: &'a EnvSpec) -> BoxFuture<'a, Result<Started>>;

    /// Remove everything this sandbox created (containers, networks). Idempotent.
    fn shutdown(&self) -> BoxFuture<'_, Result<()>>;
}

/// Control of one running runtime.
pub trait SandboxHandle: Send + Sync {
    /// A short name for logs (container name, process id).
    fn id(&self) -> &str;

    /// Resolve when the runtime has ended; any number of callers may wait.
    fn wait(&self) -> BoxFuture<'_, ExitStatus>;

    /// Kill the runtime (SIGKILL). Idempotent; returns once the kill was requested.
    fn kill(&self) -> BoxFuture<'_, ()>;

    /// Stop the runtime as the cloud's shutdown phase does: SIGTERM, then SIGKILL once
    /// `grace` has passed (runtime-api.md, lifecycle table, Shutdown). Returns once it has ended. Sandboxes that
    /// cannot signal gently kill at once.
    fn terminate(&self, grace: std::time::Duration) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = grace;
            self.kill().await;
            self.wait().await;
        })
    }

    /// Peak memory used so far, in bytes, if the sandbox can measure it.
    fn max_memory_used_bytes(&self) -> BoxFuture<'_, Option<u64>>;
}

/// A one-shot, many-reader cell for an exit status, shared by the sandbox implementations.
#[derive(Debug, Clone)]
pub struct ExitCell {
    tx: Arc<watch::Sender<Option<ExitStatus>>>,
}

impl ExitCell {
    /// An empty cell.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self {
            tx: Arc::new(watch::channel(None).0),
        }
    }

    /// Set the status, once; later sets are ignored.
    pub fn set(&self, status: ExitStatus) {
        self.tx.send_if_modified(|v| {
            if v.is_none() {
                *v = Some(status);
                true
            } else {
                false
            }
        });
    }

    /// The status, if set.
    pub fn get(&self) -> Option<ExitStatus> {
        *self.tx.borrow()
    }

    /// Wait until the status is set.
    pub async fn wait(&self) -> ExitStatus {
        let mut rx = self.tx.subscribe();
        loop {
            if let Some(s) = *rx.borrow_and_update() {
                return s;
            }
            if rx.changed().await.is_err() {
                // Unreachable while `self` holds the sender; treat as killed.
                return ExitStatus::Signal(9);
            }
        }
    }
}
