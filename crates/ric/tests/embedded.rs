//! Embedded mode end to end: the real `lamina-ric` binary started without
//! `AWS_LAMBDA_RUNTIME_API` serves the invoke API, runs itself as the runtime with the Python
//! adapter and the host's `python3`, and stops cleanly on SIGTERM. The invoke API is spoken
//! to with plain std TCP, so nothing here shares code with the emulator it checks.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{adapter, ric_bin};

const APP: &str = r#"
import os, subprocess
count = 0
helper = None

def handler(event, context):
    global count, helper
    count += 1
    if helper is None:
        # A grandchild that outlives its worker unless the whole process group is killed.
        helper = subprocess.Popen(["sleep", "300"])
    print("handling", count, flush=True)
    if event.get("fail"):
        raise ValueError("boom " + str(count))
    return {"count": count, "pid": os.getpid(), "helper": helper.pid, "fn": context.function_name}
"#;

/// The emulator under test, with its output collected as it comes.
struct Embedded {
    child: Child,
    port: u16,
    output: Arc<Mutex<String>>,
}

impl Embedded {
    fn start(root: &Path, extra_env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut cmd = Command::new(ric_bin());
        cmd.arg("app.handler")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LAMBDA_TASK_ROOT", root)
            .env("LAMINA_PYTHON_ADAPTER", adapter())
            .env("LAMINA_RIE_PORT", port.to_string())
            .env("LAMINA_RIE_HOST", "127.0.0.1")
            .env("AWS_LAMBDA_FUNCTION_NAME", "calc")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = output.clone();
            std::thread::spawn(move || collect(pipe, &output));
        }
        Self {
            child,
            port,
            output,
        }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Wait until the invoke API accepts connections (or panic after 20 s).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("lamina-ric exited with {status}: {}", self.output());
            }
            assert!(Instant::now() < deadline, "not ready: {}", self.output());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// POST an event to the `function` alias; returns status, lower-cased headers and body.
    fn invoke(&self, body: &str) -> (u16, Vec<(String, String)>, serde_json::Value) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: x\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let json = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{e}: {text}\noutput: {}", self.output()));
        (status, headers, json)
    }
}

impl Drop for Embedded {
    /// SIGTERM first, so a failed test does not leave the runtime's processes behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: kill(2) on the child this test started and has not reaped.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(3);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(mut from: Box<dyn Read + Send>, into: &Mutex<String>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            return;
        }
        into.lock()
            .unwrap()
            .push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `/proc/<pid>/stat` fields after the command name: state, ppid, …; `None` once reaped.
fn stat(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = text.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Gone or a zombie: the process runs no more.
fn is_dead(pid: u32) -> bool {
    stat(pid).is_none_or(|f| f.first().is_some_and(|s| s == "Z" || s == "X"))
}

#[test]
fn serves_invokes_reuses_the_worker_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.py"), APP).unwrap();
    let mut emu = Embedded::start(dir.path(), &[]);
    emu.wait_ready();

    let (status, headers, first) = emu.invoke(r#"{"n":1}"#);
    assert_eq!(status, 200, "{first}");
    assert_eq!(header(&headers, "x-amz-function-error"), None);
    assert_eq!(first["count"], 1, "{first}");
    assert_eq!(first["fn"], "calc", "{first}");
    let worker = u32::try_from(first["pid"].as_u64().unwrap()).unwrap();
    let helper = u32::try_from(first["helper"].as_u64().unwrap()).unwrap();

    let (status, headers, err) = emu.invoke(r#"{"fail":true}"#);
    assert_eq!(status, 200, "{err}");
    assert_eq!(header(&headers, "x-amz-function-error"), Some("Unhandled"));
    assert_eq!(err["errorType"], "ValueError", "{err}");
    assert_eq!(err["errorMessage"], "boom 2", "{err}");
    assert!(
        err["requestId"].as_str().is_some_and(|r| !r.is_empty()),
        "{err}"
    );
    assert!(
        err["stackTrace"].as_array().is_some_and(|s| !s.is_empty()),
        "{err}"
    );

    let (status, _, third) = emu.invoke("{}");
    assert_eq!(status, 200, "{third}");
    assert_eq!(third["count"], 3, "the worker was not reused: {third}");
    assert_eq!(third["pid"], first["pid"], "{third}");

    // The invoker's answer does not wait for the log lines: let the third REPORT arrive.
    let deadline = Instant::now() + Duration::from_secs(5);
    while emu.output().matches("REPORT RequestId:").count() < 3 {
        assert!(
            Instant::now() < deadline,
            "no third REPORT: {}",
            emu.output()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = emu.output();
    for needle in [
        "START RequestId:",
        "END RequestId:",
        "REPORT RequestId:",
        "handling 3",
    ] {
        assert!(out.contains(needle), "no `{needle}` in: {out}");
    }
    assert_eq!(out.matches("REPORT RequestId:").count(), 3, "{out}");

    // The worker's parent is the runtime `lamina-ric`, itself a child of the emulator.
    let runtime: u32 = stat(worker).unwrap()[1].parse().unwrap();
    assert_ne!(runtime, emu.child.id());
    assert_eq!(stat(runtime).unwrap()[1], emu.child.id().to_string());

    let sent = Instant::now();
    // SAFETY: kill(2) on the child this test started.
    assert_eq!(
        unsafe { libc::kill(emu.child.id() as i32, libc::SIGTERM) },
        0
    );
    let status = loop {
        if let Some(s) = emu.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "no exit: {}",
            emu.output()
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status}: {}", emu.output());
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "slow exit: {:?}",
        sent.elapsed()
    );
    // Killed with its group before the emulator exited; reaping the orphan is init's job.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !(is_dead(worker) && is_dead(runtime) && is_dead(helper)) {
        assert!(
            Instant::now() < deadline,
            "orphans left: worker {worker}, runtime {runtime}, its child {helper}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        emu.output().contains("SIGTERM: shutting down"),
        "{}",
        emu.output()
    );
}

#[test]
fn a_malformed_timeout_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.py"), APP).unwrap();
    let mut emu = Embedded::start(dir.path(), &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "ten")]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = emu.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "still running: {}", emu.output());
        std::thread::sleep(Duration::from_millis(10));
    };
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(status.code(), Some(2), "{}", emu.output());
    assert!(
        emu.output().contains(
            "AWS_LAMBDA_FUNCTION_TIMEOUT: timeout `ten` is not valid: Lambda accepts a whole number of seconds from 1 to 900"
        ),
        "{}",
        emu.output()
    );
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(ric_bin())
        .arg("app.handler")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("LAMINA_RIE_HOST", "127.0.0.1")
        .env("LAMINA_RIE_PORT", &port)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already in use") && err.contains("LAMINA_RIE_PORT"),
        "{err}"
    );
}
