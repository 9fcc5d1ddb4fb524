//! The one connection to the local Docker Engine: reads `DOCKER_HOST` (else the default
//! socket), negotiates the API version (Debian's docker.io 20.10 speaks 1.41), pings, and
//! explains the fix when the daemon is absent. Everything else in lamina receives the client.

use bollard::Docker;

/// What only Docker can get wrong.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The daemon did not answer.
    #[error(
        "cannot reach the Docker daemon at {host}: start it (`dockerd &` or `systemctl start docker`) or set DOCKER_HOST ({reason})"
    )]
    Unreachable {
        /// `DOCKER_HOST` or the default socket.
        host: String,
        /// The client's reason.
        reason: String,
    },
    /// A function's image is not in the local Docker Engine.
    #[error("image `{0}` is not in the local Docker Engine: load it (`lamina build --load`, `docker load`) or pull it")]
    ImageNotFound(String),
    /// A function served through Docker has no image.
    #[error("function `{0}` has no image: the Docker sandbox needs one")]
    NoImage(String),
    /// `--network` names a network the daemon does not have.
    #[error("Docker has no network `{0}`: create it (`docker network create {0}`), or leave out --network to join Docker's default bridge")]
    NetworkNotFound(String),
    /// `--network` names a network environments cannot join.
    #[error("cannot run environments on network `{name}`: {reason}; {fix}")]
    NetworkUnusable {
        /// The network asked for.
        name: String,
        /// Why it does not do.
        reason: String,
        /// What to do instead (never the thing that just failed).
        fix: String,
    },
    /// An engine lamina cannot run environments on.
    #[error("cannot run environments on {engine}: {missing}; {fix}")]
    Unsupported {
        /// The engine, named with its version and where it was reached.
        engine: String,
        /// What it lacks.
        missing: String,
        /// What to do instead.
        fix: String,
    },
    /// lamina's store could not give what the engine needs (an image to load).
    #[error(transparent)]
    Store(#[from] lamina_image::Error),
    /// A Docker API call failed.
    #[error("Docker could not {action}: {reason}")]
    Api {
        /// What lamina asked for, e.g. "create network lamina-ab12".
        action: String,
        /// Docker's answer.
        reason: String,
    },
}

impl From<DockerError> for lamina_rie::Error {
    fn from(e: DockerError) -> Self {
        lamina_rie::Error::Sandbox(Box::new(e))
    }
}

/// The engine to talk to, as users already choose it: `DOCKER_HOST` (unix, or tcp to this
/// machine); else Docker's default socket when this user may use it; else the endpoint of the Docker
/// context in use (`DOCKER_CONTEXT`, or `currentContext` in `~/.docker/config.json`); else
/// Podman's socket, rootless (`$XDG_RUNTIME_DIR/podman/podman.sock`) then rootful
/// (`/run/podman/podman.sock`), each when this user may use it; else Docker's default
/// socket, to be named in the error.
pub fn docker_host() -> String {
    if let Some(host) = env_nonempty("DOCKER_HOST") {
        return host;
    }
    const DOCKER_SOCKET: &str = "/var/run/docker.sock";
    if usable_socket(DOCKER_SOCKET) {
        return format!("unix://{DOCKER_SOCKET}");
    }
    if let Some(host) = context_host() {
        return host;
    }
    let podman = [
        env_nonempty("XDG_RUNTIME_DIR").map(|d| format!("{d}/podman/podman.sock")),
        Some("/run/podman/podman.sock".to_owned()),
    ];
    podman
        .into_iter()
        .flatten()
        .find(|p| usable_socket(p))
        .map_or_else(
            || format!("unix://{DOCKER_SOCKET}"),
            |p| format!("unix://{p}"),
        )
}

