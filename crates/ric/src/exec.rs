//! The `exec` runtime: one process per invoke, for handlers that are plain executables.
//!
//! Contract (lamina's own; AWS has no equivalent):
//! - the handler names an executable, absolute or relative to `LAMBDA_TASK_ROOT`, started
//!   with cwd = task root and the RIC's environment plus, per invoke, `_X_AMZN_TRACE_ID`
//!   (removed when the event has none), `LAMINA_REQUEST_ID`, `LAMINA_DEADLINE_MS`,
//!   `LAMINA_INVOKED_FUNCTION_ARN` and `LAMINA_CONTENT_TYPE`;
//! - the event is written to its stdin, then stdin is closed;
//! - exit status 0: its stdout is the response, `application/json` if it parses as JSON,
//!   else `application/octet-stream`;
//! - any other ending: an invoke error (the runtime keeps serving)
//!   `{"errorMessage": <last 4 KiB of stderr, trimmed, or "exit status N">,
//!     "errorType": "Runtime.ExitError", "requestId": <id>, "stackTrace": []}`;
//! - its stderr is copied to the RIC's stderr as it comes;
//! - with `LAMINA_RESPONSE_MODE=streaming` in the function's environment, its stdout is the
//!   response *streamed* (runtime-api.md §1.7): each piece goes out as it is written, as
//!   `LAMINA_RESPONSE_CONTENT_TYPE` (default `application/octet-stream`), and an ending other
//!   than exit 0 is the same error, sent in the stream's trailers.

use std::path::PathBuf;

use bytes::Bytes;
use http_body_util::BodyExt;
use lamina_runtime_api::body::ExitReason;
use lamina_runtime_api::env;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::client::{ClientError, Event};
use crate::config::{exec_path, Config};
use crate::process;
use crate::runtime::{error_body, Fatal, Outcome, StreamItem, Worker};

/// Bytes of stderr kept for the error message.
const STDERR_TAIL: usize = 4096;
/// The error type of a failed exec handler.
const EXIT_ERROR: &str = "Runtime.ExitError";

/// Asks for a streamed response (lamina's, for `exec` handlers).
const ENV_RESPONSE_MODE: &str = "LAMINA_RESPONSE_MODE";
/// The streamed response's content type.
const ENV_RESPONSE_CONTENT_TYPE: &str = "LAMINA_RESPONSE_CONTENT_TYPE";
/// The default content type of a streamed response (Node's, §1.7).
const STREAM_CONTENT_TYPE: &str = "application/octet-stream";

/// Runs the handler executable once per event.
pub struct ExecWorker {
    program: PathBuf,
    task_root: PathBuf,
    /// Whether the handler's stdout streams.
    streaming: bool,
    /// The handler whose stdout is streaming now.
    running: Option<Running>,
}

/// A handler process whose output streams.
struct Running {
    request_id: String,
    child: tokio::process::Child,
    stdout: tokio::process::ChildStdout,
    tail: tokio::task::JoinHandle<Vec<u8>>,
    fed: tokio::task::JoinHandle<Result<(), hyper::Error>>,
}

impl ExecWorker {
    /// Check the handler names an executable file.
    pub fn new(config: &Config) -> Result<Self, Fatal> {
        let program = exec_path(&config.handler, &config.task_root);
        if !program.is_file() {
            let message = format!("exec handler {} is not a file", program.display());
            eprintln!("lamina-ric: {message}");
            return Err(Fatal::Init {
                error_type: "Runtime.InvalidEntrypoint".into(),
                body: error_body(&message, "Runtime.InvalidEntrypoint", "", &[]),
            });
        }
        let streaming =
            std::env::var(ENV_RESPONSE_MODE).is_ok_and(|m| m.eq_ignore_ascii_case("streaming"));
        Ok(Self {
            program,
            task_root: config.task_root.clone(),
            streaming,
            running: None,
        })
    }

    fn command(&self, event: &Event) -> Command {
        let inv = &event.invocation;
        let mut cmd = Command::new(&self.program);
        cmd.current_dir(&self.task_root)
            .env("LAMINA_REQUEST_ID", &inv.request_id)
            .env("LAMINA_DEADLINE_MS", inv.deadline_ms.to_string())
            .env("LAMINA_INVOKED_FUNCTION_ARN", &inv.invoked_function_arn)
            .env("LAMINA_CONTENT_TYPE", &inv.content_type)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        match &inv.trace_id {
            Some(t) => cmd.env(env::X_AMZN_TRACE_ID, t),
            None => cmd.env_remove(env::X_AMZN_TRACE_ID),
        };
        cmd
    }
}

