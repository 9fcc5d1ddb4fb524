//! What one function is: name, memory, timeout, environment, scaling, and where its code is.
//!
//! Defaults follow the cloud (128 MB, 3 s, `us-east-1`) except concurrency: see
//! [`DEFAULT_CONCURRENCY`].

use std::time::Duration;

use crate::error::{Error, Result};

/// Memory when none is configured, as in the cloud.
pub const DEFAULT_MEMORY_MB: u64 = 128;
/// Timeout when none is configured, as in the cloud.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Region when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Account id used in ARNs when none is configured.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";
/// Environments per function when none is configured: one, as AWS's emulator and a plain
/// `docker run` give, so a laptop runs one container per function and sees one cold start.
/// Raise it to watch the pool scale out (and cold-start) the way the cloud does.
pub const DEFAULT_CONCURRENCY: usize = 1;
/// Invokes that may wait for a busy function before it answers `TooManyRequestsException`.
pub const DEFAULT_MAX_QUEUED: usize = 100;
/// Largest memory the cloud allows, in MB.
pub const MAX_MEMORY_MB: u64 = 10_240;
/// Longest timeout the cloud allows.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(900);

/// One function served by the emulator.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionConfig {
    /// Function name: the `{name}` of the invoke path.
    pub name: String,
    /// Memory size in MB (128–10,240); the Docker sandbox enforces it.
    pub memory_mb: u64,
    /// Per-invoke timeout; fractions of a second are honoured.
    pub timeout: Duration,
    /// The user's environment variables; reserved `AWS_LAMBDA_*`/`AWS_REGION` names are ignored.
    pub env: Vec<(String, String)>,
    /// Region for ARNs and `AWS_REGION`.
    pub region: String,
    /// Account id for ARNs.
    pub account_id: String,
    /// Most environments alive at once; further invokes wait in the queue.
    pub concurrency: usize,
    /// Most invokes waiting for an environment; beyond it the invoker gets 429.
    pub max_queued: usize,
    /// Image reference (Docker sandbox).
    pub image: Option<String>,
    /// Command override: the container's CMD (Docker) or the program and its arguments (process).
    pub command: Option<Vec<String>>,
}

impl FunctionConfig {
    /// A function with the cloud's defaults.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            memory_mb: DEFAULT_MEMORY_MB,
            timeout: DEFAULT_TIMEOUT,
            env: Vec::new(),
            region: DEFAULT_REGION.into(),
            account_id: DEFAULT_ACCOUNT_ID.into(),
            concurrency: DEFAULT_CONCURRENCY,
            max_queued: DEFAULT_MAX_QUEUED,
            image: None,
            command: None,
        }
    }

    /// The function's ARN (§1.3: derived, never faked).
    pub fn arn(&self) -> String {
        lamina_runtime_api::invocation::function_arn(&self.region, &self.account_id, &self.name)
    }

    /// The timeout in whole milliseconds, as the platform error bodies print it.
    pub fn timeout_ms(&self) -> u64 {
        u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX)
    }

    /// Refuse values the cloud would refuse.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| {
            Err(Error::Config {
                function: self.name.clone(),
                reason,
            })
        };
        if !lamina_runtime_api::limits::is_valid_function_name(&self.name) {
            return bad("the name must be 1–64 letters, digits, `-` or `_`".into());
        }
        if !(128..=MAX_MEMORY_MB).contains(&self.memory_mb) {
            return bad(format!(
                "memory {} MB is outside 128–{MAX_MEMORY_MB} MB",
                self.memory_mb
            ));
        }
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return bad(format!(
                "timeout {:?} is outside (0, 900] seconds",
                self.timeout
            ));
        }
        if self.concurrency == 0 {
            return bad("concurrency must be at least 1".into());
        }
        for (k, _) in &self.env {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                return bad(format!("environment variable name `{k}` is not valid"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_do_not() {
        let f = FunctionConfig::new("calc");
        f.validate().unwrap();
        assert_eq!(
            f.arn(),
            "arn:aws:lambda:us-east-1:000000000000:function:calc"
        );
        let mut g = f.clone();
        g.memory_mb = 64;
        assert!(g.validate().is_err());
        let mut g = f.clone();
        g.name = "a/b".into();
        assert!(g.validate().is_err());
        let mut g = f;
        g.timeout = Duration::ZERO;
        assert!(g.validate().is_err());
    }
}
