//! Test harness: an emulator on a free port, a tiny HTTP client, and captured logs.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lamina_rie::{Emulator, FunctionConfig, LogEvent, LogSink, Sandbox};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const FAKE_RUNTIME: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/fake_runtime.py"
);

pub fn fake_function(name: &str) -> FunctionConfig {
    let mut f = FunctionConfig::new(name.parse().expect("a valid function name"));
    f.command = Some(vec!["python3".into(), "-u".into(), FAKE_RUNTIME.into()]);
    f
}

pub struct Harness {
    pub addr: SocketAddr,
    /// The HTTP front's address, when started with one.
    pub http: Option<SocketAddr>,
    pub logs: Arc<Mutex<Vec<LogEvent>>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<lamina_rie::Result<()>>>,
}

pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
}

impl Harness {
    pub async fn start(functions: Vec<FunctionConfig>, sandbox: Arc<dyn Sandbox>) -> Self {
        Self::start_with(functions, sandbox, false).await
    }

    /// With the HTTP front on a port of its own too.
    pub async fn start_process_http(functions: Vec<FunctionConfig>) -> Self {
        let sandbox = Arc::new(lamina_rie::ProcessSandbox::default());
        Self::start_with(functions, sandbox, true).await
    }

    async fn start_with(
        functions: Vec<FunctionConfig>,
        sandbox: Arc<dyn Sandbox>,
        http: bool,
    ) -> Self {
        let mut bound = Emulator::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        if http {
            bound = bound
                .with_http("127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
        }
        let addr = bound.local_addr();
        let http = bound.http_addr();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let logs = logs.clone();
            LogSink::new(move |ev| logs.lock().unwrap().push(ev))
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bound.serve(functions, sandbox, sink, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            http,
            logs,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub async fn start_process(functions: Vec<FunctionConfig>) -> Self {
        Self::start(functions, Arc::new(lamina_rie::ProcessSandbox::default())).await
    }

    pub async fn invoke(
        &self,
        name: &str,
        body: impl Into<Bytes>,
        headers: &[(&str, &str)],
    ) -> Answer {
        self.request(
            &format!("/2015-03-31/functions/{name}/invocations"),
            body,
            headers,
        )
        .await
    }

    pub async fn request(
        &self,
        path: &str,
        body: impl Into<Bytes>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let mut req = http::Request::post(format!("http://{}{path}", self.addr));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(body.into())).unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
            .await
            .expect("invoke timed out")
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// The log as text: platform lines with newlines, output as written.
    pub fn log_text(&self) -> String {
        let mut s = String::new();
        for ev in self.logs.lock().unwrap().iter() {
            match ev {
                LogEvent::Platform { lines, .. } => {
                    for line in lines {
                        s.push_str(line);
                        s.push('\n');
                    }
                }
                LogEvent::Output { bytes, .. } => s.push_str(&String::from_utf8_lossy(bytes)),
            }
        }
        s
    }

    /// Wait until `n` REPORT lines were logged; return the log.
    pub async fn wait_reports(&self, n: usize) -> String {
        for _ in 0..200 {
            let text = self.log_text();
            if text.matches("REPORT RequestId:").count() >= n {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("fewer than {n} REPORT lines:\n{}", self.log_text());
    }

    /// The log once it contains `needle` (output printed after an invoke's answer may land
    /// after its `END`), or a panic after 4 s.
    pub async fn wait_log(&self, needle: &str) -> String {
        for _ in 0..200 {
            let text = self.log_text();
            if text.contains(needle) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{needle:?} never logged:\n{}", self.log_text());
    }

    pub async fn shutdown(mut self) -> lamina_rie::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("shutdown hung")
            .unwrap()
    }
}
