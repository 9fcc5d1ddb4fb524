//! The invoke loop, shared by every worker kind (in embedded mode too: there the runtime is a
//! second `lamina-ric`, started by the emulator, running this same loop).
//!
//! `runtime_loop` is the whole of language-runtimes.md §2: get an event, hand it to the
//! worker, post what the worker says. Everything that is not the loop lives elsewhere: the
//! HTTP calls in `client`, the handler in a `Worker`, and what to do when something is fatal
//! in [`Fatal::exit`].

use std::convert::Infallible;
use std::process::ExitStatus;

use bytes::Bytes;

use crate::client::{ClientError, Event, RuntimeClient, CLIENT_ERROR_TYPE};
use crate::process;

/// What a worker made of one event.
#[derive(Debug)]
pub enum Outcome {
    /// Post to `/response`.
    Response {
        /// The result's content type.
        content_type: String,
        /// The encoded result.
        body: Bytes,
        /// Which of (stdout, stderr) passed on their output mark, when lamina-ric carries
        /// the worker's output (`output`).
        output_marks: Option<(bool, bool)>,
    },
    /// Post to `/error`.
    Error {
        /// The error JSON.
        body: Bytes,
        /// Optional X-Ray cause for `Lambda-Runtime-Function-XRay-Error-Cause`.
        xray_cause: Option<String>,
        /// As for `Response`.
        output_marks: Option<(bool, bool)>,
    },
    /// Stream the response (runtime-api.md §1.7): its pieces come from
    /// [`Worker::stream_next`].
    Stream {
        /// The stream's content type.
        content_type: String,
    },
}

/// The next piece of a streamed response.
#[derive(Debug)]
pub enum StreamItem {
    /// Bytes to send now.
    Chunk(Bytes),
    /// The stream is complete.
    End {
        /// As for [`Outcome::Response`].
        output_marks: Option<(bool, bool)>,
    },
    /// The handler failed mid-stream: the error goes in the trailers.
    Error {
        /// `Lambda-Runtime-Function-Error-Type`.
        error_type: String,
        /// The error JSON (base64 in `Lambda-Runtime-Function-Error-Body`).
        body: Bytes,
        /// As for [`Outcome::Response`].
        output_marks: Option<(bool, bool)>,
    },
}

/// Something that ends the runtime.
#[derive(Debug)]
pub enum Fatal {
    /// A Runtime API call failed.
    Client(ClientError),
    /// Init failed in a way the runtime reports: post `/init/error`, then exit 1 (as Python does).
    Init {
        /// `Lambda-Runtime-Function-Error-Type`.
        error_type: String,
        /// The error JSON.
        body: Bytes,
    },
    /// A SnapStart restore failed (an after-restore hook raised): post `/restore/error`,
    /// then exit 65, as AWS's Python client does (runtime-api.md §1.10).
    Restore {
        /// `Lambda-Runtime-Function-Error-Type` (`Runtime.AfterRestoreError`).
        error_type: String,
        /// The error JSON.
        body: Bytes,
    },
    /// The worker process ended (crash, `sys.exit`, OOM kill): exit the same way, so the
    /// platform reports `Runtime.ExitError` with the worker's status.
    WorkerExited(ExitStatus),
    /// The worker broke the framing protocol.
    Protocol(String),
}

impl From<ClientError> for Fatal {
    fn from(e: ClientError) -> Self {
        Self::Client(e)
    }
}

/// Runs one event at a time to completion.
pub trait Worker {
    /// Run the handler on `event`, consuming its body.
    fn invoke(&mut self, event: Event)
        -> impl std::future::Future<Output = Result<Outcome, Fatal>>;

    /// The snapshot was restored (SnapStart): run what the worker does after a restore.
    fn after_restore(&mut self) -> impl std::future::Future<Output = Result<(), Fatal>> {
        async { Ok(()) }
    }

    /// The next piece of the response stream [`Worker::invoke`] began.
    fn stream_next(&mut self) -> impl std::future::Future<Output = Result<StreamItem, Fatal>> {
        async { Err(Fatal::Protocol("this worker does not stream".into())) }
    }
}

/// Serve events until something is fatal. The worker has already initialised.
pub async fn runtime_loop<W: Worker>(
    client: &mut RuntimeClient,
    worker: &mut W,
) -> Result<Infallible, Fatal> {
    runtime_loop_tracking(client, worker, &mut None).await
}

/// [`runtime_loop`], keeping in `current` the request id of the invoke under way (so that
/// whoever handles the worker's death can answer it).
pub async fn runtime_loop_tracking<W: Worker>(
    client: &mut RuntimeClient,
    worker: &mut W,
    current: &mut Option<String>,
) -> Result<Infallible, Fatal> {
    loop {
        *current = None;
        let event = client.next().await?;
        let request_id = event.invocation.request_id.clone();
        *current = Some(request_id.clone());
        match worker.invoke(event).await? {
            Outcome::Response {
                content_type,
                body,
                output_marks,
            } => {
                let posted = client
                    .post_response(&request_id, &content_type, body, output_marks)
                    .await;
                survive_refusal(posted)?
            }
            Outcome::Error {
                body,
                xray_cause,
                output_marks,
            } => {
                let posted = client
                    .post_error(&request_id, body, xray_cause.as_deref(), output_marks)
                    .await;
                survive_refusal(posted)?
            }
            Outcome::Stream { content_type } => {
                stream_response(client, worker, &request_id, &content_type).await?
            }
        }
    }
}

