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
    /// A Docker API call failed.
    #[error("Docker could not {action}: {reason}")]
    Api {
        /// What lamina asked for, e.g. "create network lamina-ab12".
        action: String,
        /// Docker's answer.
        reason: String,
    },
}

impl From<DockerError> for crate::Error {
    fn from(e: DockerError) -> Self {
        crate::Error::Sandbox(Box::new(e))
    }
}

/// `DOCKER_HOST`, or the socket bollard uses when it is unset.
pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".into())
}

/// Whether the daemon runs on this machine (a Unix socket): what crosses to it is then a copy
/// in memory, not a network transfer.
pub fn daemon_is_local() -> bool {
    docker_host().starts_with("unix://")
}

/// Connect, negotiate the API version and ping.
pub async fn connect() -> Result<Docker, DockerError> {
    let unreachable = |e: bollard::errors::Error| DockerError::Unreachable {
        host: docker_host(),
        reason: e.to_string(),
    };
    let docker = Docker::connect_with_local_defaults().map_err(unreachable)?;
    let docker = docker.negotiate_version().await.map_err(unreachable)?;
    docker.ping().await.map_err(unreachable)?;
    Ok(docker)
}

pub(super) fn failed(
    action: impl Into<String>,
) -> impl FnOnce(bollard::errors::Error) -> crate::Error {
    let action = action.into();
    move |e| {
        DockerError::Api {
            action,
            reason: e.to_string(),
        }
        .into()
    }
}

pub(super) fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}
