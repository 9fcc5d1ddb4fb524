//! [`ProcessSandbox`]: environments as local child processes on 127.0.0.1.
//!
//! Used by tests and by `lamina-ric`'s embedded emulator, where the "sandbox" is the
//! container lamina-ric already runs in. It enforces no memory limit; peak memory is the
//! process's `VmHWM` (peak resident set) from `/proc`.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, Notify};

use crate::config::FunctionConfig;
use crate::error::{Error, Result};
use crate::sandbox::{EnvSpec, ExitCell, ExitStatus, Sandbox, SandboxHandle, Started};

/// Runs each environment as a child process of this one, inheriting its environment plus the
/// platform's variables.
#[derive(Debug, Clone, Default)]
pub struct ProcessSandbox {
    command: Vec<String>,
}

impl ProcessSandbox {
    /// A sandbox running `command` (program then arguments) unless a function overrides it
    /// with [`FunctionConfig::command`].
    pub fn new(command: Vec<String>) -> Self {
        Self { command }
    }

    fn command_for<'a>(&'a self, over: Option<&'a Vec<String>>) -> Option<&'a [String]> {
        let c = over.unwrap_or(&self.command);
        (!c.is_empty()).then_some(c.as_slice())
    }
}

impl Sandbox for ProcessSandbox {
    fn bind_ip(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
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
                    function: function.name.clone(),
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
                .kill_on_drop(true);
            let started_at = Instant::now();
            let mut child = cmd.spawn().map_err(|source| Error::Spawn {
                program: argv[0].clone(),
                source,
            })?;
            let pid = child.id().unwrap_or(0);
            let (tx, rx) = mpsc::channel::<Bytes>(64);
            if let Some(out) = child.stdout.take() {
                tokio::spawn(forward(out, tx.clone()));
            }
            if let Some(err) = child.stderr.take() {
                tokio::spawn(forward(err, tx));
            }
            let handle = Arc::new(ProcessHandle {
                name: format!("pid {pid}"),
                pid,
                exit: ExitCell::new(),
                kill: Arc::new(Notify::new()),
                peak: AtomicU64::new(0),
            });
            tokio::spawn(supervise(child, handle.exit.clone(), handle.kill.clone()));
            let output = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|b| (b, rx))
            })
            .boxed();
            Ok(Started {
                handle,
                output,
                started_at,
            })
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

async fn forward(mut from: impl AsyncRead + Unpin, to: mpsc::Sender<Bytes>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn supervise(mut child: Child, exit: ExitCell, kill: Arc<Notify>) {
    let status = tokio::select! {
        s = child.wait() => s,
        () = kill.notified() => {
            let _ = child.start_kill();
            child.wait().await
        }
    };
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

    fn max_memory_used_bytes(&self) -> BoxFuture<'_, Option<u64>> {
        Box::pin(async move {
            if self.exit.get().is_none() {
                let path = format!("/proc/{}/status", self.pid);
                if let Ok(text) = tokio::fs::read_to_string(path).await {
                    if let Some(kb) = vm_hwm_kb(&text) {
                        self.peak.fetch_max(kb * 1024, Ordering::Relaxed);
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

fn vm_hwm_kb(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_vm_hwm() {
        assert_eq!(
            super::vm_hwm_kb("Name:\tx\nVmHWM:\t   5120 kB\nVmRSS:\t1 kB\n"),
            Some(5120)
        );
    }
}
