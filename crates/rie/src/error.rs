//! The emulator's one error type: every failure names the object it concerns and what to do.
//!
//! Failures of a single invoke are not errors of this kind: they travel to the invoker as the
//! cloud's bodies (`lamina_runtime_api::body`). These are failures to set up or run the
//! emulator itself: a port in use, an unreachable Docker daemon, a missing image.

use std::io;
use std::net::{IpAddr, SocketAddr};

/// What went wrong while starting or running the emulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The invoke API's port is taken by another server.
    #[error("port {port} on {ip} is already in use: stop the other server or pass --port")]
    PortInUse {
        /// Address asked for.
        ip: IpAddr,
        /// Port asked for.
        port: u16,
    },
    /// The invoke API could not listen for another reason (permissions, unknown address).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// An environment's Runtime API listener could not be opened.
    #[error("cannot open a Runtime API listener on {ip}: {source}")]
    RuntimeApiListener {
        /// The sandbox's bind address.
        ip: IpAddr,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// Accepting connections on the invoke API failed.
    #[error("the invoke API stopped accepting connections: {0}")]
    Serve(#[source] io::Error),
    /// `serve` was given no function.
    #[error("no function to serve: give at least one image or folder")]
    NoFunctions,
    /// Two functions were given the same name.
    #[error("two functions are named `{0}`: give each a distinct name")]
    DuplicateFunction(String),
    /// A function's configuration is out of range or malformed.
    #[error("invalid configuration of function `{function}`: {reason}")]
    Config {
        /// The function's name.
        function: String,
        /// What is wrong and the allowed range.
        reason: String,
    },
    /// A local runtime process could not be started.
    #[error("cannot start `{program}`: {source}; check the command and that it is executable")]
    Spawn {
        /// The program.
        program: String,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The Docker daemon did not answer.
    #[error(
        "cannot reach the Docker daemon at {host}: start it (`dockerd`, `systemctl start docker`) or set DOCKER_HOST ({reason})"
    )]
    DockerUnreachable {
        /// `DOCKER_HOST` or the default socket.
        host: String,
        /// The client's reason.
        reason: String,
    },
    /// A function's image is not in the local Docker Engine.
    #[error("image `{0}` not found in the local Docker Engine: build it with `lamina build --load` or `docker pull` it")]
    ImageNotFound(String),
    /// A function served through Docker has no image.
    #[error("function `{0}` has no image: the Docker sandbox needs one")]
    NoImage(String),
    /// A Docker API call failed.
    #[error("Docker could not {action}: {reason}")]
    Docker {
        /// What lamina asked for, e.g. "create network lamina-ab12".
        action: String,
        /// Docker's answer.
        reason: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
