//! Where one environment's Runtime API listens, as its sandbox asks
//! ([`RuntimeApiReach`]): a TCP port on a host address, or a Unix socket in a directory of
//! its own that the sandbox carries into the environment.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::http_util::{bind_any_port, Listener};
use crate::sandbox::RuntimeApiReach;

/// The file name of an environment's Runtime API socket in its directory.
const SOCKET_NAME: &str = "runtime-api.sock";

/// An open Runtime API listener.
pub(crate) struct RuntimeApiListener {
    /// What to serve.
    pub(crate) listener: Listener,
    /// `AWS_LAMBDA_RUNTIME_API`: where the runtime connects.
    pub(crate) runtime_api: SocketAddr,
    /// The socket, for the sandbox to carry into the environment.
    pub(crate) socket: Option<PathBuf>,
    /// The socket's directory, removed with the environment.
    pub(crate) dir: Option<tempfile::TempDir>,
}

/// Open the listener `reach` asks for.
pub(crate) fn open(reach: RuntimeApiReach) -> Result<RuntimeApiListener> {
    match reach {
        RuntimeApiReach::Address(ip) => {
            let failed = |source| Error::RuntimeApiListener {
                at: ip.to_string(),
                source,
            };
            let listener = bind_any_port(ip).map_err(failed)?;
            let runtime_api = listener.local_addr().map_err(failed)?;
            Ok(RuntimeApiListener {
                listener: listener.into(),
                runtime_api,
                socket: None,
                dir: None,
            })
        }
        RuntimeApiReach::Socket { inside } => {
            // A directory only this user may enter (0700 from its creation), so nothing on
            // the host but this user reaches the socket; the socket itself is open to all,
            // because the runtime inside runs as another (mapped) user and reaches it only
            // through the sandbox's bind mount, which skips the directory.
            let root = std::env::var_os("XDG_RUNTIME_DIR")
                .map(PathBuf::from)
                .filter(|d| d.is_dir())
                .unwrap_or_else(std::env::temp_dir);
            let dir = tempfile::Builder::new()
                .prefix("lamina-rapi-")
                .permissions(std::fs::Permissions::from_mode(0o700))
                .tempdir_in(&root)
                .map_err(|source| Error::RuntimeApiListener {
                    at: root.display().to_string(),
                    source,
                })?;
            let path = dir.path().join(SOCKET_NAME);
            let failed = |source| Error::RuntimeApiListener {
                at: path.display().to_string(),
                source,
            };
            let listener = tokio::net::UnixListener::bind(&path).map_err(failed)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))
                .map_err(failed)?;
            Ok(RuntimeApiListener {
                listener: Listener::Unix(listener),
                runtime_api: inside,
                socket: Some(path),
                dir: Some(dir),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_socket_listener_lives_in_a_private_directory_and_names_the_inside_address() {
        let inside: SocketAddr = "127.0.0.1:9001".parse().unwrap();
        let opened = open(RuntimeApiReach::Socket { inside }).unwrap();
        assert_eq!(opened.runtime_api, inside);
        let socket = opened.socket.clone().unwrap();
        let dir = opened.dir.as_ref().unwrap().path().to_owned();
        assert_eq!(socket.parent(), Some(dir.as_path()));
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700, "only this user enters the directory");
        assert_eq!(mode(&socket), 0o666, "the mapped runtime user may connect");
        drop(opened);
        assert!(!dir.exists(), "the directory goes with the listener");
    }

    #[tokio::test]
    async fn an_address_listener_takes_any_port_on_that_address() {
        let opened = open(RuntimeApiReach::Address([127, 0, 0, 1].into())).unwrap();
        assert_eq!(opened.runtime_api.ip().to_string(), "127.0.0.1");
        assert_ne!(opened.runtime_api.port(), 0);
        assert!(opened.socket.is_none());
    }
}
