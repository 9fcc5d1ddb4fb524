//! `lamina-ric init [--relay SOCKET HOST:PORT] -- PROGRAM [ARG…]`: the init `lamina rie` runs
//! in every container, as Lambda's init runs in every execution environment (the contract
//! and why: `lamina_runtime_api::init`).
//!
//! In order, as Lambda's init does (RIE `rapid/handlers.go`): with `--relay`, listen on
//! `HOST:PORT` inside the container and relay every connection byte for byte to the
//! emulator's Unix socket (rootless engines); start every executable in `/opt/extensions/`
//! (their stdout and stderr read here and handed to the emulator line by line, so the log and
//! Telemetry API subscribers tell them from the function's as `extension` records), tell the
//! emulator their names and wait until each has registered; then start the image's
//! program (the runtime) in a process group of its own. It passes SIGTERM and SIGINT on to
//! the runtime (the cloud's shutdown phase: extensions hear of it through `SHUTDOWN`), reaps
//! orphans as PID 1, tells the emulator when a process it watches ends, and ends as the
//! runtime ended — after the extensions have gone, when there are any — so the engine
//! reports the runtime's exit status.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use bytes::Bytes;
use lamina_runtime_api::extensions::{visible_to_extensions, EXTERNAL_DIR, MAX_EXTENSIONS};
use lamina_runtime_api::init::{
    self as contract, Args, Exited, ExtensionOutput, Launched, Process, Relay, TelemetryBatch,
};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::net::{TcpListener, UnixStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::client::RuntimeClient;
use crate::process;

/// Run the init; returns only on a usage or start-up error (the exit code to use).
pub fn run(args: &[String]) -> i32 {
    let args = match Args::parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("lamina-ric: {e}");
            return crate::EXIT_USAGE;
        }
    };
    process::block_on(init(args), 1)
}

async fn init(args: Args) -> i32 {
    if let Some(relay) = args.relay {
        // Listening before anything starts: no first connection finds the port closed.
        match TcpListener::bind(&relay.listen).await {
            Ok(listener) => {
                tokio::spawn(serve_relay(listener, relay));
            }
            Err(e) => {
                eprintln!(
                    "lamina-ric: the Runtime API relay cannot listen on {}: {e}",
                    relay.listen
                );
                return 1;
            }
        }
    }
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        eprintln!("lamina-ric: the init cannot install its signal handlers");
        return 1;
    };
    crate::reaper::spawn_if_init();
    let api = std::env::var(lamina_runtime_api::env::RUNTIME_API)
        .ok()
        .and_then(|a| a.parse::<SocketAddr>().ok());
    let mut extensions = JoinSet::new();
    let paths = discover(Path::new(EXTERNAL_DIR));
    let own_group = !args.same_group;
    if let (Some(api), false) = (api, paths.is_empty()) {
        tokio::spawn(deliver_telemetry(api));
        if !start_extensions(api, &paths, own_group, &mut extensions).await {
            // The emulator fails the environment and stops it; nothing more to start.
            loop {
                tokio::select! {
                    _ = term.recv() => return 128 + libc::SIGTERM,
                    _ = int.recv() => return 128 + libc::SIGINT,
                    Some(_) = extensions.join_next() => {}
                }
            }
        }
    }
    let mut cmd = std::process::Command::new(&args.program[0]);
    cmd.args(&args.program[1..]);
    if own_group {
        cmd.process_group(0);
    }
    let mut child = match tokio::process::Command::from(cmd).spawn() {
        Ok(c) => c,
        Err(e) => {
            // What the engine itself says when an entrypoint cannot be run.
            eprintln!(
                "lamina-ric: cannot run the image's entrypoint {:?}: {e}",
                args.program[0]
            );
            return 127;
        }
    };
    let pid = child.id().and_then(|p| i32::try_from(p).ok());
    let status = loop {
        let sig = tokio::select! {
            status = child.wait() => match status {
                Ok(status) => break status,
                Err(e) => {
                    eprintln!("lamina-ric: lost the image's entrypoint: {e}");
                    return 1;
                }
            },
            _ = term.recv() => libc::SIGTERM,
            _ = int.recv() => libc::SIGINT,
            Some(_) = extensions.join_next() => continue,
        };
        if let Some(pid) = pid {
            // SAFETY: kill(2) on the child we spawned and have not yet waited for.
            unsafe { libc::kill(pid, sig) };
        }
    };
    let oom = status.signal() == Some(libc::SIGKILL) && cgroup_oom_kills() > 0;
    if !extensions.is_empty() || oom {
        // The emulator tells the extensions (SHUTDOWN) and stops the container when they
        // take too long; until then they keep running, as in the cloud. An OOM kill is
        // told even without extensions: the engine sees only this init end, normally.
        if let Some(api) = api {
            report_exit(api, Process::Runtime, status, oom).await;
        }
        while extensions.join_next().await.is_some() {}
    }
    process::exit_like(status)
}

