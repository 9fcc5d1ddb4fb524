//! [`DockerSandbox`]: one container per environment on a bridge network (which one:
//! [`super::network`]), locked down as design.md's security bullet asks (non-root user,
//! read-only root, writable `/tmp`, no capabilities, no privilege gain, the function's memory
//! limit). Sessions stay apart where it matters: each environment's Runtime API accepts only
//! its own container's address.
//!
//! Given the host's static `lamina-ric` ([`DockerSandbox::with_init`]), every container runs
//! it as its init in front of the image's own entrypoint, as Lambda's init runs in every
//! execution environment (`lamina_runtime_api::init` says why). On a rootless engine no host
//! address reaches a container (its network namespace is the engine's own, slirp4netns or
//! pasta), so there each environment's Runtime API is a Unix socket instead, bind-mounted
//! into the container, and the init relays `127.0.0.1:9001` inside to it. Rootful engines
//! keep the bridge: the relay's extra hop would cost every invoke, and a bridge address with
//! a peer check already keeps environments apart there.
//!
//! Every container carries the label `dev.lamina.rie=<session>` (plus the owning process id
//! and host), so [`DockerSandbox::cleanup_stale`] can remove what a crashed session left
//! behind (and the per-session networks older versions made).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, HostConfigLogConfig, Mount, MountType,
    NetworkingConfig, ResourcesUlimits,
};
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, KillContainerOptions, ListContainersOptions,
    ListNetworksOptions, StatsOptions,
};
use bollard::Docker;
use futures_util::future::BoxFuture;
use futures_util::StreamExt;

use crate::cgroup::CgroupPeak;
use crate::connect::{failed, is_not_found, Engine};
use crate::containers::{
    own_hard_limit, remove, ulimit, LABEL_FUNCTION, LABEL_HOST, LABEL_PID, LABEL_SESSION,
};
use crate::network::{join, Joined};
use crate::DockerError;
use lamina_rie::config::FunctionConfig;
use lamina_rie::error::Result;
use lamina_rie::sandbox::{
    EnvSpec, ExitCell, ExitStatus, RuntimeApiReach, Sandbox, SandboxHandle, Started, Stream,
};
use lamina_runtime_api::init;

/// The unprivileged `uid:gid` runtimes run as.
pub const RUNTIME_USER: &str = "993:990";
/// Options of the writable `/tmp`, sized by the function's ephemeral storage.
/// `/tmp` as Lambda has it: writable, sized by the ephemeral storage, and executable (Lambda
/// runs binaries from /tmp; Docker mounts a tmpfs `noexec` unless `exec` is given).
fn tmp_options(mb: u64) -> String {
    format!("rw,exec,nosuid,nodev,size={mb}m,mode=1777")
}

/// Lambda's quotas inside the execution environment (Lambda developer guide, "Lambda
/// quotas", function configuration table), as Docker's signed numbers.
const LAMBDA_FD_LIMIT: i64 = lamina_runtime_api::limits::MAX_OPEN_FILES as i64;
const LAMBDA_PID_LIMIT: i64 = lamina_runtime_api::limits::MAX_PROCESSES as i64;

/// The container's rlimits: Lambda's open-file quota and, under Podman, a process limit.
///
/// Podman, unlike Docker, raises the rlimits a container does not set to its own defaults
/// (`nofile` 1048576, `nproc` 4194304, containers.conf), and where the engine's root may not
/// raise a limit past its own hard one (no `CAP_SYS_RESOURCE`, as in many CI sandboxes) runc
/// then refuses to start the container ("error setting rlimit type 6: operation not
/// permitted"). So both are given: `nproc` as Lambda's 1,024 processes for each of up to 16
/// environments sharing the runtime user (the kernel counts it per user, not per container;
/// the per-environment quota itself is the pids limit), and never above this process's own.
pub(crate) fn ulimits(podman: bool) -> Vec<ResourcesUlimits> {
    let mut out = vec![ulimit("nofile", LAMBDA_FD_LIMIT)];
    if podman {
        let nproc = own_hard_limit(libc::RLIMIT_NPROC).min(LAMBDA_PID_LIMIT * 16);
        out.push(ulimit("nproc", nproc));
    }
    out
}

/// How long output must be quiet before `END` under Podman ([`Sandbox::output_settle`]).
const PODMAN_OUTPUT_SETTLE: Duration = Duration::from_millis(25);

