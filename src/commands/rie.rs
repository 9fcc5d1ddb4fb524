//! `lamina rie`: serve an image (built first when given a folder) on the Lambda invoke API,
//! with environments run as containers in the local Docker Engine.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use lamina_docker::DockerSandbox;
use lamina_image::Reference;
use lamina_rie::{Emulator, FunctionConfig, LogEvent, LogSink};

use super::build::build_dir;
use super::serving::Settings;
use super::Globals;
use crate::cli::{FunctionArgs, RieArgs};
use crate::config;

/// `lamina rie`.
pub async fn run(globals: &Globals, args: &RieArgs) -> Result<()> {
    if args.targets.is_empty() {
        // `--cleanup`: what killed sessions left, without starting one.
        let docker = lamina_docker::connect().await?;
        let removed = lamina_docker::cleanup_stale(&docker, None).await?;
        if globals.json {
            println!("{}", serde_json::json!({ "removed": removed }));
        } else {
            println!(
                "removed {removed} container(s) and network(s) left by stopped lamina rie sessions"
            );
        }
        return Ok(());
    }
    // Shared while images are built and loaded; then a lease keeps what they reach from
    // any prune for as long as this emulator serves them.
    let (store, in_use) = globals.store_in_use()?;
    let runner =
        lamina_docker::DockerRunner::new(tokio::runtime::Handle::current(), store.clone(), None);
    let mut images = Vec::new();
    let mut folders = Vec::new();
    for target in expand_targets(&args.targets)? {
        let (reference, manifest, layers) = image_of(globals, &store, &runner, &target).await?;
        if let (true, Some(m)) = (Path::new(&target).is_dir(), &manifest) {
            folders.push(super::watch::Watched {
                dir: std::fs::canonicalize(&target).unwrap_or_else(|_| target.clone().into()),
                manifest: m.clone(),
                layers,
            });
        }
        images.push((reference, manifest));
    }
    if args.watch && folders.is_empty() {
        bail!("--watch follows function folders, and none was given: pass the folder (`lamina rie DIR --watch`), not its image");
    }

    // Bind first: a busy port is reported before any container starts.
    let mut bound = Emulator::bind(SocketAddr::new(args.host, args.port)).await?;
    if let Some(port) = args.http {
        bound = match bound.with_http(SocketAddr::new(args.host, port)).await {
            Err(lamina_rie::Error::PortInUse { ip, port }) => bail!(
                "the --http port {port} on {ip} is already in use (by another server, or by --port): pass another --http port"
            ),
            other => other?,
        };
    }
    // The queue belongs to the endpoint: a restart on the same port takes up what was left.
    let events_dir = args.events_dir.clone().unwrap_or_else(|| {
        globals
            .cache
            .join("rie")
            .join("events")
            .join(bound.local_addr().port().to_string())
    });
    bound = bound.with_event_queue(events_dir);

    // The one connection to Docker: for installing, loading and the sandbox.
    let docker = runner.docker().await?.clone();
    let mut env = Vec::new();
    if let Some(file) = &args.env_file {
        env.extend(config::read_env_file(file)?);
    }
    env.extend(args.env.iter().cloned());
    let env_vars = match &args.env_vars {
        Some(path) => config::EnvVarsFile::read(path)?,
        None => config::EnvVarsFile::default(),
    };
    let settings = Settings {
        args: args.clone(),
        env_vars,
        env,
    };
    let mut functions = Vec::new();
    for (reference, manifest) in &images {
        functions.push(
            settings
                .function(&docker, &store, reference, manifest.as_ref())
                .await?,
        );
    }
    let served: Vec<lamina_image::Digest> = images.iter().filter_map(|(_, m)| m.clone()).collect();
    let _lease = lamina_image::lock::Lease::take(&store, &served)
        .context("cannot record which images this emulator serves")?;
    drop(in_use);
    let sandbox = DockerSandbox::new(
        docker,
        &lamina_docker::new_session_id(),
        args.network.as_deref(),
    )
    .await?
    .with_init(crate::ric::on_disk(&globals.cache)?);
    if !globals.json {
        eprintln!("engine: {}", sandbox.engine());
        if let Some(limitation) = sandbox.limitation() {
            eprintln!("note: {limitation}");
        }
    }
    match sandbox.cleanup_stale().await {
        Ok(0) => {}
        Ok(n) => eprintln!("removed {n} container(s) and network(s) left by an earlier lamina rie that was stopped without cleaning up"),
        Err(e) => tracing::warn!("could not remove containers left by an earlier lamina rie: {e}"),
    }
    let sandbox = Arc::new(sandbox);
    let updater = args.watch.then(|| bound.updater());
    // Said once everything that can refuse to start (event queues, destinations) has not.
    let said = announcement(&bound, &functions);
    let bound = bound.on_ready(move || eprint!("{said}"));
    let shutdown = async {
        stop_signal().await;
        eprintln!("stopping: removing containers");
    };
    let serving = bound.serve(functions, sandbox, log_sink(), shutdown);
    let Some(updater) = updater else {
        return Ok(serving.await?);
    };
    let watching = super::watch::run(
        super::watch::Rebuilder {
            globals,
            store: &store,
            runner: &runner,
            settings: &settings,
            updater,
        },
        folders,
    );
    tokio::pin!(serving);
    tokio::select! {
        served = &mut serving => return Ok(served?),
        watched = watching => match watched {
            Ok(()) => eprintln!("warning: the file watcher stopped; serving without --watch"),
            Err(e) => eprintln!("warning: {e:#}; serving without --watch"),
        },
    }
    Ok(serving.await?)
}

