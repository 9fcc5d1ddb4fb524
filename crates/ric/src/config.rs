//! What the RIC was asked to run: handler, runtime kind, task root, Runtime API address.
//!
//! Read once at start from argv and the environment (see the crate docs for the list); nothing
//! here does I/O beyond looking at files to auto-detect the runtime kind.

use std::net::{SocketAddr, ToSocketAddrs};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use lamina_runtime_api::env;

pub use lamina_runtime_api::worker::{RuntimeKind, ENV_RUNTIME};
/// Where the task root is when `LAMBDA_TASK_ROOT` is unset.
const DEFAULT_TASK_ROOT: &str = "/var/task";
/// Where the runtime directory is when `LAMBDA_RUNTIME_DIR` is unset.
const DEFAULT_RUNTIME_DIR: &str = "/var/runtime";

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `LAMINA_RUNTIME` names no known kind.
    #[error("{ENV_RUNTIME}={0:?} is not one of python, node, exec, bootstrap")]
    UnknownRuntime(String),
    /// No handler in argv or `_HANDLER`, and the kind needs one.
    #[error("no handler given: pass it as the first argument (the image's CMD) or set _HANDLER")]
    NoHandler,
    /// `AWS_LAMBDA_RUNTIME_API` is not `host:port` or does not resolve.
    #[error("{var}={value:?} is not a usable host:port: {reason}", var = env::RUNTIME_API)]
    BadRuntimeApi {
        /// The value as given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// `AWS_LAMBDA_MAX_CONCURRENCY` is not a count.
    #[error("{var}={0:?} is not a number of invokes at once (1 or more)", var = env::MAX_CONCURRENCY)]
    BadMaxConcurrency(String),
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The handler string (`app.handler`, `bin/tool`…); empty only for `bootstrap`.
    pub handler: String,
    /// How handlers are run.
    pub kind: RuntimeKind,
    /// `LAMBDA_TASK_ROOT`, default `/var/task`.
    pub task_root: PathBuf,
    /// The custom runtime to exec, for [`RuntimeKind::Bootstrap`].
    pub bootstrap: Option<PathBuf>,
    /// The Runtime API, or `None` when `AWS_LAMBDA_RUNTIME_API` is unset (embedded mode).
    pub api: Option<SocketAddr>,
    /// `AWS_LAMBDA_MAX_CONCURRENCY`: invokes at once (Lambda Managed Instances), when set.
    pub max_concurrency: Option<usize>,
}

impl Config {
    /// Read argv (`lamina-ric [HANDLER]`) and the environment.
    pub fn from_env(args: &[String]) -> Result<Self, ConfigError> {
        let handler = args
            .get(1)
            .cloned()
            .or_else(|| std::env::var(env::HANDLER).ok())
            .unwrap_or_default();
        let task_root = std::env::var_os(env::TASK_ROOT)
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_TASK_ROOT), PathBuf::from);
        let runtime_dir = std::env::var_os(env::RUNTIME_DIR)
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_RUNTIME_DIR), PathBuf::from);
        let bootstrap = find_bootstrap(&task_root, &runtime_dir);
        let kind = match std::env::var(ENV_RUNTIME)
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            Some(v) => RuntimeKind::parse(&v).ok_or(ConfigError::UnknownRuntime(v))?,
            None => detect(&handler, &task_root, bootstrap.is_some()),
        };
        if handler.is_empty() && kind != RuntimeKind::Bootstrap {
            return Err(ConfigError::NoHandler);
        }
        let api = match std::env::var(env::RUNTIME_API) {
            Ok(v) if !v.is_empty() => Some(resolve(&v)?),
            _ => None,
        };
        let max_concurrency = match std::env::var(env::MAX_CONCURRENCY) {
            Ok(v) => Some(
                v.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(ConfigError::BadMaxConcurrency(v))?,
            ),
            Err(_) => None,
        };
        Ok(Self {
            handler,
            kind,
            task_root,
            bootstrap,
            api,
            max_concurrency,
        })
    }
}