/// Runs environments as Docker containers.
pub struct DockerSandbox {
    docker: Docker,
    session: String,
    /// `None`: the engine's own default (a rootless engine's private namespace).
    network: Option<Joined>,
    engine: Engine,
    /// The host's static `lamina-ric`, every container's init ([`DockerSandbox::with_init`]).
    init: Option<PathBuf>,
    /// Each image's entrypoint and command, which the init runs (read at `prepare`).
    commands: std::sync::Mutex<HashMap<String, ImageCommand>>,
    /// Whether the engine can give containers cgroup limits (not rootless on cgroup v1).
    limited: bool,
}

/// A container's command and mounts under lamina's init ([`DockerSandbox::under_init`]).
struct UnderInit {
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    mounts: Vec<Mount>,
}

/// An image's own `Entrypoint` and `Cmd`.
#[derive(Debug, Clone, Default)]
struct ImageCommand {
    entrypoint: Vec<String>,
    cmd: Vec<String>,
}

impl std::fmt::Debug for DockerSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerSandbox")
            .field("session", &self.session)
            .field("network", &self.network())
            .field("engine", &self.engine)
            .finish()
    }
}

/// A new short random session id (8 hex digits).
pub fn new_session_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

impl DockerSandbox {
    /// A session on a connected daemon (from [`super::connect`]) whose environments join
    /// `network` (`None`: Docker's default bridge; see [`super::network`]).
    ///
    /// On a rootless engine the environments stay on the engine's default network unless
    /// one is named, and the sandbox needs [`DockerSandbox::with_init`].
    pub async fn new(docker: Docker, session: &str, network: Option<&str>) -> Result<Self> {
        let engine = Engine::of(&docker).await?;
        let network = match (engine.rootless, network) {
            (true, None) => None,
            (_, network) => Some(join(&docker, network).await?),
        };
        Ok(Self {
            docker,
            session: session.to_owned(),
            network,
            init: None,
            commands: Default::default(),
            limited: !(engine.rootless && crate::cgroup::host_has_cgroup_v1()),
            engine,
        })
    }

    /// What this engine cannot do that Lambda does, for the user to be told once.
    pub fn limitation(&self) -> Option<String> {
        (!self.limited).then(|| {
            format!(
                "{} on cgroup v1 cannot limit a container's memory, CPU or processes: functions run without Lambda's limits (no OOM kill, no --cpu-share), and REPORT's Max Memory Used reads 0; use cgroup v2, or a rootful engine, for both",
                self.engine
            )
        })
    }

    /// The host's static `lamina-ric` (for this host's architecture), run inside each
    /// container as its init (and Runtime API relay on a rootless engine). Without it,
    /// containers run the image's entrypoint directly, and a rootless engine is refused.
    pub fn with_init(mut self, lamina_ric: PathBuf) -> Self {
        self.init = Some(lamina_ric);
        self
    }

