//! Helpers for the end-to-end tests: run the real `lamina` binary, talk HTTP to it, and ask
//! the real Docker daemon what happened. Every test here needs a running Docker daemon; it
//! fails (it does not skip) when there is none, with a message saying how to start one.

#![allow(dead_code)]

pub mod registry;
pub mod tools;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

/// The reference's wire facts the conformance tests compare against, kept in the repo.
#[allow(dead_code)]
pub const WIRE_EXCERPTS: &str = "tests/fixtures/wire/runtime-api-excerpts.md";

/// The repo root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A store shared by the tests of one run (the download cache stays the user's, so the Debian
/// packages are fetched once per machine).
pub fn shared_store() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lamina-test-store")
}

/// Panic with a useful message unless Docker answers.
pub fn require_docker() {
    static CHECK: Once = Once::new();
    CHECK.call_once(|| {
        let ok = engine_cli()
            .args(["version"])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "these tests need a running Docker daemon: start one (`dockerd &`, or run `bash .ci/run`, which starts it)"
        );
    });
}

/// Names the container engine's own CLI, for what a test does by hand (`docker` when unset):
/// `tests/podman.sh` sets `podman --url unix://…`, as Docker's CLI cannot attach to a
/// container through Podman 4's Docker API ("unable to upgrade to tcp, received 409").
pub const ENGINE_CLI_ENV: &str = "LAMINA_TEST_ENGINE_CLI";

/// The engine's own CLI ([`ENGINE_CLI_ENV`]), ready for its arguments.
pub fn engine_cli() -> Command {
    let spec = std::env::var(ENGINE_CLI_ENV).unwrap_or_else(|_| "docker".to_owned());
    let mut words = spec.split_whitespace();
    let mut cmd = Command::new(words.next().unwrap_or("docker"));
    cmd.args(words);
    cmd
}

/// Whether the tests run against Podman (what a test expects differs where Podman's API
/// does: the README's "Docker or Podman").
pub fn on_podman() -> bool {
    std::env::var(ENGINE_CLI_ENV).is_ok_and(|s| s.trim_start().starts_with("podman"))
}

/// `lamina` with the test store.
pub fn lamina() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lamina"));
    cmd.env("LAMINA_STORE", shared_store())
        .env_remove("SOURCE_DATE_EPOCH");
    cmd
}

/// `lamina build ARGS --json` from the repo root, its JSON (a failed build panics with its
/// stderr).
pub fn build_json(args: &[&str]) -> serde_json::Value {
    let out = run_ok(
        lamina()
            .arg("build")
            .args(args)
            .arg("--json")
            .current_dir(root()),
    );
    serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("--json output is not JSON ({e}): {out}"))
}

/// Build a one-file Python function (`app.py` holding `code`, handler `app.handler`) into
/// the test store as `tag`.
pub fn build_handler(tag: &str, code: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("app.py"), code).expect("handler");
    run_ok(lamina().args(["build"]).arg(dir.path()).args([
        "--handler",
        "app.handler",
        "--tag",
        tag,
    ]));
}

/// Run to completion, returning the output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run lamina")
}

/// Stdout of a successful run, or a panic showing stderr.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A plain HTTP/1.1 answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// POST `body` to `path` on 127.0.0.1:`port`, with extra headers.
pub fn post(port: u16, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    request(port, "POST", path, headers, body)
}

/// Send `method path` with `body` and extra headers (a name may repeat) to 127.0.0.1:`port`.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    try_request(port, method, path, headers, body)
        .unwrap_or_else(|e| panic!("{method} {path} on port {port}: {e}"))
}

/// POST, or why it failed (a published port whose container is not listening yet resets).
pub fn try_post(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Answer> {
    try_request(port, "POST", path, headers, body)
}

/// [`request`], or the I/O error that stopped it.
pub fn try_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Answer> {
    let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes())?;
    stream.write_all(body)?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let mut body = Vec::new();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim(), 16)
                .map_err(|e| bad(format!("chunk size {line:?}: {e}")))?;
            if size == 0 {
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        reader.read_to_end(&mut body)?;
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// The invoke path of the single function.
pub const INVOKE: &str = "/2015-03-31/functions/function/invocations";

/// A running `lamina rie`, its output captured; killed (and cleaned up) on drop.
pub struct Rie {
    pub child: Child,
    pub port: u16,
    pub stdout: Arc<Mutex<String>>,
    pub stderr: Arc<Mutex<String>>,
}

impl Rie {
    /// Start `lamina rie TARGET --port P ARGS…` and wait until it says it is serving (the
    /// port is bound earlier, before the image is loaded into Docker).
    pub fn start(target: &str, args: &[&str]) -> Rie {
        Self::start_on(free_port(), target, args)
    }

    /// [`Rie::start`] on a given invoke port (e.g. to restart on the same one).
    pub fn start_on(port: u16, target: &str, args: &[&str]) -> Rie {
        let mut child = lamina()
            .args(["rie", target, "--port", &port.to_string()])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lamina rie");
        let stdout = pump(child.stdout.take().expect("stdout"));
        let stderr = pump(child.stderr.take().expect("stderr"));
        let mut rie = Rie {
            child,
            port,
            stdout,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if rie.stderr().contains("serving ")
                && TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).is_ok()
            {
                return rie;
            }
            if let Ok(Some(status)) = rie.child.try_wait() {
                panic!("lamina rie exited early ({status}):\n{}", rie.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "lamina rie did not listen in time:\n{}",
                rie.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().map(|s| s.clone()).unwrap_or_default()
    }
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Wait until stdout contains `needle` (log lines arrive asynchronously).
    pub fn wait_stdout(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.stdout();
            if out.contains(needle) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in stdout:\n{out}\nstderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ctrl-C, as a user would, and wait for the exit.
    pub fn interrupt(&mut self) -> std::process::ExitStatus {
        self.signal("INT")
    }

    /// Send a signal (`INT`, `TERM`) and wait for the exit.
    pub fn signal(&mut self, name: &str) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("lamina rie did not stop on SIG{name}:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Rie {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-INT", &self.child.id().to_string()])
                .status();
            std::thread::sleep(Duration::from_secs(2));
            let _ = self.child.kill();
        }
    }
}

fn pump(mut from: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let buf = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&buf);
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = from.read(&mut chunk) {
            if n == 0 {
                break;
            }
            if let Ok(mut s) = sink.lock() {
                s.push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        }
    });
    buf
}