/// The OOM kills the container's memory cgroup has counted: `oom_kill` of `memory.events`
/// (cgroup v2) or of `memory.oom_control` (v1); 0 when neither can be read.
fn cgroup_oom_kills() -> u64 {
    [
        "/sys/fs/cgroup/memory.events",
        "/sys/fs/cgroup/memory/memory.oom_control",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .find_map(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
    })
    .unwrap_or(0)
}

/// The executables in `dir`, by file name (the order Lambda starts them in; RIE
/// `agents.ListExternalAgentPaths` reads the directory sorted).
pub(crate) fn discover(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .collect();
    paths.sort();
    paths
}

/// Start the extensions at `paths`, each watched on `tasks` and its output read apart from
/// the runtime's, and wait until the emulator says each has registered; `false` when it says
/// one failed the environment instead.
async fn start_extensions(
    api: SocketAddr,
    paths: &[PathBuf],
    own_group: bool,
    tasks: &mut JoinSet<()>,
) -> bool {
    let (lines, rx) = mpsc::channel(OUTPUT_LINES_IN_FLIGHT);
    tokio::spawn(deliver_output(api, rx));
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| visible_to_extensions(k))
        .collect();
    // More than ten are still announced: the emulator refuses the eleventh as the cloud does.
    let paths = &paths[..paths.len().min(MAX_EXTENSIONS + 1)];
    let names: Vec<String> = paths
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    // Announced before any starts: an extension that registers at once is still external.
    let mut client = RuntimeClient::new(api);
    let body = serde_json::to_vec(&Launched {
        extensions: names.clone(),
    })
    .unwrap_or_default();
    if let Err(e) = client
        .post_json(contract::LAUNCHED, Bytes::from(body))
        .await
    {
        eprintln!("lamina-ric: cannot tell the emulator which extensions start: {e}");
        return false;
    }
    for (path, name) in paths.iter().zip(names) {
        let mut cmd = std::process::Command::new(path);
        cmd.env_clear()
            .envs(env.iter().cloned())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if own_group {
            cmd.process_group(0);
        }
        match tokio::process::Command::from(cmd).spawn() {
            Ok(mut child) => {
                if let Some(out) = child.stdout.take() {
                    tokio::spawn(read_lines(name.clone(), out, lines.clone()));
                }
                if let Some(err) = child.stderr.take() {
                    tokio::spawn(read_lines(name.clone(), err, lines.clone()));
                }
                let watched = name.clone();
                tasks.spawn(async move {
                    if let Ok(status) = child.wait().await {
                        report_exit(api, Process::Extension(watched), status, false).await;
                    }
                });
            }
            Err(e) => {
                // As a process that ended at once: the emulator fails the environment.
                eprintln!(
                    "lamina-ric: cannot start the extension {}: {e}",
                    path.display()
                );
                report_exit(
                    api,
                    Process::Extension(name),
                    ExitStatus::from_raw(127 << 8),
                    false,
                )
                .await;
            }
        }
    }
    match client.post_json(contract::REGISTERED, Bytes::new()).await {
        Ok(status) => status.is_success(),
        Err(e) => {
            eprintln!("lamina-ric: cannot tell the emulator which extensions started: {e}");
            false
        }
    }
}

/// Lines read but not yet handed to the emulator; past this, an extension's writes wait (as
/// on a full pipe).
const OUTPUT_LINES_IN_FLIGHT: usize = 1024;

/// The longest line passed on whole: CloudWatch's largest log event (256 KiB); a longer
/// line is passed on in pieces of this size.
const MAX_LINE: u64 = 256 * 1024;

