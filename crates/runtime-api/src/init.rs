//! The contract between `lamina rie` and `lamina-ric init`, the init it runs in every
//! container as Lambda's own init runs in every execution environment.
//!
//! Lambda's init starts an environment's processes: the external extensions in
//! `/opt/extensions/` first, then the runtime, and it watches them all (RIE `rapid`,
//! `doInitExtensions` and `doRuntimeDomainInit`). A container engine starts only the image's
//! entrypoint, and a foreign image's entrypoint (AWS's `/lambda-entrypoint.sh`, a web server)
//! knows nothing of extensions. So `lamina rie` bind-mounts its own static `lamina-ric`
//! read-only at [`RIC_PATH`] and makes the container's command
//! `lamina-ric init [--relay SOCKET HOST:PORT] -- ENTRYPOINT CMD` ([`command`]): the init
//! starts the image's entrypoint and command as the runtime, passes it SIGTERM, and ends as it
//! ended, so the engine reports the runtime's exit.
//!
//! On a rootless engine no host address reaches a container (its network namespace is the
//! engine's own, slirp4netns or pasta), so there the emulator serves each environment's
//! Runtime API on a Unix socket, bind-mounted at [`SOCKET_PATH`]; `--relay` makes the init
//! listen on [`inside`] and relay every connection to it. `AWS_LAMBDA_RUNTIME_API` is then
//! `127.0.0.1:9001`, as in the cloud, for any runtime client, foreign ones included.

/// The first argument that makes `lamina-ric` the container's init.
pub const ARG: &str = "init";

/// The flag that makes the init relay the Runtime API from [`inside`] to [`SOCKET_PATH`].
pub const RELAY_FLAG: &str = "--relay";

/// The flag that keeps the runtime and the extensions in the init's own process group: where
/// the init is not a container's first process (lamina-ric's embedded emulator runs it as a
/// process), killing that group is what ends the whole environment.
pub const SAME_GROUP_FLAG: &str = "--same-group";

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

/// The container's command line: the init in front of the image's own command
/// (`entrypoint` then `command`, as the engine would have joined them), relaying the
/// Runtime API when `relay`.
pub fn command(relay: bool, entrypoint: &[String], command: &[String]) -> Vec<String> {
    let mut out = vec![RIC_PATH.to_owned(), ARG.to_owned()];
    if relay {
        out.extend([
            RELAY_FLAG.to_owned(),
            SOCKET_PATH.to_owned(),
            inside().to_string(),
        ]);
    }
    out.push("--".to_owned());
    out.extend(entrypoint.iter().cloned());
    out.extend(command.iter().cloned());
    out
}

/// The command line of an init run as a process rather than a container's command: the init
/// binary `init`, keeping everything in its process group, in front of `program`.
pub fn process_command(init: &str, program: &[String]) -> Vec<String> {
    let mut out = vec![
        init.to_owned(),
        ARG.to_owned(),
        SAME_GROUP_FLAG.to_owned(),
        "--".to_owned(),
    ];
    out.extend(program.iter().cloned());
    out
}

/// `POST` by the init before it starts the external extensions: their names ([`Launched`]),
/// so that each is known as external however soon it registers. Answered at once.
pub const LAUNCHED: &str = "/lamina/2026-12-06/init/launched";

/// `POST` by the init once it has started them, before it starts the runtime: answered once
/// each has registered (200), or when one failed the environment (500, with the platform's
/// error type in `Lambda-Runtime-Function-Error-Type`).
pub const REGISTERED: &str = "/lamina/2026-12-06/init/registered";

/// `POST` by the init, long-polled: the next Telemetry API batch to deliver inside the
/// environment ([`TelemetryBatch`]).
pub const TELEMETRY_NEXT: &str = "/lamina/2026-12-06/init/telemetry/next";

/// A batch of Telemetry API records for the init to deliver: a `POST` of `body` (a JSON
/// array) to `127.0.0.1:port` at `path` (`protocol` `HTTP`), or `body` (NDJSON) written to
/// `127.0.0.1:port` (`TCP`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TelemetryBatch {
    /// `HTTP` or `TCP`.
    pub protocol: String,
    /// The subscriber's port inside the environment.
    pub port: u16,
    /// The HTTP path.
    pub path: String,
    /// The records.
    pub body: String,
}

/// `POST` by the init: a process it watches has ended ([`Exited`]).
pub const EXITED: &str = "/lamina/2026-12-06/init/exited";

/// `POST` by the init: lines the external extensions wrote ([`ExtensionOutput`]s, a JSON
/// array). The init reads the extensions' stdout and stderr itself, so their lines reach the
/// log, and Telemetry API subscribers, as `extension` records rather than the function's
/// (§3.3). Answered at once.
pub const EXTENSION_OUTPUT: &str = "/lamina/2026-12-06/init/extension-output";

