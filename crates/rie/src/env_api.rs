//! One environment's listener serves four APIs, told apart by path
//! ([`EnvironmentApi`]): the Runtime API (§1), and the Extensions (§2), Telemetry (§3.1) and
//! Logs (§3.4) APIs that extensions call on the same `AWS_LAMBDA_RUNTIME_API` address — plus
//! the calls of lamina's init in the container (`lamina_runtime_api::init`). This router
//! holds each API's view of the environment and hands every request to its API.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use lamina_runtime_api::paths::EnvironmentApi;

use crate::extensions::{self, Extensions};
use crate::http_util::Body;
use crate::runtime_api::{self, RuntimeState};
use crate::telemetry::Telemetry;

/// The APIs of one environment.
pub(crate) struct EnvironmentApis {
    /// The Runtime API's state.
    pub(crate) runtime: Arc<RuntimeState>,
    /// The extensions'.
    pub(crate) extensions: Extensions,
    /// The Telemetry API's subscribers.
    pub(crate) telemetry: Telemetry,
    /// Set once the environment is shutting down: an extension that exits then is expected.
    shutting_down: AtomicBool,
}

impl EnvironmentApis {
    pub(crate) fn new(runtime: Arc<RuntimeState>, extensions: Extensions) -> Self {
        Self {
            runtime,
            extensions,
            telemetry: Telemetry::default(),
            shutting_down: AtomicBool::new(false),
        }
    }

    /// Whether the environment is shutting down.
    pub(crate) fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// The environment begins to shut down.
    pub(crate) fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }
}

/// Serve one request to an environment's listener.
pub(crate) async fn handle(apis: Arc<EnvironmentApis>, req: Request<Incoming>) -> Response<Body> {
    match EnvironmentApi::of(req.uri().path()) {
        Some(EnvironmentApi::Extensions) => extensions::api::handle(&apis, req).await,
        Some(EnvironmentApi::Lamina) => extensions::api::handle_init(&apis, req).await,
        Some(EnvironmentApi::Telemetry) => extensions::api::subscribe(&apis, req).await,
        // Not served yet: the Runtime API's 404 (after reading the body, as it always does).
        Some(EnvironmentApi::Runtime | EnvironmentApi::Logs) | None => {
            runtime_api::handle(apis.runtime.clone(), req).await
        }
    }
}
