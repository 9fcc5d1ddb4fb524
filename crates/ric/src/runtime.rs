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
}

/// Serve events until something is fatal. The worker has already initialised.
pub async fn runtime_loop<W: Worker>(
    client: &mut RuntimeClient,
    worker: &mut W,
) -> Result<Infallible, Fatal> {
    loop {
        let event = client.next().await?;
        let request_id = event.invocation.request_id.clone();
        match worker.invoke(event).await? {
            Outcome::Response {
                content_type,
                body,
                output_marks,
            } => {
                client
                    .post_response(&request_id, &content_type, body, output_marks)
                    .await?
            }
            Outcome::Error {
                body,
                xray_cause,
                output_marks,
            } => {
                client
                    .post_error(&request_id, body, xray_cause.as_deref(), output_marks)
                    .await?
            }
        }
    }
}

impl Fatal {
    /// Report this (posting `/init/error` if it is an init failure) and end the process.
    pub async fn exit(self, client: &mut RuntimeClient) -> ! {
        match self {
            Self::Init { error_type, body } => {
                if let Err(e) = client.post_init_error(&error_type, body).await {
                    log_client_error(&e);
                }
                process::exit_code(1)
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
