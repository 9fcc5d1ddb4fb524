//! A language worker: one persistent interpreter running lamina's adapter for the language
//! (`base-images/python/bootstrap.py`, `base-images/node/bootstrap.mjs`; where each lives
//! and how it starts is `lamina_runtime_api::worker::Adapter`'s).
//!
//! The interpreter's stdout/stderr are inherited (user output goes straight to the container's
//! output), except under lamina's emulator, where lamina-ric carries them to leave out the
//! output marks of quiet streams (`output`); RIC and adapter speak the `framing` protocol on
//! two extra pipes. The handler is
//! loaded once, before the first `/next`: [`AdapterWorker::start`] returns only after the
//! adapter said `ready` (or reports its init error).

use std::ffi::OsString;
use std::path::PathBuf;

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;
use tokio::net::unix::pipe;
use tokio::process::{Child, Command};

use crate::client::{ClientError, Event};
use crate::config::Config;
use crate::framing::{self, Header};
use crate::output::Output;
use crate::process::{self, PipedChild};
use crate::runtime::{error_body, Fatal, Outcome, StreamItem, Worker};

use lamina_runtime_api::worker::Adapter;

/// Set by lamina's emulator: the adapter marks each invoke's output (and lamina-ric carries it).
const OUTPUT_MARKS_ENV: &str = lamina_runtime_api::logs::OUTPUT_MARKS_ENV;
/// The telemetry fd the platform may pass; the worker's pipes must not land on it.
const TELEMETRY_FD: &str = "_LAMBDA_TELEMETRY_LOG_FD";

/// A running, initialised language worker.
pub struct AdapterWorker {
    child: Child,
    to_worker: pipe::Sender,
    from_worker: pipe::Receiver,
    /// The worker's stdout and stderr, when lamina-ric carries them.
    output: Option<Output>,
    /// The invoke whose response is streaming, between `stream_start` and its end.
    streaming: Option<String>,
    /// It runs SnapStart's after-restore hooks when told (`Adapter::snapshot_hooks`).
    snapshot_hooks: bool,
}

impl AdapterWorker {
    /// Start `language`'s interpreter and wait until the handler is loaded.
    pub async fn start(config: &Config, language: &'static Adapter) -> Result<Self, Fatal> {
        let interpreter = std::env::var_os(language.interpreter_env)
            .unwrap_or_else(|| language.interpreter.into());
        let adapter = std::env::var_os(language.adapter_env)
            .map_or_else(|| PathBuf::from(language.path), PathBuf::from);
        let (fd_in, fd_out) = worker_fds();
        // A wrapper script, when the function sets one, runs in front of the interpreter with
        // the interpreter's command line as its arguments, as AWS's runtimes start it.
        let wrapper =
            std::env::var_os(lamina_runtime_api::env::EXEC_WRAPPER).filter(|w| !w.is_empty());
        let mut cmd = match &wrapper {
            Some(w) => {
                let mut c = Command::new(w);
                c.arg(&interpreter);
                c
            }
            None => Command::new(&interpreter),
        };
        // The handler as the first argument (AWS's Python client) and as `_HANDLER` (AWS's
        // Node client v4 reads only that).
        cmd.arg(&adapter)
            .arg(&config.handler)
            .env(lamina_runtime_api::env::HANDLER, &config.handler)
            .current_dir(&config.task_root)
            .env(framing::ENV_FD_IN, fd_in.to_string())
            .env(framing::ENV_FD_OUT, fd_out.to_string());
        for (key, value) in language.env_defaults {
            if std::env::var_os(key).is_none() {
                cmd.env(key, value);
            }
        }
        // As AWS's Python bootstrap does: the handler's process reports the managed runtime
        // (and its answers keep non-ASCII text as UTF-8), whatever the platform set.
        if let Some(value) = std::env::var(lamina_runtime_api::env::LAMINA_EXECUTION_ENV)
            .ok()
            .filter(|v| !v.is_empty())
        {
            cmd.env(lamina_runtime_api::env::EXECUTION_ENV, value);
        }
        let carry = std::env::var(OUTPUT_MARKS_ENV).as_deref() == Ok("1");
        // Several workers share the container's streams: lamina-ric keeps their lines whole.
        let shared = config.max_concurrency.is_some();
        if carry || shared {
            cmd.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
        }
        let PipedChild {
            mut child,
            to_child,
            from_child,
        } = process::spawn_with_pipes(cmd, fd_in, fd_out).map_err(|e| {
            cannot_start(
                language,
                wrapper.as_ref().unwrap_or(&interpreter),
                &adapter,
                e,
            )
        })?;
        let output = match (child.stdout.take(), child.stderr.take()) {
            (Some(out), Some(err)) if carry => Some(Output::forward(out, err)),
            (Some(out), Some(err)) => {
                crate::lines::forward(out, err);
                None
            }
            _ => None,
        };
        let mut worker = Self {
            child,
            to_worker: to_child,
            from_worker: from_child,
            output,
            streaming: None,
            snapshot_hooks: language.snapshot_hooks,
        };
        match worker.read().await? {
            (Header::Ready, _) => Ok(worker),
            (Header::InitError { error_type }, body) => {
                // The adapter exits 1 by itself after reporting; reap it so it is not a zombie,
                // and pass on its traceback before lamina-ric reports and exits.
                let _ = worker.child.wait().await;
                worker.drain_output().await;
                Err(Fatal::Init {
                    error_type,
                    body: body.into(),
                })
            }
            (other, _) => Err(Fatal::Protocol(format!("unexpected {other:?} during init"))),
        }
    }

