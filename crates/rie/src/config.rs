//! What one function is to the emulator: the model's settings (name, memory, timeout,
//! environment, concurrency — checked by `lamina_runtime_api::function`), plus what only
//! serving needs (region and account for ARNs, the queue bound, the image or command, how
//! `Event` invokes are retried).

use std::path::PathBuf;
use std::time::Duration;

use lamina_runtime_api::function::{
    Concurrency, Environment, EphemeralStorage, FunctionName, HttpSettings, MemorySize, Runtime,
    Timeout,
};

/// Region when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Account id used in ARNs when none is configured.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";
/// Invokes that may wait for a busy function before it answers `TooManyRequestsException`.
pub const DEFAULT_MAX_QUEUED: usize = 100;

/// Lambda's default and most retries after a failed attempt.
pub const MAX_RETRY_ATTEMPTS: u32 = 2;
/// Lambda's delay before the first retry (the second waits twice as long).
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(60);
/// Lambda's default (and longest) maximum event age: 6 hours.
pub const MAX_EVENT_AGE: Duration = Duration::from_secs(6 * 3600);
/// The shortest maximum event age Lambda accepts.
pub const MIN_EVENT_AGE: Duration = Duration::from_secs(60);

/// How one function's `Event` invokes are retried and where their outcomes go (Lambda's
/// event invoke config).
#[derive(Debug, Clone, PartialEq)]
pub struct EventConfig {
    /// Retries after a failed attempt, 0 to 2.
    pub max_retry_attempts: u32,
    /// Events older than this are dropped (60 s to 6 h).
    pub max_event_age: Duration,
    /// Delay before the first retry; the second waits twice this.
    pub retry_delay: Duration,
    /// Folder for the records of events that failed or aged out.
    pub on_failure: Option<PathBuf>,
    /// Folder for the records of events that succeeded.
    pub on_success: Option<PathBuf>,
}

impl Default for EventConfig {
    fn default() -> Self {
        Self {
            max_retry_attempts: MAX_RETRY_ATTEMPTS,
            max_event_age: MAX_EVENT_AGE,
            retry_delay: DEFAULT_RETRY_DELAY,
            on_failure: None,
            on_success: None,
        }
    }
}

/// One function served by the emulator.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionConfig {
    /// Function name: the `{name}` of the invoke path.
    pub name: FunctionName,
    /// Memory size; the Docker sandbox enforces it.
    pub memory: MemorySize,
    /// Per-invoke timeout.
    pub timeout: Timeout,
    /// Size of `/tmp`; the Docker sandbox mounts a tmpfs of this size.
    pub ephemeral_storage: EphemeralStorage,
    /// The user's environment variables; the platform's own (§9) replace same-named ones.
    pub env: Environment,
    /// Region for ARNs and `AWS_REGION`.
    pub region: String,
    /// Account id for ARNs.
    pub account_id: String,
    /// Most environments alive at once; further invokes wait in the queue.
    pub concurrency: Concurrency,
    /// Most invokes waiting for an environment; beyond it the invoker gets 429.
    pub max_queued: usize,
    /// Image reference (Docker sandbox).
    pub image: Option<String>,
    /// Command override: the container's CMD (Docker) or the program and its arguments (process).
    pub command: Option<Vec<String>>,
    /// How the HTTP front (when served) reaches this function: payload, routes, CORS.
    pub http: HttpSettings,
    /// The runtime, when known (named in `INIT_START`).
    pub runtime: Option<Runtime>,
    /// How `Event` invokes are retried and where their outcomes are recorded.
    pub events: EventConfig,
    /// Cap the CPU in proportion to memory, as Lambda allocates it (1,769 MB = one vCPU), so
    /// that a function too slow for its memory in the cloud is too slow here.
    pub cpu_share: bool,
}

impl FunctionConfig {
    /// A function with the cloud's defaults.
    pub fn new(name: FunctionName) -> Self {
        Self {
            name,
            memory: MemorySize::default(),
            timeout: Timeout::default(),
            ephemeral_storage: EphemeralStorage::default(),
            env: Environment::default(),
            region: DEFAULT_REGION.into(),
            account_id: DEFAULT_ACCOUNT_ID.into(),
            concurrency: Concurrency::default(),
            max_queued: DEFAULT_MAX_QUEUED,
            image: None,
            command: None,
            http: HttpSettings::default(),
            runtime: None,
            events: EventConfig::default(),
            cpu_share: false,
        }
    }

    /// The function's ARN (§1.3: derived, never faked).
    pub fn arn(&self) -> String {
        lamina_runtime_api::invocation::function_arn(
            &self.region,
            &self.account_id,
            self.name.as_str(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_clouds() {
        let f = FunctionConfig::new("calc".parse().unwrap());
        assert_eq!(
            f.arn(),
            "arn:aws:lambda:us-east-1:000000000000:function:calc"
        );
        assert_eq!(f.memory.mb(), 128);
        assert_eq!(f.timeout.secs(), 3);
        assert_eq!(f.concurrency.get(), 1);
    }
}