/// The engine's CLI ([`engine_cli`]) with arguments; stdout as text.
pub fn docker(args: &[&str]) -> String {
    let out = engine_cli().args(args).output().expect("run docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The first answer of an emulator serving in container `name` on `port` (an image's own
/// lamina-ric under `docker run -p`): `{}` posted until it answers other than 502, for at most
/// 30 s, then a panic showing the container's log.
pub fn first_answer(port: u16, name: &str) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Until the container listens, a published port accepts and then resets.
        if let Ok(a) = try_post(port, INVOKE, &[], b"{}") {
            if a.status != 502 {
                return a;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no answer: {}",
            container_logs(name)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// An image served by its own lamina-ric (the embedded emulator) under `docker run -p`, on a
/// free loopback port; the container is removed when this is dropped.
pub struct Served {
    pub port: u16,
    pub name: String,
    /// The answer to the `{}` that showed it was up.
    pub first: Answer,
}

impl Served {
    /// `docker run -d -p 127.0.0.1:PORT:8080 [-e K=V]… IMAGE [ARGS…]`, then `{}` posted until
    /// it answers.
    pub fn start(image: &str, env: &[(&str, &str)], args: &[&str]) -> Self {
        let port = free_port();
        let name = format!("lamina-served-{}-{port}", std::process::id());
        let publish = format!("127.0.0.1:{port}:8080");
        let mut cmd: Vec<String> = ["run", "-d", "--name", &name, "-p", &publish]
            .map(str::to_owned)
            .to_vec();
        for (k, v) in env {
            cmd.extend(["-e".to_owned(), format!("{k}={v}")]);
        }
        cmd.push(image.to_owned());
        cmd.extend(args.iter().map(|a| (*a).to_owned()));
        docker(&cmd.iter().map(String::as_str).collect::<Vec<_>>());
        let first = first_answer(port, &name);
        Self { port, name, first }
    }

    /// The container's log so far.
    pub fn logs(&self) -> String {
        container_logs(&self.name)
    }

    /// The log once it holds `needle` (output lands after the answer), or as it is after 5 s.
    pub fn logs_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let logs = self.logs();
            if logs.contains(needle) || Instant::now() >= deadline {
                return logs;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = engine_cli().args(["rm", "-f", &self.name]).output();
    }
}

/// Container `name`'s log, stdout then stderr ("" when the engine cannot give it).
pub fn container_logs(name: &str) -> String {
    engine_cli()
        .args(["logs", name])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
        })
        .unwrap_or_default()
}

/// The engine's id of image `reference`: its config digest, `sha256:…` (Podman's CLI shows
/// the hex alone).
pub fn image_id(reference: &str) -> String {
    let id = docker(&["image", "inspect", "--format", "{{.Id}}", reference]);
    let id = id.trim();
    if id.starts_with("sha256:") {
        id.to_owned()
    } else {
        format!("sha256:{id}")
    }
}

/// `docker build -q` of the folder `ctx` (its `Dockerfile`) as `tag`, with `args` before
/// the folder, through the engine's CLI ([`engine_cli`]); stdout.
pub fn docker_build(ctx: &Path, tag: &str, args: &[&str]) -> String {
    let mut all = vec!["build", "-q", "-t", tag];
    all.extend_from_slice(args);
    all.push(ctx.to_str().expect("path"));
    docker(&all)
}

/// Copy a folder tree (for tests that edit a function).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).expect("copy");
        }
    }
}

/// Run a Python script of the repository (an example's `make_*.py`), panicking with its
/// stderr if it fails.
pub fn run_python(script: &str) {
    let made = Command::new("python3")
        .arg(root().join(script))
        .output()
        .expect("run python3");
    assert!(
        made.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&made.stderr)
    );
}

/// Seconds since the epoch, as a float (to compare with timestamps a handler writes).
pub fn epoch_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// `InvokeWithResponseStream` of `function` on `port` with `event`: the response's content
/// type, and each event-stream event with the instant its bytes arrived.
pub fn stream_invoke(
    port: u16,
    event: &str,
) -> (
    Option<String>,
    Vec<(f64, lamina_runtime_api::eventstream::Event)>,
) {
    let url = format!(
        "http://127.0.0.1:{port}{}",
        lamina_runtime_api::paths::stream_invoke_path("function")
    );
    let mut resp = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client")
        .post(url)
        .body(event.to_owned())
        .send()
        .expect("the streaming route answers");
    assert_eq!(resp.status(), 200);
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut decoder = lamina_runtime_api::eventstream::Decoder::new();
    let mut events = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = resp.read(&mut buf).expect("the stream broke");
        if n == 0 {
            break;
        }
        let at = epoch_secs();
        for e in decoder.push(&buf[..n]).expect("event-stream frames") {
            events.push((at, e));
        }
    }
    assert_eq!(decoder.pending(), 0, "a partial message at the end");
    (content_type, events)
}
