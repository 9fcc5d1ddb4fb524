//! lamina-ric: the Runtime Interface Client lamina puts in every image.
//!
//! Usage: `lamina-ric [HANDLER]` (the image's `ENTRYPOINT` is `/var/runtime/lamina-ric` and its
//! `CMD` the handler), or `lamina-ric init …`, the init `lamina rie` runs in every container
//! in front of the image's own entrypoint (`init`).
//!
//! As the runtime client, it connects to the Runtime API named by `AWS_LAMBDA_RUNTIME_API`
//! and runs handlers with one of four runtime kinds (`config::RuntimeKind`). Without
//! `AWS_LAMBDA_RUNTIME_API` it is its own emulator, serving the invoke API on `:8080` like
//! `aws-lambda-rie` (`embedded`, which lists the variables that mode reads).
//!
//! Environment read by the RIC itself (everything is also passed through to workers):
//! `AWS_LAMBDA_RUNTIME_API`, `_HANDLER` (when no argument), `LAMBDA_TASK_ROOT`
//! (default `/var/task`), `LAMBDA_RUNTIME_DIR` (default `/var/runtime`), `LAMINA_RUNTIME`
//! (`python`, `node`, `exec`, `bootstrap`; else auto-detected), `LAMINA_PYTHON` (interpreter,
//! default `python3`), `LAMINA_PYTHON_ADAPTER` (default
//! `/var/runtime/lamina/python/bootstrap.py`), `_LAMBDA_TELEMETRY_LOG_FD` (only to keep the
//! worker's pipes off it).
//!
//! Built fully static (glibc, `+crt-static`), with a current-thread tokio runtime and an
//! HTTP/1 client only.

mod adapter;
mod bootstrap;
mod client;
mod config;
mod embedded;
mod exec;
mod framing;
mod init;
mod lines;
mod managed;
mod output;
mod process;
mod reaper;
mod runtime;
mod stdio;

use crate::adapter::AdapterWorker;
use crate::client::RuntimeClient;
use crate::config::{Config, RuntimeKind};
use crate::exec::ExecWorker;
use crate::runtime::{error_body, restore_if_snapshotted, runtime_loop, Fatal};

/// Exit code for usage and configuration errors.
pub(crate) const EXIT_USAGE: i32 = 2;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(lamina_runtime_api::init::ARG) {
        std::process::exit(init::run(&args[2..]));
    }
    let config = match Config::from_env(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lamina-ric: {e}");
            std::process::exit(EXIT_USAGE);
        }
    };
    let Some(api) = config.api else {
        std::process::exit(embedded::run(&args, &config.handler));
    };
    if config.kind == RuntimeKind::Bootstrap {
        std::process::exit(bootstrap::exec(&config));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let rt = rt.unwrap_or_else(|e| {
        eprintln!("lamina-ric: cannot start the async runtime: {e}");
        std::process::exit(1)
    });
    rt.block_on(async {
        if let Err(e) = process::forward_termination_signals() {
            eprintln!("lamina-ric: cannot install signal handlers: {e}");
        }
        let mut client = RuntimeClient::new(api);
        let fatal = serve(&config, &mut client).await;
        fatal.exit(&mut client).await
    })
}

/// Initialise the worker for the configured kind and run the loop until something is fatal.
async fn serve(config: &Config, client: &mut RuntimeClient) -> Fatal {
    if let (Some(n), Some(api)) = (config.max_concurrency, config.api) {
        return serve_managed(config, api, n).await;
    }
    let result = match config.kind {
        RuntimeKind::Python | RuntimeKind::Node => {
            let Some(language) = config.kind.adapter() else {
                return unsupported(config.kind.as_str());
            };
            match AdapterWorker::start(config, language).await {
                Ok(mut worker) => match restore_if_snapshotted(client, &mut worker).await {
                    Ok(()) => runtime_loop(client, &mut worker).await,
                    Err(fatal) => Err(fatal),
                },
                Err(fatal) => return fatal,
            }
        }
        RuntimeKind::Exec => match ExecWorker::new(config) {
            Ok(mut worker) => match restore_if_snapshotted(client, &mut worker).await {
                Ok(()) => runtime_loop(client, &mut worker).await,
                Err(fatal) => Err(fatal),
            },
            Err(fatal) => return fatal,
        },
        RuntimeKind::Bootstrap => {
            unreachable!("bootstrap is exec'ed before the async runtime starts")
        }
    };
    match result {
        Err(fatal) => fatal,
        Ok(never) => match never {},
    }
}

/// [`serve`] with `n` workers at once (Lambda Managed Instances, `managed`).
async fn serve_managed(config: &Config, api: std::net::SocketAddr, n: usize) -> Fatal {
    let config = config.clone();
    match config.kind {
        RuntimeKind::Python | RuntimeKind::Node => {
            let Some(language) = config.kind.adapter() else {
                return unsupported(config.kind.as_str());
            };
            managed::serve(api, n, move || {
                let config = config.clone();
                async move { AdapterWorker::start(&config, language).await }
            })
            .await
        }
        RuntimeKind::Exec => {
            managed::serve(api, n, move || {
                let worker = ExecWorker::new(&config);
                async move { worker }
            })
            .await
        }
        RuntimeKind::Bootstrap => {
            unreachable!("bootstrap is exec'ed before the async runtime starts")
        }
    }
}

fn unsupported(kind: &str) -> Fatal {
    let message = format!("lamina-ric: the {kind} runtime is not supported by this build yet");
    eprintln!("{message}");
    Fatal::Init {
        error_type: "Runtime.InvalidEntrypoint".into(),
        body: error_body(&message, "Runtime.InvalidEntrypoint", "", &[]),
    }
}