/// An answer the platform refused with 410 (the invoke timed out, or the answer was stale:
/// runtime-api.md §1.6) is logged and the loop goes on to `/next`, as AWS's clients do
/// (aws-lambda-dotnet #2508); any other failure ends the runtime.
fn survive_refusal(posted: Result<(), ClientError>) -> Result<(), Fatal> {
    match posted {
        Err(e @ ClientError::Status { status: 410, .. }) => {
            log_client_error(&e);
            Ok(())
        }
        other => Ok(other?),
    }
}

/// Pass a worker's streamed response on as it comes. When the platform refuses it midway
/// (too large, the invoke over), the rest of the stream is read and dropped, the refusal
/// logged, and the runtime goes on to the next event.
async fn stream_response<W: Worker>(
    client: &mut RuntimeClient,
    worker: &mut W,
    request_id: &str,
    content_type: &str,
) -> Result<(), Fatal> {
    let mut stream = Some(client.open_stream(request_id, content_type).await?);
    let mut refused = None;
    let trailers = loop {
        match worker.stream_next().await? {
            StreamItem::Chunk(chunk) => {
                if let Some(s) = stream.as_mut() {
                    if let Err(e) = s.send(chunk).await {
                        refused = Some(e);
                        stream = None;
                    }
                }
            }
            StreamItem::End { output_marks } => break trailers(None, output_marks),
            StreamItem::Error {
                error_type,
                body,
                output_marks,
            } => break trailers(Some((&error_type, &body)), output_marks),
        }
    };
    let result = match stream {
        Some(s) => s.finish(trailers).await,
        None => Err(refused.unwrap_or_else(|| ClientError::Status {
            endpoint: lamina_runtime_api::paths::response(request_id),
            status: 0,
            body: "the stream was refused".into(),
        })),
    };
    if let Err(e) = result {
        log_client_error(&e);
    }
    Ok(())
}

/// The trailers that end a stream: the error, if any, and lamina's output marks.
fn trailers(error: Option<(&str, &Bytes)>, marks: Option<(bool, bool)>) -> http::HeaderMap {
    use base64::Engine as _;
    let mut map = http::HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::try_from(name),
            http::HeaderValue::from_str(&value),
        ) {
            map.insert(n, v);
        }
    };
    if let Some((error_type, body)) = error {
        put(
            lamina_runtime_api::headers::FUNCTION_ERROR_TYPE,
            error_type.to_owned(),
        );
        put(
            lamina_runtime_api::headers::FUNCTION_ERROR_BODY,
            base64::engine::general_purpose::STANDARD.encode(body),
        );
    }
    if let Some((stdout, stderr)) = marks {
        put(
            lamina_runtime_api::logs::OUTPUT_MARKS_HEADER,
            lamina_runtime_api::logs::marked_streams_value(stdout, stderr).to_owned(),
        );
    }
    map
}

impl Fatal {
    /// Report this (posting `/init/error` if it is an init failure) and end the process.
    pub async fn exit(self, client: &mut RuntimeClient) -> ! {
        match self {
            Self::Init { error_type, body } => {
                if let Err(e) = client.post_init_error(&error_type, body).await {
                    log_client_error(&e);
                }
                // A before-snapshot hook's failure exits 64, as AWS's Python client does.
                process::exit_code(if error_type == BEFORE_SNAPSHOT_ERROR {
                    64
                } else {
                    1
                })
            }
            Self::Restore { error_type, body } => {
                if let Err(e) = client.post_restore_error(&error_type, body).await {
                    log_client_error(&e);
                }
                process::exit_code(65)
            }
            Self::WorkerExited(status) => process::exit_like(status),
            Self::Client(e) => {
                log_client_error(&e);
                process::exit_code(1)
            }
            Self::Protocol(what) => {
                eprintln!("lamina-ric: worker protocol error: {what}");
                process::exit_code(1)
            }
        }
    }
}

/// The init error type of a failed before-snapshot hook (runtime-api.md §1.10).
pub const BEFORE_SNAPSHOT_ERROR: &str = "Runtime.BeforeSnapshotError";

/// When this environment is a SnapStart one (`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`):
/// wait for the restore (`/restore/next`), then let the worker run its after-restore work;
/// any other environment goes straight on (runtime-api.md §1.10).
pub async fn restore_if_snapshotted<W: Worker>(
    client: &mut RuntimeClient,
    worker: &mut W,
) -> Result<(), Fatal> {
    let snap = std::env::var(lamina_runtime_api::env::INITIALIZATION_TYPE)
        .is_ok_and(|v| v == lamina_runtime_api::env::SNAP_START_INIT);
    if !snap {
        return Ok(());
    }
    client.restore_next().await?;
    worker.after_restore().await
}

fn log_client_error(e: &ClientError) {
    eprintln!("[ERROR] {CLIENT_ERROR_TYPE}: {e}");
}

/// The Python RIC's error body shape (language-runtimes.md §5), for errors the RIC makes
/// itself: `{"errorMessage","errorType","requestId","stackTrace"}`, keys always present.
pub fn error_body(message: &str, error_type: &str, request_id: &str, stack: &[String]) -> Bytes {
    let body = serde_json::json!({
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack,
    });
    Bytes::from(body.to_string())
}