/// Whether `path` exists and this user may connect to it (read and write): a user outside
/// the `docker` group, running rootless Podman, must not be sent to Docker's root socket.
fn usable_socket(path: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(path) else {
        return false;
    };
    // SAFETY: access(2) reads a NUL-terminated path we own.
    unsafe { libc::access(c.as_ptr(), libc::R_OK | libc::W_OK) == 0 }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The Docker endpoint of the context in use, if it is not `default`: the context's
/// `meta.json` lives under `~/.docker/contexts/meta/<sha256 of its name>/` (docker/cli
/// `context/store`).
fn context_host() -> Option<String> {
    use sha2::Digest as _;
    let config_dir = env_nonempty("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| env_nonempty("HOME").map(|h| std::path::Path::new(&h).join(".docker")))?;
    let name = match env_nonempty("DOCKER_CONTEXT") {
        Some(n) => n,
        None => {
            let text = std::fs::read_to_string(config_dir.join("config.json")).ok()?;
            let config: serde_json::Value = serde_json::from_str(&text).ok()?;
            config["currentContext"].as_str()?.to_owned()
        }
    };
    if name == "default" {
        return None;
    }
    let id = hex_of(&sha2::Sha256::digest(name.as_bytes()));
    let meta = config_dir.join("contexts/meta").join(id).join("meta.json");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(meta).ok()?).ok()?;
    meta["Endpoints"]["docker"]["Host"]
        .as_str()
        .map(str::to_owned)
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the daemon runs on this machine (a Unix socket): what crosses to it is then a copy
/// in memory, not a network transfer.
pub fn daemon_is_local() -> bool {
    docker_host().starts_with("unix://")
}

/// Connect to [`docker_host`], negotiate the API version and ping.
pub async fn connect() -> Result<Docker, DockerError> {
    Ok(connect_engine().await?.0)
}

/// [`connect`], and say which engine answered — from the one `GET /version` the negotiation
/// needs anyway (Podman takes ~0.45 s to answer it; asking twice was a third of a cold start).
pub async fn connect_engine() -> Result<(Docker, Engine), DockerError> {
    let host = docker_host();
    let unreachable = |e: bollard::errors::Error| DockerError::Unreachable {
        host: host.clone(),
        reason: e.to_string(),
    };
    let client = |version: &bollard::ClientVersion| {
        if let Some(path) = host.strip_prefix("unix://") {
            Docker::connect_with_unix(path, 120, version)
        } else if host.starts_with("tcp://") || host.starts_with("http://") {
            Docker::connect_with_http(&host, 120, version)
        } else {
            Docker::connect_with_local_defaults()
        }
    };
    let first = client(bollard::API_DEFAULT_VERSION).map_err(unreachable)?;
    let version = first.version().await.map_err(unreachable)?;
    // The API version both speak: the engine's, when older than bollard's.
    let spoken = version
        .api_version
        .as_deref()
        .and_then(|v| {
            let (major, minor) = v.split_once('.')?;
            Some(bollard::ClientVersion {
                major_version: major.parse().ok()?,
                minor_version: minor.parse().ok()?,
            })
        })
        .filter(|v| v < bollard::API_DEFAULT_VERSION)
        .unwrap_or(bollard::ClientVersion {
            major_version: bollard::API_DEFAULT_VERSION.major_version,
            minor_version: bollard::API_DEFAULT_VERSION.minor_version,
        });
    let docker = client(&spoken).map_err(unreachable)?;
    docker.ping().await.map_err(unreachable)?;
    let engine = Engine::from_version(&version, &host);
    let _ = CONNECTED.set(engine.clone());
    Ok((docker, engine))
}

/// The engine this process connected to first ([`connect_engine`]): what [`Engine::of`]
/// answers without asking again (lamina connects to one engine per run).
static CONNECTED: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();

/// Whether this process is connected to Podman (what [`connect_engine`] found).
pub(crate) fn connected_to_podman() -> bool {
    CONNECTED.get().is_some_and(|e| e.podman)
}

/// Which engine answers, as `lamina rie` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    /// Podman (its Docker-compatible API), rather than Docker Engine.
    pub podman: bool,
    /// The engine's version.
    pub version: String,
    /// The API version spoken.
    pub api: String,
    /// Where it was reached.
    pub host: String,
    /// Whether the engine runs rootless ([`Engine::of`] finds out): its containers live in a
    /// network namespace no host address reaches.
    pub rootless: bool,
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = if self.podman { "Podman" } else { "Docker" };
        write!(
            f,
            "{name} {} (API {}) at {}{}",
            self.version,
            self.api,
            self.host,
            if self.rootless { ", rootless" } else { "" }
        )
    }
}