    /// Read one message; EOF means the worker died, so report how it ended.
    async fn read(&mut self) -> Result<(Header, Vec<u8>), Fatal> {
        match framing::read_message(&mut self.from_worker).await {
            Ok(Some(message)) => Ok(message),
            Ok(None) => Err(self.died().await),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                Err(Fatal::Protocol(e.to_string()))
            }
            Err(_) => Err(self.died().await),
        }
    }

    async fn died(&mut self) -> Fatal {
        let fatal = match self.child.wait().await {
            Ok(status) => {
                process::clear_child();
                Fatal::WorkerExited(status)
            }
            Err(e) => Fatal::Protocol(format!("cannot wait for the worker: {e}")),
        };
        // What it wrote last (a traceback, an OOM's last line) goes out before lamina-ric exits.
        self.drain_output().await;
        fatal
    }

    async fn drain_output(&mut self) {
        if let Some(output) = self.output.as_mut() {
            output.drain().await;
        }
    }

    /// Send the invoke header, then the event body, streamed from the HTTP response when its
    /// length is known.
    async fn send_event(&mut self, event: Event) -> Result<(), SendError> {
        let inv = event.invocation;
        let header = Header::Invoke {
            request_id: inv.request_id,
            deadline_ms: inv.deadline_ms,
            invoked_function_arn: inv.invoked_function_arn,
            trace_id: inv.trace_id,
            client_context: inv.client_context,
            cognito_identity: inv.cognito_identity,
            tenant_id: inv.tenant_id,
            content_type: inv.content_type,
        };
        let mut body = event.body;
        let Some(len) = event.content_length else {
            let bytes = body.collect().await.map_err(SendError::Http)?.to_bytes();
            framing::write_message(&mut self.to_worker, &header, &bytes).await?;
            return Ok(());
        };
        framing::write_header(&mut self.to_worker, &header, len).await?;
        let mut sent = 0u64;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.map_err(SendError::Http)?.into_data() {
                sent += data.len() as u64;
                if sent > len {
                    break;
                }
                self.to_worker.write_all(&data).await?;
            }
        }
        if sent != len {
            return Err(SendError::Length {
                declared: len,
                got: sent,
            });
        }
        self.to_worker.flush().await?;
        Ok(())
    }
}

enum SendError {
    /// Writing to the worker failed: it has most likely died.
    Pipe,
    /// Reading the event from the Runtime API failed.
    Http(hyper::Error),
    /// The event body did not match its Content-Length.
    Length { declared: u64, got: u64 },
}

impl From<std::io::Error> for SendError {
    fn from(_: std::io::Error) -> Self {
        Self::Pipe
    }
}

impl AdapterWorker {
    /// Which output marks of `request_id` reach the log, when lamina-ric carries the output.
    async fn marks_of(&mut self, request_id: &str) -> Option<(bool, bool)> {
        match self.output.as_mut() {
            Some(output) => output.marks_of(request_id).await,
            None => None,
        }
    }
}