    /// The engine the environments run on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn labels(session: &str) -> HashMap<String, String> {
        HashMap::from([
            (LABEL_SESSION.to_owned(), session.to_owned()),
            (LABEL_PID.to_owned(), std::process::id().to_string()),
            (LABEL_HOST.to_owned(), host_name()),
        ])
    }

    /// This session's id.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// The name of the network the environments join.
    pub fn network(&self) -> &str {
        self.network
            .as_ref()
            .map_or("the engine's default network", |n| n.name.as_str())
    }

    /// Every container, running or not, matching `filters`.
    async fn list_containers(
        &self,
        filters: &HashMap<String, Vec<String>>,
        what: &'static str,
    ) -> Result<Vec<bollard::models::ContainerSummary>> {
        self.docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters.clone()),
                ..Default::default()
            }))
            .await
            .map_err(failed(what))
    }

    /// A started container's address on the network joined.
    async fn container_ip(&self, id: &str) -> Option<IpAddr> {
        let network = self.network.as_ref()?;
        let inspect = self.docker.inspect_container(id, None).await.ok()?;
        let networks = inspect.network_settings?.networks?;
        // Docker lists the endpoint under the network's name; Podman lists a container on
        // its default network under `podman` however it was asked for (`bridge`): then by
        // the network's id, or the only network the container has.
        let endpoint = networks
            .get(&network.name)
            .or_else(|| {
                networks
                    .values()
                    .find(|e| e.network_id.as_deref() == Some(network.id.as_str()))
            })
            .or_else(|| match networks.len() {
                1 => networks.values().next(),
                _ => None,
            })?;
        endpoint
            .ip_address
            .as_deref()
            .filter(|ip| !ip.is_empty())?
            .parse()
            .ok()
    }

    /// The init in front of the image's own command, `lamina-ric init [--relay …] --
    /// ENTRYPOINT CMD`, with `lamina-ric` mounted in, and the Runtime API's socket when the
    /// environment's Runtime API is one ([`RuntimeApiReach::Socket`]); `None` without an init.
    fn under_init(&self, spec: &EnvSpec, image: &str) -> Result<Option<UnderInit>> {
        let Some(ric) = &self.init else {
            if spec.runtime_api_socket.is_some() {
                return Err(DockerError::Unsupported {
                    engine: self.engine.to_string(),
                    missing: "this environment's Runtime API is a socket, and no lamina-ric was given to relay it".into(),
                    fix: "give DockerSandbox::with_init a static lamina-ric".into(),
                }
                .into());
            }
            return Ok(None);
        };
        let own = self
            .commands
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(image)
            .cloned()
            .unwrap_or_default();
        // The function's command override replaces the image's CMD, as the engine would.
        let cmd = spec.command.clone().unwrap_or(own.cmd);
        let relay = spec.runtime_api_socket.is_some();
        let mut full = init::command(relay, &own.entrypoint, &cmd);
        let bind = |source: &std::path::Path, target: &str, read_only: bool| Mount {
            target: Some(target.to_owned()),
            source: Some(source.display().to_string()),
            typ: Some(MountType::BIND),
            read_only: Some(read_only),
            ..Default::default()
        };
        let mut mounts = vec![bind(ric, init::RIC_PATH, true)];
        if let Some(socket) = &spec.runtime_api_socket {
            mounts.push(bind(socket, init::SOCKET_PATH, false));
        }
        // Entrypoint and command both given: an engine merges in neither of the image's.
        let cmd = full.split_off(1);
        Ok(Some(UnderInit {
            entrypoint: full,
            cmd,
            mounts,
        }))
    }

    /// The handler the container runs: the function's command's first word, else its
    /// image's `CMD[0]` (known once `prepare` has read the image).
    fn handler(&self, spec: &EnvSpec, image: &str) -> Option<String> {
        match &spec.command {
            Some(cmd) => cmd.first().cloned(),
            None => self
                .commands
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(image)
                .and_then(|c| c.cmd.first().cloned()),
        }
    }

    /// Remove containers and networks left by lamina sessions whose process is gone (same
    /// host, pid no longer running). Returns how many objects were removed.
    pub async fn cleanup_stale(&self) -> Result<usize> {
        cleanup_stale(&self.docker, Some(&self.session)).await
    }
}

impl Sandbox for DockerSandbox {
    fn runtime_api_reach(&self) -> RuntimeApiReach {
        match &self.network {
            Some(network) if !self.engine.rootless => RuntimeApiReach::Address(network.gateway),
            _ => RuntimeApiReach::Socket {
                inside: init::inside(),
            },
        }
    }

    /// Podman's attach stream (through conmon) delivers a runtime's output later than
    /// Docker's: a line printed just before the response arrived after `END` with the 2 ms
    /// default (`tests/podman.sh`, a busybox runtime with no output marks). Runtimes that
    /// mark their output (lamina-ric) are waited for exactly and never pay this.
    fn output_settle(&self) -> Duration {
        if self.engine.podman {
            PODMAN_OUTPUT_SETTLE
        } else {
            lamina_rie::sandbox::DEFAULT_OUTPUT_SETTLE
        }
    }