impl Engine {
    /// What the engine's `GET /version` says (Podman lists a `Podman Engine` component).
    pub fn from_version(version: &bollard::models::SystemVersion, host: &str) -> Engine {
        let podman = version
            .components
            .iter()
            .flatten()
            .any(|c| c.name.to_ascii_lowercase().contains("podman"));
        Engine {
            podman,
            version: version.version.clone().unwrap_or_else(|| "?".into()),
            api: version.api_version.clone().unwrap_or_else(|| "?".into()),
            host: host.to_owned(),
            rootless: false,
        }
    }

    /// Ask the engine (see [`connect_engine`], which needs no extra request), and whether it
    /// runs rootless.
    pub async fn of(docker: &Docker) -> Result<Engine, DockerError> {
        let mut engine = match CONNECTED.get().filter(|e| e.host == docker_host()) {
            Some(engine) => engine.clone(),
            None => {
                let version = docker.version().await.map_err(|e| DockerError::Api {
                    action: "read the engine's version".into(),
                    reason: e.to_string(),
                })?;
                Engine::from_version(&version, &docker_host())
            }
        };
        engine.rootless = engine.is_rootless(docker).await?;
        Ok(engine)
    }

    /// Whether the engine runs rootless. Podman is rootless when run by a user other than
    /// root (its `/info` takes a quarter second and says nothing more); Docker says
    /// `name=rootless` in its security options.
    async fn is_rootless(&self, docker: &Docker) -> Result<bool, DockerError> {
        if self.podman {
            // SAFETY: getuid has no preconditions.
            return Ok(unsafe { libc::getuid() != 0 });
        }
        let info = docker.info().await.map_err(|e| DockerError::Api {
            action: "read the engine's settings".into(),
            reason: e.to_string(),
        })?;
        Ok(info
            .security_options
            .iter()
            .flatten()
            .any(|o| o.contains("rootless")))
    }
}

/// An engine API failure as the emulator's error, naming what lamina asked for.
pub(crate) fn failed(
    action: impl Into<String>,
) -> impl FnOnce(bollard::errors::Error) -> lamina_rie::Error {
    let action = action.into();
    move |e| {
        DockerError::Api {
            action,
            reason: e.to_string(),
        }
        .into()
    }
}

/// Whether the engine answered 404.
pub(crate) fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(name: &str) -> bollard::models::SystemVersion {
        let path = format!(
            "{}/tests/fixtures/engine/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn the_engine_is_named_from_its_version_answer() {
        let docker = Engine::from_version(
            &version("docker-20.10-version.json"),
            "unix:///var/run/docker.sock",
        );
        assert!(!docker.podman);
        assert_eq!(
            docker.to_string(),
            "Docker 20.10.24+dfsg1 (API 1.41) at unix:///var/run/docker.sock"
        );
        let podman = Engine::from_version(&version("podman-4.3-version.json"), "unix:///x.sock");
        assert!(podman.podman);
        assert!(
            podman.to_string().starts_with("Podman 4.3.1 (API 1.41)"),
            "{podman}"
        );
    }

    #[test]
    fn the_current_docker_contexts_endpoint_is_read_from_its_meta_file() {
        use sha2::Digest as _;
        let dir = tempfile::tempdir().unwrap();
        let id = hex_of(&sha2::Sha256::digest(b"colima"));
        let meta = dir.path().join("contexts/meta").join(id);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"colima","Metadata":{},"Endpoints":{"docker":{"Host":"unix:///home/u/.colima/docker.sock","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"currentContext":"colima"}"#,
        )
        .unwrap();
        std::env::set_var("DOCKER_CONFIG", dir.path());
        std::env::remove_var("DOCKER_CONTEXT");
        let found = context_host();
        std::env::set_var("DOCKER_CONTEXT", "default");
        let default = context_host();
        std::env::remove_var("DOCKER_CONTEXT");
        std::env::remove_var("DOCKER_CONFIG");
        assert_eq!(found.as_deref(), Some("unix:///home/u/.colima/docker.sock"));
        assert_eq!(default, None);
    }
}
