//! What a broken rule of the function model says, and the one way a config file's scalar
//! reaches a rule (through the same `FromStr` as a flag). A leaf of `function`.

use crate::limits::{
    MAX_CONCURRENCY, MAX_EPHEMERAL_STORAGE_MB, MAX_FUNCTION_NAME, MAX_MEMORY_MB, MAX_TIMEOUT_S,
    MIN_EPHEMERAL_STORAGE_MB, MIN_MEMORY_MB, MIN_TIMEOUT_S,
};

/// A value refused by one of Lambda's rules. The message names the value and what Lambda
/// accepts; the caller adds where it came from (a flag, `lamina.toml`, a variable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunctionError {
    /// The function name breaks Lambda's rule.
    #[error("function name `{0}` is not valid: Lambda accepts 1 to {MAX_FUNCTION_NAME} letters, digits, hyphens or underscores")]
    Name(String),
    /// No runtime of that name.
    #[error("runtime `{given}` is not one lamina builds: use one of {known}")]
    Runtime {
        /// The name as given.
        given: String,
        /// The names lamina knows, comma-separated.
        known: String,
    },
    /// An architecture Lambda does not run.
    #[error("platform `{0}` is not one Lambda runs: use linux/amd64 (x86_64) or linux/arm64")]
    Arch(String),
    /// Memory outside Lambda's range.
    #[error("memory `{0}` is not valid: Lambda accepts a whole number of MB from {MIN_MEMORY_MB} to {MAX_MEMORY_MB}")]
    Memory(String),
    /// Timeout outside Lambda's range, or not whole seconds.
    #[error("timeout `{0}` is not valid: Lambda accepts a whole number of seconds from {MIN_TIMEOUT_S} to {MAX_TIMEOUT_S}")]
    Timeout(String),
    /// Ephemeral storage outside Lambda's range.
    #[error("ephemeral storage `{0}` is not valid: Lambda accepts a whole number of MB from {MIN_EPHEMERAL_STORAGE_MB} to {MAX_EPHEMERAL_STORAGE_MB}")]
    EphemeralStorage(String),
    /// Concurrency of zero or beyond the account quota.
    #[error("concurrency `{0}` is not valid: use a whole number of environments from 1 to {MAX_CONCURRENCY}")]
    Concurrency(String),
    /// Per-environment concurrency outside Managed Instances' range.
    #[error("max_concurrency `{0}` is not valid: Lambda Managed Instances take a whole number of invokes per environment from 1 to {max}", max = crate::limits::MAX_PER_ENVIRONMENT_CONCURRENCY)]
    MaxConcurrency(String),
    /// A log format the cloud does not have.
    #[error("log format `{0}` is not one Lambda has: use Text or JSON")]
    LogFormat(String),
    /// An application log level the cloud does not have.
    #[error("application log level `{0}` is not one Lambda has: use TRACE, DEBUG, INFO, WARN, ERROR or FATAL")]
    LogLevel(String),
    /// A system log level the cloud does not have.
    #[error("system log level `{0}` is not one Lambda has: use DEBUG, INFO or WARN")]
    SystemLogLevel(String),
    /// Not a yes or no.
    #[error("`{0}` is not a yes or no: use true or false")]
    Flag(String),
    /// SnapStart asked of a Managed-Instances function.
    #[error("snapstart cannot go with max_concurrency: Lambda Managed Instances environments are never snapshotted; drop one of them")]
    ManagedSnapStart,
    /// Text logs asked of a Managed-Instances function.
    #[error("log_format = \"Text\" cannot go with max_concurrency: Lambda Managed Instances log JSON only; drop log_format or set it to \"JSON\"")]
    ManagedTextLogs,
    /// Log levels asked beside text logs.
    #[error("log levels apply to JSON logs only (Lambda filters by level in the JSON format): set log_format = \"JSON\" or drop application_log_level and system_log_level")]
    TextLogLevels,
    /// An environment variable name Lambda refuses.
    #[error("environment variable name `{0}` is not valid: Lambda requires a letter followed by one or more letters, digits or underscores")]
    EnvKey(String),
    /// A value no process environment can carry.
    #[error("environment variable `{0}` holds a NUL character, which no process environment can carry: remove it")]
    EnvNul(String),
    /// The variables add up to more than Lambda takes.
    #[error("the environment variables take more than {limit} bytes (at `{at}`); Lambda refuses more than {limit} in a function's configuration: keep large values in a file, S3 or SSM instead", limit = crate::limits::MAX_ENVIRONMENT_BYTES)]
    EnvTooLarge {
        /// The key at which the total passed the limit.
        at: String,
    },
    /// Not `KEY=VALUE`.
    #[error("`{0}` is not an environment variable: write it as KEY=VALUE")]
    EnvPair(String),
    /// An HTTP front payload lamina does not know.
    #[error("HTTP payload `{0}` is not one lamina serves: use apigw-http (HTTP API, payload 2.0), apigw-rest (REST API, payload 1.0) or function-url")]
    Payload(String),
    /// An HTTP front invoke mode the cloud does not have.
    #[error("HTTP invoke mode `{0}` is not one the cloud has: use BUFFERED or RESPONSE_STREAM (a function URL's InvokeMode; STREAM, API Gateway REST's name, is taken too)")]
    InvokeMode(String),
    /// A route key API Gateway would refuse.
    #[error("route `{route}` is not valid: {why}")]
    Route {
        /// The route as given.
        route: String,
        /// What is wrong and how to write it.
        why: String,
    },
}

/// Parse a value through `FromStr` from whatever scalar a config file holds (`128`, `3.0`,
/// `"128"`), so that a file and a flag go through the same rule and message.
pub(crate) fn deserialize_scalar<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr<Err = FunctionError>,
{
    struct Scalar;
    impl serde::de::Visitor<'_> for Scalar {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a number or a string")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    let raw = d.deserialize_any(Scalar)?;
    raw.parse().map_err(serde::de::Error::custom)
}