/// Read `stream` of extension `name` line by line onto `lines`.
async fn read_lines(
    name: String,
    stream: impl tokio::io::AsyncRead + Unpin,
    lines: mpsc::Sender<(String, Vec<u8>)>,
) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = Vec::new();
        match (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                if lines.send((name.clone(), line)).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Hand the extensions' lines to the emulator, everything waiting in one `POST`; lines it
/// cannot take are written to the init's own stderr, so none is lost.
async fn deliver_output(api: SocketAddr, mut lines: mpsc::Receiver<(String, Vec<u8>)>) {
    let mut emulator = RuntimeClient::new(api);
    while let Some(first) = lines.recv().await {
        let mut batch: Vec<ExtensionOutput> = Vec::new();
        let mut add = |(name, line): (String, Vec<u8>)| {
            let text = String::from_utf8_lossy(&line);
            match batch.last_mut() {
                Some(last) if last.extension == name => last.text.push_str(&text),
                _ => batch.push(ExtensionOutput {
                    extension: name,
                    text: text.into_owned(),
                }),
            }
        };
        add(first);
        let mut size = 0;
        while size < MAX_LINE as usize {
            match lines.try_recv() {
                Ok(next) => {
                    size += next.1.len();
                    add(next);
                }
                Err(_) => break,
            }
        }
        let body = serde_json::to_vec(&batch).unwrap_or_default();
        let delivered = emulator
            .post_json(contract::EXTENSION_OUTPUT, Bytes::from(body))
            .await
            .is_ok_and(|s| s.is_success());
        if !delivered {
            let mut err = std::io::stderr().lock();
            for o in &batch {
                let _ = std::io::Write::write_all(&mut err, o.text.as_bytes());
            }
        }
    }
}

/// Deliver the Telemetry API's batches inside the environment, where subscribers listen
/// (`sandbox.localdomain` is this container's loopback): each batch the emulator hands out
/// is `POST`ed to the subscriber's port (HTTP) or written to it (TCP), retried a few times
/// while the subscriber is not listening yet.
async fn deliver_telemetry(api: SocketAddr) {
    let mut emulator = RuntimeClient::new(api);
    loop {
        let batch = match emulator
            .post_for_body(contract::TELEMETRY_NEXT, Bytes::new())
            .await
        {
            Ok((status, body)) if status.is_success() => {
                match serde_json::from_slice::<TelemetryBatch>(&body) {
                    Ok(b) => b,
                    Err(_) => continue,
                }
            }
            _ => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            }
        };
        let to = SocketAddr::from(([127, 0, 0, 1], batch.port));
        for attempt in 0..10u64 {
            let sent = if batch.protocol == "TCP" {
                match tokio::net::TcpStream::connect(to).await {
                    Ok(mut s) => tokio::io::AsyncWriteExt::write_all(&mut s, batch.body.as_bytes())
                        .await
                        .is_ok(),
                    Err(_) => false,
                }
            } else {
                RuntimeClient::new(to)
                    .post_json(&batch.path, Bytes::from(batch.body.clone()))
                    .await
                    .is_ok_and(|s| s.is_success())
            };
            if sent {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50 * (attempt + 1))).await;
        }
    }
}

/// Tell the emulator that `process` ended with `status` (killed for memory: `oom_killed`).
async fn report_exit(api: SocketAddr, process: Process, status: ExitStatus, oom_killed: bool) {
    let exited = Exited {
        process,
        code: status.code().map(i64::from),
        signal: status.signal(),
        oom_killed,
    };
    let body = serde_json::to_vec(&exited).unwrap_or_default();
    let _ = RuntimeClient::new(api)
        .post_json(contract::EXITED, Bytes::from(body))
        .await;
}

/// Relay every connection to `listener` to the Runtime API's socket.
async fn serve_relay(listener: TcpListener, relay: Relay) {
    loop {
        let Ok((mut tcp, _)) = listener.accept().await else {
            continue;
        };
        let socket = relay.socket.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            match UnixStream::connect(&socket).await {
                Ok(mut unix) => {
                    let _ = tokio::io::copy_bidirectional(&mut tcp, &mut unix).await;
                }
                Err(e) => eprintln!("lamina-ric: the Runtime API at {socket} refused: {e}"),
            }
        });
    }
}
