//! What one function is to the emulator: the model's [`Configuration`] (memory, timeout,
//! environment, concurrency, the HTTP front — checked by `lamina_runtime_api::function`) under
//! its name, plus what only serving needs (region and account for ARNs, the queue bound, the
//! image or command, how `Event` invokes are retried). A setting added to the model's
//! configuration reaches the emulator with no change here.

use std::path::PathBuf;
use std::time::Duration;

use lamina_runtime_api::function::{Configuration, FunctionName, Runtime, Settings};
use lamina_runtime_api::limits;

/// Region when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Account id used in ARNs when none is configured.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";
/// Invokes that may wait for a busy function before it answers `TooManyRequestsException`.
pub const DEFAULT_MAX_QUEUED: usize = 100;

/// Lambda's default and most retries after a failed attempt.
pub const MAX_RETRY_ATTEMPTS: u32 = limits::MAX_RETRY_ATTEMPTS;
/// Lambda's delay before the first retry (the second waits twice as long).
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(limits::DEFAULT_RETRY_DELAY_S);
/// Lambda's default (and longest) maximum event age: 6 hours.
pub const MAX_EVENT_AGE: Duration = Duration::from_secs(limits::MAX_EVENT_AGE_S);
/// The shortest maximum event age Lambda accepts.
pub const MIN_EVENT_AGE: Duration = Duration::from_secs(limits::MIN_EVENT_AGE_S);

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
    /// The runtime, when known (named in `INIT_START`).
    pub runtime: Option<Runtime>,
    /// Its configuration: memory and `/tmp` (the Docker sandbox enforces them), timeout,
    /// environment (the platform's own variables, §9, replace same-named ones), concurrency
    /// (most environments alive at once; further invokes wait in the queue), HTTP front.
    pub config: Configuration,
    /// Region for ARNs and `AWS_REGION`.
    pub region: String,
    /// Account id for ARNs.
    pub account_id: String,
    /// Most invokes waiting for an environment; beyond it the invoker gets 429.
    pub max_queued: usize,
    /// Image reference (Docker sandbox).
    pub image: Option<String>,
    /// Command override: the container's CMD (Docker) or the program and its arguments (process).
    pub command: Option<Vec<String>>,
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
            runtime: None,
            config: Configuration::default(),
            region: DEFAULT_REGION.into(),
            account_id: DEFAULT_ACCOUNT_ID.into(),
            max_queued: DEFAULT_MAX_QUEUED,
            image: None,
            command: None,
            events: EventConfig::default(),
            cpu_share: false,
        }
    }

    /// The function layered `settings` describe (flags over an image's labels, say: the same
    /// [`Settings::over`] `lamina build` layers by), named `fallback` when they name none;
    /// or the rule its settings break together.
    pub fn from_settings(
        settings: &Settings,
        fallback: FunctionName,
    ) -> Result<Self, lamina_runtime_api::function::FunctionError> {
        let mut function = Self::new(settings.name.clone().unwrap_or(fallback));
        function.runtime = settings.runtime;
        function.config = settings.configuration()?;
        Ok(function)
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
        assert_eq!(f.config.memory.mb(), 128);
        assert_eq!(f.config.timeout.secs(), 3);
        assert_eq!(f.config.concurrency.get(), 1);
    }
}