/// Whole lines of one extension's output, each ending in a newline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExtensionOutput {
    /// The extension (its file name).
    pub extension: String,
    /// Its lines.
    pub text: String,
}

/// The body of [`LAUNCHED`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Launched {
    /// The external extensions' names (their file names), in start order.
    pub extensions: Vec<String>,
}

/// Which process ended ([`Exited`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Process {
    /// The runtime.
    Runtime,
    /// The external extension of this name.
    Extension(String),
}

/// The body of [`EXITED`]: a process ended with `code`, or was killed by `signal`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Exited {
    /// Which one.
    pub process: Process,
    /// Its exit code.
    pub code: Option<i64>,
    /// The signal that killed it.
    pub signal: Option<i32>,
    /// It was killed for running out of memory: the container's memory cgroup counted an
    /// OOM kill. The init tells, because an engine reports an OOM kill only of a container's
    /// first process (and Podman on cgroup v1 not even that).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oom_killed: bool,
}

/// The relay's two ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    /// The Unix socket each connection is relayed to.
    pub socket: String,
    /// The TCP address to listen on.
    pub listen: String,
}

/// What [`command`] or [`process_command`] put after `lamina-ric init`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// The Runtime API relay, if asked for.
    pub relay: Option<Relay>,
    /// Keep the runtime and the extensions in the init's process group ([`SAME_GROUP_FLAG`]).
    pub same_group: bool,
    /// The runtime: the image's entrypoint and command.
    pub program: Vec<String>,
}

impl Args {
    /// Parse the arguments after [`ARG`]:
    /// `[--same-group] [--relay SOCKET HOST:PORT] -- PROGRAM [ARG…]`.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let usage = || {
            format!(
                "usage: lamina-ric {ARG} [{SAME_GROUP_FLAG}] [{RELAY_FLAG} SOCKET HOST:PORT] -- PROGRAM [ARG...] (got {args:?})"
            )
        };
        let (same_group, args) = match args {
            [flag, rest @ ..] if flag == SAME_GROUP_FLAG => (true, rest),
            rest => (false, rest),
        };
        let (relay, rest) = match args {
            [flag, socket, listen, rest @ ..] if flag == RELAY_FLAG => (
                Some(Relay {
                    socket: socket.clone(),
                    listen: listen.clone(),
                }),
                rest,
            ),
            rest => (None, rest),
        };
        match rest {
            [dashes, program @ ..] if dashes == "--" && !program.is_empty() => Ok(Self {
                relay,
                same_group,
                program: program.to_vec(),
            }),
            _ => Err(usage()),
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
    fn the_init_command_parses_back_into_the_images_own_command() {
        for relay in [false, true] {
            let cmd = command(
                relay,
                &strings(&["/lambda-entrypoint.sh"]),
                &strings(&["app.handler"]),
            );
            assert_eq!(cmd[0], RIC_PATH);
            assert_eq!(cmd[1], ARG);
            let args = Args::parse(&cmd[2..]).unwrap();
            assert_eq!(
                args.relay,
                relay.then(|| Relay {
                    socket: SOCKET_PATH.into(),
                    listen: "127.0.0.1:9001".into()
                })
            );
            assert_eq!(
                args.program,
                strings(&["/lambda-entrypoint.sh", "app.handler"])
            );
        }
    }

    #[test]
    fn a_process_init_keeps_its_group_and_parses_back() {
        let cmd = process_command(
            "/var/runtime/lamina-ric",
            &strings(&["/var/runtime/lamina-ric", "app.handler"]),
        );
        assert_eq!(
            &cmd[..3],
            strings(&["/var/runtime/lamina-ric", ARG, SAME_GROUP_FLAG])
        );
        let args = Args::parse(&cmd[2..]).unwrap();
        assert!(args.same_group);
        assert_eq!(args.relay, None);
        assert_eq!(
            args.program,
            strings(&["/var/runtime/lamina-ric", "app.handler"])
        );
        assert!(
            !Args::parse(&command(false, &strings(&["x"]), &[])[2..])
                .unwrap()
                .same_group
        );
    }

    #[test]
    fn an_init_without_a_program_is_a_usage_error() {
        let at = inside().to_string();
        assert!(Args::parse(&strings(&["--"])).is_err());
        assert!(Args::parse(&strings(&[RELAY_FLAG, SOCKET_PATH, &at, "--"])).is_err());
        assert!(Args::parse(&strings(&[RELAY_FLAG, SOCKET_PATH, &at, "x"])).is_err());
        assert!(Args::parse(&strings(&["x"])).is_err());
    }
}
