//! The emulator's one error type: every failure names the object it concerns and what to do.
//!
//! Failures of a single invoke are not errors of this kind: they travel to the invoker as the
//! cloud's bodies (`lamina_runtime_api::body`). These are failures to set up or run the
//! emulator itself: a port in use, a function the sandbox cannot run. What a sandbox
//! raises (Docker's errors) reaches the core boxed, as [`Error::Sandbox`].

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
    #[error("cannot open a Runtime API listener on {at}: {source}")]
    RuntimeApiListener {
        /// The sandbox's bind address, or the socket's path.
        at: String,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// `serve` was given no function.
    #[error("no function to serve: give at least one image or folder")]
    NoFunctions,
    /// Two functions were given the same name.
    #[error("two functions are named `{0}`: give each a distinct name")]
    DuplicateFunction(String),
    /// Two functions claim the same HTTP route (or both take every path).
    #[error("functions `{first}` and `{second}` both claim the HTTP route `{route}`: give each its own routes in its lamina.toml `[http]` table")]
    DuplicateRoute {
        /// The route key.
        route: String,
        /// The function that claimed it first.
        first: String,
        /// The other.
        second: String,
    },
    /// A streaming front on a payload that cannot stream.
    #[error("function `{function}` asks its HTTP front to stream (invoke_mode RESPONSE_STREAM) with the apigw-http payload, but HTTP APIs cannot stream: use payload function-url or apigw-rest, or invoke_mode BUFFERED")]
    StreamingHttpApi {
        /// The function.
        function: String,
    },
    /// A destination folder cannot take records.
    #[error("cannot write event records to {flag} {dir}: {reason}; give {flag} a folder this user can write")]
    Destination {
        /// `--on-failure` or `--on-success`.
        flag: &'static str,
        /// The folder.
        dir: std::path::PathBuf,
        /// Why.
        reason: io::Error,
    },
    /// The event queue folder cannot be used.
    #[error("cannot use the event queue in {dir}: {source}")]
    EventQueue {
        /// The folder.
        dir: std::path::PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A new version of a function was not taken; the old one keeps serving.
    #[error(
        "the new version of `{function}` was not taken, the last good one keeps serving: {reason}"
    )]
    UpdateRefused {
        /// The function.
        function: String,
        /// Why.
        reason: String,
    },
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
    /// The sandbox failed (Docker unreachable, an image missing…); its error says why.
    #[error(transparent)]
    Sandbox(Box<dyn std::error::Error + Send + Sync>),
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
