//! `lamina-ric init`: the init `lamina rie` runs in front of every image's entrypoint — the
//! image's program runs as its child, signals reach it, the init ends as it ended, and with
//! `--relay` connections to its TCP address reach the Runtime API's Unix socket byte for byte.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::ric_bin;

/// A free loopback port (bound then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serve one HTTP answer on a Unix socket, returning what the client sent.
fn serve_once(listener: UnixListener, body: &'static str) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0, "the relay closed before a whole request");
            got.extend_from_slice(&buf[..n]);
        }
        write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        String::from_utf8_lossy(&got).into_owned()
    })
}

#[test]
fn a_connection_inside_reaches_the_socket_and_the_relay_exits_as_its_program_did() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("runtime-api.sock");
    let server = serve_once(UnixListener::bind(&socket).unwrap(), "an event");
    let listen = format!("127.0.0.1:{}", free_port());
    // The program: fetch /next through the relay, print the body, exit 7.
    let program = format!(
        "import sys, urllib.request\n\
         body = urllib.request.urlopen('http://{listen}/2018-06-01/runtime/invocation/next').read()\n\
         print(body.decode())\n\
         sys.exit(7)"
    );
    let out = Command::new(ric_bin())
        .args(["init", "--relay", socket.to_str().unwrap(), &listen, "--"])
        .args(["python3", "-c", &program])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "an event");
    assert_eq!(out.status.code(), Some(7), "the program's exit code");
    let request = server.join().unwrap();
    assert!(
        request.starts_with("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"),
        "the request crossed unchanged: {request:?}"
    );
}

#[test]
fn sigterm_reaches_the_program_which_decides_when_to_exit() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let program = format!(
        "import signal, sys, time, pathlib\n\
         signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))\n\
         pathlib.Path('{}').touch()\n\
         time.sleep(30)",
        ready.display()
    );
    let mut init = Command::new(ric_bin())
        .args(["init", "--"])
        .args(["python3", "-c", &program])
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !ready.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the program never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on the child we spawned.
    unsafe { libc::kill(init.id() as i32, libc::SIGTERM) };
    let status = init.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(42),
        "the program's own answer to SIGTERM: {status:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_program_that_cannot_be_run_is_named_and_exits_127() {
    let out = Command::new(ric_bin())
        .args(["init", "--"])
        .arg("/no/such/entrypoint")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    assert!(out.status.signal().is_none());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/no/such/entrypoint"), "{stderr}");
}

#[test]
fn an_init_without_a_program_is_refused_with_its_usage() {
    let out = Command::new(ric_bin())
        .args(["init", "--relay", "/s.sock", "127.0.0.1:9001"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: lamina-ric init"));
}
