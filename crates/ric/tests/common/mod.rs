//! A fake Runtime API for driving the real `lamina-ric` binary: serves queued events from
//! `/next` (blocking while the queue is empty, as the platform does) and records every post.
//! Plain std TCP and a minimal HTTP/1.1 parser, so the test does not share code with the
//! client it checks. Header names come from the shared wire contract.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use lamina_runtime_api::{headers as h, Invocation};

/// One request the RIC made.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Lower-cased names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// `/next` reply headers (value bytes as sent) and body.
type RawEvent = (Vec<(String, Vec<u8>)>, Vec<u8>);

#[derive(Default)]
struct State {
    queue: VecDeque<RawEvent>,
    posts: Vec<Recorded>,
    nexts: usize,
    /// Replies for the next posts, in order, in place of `202`.
    refusals: VecDeque<(u16, String)>,
}

/// The fake server; it runs until the test process ends.
#[derive(Clone)]
pub struct FakeApi {
    pub addr: SocketAddr,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl FakeApi {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let api = Self {
            addr,
            state: Arc::default(),
        };
        let server = api.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = server.clone();
                std::thread::spawn(move || server.serve(stream));
            }
        });
        api
    }

    /// Queue an event with the given metadata.
    pub fn push(&self, invocation: Invocation, body: &[u8]) {
        let headers = invocation.to_headers().unwrap();
        let pairs = headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        self.push_raw(pairs, body);
    }

    /// Queue an event whose `/next` reply carries exactly these headers, unchecked.
    pub fn push_raw(&self, headers: Vec<(String, Vec<u8>)>, body: &[u8]) {
        let (lock, cv) = &*self.state;
        lock.lock()
            .unwrap()
            .queue
            .push_back((headers, body.to_vec()));
        cv.notify_all();
    }

    /// Wait until `n` posts were recorded (or panic after 20 s).
    pub fn wait_posts(&self, n: usize) -> Vec<Recorded> {
        let (lock, cv) = &*self.state;
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut state = lock.lock().unwrap();
        while state.posts.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {n} posts, got {:?}",
                state.posts
            );
            state = cv.wait_timeout(state, left).unwrap().0;
        }
        state.posts.clone()
    }

    /// Answer the next post with `status` and `body` instead of `202` (still recorded).
    pub fn refuse_next_post(&self, status: u16, body: &str) {
        let (lock, _) = &*self.state;
        lock.lock()
            .unwrap()
            .refusals
            .push_back((status, body.to_owned()));
    }

    pub fn posts(&self) -> Vec<Recorded> {
        self.state.0.lock().unwrap().posts.clone()
    }

    pub fn nexts(&self) -> usize {
        self.state.0.lock().unwrap().nexts
    }

    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        while let Some(req) = read_request(&mut reader) {
            let reply = if req.method == "GET" && req.path == lamina_runtime_api::paths::NEXT {
                self.next_event()
            } else {
                let (lock, cv) = &*self.state;
                let mut state = lock.lock().unwrap();
                state.posts.push(req);
                let refusal = state.refusals.pop_front();
                cv.notify_all();
                match refusal {
                    Some((status, body)) => reply(status, &[], body.as_bytes()),
                    None => reply(202, &[], br#"{"status":"OK"}"#),
                }
            };
            if writer.write_all(&reply).is_err() {
                return;
            }
        }
    }

    fn next_event(&self) -> Vec<u8> {
        let (lock, cv) = &*self.state;
        let mut state = lock.lock().unwrap();
        state.nexts += 1;
        cv.notify_all();
        let (headers, body) = loop {
            if let Some(e) = state.queue.pop_front() {
                break e;
            }
            state = cv.wait(state).unwrap();
        };
        reply(200, &headers, &body)
    }
}

fn reply(status: u16, headers: &[(String, Vec<u8>)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len()).into_bytes();
    for (k, v) in headers {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Recorded> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = HashMap::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).ok()?;
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
    }
    let len: usize = headers
        .get("content-length")
        .map_or(0, |v| v.parse().unwrap());
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}

/// An invocation with a deadline 60 s away.
pub fn invocation(request_id: &str) -> Invocation {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    Invocation {
        request_id: request_id.into(),
        deadline_ms: now_ms + 60_000,
        invoked_function_arn: "arn:aws:lambda:us-east-1:123456789012:function:calc".into(),
        trace_id: Some(
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=0".into(),
        ),
        content_type: "application/json".into(),
        ..Default::default()
    }
}

/// The adapter in this repository.
pub fn adapter() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../base-images/python/bootstrap.py")
}

/// The binary under test: `LAMINA_RIC_BIN` (e.g. the static release build), else Cargo's.
pub fn ric_bin() -> PathBuf {
    std::env::var_os("LAMINA_RIC_BIN")
        .map_or_else(|| env!("CARGO_BIN_EXE_lamina-ric").into(), PathBuf::from)
}

/// Start the real binary against `api` with `handler`, task root `root`.
pub fn spawn_ric(api: &FakeApi, root: &Path, handler: &str, extra_env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(ric_bin());
    cmd.arg(handler)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("LAMBDA_TASK_ROOT", root)
        .env("LAMINA_PYTHON_ADAPTER", adapter())
        .env("AWS_LAMBDA_FUNCTION_NAME", "calc")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// Wait for `child` to exit (or panic after 20 s); returns its status and stdout+stderr.
pub fn wait_exit(child: &mut Child) -> (ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, output(child));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("lamina-ric did not exit; output: {}", output(child));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kill a still-serving RIC and return its output.
pub fn stop(child: &mut Child) -> String {
    let _ = child.kill();
    let _ = child.wait();
    output(child)
}

fn output(child: &mut Child) -> String {
    let mut s = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut s);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

/// The headers an error post must not carry on `/invocation/{id}/error`.
pub const ERROR_TYPE_HEADER: &str = h::FUNCTION_ERROR_TYPE;
