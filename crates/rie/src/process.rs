//! [`ProcessSandbox`]: environments as local child processes on 127.0.0.1.
//!
//! Used by tests and by `lamina-ric`'s embedded emulator, where the "sandbox" is the
//! container lamina-ric already runs in. Each runtime leads a process group of its own, so a
//! kill (timeout, crash, shutdown) takes its workers along; when the leader exits by itself
//! the rest of its group is killed too, as the cloud ends a whole sandbox.
//!
//! It isolates nothing and enforces no memory limit (the memory size is only reported);
//! Max Memory Used is the sum of the group's peak resident sets (`VmHWM`) from `/proc`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, Notify};

use crate::config::FunctionConfig;
use crate::error::{Error, Result};
use crate::pgroup::{group_peak_bytes, kill_group};
use crate::sandbox::{
    EnvSpec, ExitCell, ExitStatus, RuntimeApiReach, Sandbox, SandboxHandle, Started, Stream,
};

/// Runs each environment as a child process of this one (and leader of its own process
/// group), inheriting this process's environment plus the platform's variables.
#[derive(Debug, Clone, Default)]
pub struct ProcessSandbox {
    command: Vec<String>,
    live: Arc<LiveGroups>,
}

/// The process groups of the runtimes still running, by group id, with their exit cells.
#[derive(Debug, Default)]
struct LiveGroups(Mutex<HashMap<u32, ExitCell>>);

impl LiveGroups {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, ExitCell>> {
        crate::sync::lock(&self.0)
    }
}

impl ProcessSandbox {
    /// A sandbox running `command` (program then arguments) unless a function overrides it
    /// with [`FunctionConfig::command`].
    pub fn new(command: Vec<String>) -> Self {
        Self {
            command,
            live: Arc::default(),
        }
    }

    fn command_for<'a>(&'a self, over: Option<&'a Vec<String>>) -> Option<&'a [String]> {
        let c = over.unwrap_or(&self.command);
        (!c.is_empty()).then_some(c.as_slice())
    }
}

impl Sandbox for ProcessSandbox {
    fn runtime_api_reach(&self) -> RuntimeApiReach {
        RuntimeApiReach::Address(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// Output is read straight from the child's pipes: a millisecond is plenty.
    fn output_settle(&self) -> std::time::Duration {
        std::time::Duration::from_millis(1)
    }

    fn prepare<'a>(&'a self, function: &'a FunctionConfig) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            match self.command_for(function.command.as_ref()) {
                Some(_) => Ok(()),
                None => Err(Error::Config {
                    function: function.name.to_string(),
                    reason: "no command to run: give the process sandbox a command".into(),
                }),
            }
        })
    }

    fn start<'a>(&'a self, spec: &'a EnvSpec) -> BoxFuture<'a, Result<Started>> {
        Box::pin(async move {
            let Some(argv) = self.command_for(spec.command.as_ref()) else {
                return Err(Error::Config {
                    function: spec.function.clone(),
                    reason: "no command to run: give the process sandbox a command".into(),
                });
            };
            let mut cmd = Command::new(&argv[0]);
            cmd.args(&argv[1..])
                .envs(spec.env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .kill_on_drop(true);
            let started_at = Instant::now();
            let mut child = cmd.spawn().map_err(|source| Error::Spawn {
                program: argv[0].clone(),
                source,
            })?;
            // Only 0 when the child was already reaped, which cannot happen before a wait.
            let pid = child.id().unwrap_or(0);
            let (tx, rx) = mpsc::channel::<(Stream, Bytes)>(64);
            if let Some(out) = child.stdout.take() {
                tokio::spawn(forward(out, Stream::Stdout, tx.clone()));
            }
            if let Some(err) = child.stderr.take() {
                tokio::spawn(forward(err, Stream::Stderr, tx));
            }
            let handle = Arc::new(ProcessHandle {
                name: format!("pid {pid}"),
                pid,
                exit: ExitCell::new(),
                kill: Arc::new(Notify::new()),
                peak: AtomicU64::new(0),
            });
            self.live.lock().insert(pid, handle.exit.clone());
            tokio::spawn(supervise(
                child,
                pid,
                handle.exit.clone(),
                handle.kill.clone(),
                self.live.clone(),
            ));
            let output = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|b| (b, rx))
            })
            .boxed();
            Ok(Started {
                handle,
                output,
                started_at,
                // Local processes all connect from loopback: there is no telling them apart.
                peer: None,
                handler: None,
            })
        })
    }

    /// Kill every runtime still running, with its group, and wait until each is reaped.
    fn shutdown(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let live: Vec<(u32, ExitCell)> = self.live.lock().drain().collect();
            for (pgid, _) in &live {
                kill_group(*pgid);
            }
            for (_, exit) in live {
                exit.wait().await;
            }
            Ok(())
        })
    }
}