/// Auto-detect the runtime kind (when `LAMINA_RUNTIME` is unset):
/// a Python module file for the handler → python; a custom `bootstrap` → bootstrap;
/// the handler naming an executable → exec; otherwise python, whose import then fails
/// with the `Runtime.ImportModuleError` a user expects from a missing module.
fn detect(handler: &str, task_root: &Path, has_bootstrap: bool) -> RuntimeKind {
    if python_module_exists(handler, task_root) {
        RuntimeKind::Python
    } else if has_bootstrap {
        RuntimeKind::Bootstrap
    } else if !handler.is_empty() && is_executable(&exec_path(handler, task_root)) {
        RuntimeKind::Exec
    } else {
        RuntimeKind::Python
    }
}

/// Whether `<task root>/<module path>.py` (or a package `__init__.py`) exists for a handler
/// `mod.fn`, `pkg.sub.mod.fn` or `dir/sub/mod.fn`.
fn python_module_exists(handler: &str, task_root: &Path) -> bool {
    let Some((module, _)) = handler.rsplit_once('.') else {
        return false;
    };
    let rel = module.replace('.', "/");
    task_root.join(format!("{rel}.py")).is_file()
        || task_root.join(&rel).join("__init__.py").is_file()
}

/// The file an `exec` handler names: absolute, or relative to the task root.
pub fn exec_path(handler: &str, task_root: &Path) -> PathBuf {
    let p = Path::new(handler);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        task_root.join(p)
    }
}

/// The custom runtime, searched as Lambda does: the function's own `bootstrap`, then a
/// layer's `/opt/bootstrap`, then the runtime directory's.
fn find_bootstrap(task_root: &Path, runtime_dir: &Path) -> Option<PathBuf> {
    [
        task_root.join("bootstrap"),
        PathBuf::from("/opt/bootstrap"),
        runtime_dir.join("bootstrap"),
    ]
    .into_iter()
    .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `host:port` → one socket address. An IP literal needs no lookup; a name such as
/// `localhost` is resolved once here, with the system resolver, so the loop never does DNS.
fn resolve(value: &str) -> Result<SocketAddr, ConfigError> {
    let bad = |reason: String| ConfigError::BadRuntimeApi {
        value: value.to_owned(),
        reason,
    };
    if value.contains('/') {
        return Err(bad("no scheme or path allowed".into()));
    }
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Ok(addr);
    }
    // A static glibc binary needs NSS libraries at run time to resolve names; the usual
    // name needs none.
    if let Some(port) = value.strip_prefix("localhost:") {
        let port = port.parse::<u16>().map_err(|e| bad(e.to_string()))?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    let mut addrs = value.to_socket_addrs().map_err(|e| bad(e.to_string()))?;
    addrs
        .next()
        .ok_or_else(|| bad("the name has no address".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("pkg/sub")).unwrap();
        std::fs::write(root.join("app.py"), "").unwrap();
        std::fs::write(root.join("pkg/sub/mod.py"), "").unwrap();
        std::fs::write(root.join("tool"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(root.join("tool"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        assert_eq!(detect("app.handler", root, false), RuntimeKind::Python);
        assert_eq!(detect("pkg.sub.mod.fn", root, false), RuntimeKind::Python);
        assert_eq!(detect("pkg/sub/mod.fn", root, false), RuntimeKind::Python);
        assert_eq!(detect("tool", root, false), RuntimeKind::Exec);
        assert_eq!(detect("tool", root, true), RuntimeKind::Bootstrap);
        assert_eq!(detect("missing.handler", root, false), RuntimeKind::Python);
    }

    #[test]
    fn runtime_api_addresses() {
        assert_eq!(
            resolve("127.0.0.1:9001").unwrap(),
            "127.0.0.1:9001".parse().unwrap()
        );
        assert_eq!(
            resolve("[::1]:9001").unwrap(),
            "[::1]:9001".parse().unwrap()
        );
        assert!(resolve("localhost:9001").unwrap().ip().is_loopback());
        assert!(resolve("http://127.0.0.1:9001").is_err());
        assert!(resolve("127.0.0.1").is_err());
    }
}
