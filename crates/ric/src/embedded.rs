//! Embedded mode: `lamina-ric` started without `AWS_LAMBDA_RUNTIME_API` (a plain
//! `docker run -p 9000:8080 IMAGE`) is its own emulator, as AWS's base images are with
//! `aws-lambda-rie`: it serves the invoke API and runs *itself*, with the same arguments,
//! as the runtime of a [`ProcessSandbox`] against a Runtime API on 127.0.0.1.
//!
//! Read from the environment (all of which also reaches the runtime):
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `LAMINA_RIE_PORT` | invoke API port (`0`: any free one) | `8080` |
//! | `LAMINA_RIE_HOST` | invoke API address | `0.0.0.0` |
//! | `AWS_LAMBDA_FUNCTION_NAME` | function name (the `function` path alias always works) | `function` |
//! | `AWS_LAMBDA_FUNCTION_TIMEOUT` | timeout in whole seconds, 1–900 | `300` |
//! | `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` | memory in MB, 128–10,240: reported, **not enforced** | `3008` |
//! | `AWS_REGION` (else `AWS_DEFAULT_REGION`) | region in ARNs | `us-east-1` |
//!
//! The defaults are `aws-lambda-rie`'s, not the cloud's (3 s, 128 MB): a plain `docker run`
//! of a lamina image behaves like one of an AWS base image. The RIC cannot see the image's
//! labels, so `lamina.toml`'s memory and timeout apply only under `lamina rie`; pass them
//! with `docker run -e` here. Unlike `aws-lambda-rie`, a malformed value is a clear error at
//! start, never a panic.
//!
//! External extensions (`/opt/extensions/*`) start before the runtime, under this binary's
//! init, and get the Extensions and Telemetry APIs as under `lamina rie`.
//!
//! `0.0.0.0` is right inside a container, where Docker's port publishing must reach the port;
//! on a host, set `LAMINA_RIE_HOST=127.0.0.1`. Output of the runtime and the `START`/`END`/
//! `REPORT` lines go to stdout. SIGTERM or SIGINT stop serving, kill the runtime's process
//! group and exit 0; a second one exits at once. As PID 1 it also reaps the orphans the
//! killed groups leave (`reaper`).

use lamina_rie::config::DEFAULT_REGION;
use lamina_rie::{Emulator, FunctionConfig, LogSink, ProcessSandbox};
use lamina_runtime_api::env;
use lamina_runtime_api::function::{FunctionError, MemorySize, Timeout};
use lamina_runtime_api::limits::{RIE_DEFAULT_MEMORY_MB, RIE_DEFAULT_TIMEOUT_S};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// The invoke API's port.
pub const ENV_PORT: &str = "LAMINA_RIE_PORT";
/// The invoke API's address.
pub const ENV_HOST: &str = "LAMINA_RIE_HOST";
/// Port when [`ENV_PORT`] is unset: `aws-lambda-rie`'s.
const DEFAULT_PORT: u16 = 8080;
/// Function name when `AWS_LAMBDA_FUNCTION_NAME` is unset: `aws-lambda-rie`'s.
const DEFAULT_NAME: &str = "function";
/// Exit code of a clean shutdown.
const EXIT_OK: i32 = 0;
/// Exit code when the emulator cannot start or fails.
const EXIT_FAILED: i32 = 1;

/// Why embedded mode cannot start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// A variable of lamina's own has a value outside what it accepts.
    #[error("{var}={value:?} is not {expected}")]
    BadVar {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What it must be.
        expected: &'static str,
    },
    /// A function setting breaks one of Lambda's rules (the function model's message).
    #[error("{var}: {source}")]
    Function {
        /// The variable.
        var: &'static str,
        /// The rule it breaks.
        source: FunctionError,
    },
}

/// What to serve, and where.
#[derive(Debug, Clone)]
pub struct Embedded {
    /// The invoke API's address.
    pub addr: SocketAddr,
    /// The one function (its `command` is this binary and its arguments).
    pub function: FunctionConfig,
}

impl Embedded {
    /// Read the configuration through `get` (the process environment in production).
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        command: Vec<String>,
    ) -> Result<Self, EmbeddedError> {
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let bad =
            |var: &'static str, value: String, expected: &'static str| EmbeddedError::BadVar {
                var,
                value,
                expected,
            };
        // The function's settings go through the one model, so a value refused here is
        // refused with the same words by `lamina build` and `lamina rie`.
        fn setting<T: std::str::FromStr<Err = FunctionError>>(
            var: &'static str,
            value: Option<String>,
            default: impl FnOnce() -> T,
        ) -> Result<T, EmbeddedError> {
            match value {
                None => Ok(default()),
                Some(v) => v
                    .parse()
                    .map_err(|source| EmbeddedError::Function { var, source }),
            }
        }
        let name = setting(env::FUNCTION_NAME, var(env::FUNCTION_NAME), || {
            lamina_runtime_api::function::FunctionName::sanitised(DEFAULT_NAME)
        })?;
        let mut function = FunctionConfig::new(name);
        // The defaults are aws-lambda-rie's (300 s, 3008 MB), not the cloud's.
        function.config.timeout =
            setting(env::FUNCTION_TIMEOUT, var(env::FUNCTION_TIMEOUT), || {
                Timeout::from_secs(RIE_DEFAULT_TIMEOUT_S).unwrap_or_default()
            })?;
        function.config.memory = setting(
            env::FUNCTION_MEMORY_SIZE,
            var(env::FUNCTION_MEMORY_SIZE),
            || MemorySize::from_mb(RIE_DEFAULT_MEMORY_MB).unwrap_or_default(),
        )?;
        function.region = var(env::REGION)
            .or_else(|| var(env::DEFAULT_REGION))
            .unwrap_or_else(|| DEFAULT_REGION.into());
        let port = match var(ENV_PORT) {
            None => DEFAULT_PORT,
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| bad(ENV_PORT, v, "a port number (0–65535)"))?,
        };
        let host = match var(ENV_HOST) {
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| bad(ENV_HOST, v, "an IP address such as 127.0.0.1"))?,
        };
        function.command = Some(command);
        Ok(Self {
            addr: SocketAddr::new(host, port),
            function,
        })
    }
}

