//! One environment's listener serves four APIs, told apart by path
//! ([`EnvironmentApi`]): the Runtime API (§1), and the Extensions (§2), Telemetry (§3.1) and
//! Logs (§3.4) APIs that extensions call on the same `AWS_LAMBDA_RUNTIME_API` address. This
//! router holds each API's view of the environment and hands every request to its API.

use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use lamina_runtime_api::paths::EnvironmentApi;

use crate::http_util::Body;
use crate::runtime_api::{self, RuntimeState};

/// The APIs of one environment.
pub(crate) struct EnvironmentApis {
    /// The Runtime API's state.
    pub(crate) runtime: Arc<RuntimeState>,
}

/// Serve one request to an environment's listener.
pub(crate) async fn handle(apis: Arc<EnvironmentApis>, req: Request<Incoming>) -> Response<Body> {
    match EnvironmentApi::of(req.uri().path()) {
        Some(EnvironmentApi::Runtime) => runtime_api::handle(apis.runtime.clone(), req).await,
        // Not served yet: the Runtime API's 404 (after reading the body, as it always does).
        Some(EnvironmentApi::Extensions | EnvironmentApi::Telemetry | EnvironmentApi::Logs)
        | None => runtime_api::handle(apis.runtime.clone(), req).await,
    }
}