impl Worker for ExecWorker {
    async fn invoke(&mut self, event: Event) -> Result<Outcome, Fatal> {
        let request_id = event.invocation.request_id.clone();
        let mut child = match self.command(&event).spawn() {
            Ok(c) => c,
            Err(e) => {
                let message = format!("cannot run {}: {e}", self.program.display());
                return Ok(Outcome::Error {
                    body: error_body(&message, EXIT_ERROR, &request_id, &[]),
                    xray_cause: None,
                    output_marks: None,
                });
            }
        };
        process::track_child(&child);
        let (mut stdin, mut stdout, stderr) = (
            child.stdin.take().expect("piped"),
            child.stdout.take().expect("piped"),
            child.stderr.take().expect("piped"),
        );
        let mut body = event.body;
        let feed = async move {
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame?.into_data() {
                    // A handler that does not read its input is not an error.
                    if stdin.write_all(&data).await.is_err() {
                        break;
                    }
                }
            }
            drop(stdin);
            Ok::<_, hyper::Error>(())
        };
        if self.streaming {
            self.running = Some(Running {
                request_id,
                child,
                stdout,
                tail: tokio::spawn(copy_tail(stderr)),
                fed: tokio::spawn(feed),
            });
            let content_type = std::env::var(ENV_RESPONSE_CONTENT_TYPE)
                .ok()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| STREAM_CONTENT_TYPE.into());
            return Ok(Outcome::Stream { content_type });
        }
        let collect = async move {
            let mut out = Vec::new();
            let _ = stdout.read_to_end(&mut out).await;
            out
        };
        let (fed, out, tail) = tokio::join!(feed, collect, copy_tail(stderr));
        let status = child
            .wait()
            .await
            .map_err(|e| Fatal::Protocol(format!("cannot wait for handler: {e}")))?;
        process::clear_child();
        fed.map_err(event_error)?;
        if status.success() {
            return Ok(Outcome::Response {
                content_type: sniff(&out).into(),
                body: Bytes::from(out),
                output_marks: None,
            });
        }
        Ok(Outcome::Error {
            body: failure_body(status, &tail, &request_id),
            xray_cause: None,
            output_marks: None,
        })
    }

    async fn stream_next(&mut self) -> Result<StreamItem, Fatal> {
        let Some(running) = self.running.as_mut() else {
            return Err(Fatal::Protocol("no exec handler is streaming".into()));
        };
        let mut buf = vec![0u8; 64 * 1024];
        if let Ok(n @ 1..) = running.stdout.read(&mut buf).await {
            buf.truncate(n);
            return Ok(StreamItem::Chunk(Bytes::from(buf)));
        }
        // Its stdout is closed: the stream ends as the process does.
        let Some(mut running) = self.running.take() else {
            return Err(Fatal::Protocol("no exec handler is streaming".into()));
        };
        let status = running
            .child
            .wait()
            .await
            .map_err(|e| Fatal::Protocol(format!("cannot wait for handler: {e}")))?;
        process::clear_child();
        let tail = running.tail.await.unwrap_or_default();
        if let Ok(fed) = running.fed.await {
            fed.map_err(event_error)?;
        }
        if status.success() {
            return Ok(StreamItem::End { output_marks: None });
        }
        Ok(StreamItem::Error {
            error_type: EXIT_ERROR.into(),
            body: failure_body(status, &tail, &running.request_id),
            output_marks: None,
        })
    }
}

/// Reading the event from the Runtime API failed.
fn event_error(source: hyper::Error) -> Fatal {
    ClientError::Http {
        endpoint: lamina_runtime_api::paths::NEXT.into(),
        source,
    }
    .into()
}

/// The error of a handler process that did not exit 0: its stderr's tail, else its status.
fn failure_body(status: std::process::ExitStatus, tail: &[u8], request_id: &str) -> Bytes {
    let reason = match (
        status.code(),
        std::os::unix::process::ExitStatusExt::signal(&status),
    ) {
        (Some(c), _) => ExitReason::Code(c.into()),
        (None, s) => ExitReason::Signal(s.unwrap_or(0)),
    };
    let tail = String::from_utf8_lossy(tail);
    let message = if tail.trim().is_empty() {
        reason.to_string()
    } else {
        tail.trim().to_owned()
    };
    error_body(&message, EXIT_ERROR, request_id, &[])
}

/// Copy a child's stderr to ours as it comes, keeping the last [`STDERR_TAIL`] bytes.
async fn copy_tail(mut from: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut tail = Vec::new();
    let mut buf = vec![0u8; 8192];
    let mut ours = crate::stdio::writer(crate::stdio::Stream::Stderr);
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        // Flush (tokio's stderr, where fd 2 is not a pipe, writes on a blocking thread), so the
        // bytes are on fd 2 before the invoke is reported (and its END line printed), and never lost on exit.
        let _ = ours.write_all(&buf[..n]).await;
        let _ = ours.flush().await;
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > 2 * STDERR_TAIL {
            tail.drain(..tail.len() - STDERR_TAIL);
        }
    }
    if tail.len() > STDERR_TAIL {
        tail.drain(..tail.len() - STDERR_TAIL);
    }
    tail
}

fn sniff(out: &[u8]) -> &'static str {
    if serde_json::from_slice::<serde::de::IgnoredAny>(out).is_ok() {
        "application/json"
    } else {
        "application/octet-stream"
    }
}
