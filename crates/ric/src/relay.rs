//! `lamina-ric relay SOCKET HOST:PORT -- PROGRAM [ARG…]`: the Runtime API relay an engine
//! sandbox puts in front of an image's own entrypoint on a rootless engine, whose containers
//! no host address reaches (the contract: `lamina_runtime_api::relay`).
//!
//! It listens on `HOST:PORT` inside the container before anything else runs, then starts the
//! image's program as its child (in a process group of its own), relays every TCP
//! connection byte for byte to the emulator's Unix socket, passes SIGTERM and SIGINT on to
//! the child (the cloud's shutdown phase: the child decides when to exit), reaps orphans as
//! PID 1, and ends as the child ended, so the emulator reads the child's exit status.

use std::os::unix::process::CommandExt as _;

use lamina_runtime_api::relay::Args;
use tokio::net::{TcpListener, UnixStream};
use tokio::signal::unix::{signal, SignalKind};

use crate::process;

/// Run the relay; returns only on a usage or start-up error (the exit code to use).
pub fn run(args: &[String]) -> i32 {
    let args = match Args::parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("lamina-ric: {e}");
            return crate::EXIT_USAGE;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lamina-ric: cannot start the async runtime: {e}");
            return 1;
        }
    };
    rt.block_on(relay(args))
}

async fn relay(args: Args) -> i32 {
    // Listening before the program starts: its first connection never finds the port closed.
    let listener = match TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "lamina-ric: the Runtime API relay cannot listen on {}: {e}",
                args.listen
            );
            return 1;
        }
    };
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        eprintln!("lamina-ric: the Runtime API relay cannot install its signal handlers");
        return 1;
    };
    crate::reaper::spawn_if_init();
    let mut cmd = std::process::Command::new(&args.program[0]);
    cmd.args(&args.program[1..]).process_group(0);
    let mut child = match tokio::process::Command::from(cmd).spawn() {
        Ok(c) => c,
        Err(e) => {
            // What the engine itself says when an entrypoint cannot be run.
            eprintln!(
                "lamina-ric: cannot run the image's entrypoint {:?}: {e}",
                args.program[0]
            );
            return 127;
        }
    };
    let pid = child.id().and_then(|p| i32::try_from(p).ok());
    let socket = args.socket;
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let socket = socket.clone();
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let mut tcp = tcp;
                match UnixStream::connect(&socket).await {
                    Ok(mut unix) => {
                        let _ = tokio::io::copy_bidirectional(&mut tcp, &mut unix).await;
                    }
                    Err(e) => eprintln!("lamina-ric: the Runtime API at {socket} refused: {e}"),
                }
            });
        }
    });
    loop {
        let sig = tokio::select! {
            status = child.wait() => match status {
                Ok(status) => process::exit_like(status),
                Err(e) => {
                    eprintln!("lamina-ric: lost the image's entrypoint: {e}");
                    return 1;
                }
            },
            _ = term.recv() => libc::SIGTERM,
            _ = int.recv() => libc::SIGINT,
        };
        if let Some(pid) = pid {
            // SAFETY: kill(2) on the child we spawned and have not yet waited for.
            unsafe { libc::kill(pid, sig) };
        }
    }
}