    fn prepare<'a>(&'a self, function: &'a FunctionConfig) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let image = function
                .image
                .as_deref()
                .ok_or_else(|| DockerError::NoImage(function.name.to_string()))?;
            let inspected = match self.docker.inspect_image(image).await {
                Ok(i) => i,
                Err(e) if is_not_found(&e) => {
                    return Err(DockerError::ImageNotFound(image.to_owned()).into())
                }
                Err(e) => return Err(failed(format!("inspect image {image}"))(e)),
            };
            if self.engine.rootless && self.init.is_none() {
                return Err(DockerError::Unsupported {
                    engine: self.engine.to_string(),
                    missing: "a rootless engine's containers reach the host only through lamina-ric's Runtime API relay, and none was given".into(),
                    fix: "run `lamina rie`, which brings its own; or give DockerSandbox::with_init a static lamina-ric".into(),
                }
                .into());
            }
            if self.init.is_some() {
                let config = inspected.config.unwrap_or_default();
                self.commands
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(
                        image.to_owned(),
                        ImageCommand {
                            entrypoint: config.entrypoint.unwrap_or_default(),
                            cmd: config.cmd.unwrap_or_default(),
                        },
                    );
            }
            Ok(())
        })
    }

    fn start<'a>(&'a self, spec: &'a EnvSpec) -> BoxFuture<'a, Result<Started>> {
        Box::pin(async move {
            let image = spec
                .image
                .clone()
                .ok_or_else(|| DockerError::NoImage(spec.function.clone()))?;
            let name = format!(
                "lamina-{}-{}-{}",
                self.session, spec.function, spec.env_number
            );
            let mut labels = Self::labels(&self.session);
            labels.insert(LABEL_FUNCTION.into(), spec.function.clone());
            let memory =
                i64::try_from(spec.memory_mb.saturating_mul(1024 * 1024)).unwrap_or(i64::MAX);
            let under_init = self.under_init(spec, &image)?;
            let mut env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            // Lambda gives every image its handler as `_HANDLER` (`CMD[0]`, exported by AWS's
            // `/lambda-entrypoint.sh`); AWS's Node client v4 reads it from nowhere else.
            if let Some(handler) = self.handler(spec, &image).filter(|h| !h.is_empty()) {
                if !spec
                    .env
                    .iter()
                    .any(|(k, _)| k == lamina_runtime_api::env::HANDLER)
                {
                    env.push(format!("{}={handler}", lamina_runtime_api::env::HANDLER));
                }
            }
            let body = ContainerCreateBody {
                image: Some(image.clone()),
                env: Some(env),
                entrypoint: under_init.as_ref().map(|r| r.entrypoint.clone()),
                cmd: under_init
                    .as_ref()
                    .map(|r| r.cmd.clone())
                    .or_else(|| spec.command.clone()),
                user: Some(RUNTIME_USER.into()),
                labels: Some(labels),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(false),
                open_stdin: Some(false),
                host_config: Some(HostConfig {
                    memory: self.limited.then_some(memory),
                    memory_swap: self.limited.then_some(memory),
                    readonly_rootfs: Some(true),
                    tmpfs: Some(HashMap::from([(
                        "/tmp".to_owned(),
                        tmp_options(spec.tmp_mb),
                    )])),
                    pids_limit: self.limited.then_some(LAMBDA_PID_LIMIT),
                    // Docker refuses more CPUs than the host has.
                    nano_cpus: spec.cpu_nanos.filter(|_| self.limited).map(|n| {
                        let host = std::thread::available_parallelism()
                            .map(|p| p.get() as u64)
                            .unwrap_or(1);
                        i64::try_from(n.min(host * 1_000_000_000)).unwrap_or(i64::MAX)
                    }),
                    ulimits: Some(ulimits(self.engine.podman)),
                    cap_drop: Some(vec!["ALL".into()]),
                    security_opt: Some(vec!["no-new-privileges".into()]),
                    network_mode: self.network.as_ref().map(|n| n.mode.clone()),
                    // The environment's own host name, where Telemetry API subscribers listen
                    // and lamina's init delivers to them (runtime-api.md §3.1).
                    extra_hosts: Some(
                        lamina_runtime_api::telemetry::SANDBOX_HOSTS
                            .iter()
                            .map(|h| format!("{h}:127.0.0.1"))
                            .collect(),
                    ),
                    mounts: under_init.map(|r| r.mounts),
                    // The emulator reads the output from the attach stream, line by line; a
                    // logging driver would copy every line again (json-file: encoded and
                    // written to a file under /var/lib/docker that grows for as long as the
                    // session runs), the daemon's busiest work per invoke.
                    log_config: Some(HostConfigLogConfig {
                        typ: Some("none".into()),
                        config: None,
                    }),
                    ..Default::default()
                }),
                // The daemon files the endpoint under the network's name and looks it up by
                // that name at start, unless the endpoint names the network's id itself.
                networking_config: self.network.as_ref().map(|n| NetworkingConfig {
                    endpoints_config: Some(HashMap::from([(
                        n.mode.clone(),
                        EndpointSettings {
                            network_id: Some(n.id.clone()),
                            ..Default::default()
                        },
                    )])),
                }),
                ..Default::default()
            };
            let created = self
                .docker
                .create_container(
                    Some(CreateContainerOptions {
                        name: Some(name.clone()),
                        ..Default::default()
                    }),
                    body,
                )
                .await
                .map_err(|e| match e {
                    e if is_not_found(&e) => DockerError::ImageNotFound(image.clone()).into(),
                    e => failed(format!("create container {name}"))(e),
                })?;
            let id = created.id;
            // Attach before starting, so no output is missed.
            let attached = self
                .docker
                .attach_container(
                    &id,
                    Some(AttachContainerOptions {
                        stdout: true,
                        stderr: true,
                        stream: true,
                        // Attached before the start: there is nothing earlier to replay (and
                        // the `none` logging driver has nothing to replay from).
                        logs: false,
                        ..Default::default()
                    }),
                )
                .await;
            let attached = match attached {
                Ok(a) => a,
                Err(e) => {
                    remove(&self.docker, &id).await;
                    return Err(failed(format!("attach to container {name}"))(e));
                }
            };
            if let Err(e) = self.docker.start_container(&id, None).await {
                remove(&self.docker, &id).await;
                return Err(failed(format!("start container {name}"))(e));
            }
            // Init Duration counts the runtime's init, not the sandbox's provisioning (the
            // cloud's figure excludes it): start the clock once the daemon says it started.
            let started_at = Instant::now();
            let peer = match spec.runtime_api_socket {
                Some(_) => None,
                None => self.container_ip(&id).await,
            };
            if peer.is_none() && spec.runtime_api_socket.is_none() {
                tracing::warn!(container = %name, "no address on {}: its Runtime API accepts any peer", self.network());
            }
            let output = attached
                .output
                .take_while(|r| std::future::ready(r.is_ok()))
                .filter_map(|r| {
                    std::future::ready(match r {
                        Ok(bollard::container::LogOutput::StdOut { message })
                        | Ok(bollard::container::LogOutput::Console { message }) => {
                            Some((Stream::Stdout, message))
                        }
                        Ok(bollard::container::LogOutput::StdErr { message }) => {
                            Some((Stream::Stderr, message))
                        }
                        _ => None,
                    })
                })
                .boxed();
            let handle = Arc::new(ContainerHandle {
                docker: self.docker.clone(),
                container: id.clone(),
                name,
                exit: ExitCell::new(),
                peak: Arc::new(AtomicU64::new(0)),
                cgroup: CgroupPeak::default(),
                measured: self.limited,
            });
            tokio::spawn(watch_exit(self.docker.clone(), id, handle.exit.clone()));
            Ok(Started {
                handle,
                output,
                started_at,
                peer,
                handler: self.handler(spec, &image),
            })
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let filters = HashMap::from([(
                "label".to_owned(),
                vec![format!("{LABEL_SESSION}={}", self.session)],
            )]);
            // Environments being killed are removed by their own watchers at the same time;
            // Docker refuses a second removal in progress, so look again until none is left.
            for attempt in 0..50 {
                let containers = self
                    .list_containers(&filters, "list this session's containers")
                    .await?;
                if containers.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                for c in containers {
                    if let Some(id) = c.id {
                        remove(&self.docker, &id).await;
                    }
                }
            }
            // The network stays: the default bridge is the daemon's, lamina-rie is kept for
            // the next session (making one costs the daemon ~340 ms).
            Ok(())
        })
    }
}

