//! How an environment ends (runtime-api.md §2, lifecycle table, Shutdown and
//! Failure/timeout): extensions that asked for `SHUTDOWN` get it, with its reason and
//! deadline; the runtime gets SIGTERM (through lamina's init, which then waits for the
//! extensions to exit); whatever still runs when the budget is spent is killed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lamina_runtime_api::extensions::{Event, ShutdownReason};

use super::epoch_ms;
use crate::env_api::EnvironmentApis;
use crate::sandbox::SandboxHandle;

/// The shutdown budget with external extensions: 2,000 ms (of which the runtime's share is
/// its SIGTERM grace); with internal ones only, 500 ms (§2, lifecycle table).
const WITH_EXTERNAL: Duration = Duration::from_millis(2_000);
const INTERNAL_ONLY: Duration = Duration::from_millis(500);

/// What ending an environment needs, owned, so a reset can run on its own task.
#[derive(Clone)]
pub(super) struct Ending {
    pub(super) apis: Arc<EnvironmentApis>,
    pub(super) handle: Arc<dyn SandboxHandle>,
    pub(super) dead: Arc<AtomicBool>,
    /// The environment's listener, kept serving until the ending is over.
    pub(super) _server: Arc<super::AbortOnDrop>,
    /// Its log pump, kept running until then too: the extensions' last lines (their
    /// `SHUTDOWN`) still reach the log.
    pub(super) _pump: tokio::sync::mpsc::UnboundedSender<crate::logs::PumpMsg>,
}

impl Ending {
    /// End the environment for `reason`; the runtime alone gets `runtime_grace` after its
    /// SIGTERM.
    pub(super) async fn run(self, reason: ShutdownReason, runtime_grace: Duration) {
        self.dead.store(true, Ordering::SeqCst);
        self.apis.begin_shutdown();
        let extensions = &self.apis.extensions;
        if !extensions.any() {
            return self.handle.terminate(runtime_grace).await;
        }
        let budget = if extensions.any_external() {
            WITH_EXTERNAL
        } else {
            INTERNAL_ONLY
        };
        extensions.deliver(&Event::Shutdown {
            shutdown_reason: reason,
            deadline_ms: epoch_ms().saturating_add(budget.as_millis() as u64),
        });
        self.handle.terminate(budget).await;
    }

    /// [`Ending::run`] on a task of its own, for a path that must not wait (the invoker's
    /// answer).
    pub(super) fn spawn(self, reason: ShutdownReason) {
        // Dead from now on: the pool never hands it out again.
        self.dead.store(true, Ordering::SeqCst);
        tokio::spawn(self.run(reason, Duration::ZERO));
    }
}
