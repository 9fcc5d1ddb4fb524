//! `lamina rie`: serve an image (built first when given a folder) on the Lambda invoke API,
//! with environments run as containers in the local Docker Engine.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use lamina_build::pipeline::labels;
use lamina_image::Reference;
use lamina_rie::docker::DockerSandbox;
use lamina_rie::{Emulator, FunctionConfig, LogEvent, LogSink};
use lamina_runtime_api::function::{FunctionName, HttpSettings};

use super::build::build_dir;
use super::Globals;
use crate::cli::{FunctionArgs, RieArgs};
use crate::{config, docker};

/// `lamina rie`.
pub async fn run(globals: &Globals, args: &RieArgs) -> Result<()> {
    let Some(target_arg) = args.target.as_deref() else {
        // `--cleanup`: what killed sessions left, without starting one.
        let docker = lamina_rie::docker::connect().await?;
        let removed = lamina_rie::docker::cleanup_stale(&docker, None).await?;
        if globals.json {
            println!("{}", serde_json::json!({ "removed": removed }));
        } else {
            println!(
                "removed {removed} container(s) and network(s) left by stopped lamina rie sessions"
            );
        }
        return Ok(());
    };
    let store = globals.store()?;
    let runner = docker::DockerRunner::new(tokio::runtime::Handle::current(), store.clone(), None);
    let target = Path::new(target_arg);
    let (reference, manifest) = if target.is_dir() {
        let built = build_dir(
            globals,
            &store,
            target,
            &FunctionArgs::default(),
            None,
            &runner,
            None,
        )
        .await?;
        eprintln!("built {} from {}", built.reference, target.display());
        (built.reference, Some(built.output.image.manifest_digest))
    } else {
        let reference = Reference::parse(target_arg).with_context(|| {
            format!(
                "`{}` is neither a function folder nor an image name",
                target_arg
            )
        })?;
        let manifest = store.get_ref(&reference)?;
        (reference, manifest)
    };

    // Bind first: a busy port is reported before any container starts.
    let addr = SocketAddr::new(args.host, args.port);
    let mut bound = Emulator::bind(addr).await?;
    if let Some(port) = args.http {
        bound = bound.with_http(SocketAddr::new(args.host, port)).await?;
    }

    // The one connection to Docker: for installing, loading and the sandbox.
    let docker = runner.docker().await?.clone();
    match &manifest {
        Some(manifest) => {
            if let Some(r) = docker::ensure_loaded(&docker, &store, manifest, &reference).await? {
                eprintln!(
                    "loaded {reference} into Docker ({} of {} layers sent)",
                    r.layers_sent, r.layers_total
                );
            }
        }
        None => {
            if docker::image_id(&docker, &reference).await?.is_none() {
                bail!(
                    "image `{reference}` is neither in lamina's store nor in Docker; build it with `lamina build DIR --tag {reference}`"
                );
            }
        }
    }
    let image_labels = docker
        .inspect_image(&reference.to_string())
        .await
        .with_context(|| format!("cannot inspect image `{reference}`"))?
        .config
        .and_then(|c| c.labels)
        .unwrap_or_default();

    let from_image = labels::read(|k| image_labels.get(k).cloned())
        .with_context(|| format!("cannot read the function settings of image `{reference}`"))?;
    let name = from_image
        .name
        .unwrap_or_else(|| FunctionName::sanitised(reference.short_name()));
    let mut function = FunctionConfig::new(name.clone());
    function.image = Some(reference.to_string());
    function.memory = args.memory.or(from_image.memory).unwrap_or_default();
    function.timeout = args.timeout.or(from_image.timeout).unwrap_or_default();
    function.ephemeral_storage = from_image.ephemeral_storage.unwrap_or_default();
    function.concurrency = args
        .concurrency
        .or(from_image.concurrency)
        .unwrap_or_default();
    let mut env = Vec::new();
    if let Some(file) = &args.env_file {
        env.extend(config::read_env_file(file)?);
    }
    env.extend(args.env.iter().cloned());
    function.env = env.into_iter().collect();
    function.http = HttpSettings {
        payload: args.http_payload,
        ..HttpSettings::default()
    }
    .over(from_image.http);
    config::warn_about_env(&function.env, false);
    let sandbox = DockerSandbox::new(docker, &lamina_rie::docker::new_session_id()).await?;
    match sandbox.cleanup_stale().await {
        Ok(0) => {}
        Ok(n) => eprintln!("removed {n} container(s) and network(s) left by an earlier lamina rie that was stopped without cleaning up"),
        Err(e) => tracing::warn!("could not remove containers left by an earlier lamina rie: {e}"),
    }
    let sandbox = Arc::new(sandbox);
    let local = bound.local_addr();
    eprintln!(
        "serving {name} ({reference}) on http://{local}/2015-03-31/functions/function/invocations — Ctrl-C to stop"
    );
    if let Some(front) = bound.http_addr() {
        let routes: Vec<String> = function
            .http
            .routes_or_default()
            .iter()
            .map(ToString::to_string)
            .collect();
        eprintln!(
            "HTTP front on http://{front}/ ({} events; routes: {})",
            function.http.payload.unwrap_or_default(),
            routes.join(", ")
        );
    }
    let shutdown = async {
        stop_signal().await;
        eprintln!("stopping: removing containers and network");
    };
    bound
        .serve(vec![function], sandbox, log_sink(), shutdown)
        .await?;
    Ok(())
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
            LogEvent::Platform { line, .. } => writeln!(out, "{line}"),
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