/// Wait for the container to end, read how (exit code, OOM kill), then remove it.
async fn watch_exit(docker: Docker, id: String, exit: ExitCell) {
    let code = crate::containers::wait(&docker, &id).await.unwrap_or(-1);
    let state = docker
        .inspect_container(&id, None)
        .await
        .ok()
        .and_then(|c| c.state);
    let oom = state.as_ref().and_then(|s| s.oom_killed).unwrap_or(false);
    let code = state.and_then(|s| s.exit_code).unwrap_or(code);
    exit.set(if oom {
        ExitStatus::OomKilled
    } else if (129..=159).contains(&code) {
        // Docker reports a death by signal N as 128 + N.
        ExitStatus::Signal((code - 128) as i32)
    } else {
        ExitStatus::Code(code)
    });
    remove(&docker, &id).await;
}

struct ContainerHandle {
    docker: Docker,
    container: String,
    name: String,
    exit: ExitCell,
    peak: Arc<AtomicU64>,
    cgroup: CgroupPeak,
    /// Whether the container has a memory cgroup of its own to measure (see
    /// [`DockerSandbox::limitation`]); the engine's stats would be the host's otherwise.
    measured: bool,
}

impl SandboxHandle for ContainerHandle {
    fn id(&self) -> &str {
        &self.name
    }

