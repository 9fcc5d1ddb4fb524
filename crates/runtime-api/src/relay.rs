//! The Runtime API relay's contract, between the engine sandbox that starts it and
//! `lamina-ric`, which runs it.
//!
//! A rootless engine (rootless Podman with slirp4netns or pasta, rootless Docker) keeps its
//! containers in a network namespace of its own: no address on the host reaches them, nor
//! they the host's. There the emulator serves each environment's Runtime API on a Unix
//! socket instead, which the sandbox bind-mounts into the container together with the host's
//! static `lamina-ric`; the container's entrypoint becomes `lamina-ric relay`, which listens
//! on [`inside`] inside the container, relays every connection to the socket, and runs
//! the image's own entrypoint and command as its child. `AWS_LAMBDA_RUNTIME_API` is then
//! `127.0.0.1:9001`, as in the cloud, for any runtime client, foreign ones included.

/// The first argument that makes `lamina-ric` a relay.
pub const ARG: &str = "relay";

/// Where the sandbox mounts the host's `lamina-ric` in the container (read-only).
pub const RIC_PATH: &str = "/run/lamina/lamina-ric";

/// Where the sandbox mounts the environment's Runtime API socket in the container.
pub const SOCKET_PATH: &str = "/run/lamina/runtime-api.sock";

/// The port the relay listens on inside the container (on loopback): the cloud's own
/// `AWS_LAMBDA_RUNTIME_API` is `127.0.0.1:9001`.
pub const INSIDE_PORT: u16 = 9001;

/// Where the relay listens inside the container, and so `AWS_LAMBDA_RUNTIME_API` there.
pub fn inside() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], INSIDE_PORT))
}

/// The container's command line with the relay in front of the image's own
/// (`entrypoint` then `command`, as the engine would have joined them).
pub fn command(entrypoint: &[String], command: &[String]) -> Vec<String> {
    [RIC_PATH, ARG, SOCKET_PATH, &inside().to_string(), "--"]
        .iter()
        .map(|s| (*s).to_owned())
        .chain(entrypoint.iter().cloned())
        .chain(command.iter().cloned())
        .collect()
}

/// What [`command`] put after `lamina-ric`: the socket, the listen address and the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// The Unix socket each connection is relayed to.
    pub socket: String,
    /// The TCP address to listen on.
    pub listen: String,
    /// The program and its arguments.
    pub program: Vec<String>,
}

impl Args {
    /// Parse the arguments after [`ARG`]: `SOCKET LISTEN -- PROGRAM [ARG…]`.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        match args {
            [socket, listen, dashes, program @ ..] if dashes == "--" && !program.is_empty() => {
                Ok(Self {
                    socket: socket.clone(),
                    listen: listen.clone(),
                    program: program.to_vec(),
                })
            }
            _ => Err(format!(
                "usage: lamina-ric {ARG} SOCKET HOST:PORT -- PROGRAM [ARG...] (got {args:?})"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_relay_command_parses_back_into_the_images_own_command() {
        let cmd = command(
            &strings(&["/lambda-entrypoint.sh"]),
            &strings(&["app.handler"]),
        );
        assert_eq!(cmd[0], RIC_PATH);
        assert_eq!(cmd[1], ARG);
        let args = Args::parse(&cmd[2..]).unwrap();
        assert_eq!(args.socket, SOCKET_PATH);
        assert_eq!(args.listen, "127.0.0.1:9001");
        assert_eq!(
            args.program,
            strings(&["/lambda-entrypoint.sh", "app.handler"])
        );
    }

    #[test]
    fn a_relay_without_a_program_is_a_usage_error() {
        let at = inside().to_string();
        assert!(Args::parse(&strings(&[SOCKET_PATH, &at, "--"])).is_err());
        assert!(Args::parse(&strings(&[SOCKET_PATH, &at, "x"])).is_err());
    }
}