/// The targets, with a folder whose lamina.toml lists `functions` replaced by those folders
/// (relative to it).
fn expand_targets(targets: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for t in targets {
        let dir = Path::new(t);
        let listed = if dir.is_dir() {
            config::load_file(dir)?.functions
        } else {
            Vec::new()
        };
        if listed.is_empty() {
            out.push(t.clone());
        } else {
            out.extend(
                listed
                    .iter()
                    .map(|f| dir.join(f).to_string_lossy().into_owned()),
            );
        }
    }
    Ok(out)
}

/// A target's image: a folder built into the store, or a stored or Docker image.
async fn image_of(
    globals: &Globals,
    store: &lamina_image::Store,
    runner: &lamina_docker::DockerRunner,
    target_arg: &str,
) -> Result<(
    Reference,
    Option<lamina_image::Digest>,
    Vec<lamina_image::Digest>,
)> {
    let target = Path::new(target_arg);
    if target.is_dir() {
        let built = build_dir(
            globals,
            store,
            target,
            &FunctionArgs::default(),
            None,
            runner,
            None,
        )
        .await?;
        eprintln!("built {} from {}", built.reference, target.display());
        let layers = built.output.layer_digests();
        return Ok((
            built.reference,
            Some(built.output.image.manifest_digest),
            layers,
        ));
    }
    let reference = Reference::parse(target_arg).with_context(|| {
        format!("`{target_arg}` is neither a function folder nor an image name")
    })?;
    let manifest = store.get_ref(&reference)?;
    Ok((reference, manifest, Vec::new()))
}

/// What `lamina rie` says once it serves: each function's invoke URL, the HTTP front's
/// routes, how to stop.
fn announcement(bound: &lamina_rie::BoundEmulator, functions: &[FunctionConfig]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let local = bound.local_addr();
    for f in functions {
        let path = if functions.len() == 1 {
            "function"
        } else {
            f.name.as_str()
        };
        let _ = writeln!(
            out,
            "serving {} ({}) on http://{local}/2015-03-31/functions/{path}/invocations",
            f.name,
            f.image.as_deref().unwrap_or_default()
        );
    }
    if let Some(front) = bound.http_addr() {
        let _ = writeln!(out, "HTTP front on http://{front}/:");
        for f in functions {
            let routes: Vec<String> = f
                .config
                .http
                .routes_or_default()
                .iter()
                .map(ToString::to_string)
                .collect();
            let _ = writeln!(
                out,
                "  {} → {} ({} events)",
                routes.join(", "),
                f.name,
                f.config.http.payload.unwrap_or_default()
            );
        }
    }
    let _ = writeln!(out, "Ctrl-C to stop");
    out
}

/// Function logs on stdout. Lambda's runtimes join a multi-line record (a traceback) with
/// `\r` so that CloudWatch keeps it as one event (language-runtimes.md §8); on a terminal a
/// bare `\r` would make the lines overwrite each other, so there it is shown as a newline.
/// Piped output keeps the bytes exactly as the function wrote them.
fn log_sink() -> LogSink {
    use std::io::{IsTerminal, Write};
    if !std::io::stdout().is_terminal() {
        return LogSink::stdout();
    }
    LogSink::new(|event| {
        let mut out = std::io::stdout().lock();
        let _ = match event {
            LogEvent::Platform { lines, .. } => {
                lines.iter().try_for_each(|line| writeln!(out, "{line}"))
            }
            LogEvent::Output { bytes, .. } => {
                let shown: Vec<u8> = bytes
                    .iter()
                    .map(|&b| if b == b'\r' { b'\n' } else { b })
                    .collect();
                out.write_all(&shown)
            }
        };
        let _ = out.flush();
    })
}

/// Ctrl-C, or SIGTERM (`kill`, a CI runner, `docker stop` of a container running lamina):
/// either way the containers and the network are removed before exiting.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
