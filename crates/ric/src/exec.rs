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
//! - its stderr is copied to the RIC's stderr as it comes.

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
use crate::runtime::{error_body, Fatal, Outcome, Worker};

/// Bytes of stderr kept for the error message.
const STDERR_TAIL: usize = 4096;
/// The error type of a failed exec handler.
const EXIT_ERROR: &str = "Runtime.ExitError";

/// Runs the handler executable once per event.
pub struct ExecWorker {
    program: PathBuf,
    task_root: PathBuf,
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
        Ok(Self {
            program,
            task_root: config.task_root.clone(),
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
        if let Err(source) = fed {
            return Err(ClientError::Http {
                endpoint: lamina_runtime_api::paths::NEXT.into(),
                source,
            }
            .into());
        }
        if status.success() {
            return Ok(Outcome::Response {
                content_type: sniff(&out).into(),
                body: Bytes::from(out),
                output_marks: None,
            });
        }
        let reason = match (
            status.code(),
            std::os::unix::process::ExitStatusExt::signal(&status),
        ) {
            (Some(c), _) => ExitReason::Code(c.into()),
            (None, s) => ExitReason::Signal(s.unwrap_or(0)),
        };
        let tail = String::from_utf8_lossy(&tail);
        let message = if tail.trim().is_empty() {
            reason.to_string()
        } else {
            tail.trim().to_owned()
        };
        Ok(Outcome::Error {
            body: error_body(&message, EXIT_ERROR, &request_id, &[]),
            xray_cause: None,
            output_marks: None,
        })
    }
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