async fn forward(
    mut from: impl AsyncRead + Unpin,
    stream: Stream,
    to: mpsc::Sender<(Stream, Bytes)>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to
                    .send((stream, Bytes::copy_from_slice(&buf[..n])))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Wait for the runtime `child`, leader of group `pgid`, killing the group when asked; once
/// the leader is gone, kill what is left of its group (a worker it spawned), then record how
/// it ended.
///
/// The group is killed after the leader was reaped: were every member gone by then and the
/// number reused by a new group leader, that group would be hit. Pids wrap only after
/// `pid_max` new processes, and the window is microseconds.
async fn supervise(
    mut child: Child,
    pgid: u32,
    exit: ExitCell,
    kill: Arc<Notify>,
    live: Arc<LiveGroups>,
) {
    let status = tokio::select! {
        s = child.wait() => s,
        () = kill.notified() => {
            kill_group(pgid);
            let _ = child.start_kill();
            child.wait().await
        }
    };
    kill_group(pgid);
    live.lock().remove(&pgid);
    exit.set(match status {
        Ok(s) => from_std(s),
        Err(_) => ExitStatus::Signal(9),
    });
}

fn from_std(s: std::process::ExitStatus) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => ExitStatus::Code(i64::from(c)),
        (None, Some(sig)) => ExitStatus::Signal(sig),
        (None, None) => ExitStatus::Signal(9),
    }
}

struct ProcessHandle {
    name: String,
    pid: u32,
    exit: ExitCell,
    kill: Arc<Notify>,
    peak: AtomicU64,
}

impl SandboxHandle for ProcessHandle {
    fn id(&self) -> &str {
        &self.name
    }

    fn wait(&self) -> BoxFuture<'_, ExitStatus> {
        Box::pin(self.exit.wait())
    }

    fn kill(&self) -> BoxFuture<'_, ()> {
        // `notify_one` stores a permit, so a kill before the supervisor polls is not lost.
        self.kill.notify_one();
        Box::pin(async {})
    }

    /// SIGTERM to the group's leader, then the whole group killed once `grace` has passed
    /// (or at once, with none): an init leading the group stops the runtime and waits for
    /// its extensions meanwhile, as a container's init does under `docker stop`.
    fn terminate(&self, grace: std::time::Duration) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.exit.get().is_none() && !grace.is_zero() {
                crate::pgroup::terminate_leader(self.pid);
                if tokio::time::timeout(grace, self.exit.wait()).await.is_ok() {
                    return;
                }
            }
            self.kill().await;
            self.wait().await;
        })
    }

    fn max_memory_used_bytes(&self) -> BoxFuture<'_, Option<u64>> {
        Box::pin(async move {
            if self.exit.get().is_none() {
                if let Some(bytes) = group_peak_bytes(self.pid).await {
                    self.peak.fetch_max(bytes, Ordering::Relaxed);
                }
            }
            match self.peak.load(Ordering::Relaxed) {
                0 => None,
                n => Some(n),
            }
        })
    }
}