/// This binary and its arguments (the handler): what the sandbox runs as the runtime — behind
/// this binary's init when the image has external extensions, which the init starts first,
/// as under `lamina rie` (all in one process group, which the sandbox ends as one).
fn own_command(args: &[String]) -> Vec<String> {
    let exe = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/proc/self/exe".into());
    let runtime: Vec<String> = std::iter::once(exe.clone())
        .chain(args.iter().skip(1).cloned())
        .collect();
    let extensions = crate::init::discover(std::path::Path::new(
        lamina_runtime_api::extensions::EXTERNAL_DIR,
    ));
    if extensions.is_empty() {
        runtime
    } else {
        lamina_runtime_api::init::process_command(&exe, &runtime)
    }
}

/// Serve until SIGTERM/SIGINT; returns the process exit code.
pub fn run(args: &[String], handler: &str) -> i32 {
    let embedded = match Embedded::from_lookup(|k| std::env::var(k).ok(), own_command(args)) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("lamina-ric: {e}");
            return super::EXIT_USAGE;
        }
    };
    crate::process::block_on(serve(embedded, handler), EXIT_FAILED)
}

async fn serve(embedded: Embedded, handler: &str) -> i32 {
    // Installed before anything starts, so an early `docker stop` is not lost.
    let signals = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(term), Ok(int)) => (term, int),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("lamina-ric: cannot install signal handlers: {e}");
            return EXIT_FAILED;
        }
    };
    crate::reaper::spawn_if_init();
    let bound = match Emulator::bind(embedded.addr).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("lamina-ric: {e}; set {ENV_PORT} to another port");
            return EXIT_FAILED;
        }
    };
    let f = &embedded.function;
    let local = bound.local_addr();
    eprintln!(
        "lamina-ric: {} is not set: serving the Lambda invoke API on {local} and running `{handler}` \
         as function `{}` ({} MB, not enforced; timeout {:?})",
        env::RUNTIME_API,
        f.name,
        f.config.memory,
        f.config.timeout.duration()
    );
    let port = if local.ip().is_unspecified() {
        eprintln!(
            "lamina-ric: listening on all interfaces so that `docker run -p 9000:{}` reaches it; \
             outside a container set {ENV_HOST}=127.0.0.1",
            local.port()
        );
        "<published port>".to_owned()
    } else {
        local.port().to_string()
    };
    eprintln!(
        "lamina-ric: try: curl -XPOST http://localhost:{port}/2015-03-31/functions/function/invocations -d '{{}}'"
    );
    let sandbox = Arc::new(ProcessSandbox::default());
    let served = bound
        .serve(
            vec![embedded.function],
            sandbox,
            LogSink::stdout(),
            termination(signals),
        )
        .await;
    match served {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("lamina-ric: {e}");
            EXIT_FAILED
        }
    }
}

/// Resolves at the first SIGTERM or SIGINT; a second one exits the process at once.
async fn termination((mut term, mut int): (Signal, Signal)) {
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    eprintln!("lamina-ric: {name}: shutting down");
    tokio::spawn(async move {
        let sig = tokio::select! {
            _ = term.recv() => libc::SIGTERM,
            _ = int.recv() => libc::SIGINT,
        };
        std::process::exit(128 + sig);
    });
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Embedded, EmbeddedError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Embedded::from_lookup(
            |k| map.get(k).cloned(),
            vec!["/x/lamina-ric".into(), "app.handler".into()],
        )
    }

    #[test]
    fn defaults_are_the_aws_emulators() {
        let e = config(&[]).unwrap();
        assert_eq!(e.addr, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(e.function.name.as_str(), "function");
        assert_eq!(e.function.config.timeout.secs(), 300);
        assert_eq!(e.function.config.memory.mb(), 3008);
        assert_eq!(e.function.region, "us-east-1");
        assert_eq!(
            e.function.command.as_deref(),
            Some(&["/x/lamina-ric".to_owned(), "app.handler".to_owned()][..])
        );
    }

    #[test]
    fn values_from_the_environment() {
        let e = config(&[
            (ENV_PORT, "9100"),
            (ENV_HOST, "127.0.0.1"),
            ("AWS_LAMBDA_FUNCTION_NAME", "calc"),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "25"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ])
        .unwrap();
        assert_eq!(e.addr, "127.0.0.1:9100".parse().unwrap());
        assert_eq!(e.function.name.as_str(), "calc");
        assert_eq!(e.function.config.timeout.secs(), 25);
        assert_eq!(e.function.config.memory.mb(), 256);
        assert_eq!(e.function.region, "eu-west-1");
    }

    #[test]
    fn malformed_values_are_errors_not_panics() {
        for (k, v) in [
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "ten"),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "0"),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "901"),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "NaN"),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "2.5"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1GB"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "64"),
            ("AWS_LAMBDA_FUNCTION_NAME", "a/b"),
            (ENV_PORT, "70000"),
            (ENV_HOST, "localhost"),
        ] {
            let err = config(&[(k, v)]).unwrap_err().to_string();
            assert!(err.contains(k) || err.contains("a/b"), "{k}={v}: {err}");
        }
    }
}
