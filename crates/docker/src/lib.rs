//! The Docker side of the emulator (feature `docker`): the one connection to the local Docker
//! Engine that all of lamina uses ([`connect`]), the errors only Docker can raise
//! ([`DockerError`]), and [`DockerSandbox`], which runs environments as containers.
//!
//! The emulator core never sees these types: the sandbox hands its errors to the core as
//! [`lamina_rie::Error::Sandbox`].

mod cgroup;
mod connect;
mod containers;
mod images;
mod network;
mod sandbox;

/// The engine client (bollard's), as everything else in lamina receives it from [`connect`].
pub use bollard::Docker;
pub use connect::{connect, connect_engine, daemon_is_local, docker_host, DockerError, Engine};
pub use containers::{LABEL_FUNCTION, LABEL_HOST, LABEL_PID, LABEL_SESSION};
pub use images::{ensure_loaded, image_id, image_labels, DockerRunner, LoadReport};
pub use network::{DEFAULT_NETWORK, LABEL_SHARED, SHARED_NETWORK};
pub use sandbox::{cleanup_stale, new_session_id, DockerSandbox, RUNTIME_USER};