    fn wait(&self) -> BoxFuture<'_, ExitStatus> {
        Box::pin(self.exit.wait())
    }

    fn kill(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.exit.get().is_none() {
                let _ = self
                    .docker
                    .kill_container(
                        &self.container,
                        Some(KillContainerOptions {
                            signal: "SIGKILL".into(),
                        }),
                    )
                    .await;
            }
        })
    }

    fn terminate(&self, grace: std::time::Duration) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.exit.get().is_some() {
                return;
            }
            let _ = self
                .docker
                .kill_container(
                    &self.container,
                    Some(KillContainerOptions {
                        signal: "SIGTERM".into(),
                    }),
                )
                .await;
            if tokio::time::timeout(grace, self.wait()).await.is_err() {
                self.kill().await;
                self.wait().await;
            }
        })
    }

    fn max_memory_used_bytes(&self) -> BoxFuture<'_, Option<u64>> {
        Box::pin(async move {
            if !self.measured {
                return None;
            }
            // Fast path: the container's memory cgroup on this host, read directly (µs). The
            // REPORT line waits for this figure and the next invoke waits for REPORT, so it
            // must not cost a stats round trip per invoke.
            if let Some(peak) = self.cgroup.read(&self.container) {
                self.peak.fetch_max(peak, Ordering::Relaxed);
                return Some(self.peak.load(Ordering::Relaxed));
            }
            if self.exit.get().is_none() {
                // A daemon elsewhere (DOCKER_HOST=tcp://…): ask it, but never wait long — a
                // stats call can take a second or more; the last figure stands in.
                let stats = tokio::time::timeout(
                    STATS_WAIT,
                    self.docker
                        .stats(
                            &self.container,
                            Some(StatsOptions {
                                stream: false,
                                one_shot: true,
                            }),
                        )
                        .next(),
                )
                .await
                .ok()
                .flatten();
                // cgroup v1 keeps the peak (`max_usage`); v2 only the current usage.
                if let Some(m) = stats.and_then(|s| s.ok()).and_then(|s| s.memory_stats) {
                    if let Some(b) = m.max_usage.or(m.usage) {
                        self.peak.fetch_max(b, Ordering::Relaxed);
                    }
                }
            }
            match self.peak.load(Ordering::Relaxed) {
                0 => None,
                n => Some(n),
            }
        })
    }
}

/// How long REPORT may wait for the daemon's memory figure when the cgroup can't be read.
const STATS_WAIT: Duration = Duration::from_millis(50);

/// Remove the containers and networks of lamina sessions whose process is gone (same host,
/// pid no longer running), other than `own` — what a `kill -9`ed `lamina rie` leaves. Needs
/// no session of its own (`lamina rie --cleanup`). Returns how many objects were removed.
pub async fn cleanup_stale(docker: &Docker, own: Option<&str>) -> Result<usize> {
    let me = host_name();
    let stale = |labels: &HashMap<String, String>| -> bool {
        let Some(session) = labels.get(LABEL_SESSION) else {
            return false;
        };
        if Some(session.as_str()) == own || labels.get(LABEL_HOST) != Some(&me) {
            return false;
        }
        match labels.get(LABEL_PID).and_then(|p| p.parse::<u32>().ok()) {
            Some(pid) => !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            None => true,
        }
    };
    let filters = HashMap::from([("label".to_owned(), vec![LABEL_SESSION.to_owned()])]);
    let mut removed = 0;
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters.clone()),
            ..Default::default()
        }))
        .await
        .map_err(failed("list lamina's containers"))?;
    for c in containers {
        if let (Some(id), Some(labels)) = (c.id, c.labels) {
            if stale(&labels) && remove(docker, &id).await {
                removed += 1;
            }
        }
    }
    let networks = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(filters),
        }))
        .await
        .map_err(failed("list lamina's networks"))?;
    for n in networks {
        if let (Some(id), Some(labels)) = (n.id, n.labels) {
            if stale(&labels) && docker.remove_network(&id).await.is_ok() {
                removed += 1;
            }
        }
    }
    Ok(removed)
}
