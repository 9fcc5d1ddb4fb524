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
use lamina_runtime_api::telemetry::Api;

use crate::extensions::{self, Extensions};
use crate::http_util::Body;
use crate::logs::PumpMsg;
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
    /// The environment's log pump, once it runs: the extensions' output goes through it.
    /// Weak: the pump's own sink holds these APIs, and the pump ends when the environment
    /// drops its sender.
    pump: std::sync::OnceLock<tokio::sync::mpsc::WeakUnboundedSender<PumpMsg>>,
}

impl EnvironmentApis {
    pub(crate) fn new(runtime: Arc<RuntimeState>, extensions: Extensions) -> Self {
        Self {
            runtime,
            extensions,
            telemetry: Telemetry::default(),
            shutting_down: AtomicBool::new(false),
            pump: std::sync::OnceLock::new(),
        }
    }

    /// The environment's log pump runs: hand it the extensions' output from now on.
    pub(crate) fn set_pump(&self, pump: &tokio::sync::mpsc::UnboundedSender<PumpMsg>) {
        let _ = self.pump.set(pump.downgrade());
    }

    /// Lines external extension `extension` wrote, for the environment's log.
    pub(crate) fn extension_output(&self, extension: &str, text: String) {
        if let Some(pump) = self.pump.get().and_then(|p| p.upgrade()) {
            let _ = pump.send(PumpMsg::ExtensionOutput {
                extension: extension.into(),
                bytes: text.into(),
            });
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
        Some(EnvironmentApi::Telemetry) => {
            extensions::api::subscribe(&apis, Api::Telemetry, req).await
        }
        Some(EnvironmentApi::Logs) => extensions::api::subscribe(&apis, Api::Logs, req).await,
        Some(EnvironmentApi::Runtime) | None => {
            runtime_api::handle(apis.runtime.clone(), req).await
        }
    }
}