impl Worker for AdapterWorker {
    async fn after_restore(&mut self) -> Result<(), Fatal> {
        if !self.snapshot_hooks {
            return Ok(());
        }
        framing::write_message(&mut self.to_worker, &Header::Restore, b"")
            .await
            .map_err(|e| Fatal::Protocol(format!("cannot tell the worker of the restore: {e}")))?;
        match self.read().await? {
            (Header::Ready, _) => Ok(()),
            (Header::InitError { error_type }, body) => {
                // The adapter exits 65 by itself after reporting.
                let _ = self.child.wait().await;
                self.drain_output().await;
                Err(Fatal::Restore {
                    error_type,
                    body: body.into(),
                })
            }
            (other, _) => Err(Fatal::Protocol(format!(
                "unexpected {other:?} after the restore"
            ))),
        }
    }

    async fn stream_next(&mut self) -> Result<StreamItem, Fatal> {
        let Some(request_id) = self.streaming.clone() else {
            return Err(Fatal::Protocol("a stream frame outside a stream".into()));
        };
        match self.read().await? {
            (Header::StreamChunk, body) => Ok(StreamItem::Chunk(body.into())),
            (Header::StreamEnd, _) => {
                self.streaming = None;
                let output_marks = self.marks_of(&request_id).await;
                Ok(StreamItem::End { output_marks })
            }
            (Header::StreamError { error_type }, body) => {
                self.streaming = None;
                let output_marks = self.marks_of(&request_id).await;
                Ok(StreamItem::Error {
                    error_type,
                    body: body.into(),
                    output_marks,
                })
            }
            (other, _) => Err(Fatal::Protocol(format!(
                "unexpected {other:?} in a response stream"
            ))),
        }
    }

    async fn invoke(&mut self, event: Event) -> Result<Outcome, Fatal> {
        let request_id = event.invocation.request_id.clone();
        match self.send_event(event).await {
            Ok(()) => {}
            Err(SendError::Pipe) => return Err(self.died().await),
            Err(SendError::Http(source)) => {
                return Err(ClientError::Http {
                    endpoint: lamina_runtime_api::paths::NEXT.into(),
                    source,
                }
                .into())
            }
            Err(SendError::Length { declared, got }) => {
                return Err(Fatal::Protocol(format!(
                    "event body was {got} bytes, Content-Length said {declared}"
                )))
            }
        }
        let answer = self.read().await?;
        if let (Header::StreamStart { content_type }, _) = answer {
            self.streaming = Some(request_id);
            return Ok(Outcome::Stream { content_type });
        }
        // The adapter marked the invoke's output before answering: which marks go on.
        let output_marks = self.marks_of(&request_id).await;
        match answer {
            (Header::Response { content_type }, body) => Ok(Outcome::Response {
                content_type,
                body: body.into(),
                output_marks,
            }),
            (Header::Error { xray_cause, .. }, body) => Ok(Outcome::Error {
                body: body.into(),
                xray_cause,
                output_marks,
            }),
            (other, _) => Err(Fatal::Protocol(format!(
                "unexpected {other:?} during an invoke"
            ))),
        }
    }
}

/// fds 3 and 4, unless the platform's telemetry fd is one of them.
fn worker_fds() -> (i32, i32) {
    let telemetry = std::env::var(TELEMETRY_FD)
        .ok()
        .and_then(|v| v.parse::<i32>().ok());
    let mut free = (framing::WORKER_FD_IN..).filter(|fd| Some(*fd) != telemetry);
    let fd_in = free.next().unwrap_or(framing::WORKER_FD_IN);
    let fd_out = free.next().unwrap_or(framing::WORKER_FD_OUT);
    (fd_in, fd_out)
}

/// An init error for an interpreter or adapter that cannot be started.
fn cannot_start(
    language: &Adapter,
    interpreter: &OsString,
    adapter: &std::path::Path,
    e: std::io::Error,
) -> Fatal {
    let message = format!(
        "lamina-ric: cannot start the {} worker `{} {}`: {e} (set {} to the interpreter's path)",
        language.language,
        interpreter.to_string_lossy(),
        adapter.display(),
        language.interpreter_env,
    );
    eprintln!("{message}");
    Fatal::Init {
        error_type: "Runtime.InvalidEntrypoint".into(),
        body: Bytes::from(error_body(&message, "Runtime.InvalidEntrypoint", "", &[]).to_vec()),
    }
}
