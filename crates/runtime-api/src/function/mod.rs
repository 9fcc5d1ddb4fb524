//! The one model of a function: what Lambda calls its configuration (name, runtime, handler,
//! architecture, memory, timeout, ephemeral storage, environment, concurrency), with Lambda's
//! rules, defaults and their messages written once.
//!
//! Every entry point — `lamina build` flags, `lamina.toml`, image labels, `lamina rie` flags,
//! the embedded emulator's environment — parses its raw values with the same `FromStr` (and
//! serde, which goes through `FromStr`), so a rule broken anywhere gets the same verdict and
//! the same message (style.md, "validate once"). Each consumer then converts a [`Function`]
//! (or the typed values) into what it needs: the builder's image config, the emulator's
//! function config, the RIC's embedded emulator.

mod environment;
mod values;

pub use environment::{EnvVar, EnvWarning, Environment};
pub use values::{Arch, Concurrency, EphemeralStorage, FunctionName, MemorySize, Runtime, Timeout};

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
    /// An environment variable name Lambda refuses.
    #[error("environment variable name `{0}` is not valid: Lambda requires a letter followed by one or more letters, digits or underscores")]
    EnvKey(String),
    /// Not `KEY=VALUE`.
    #[error("`{0}` is not an environment variable: write it as KEY=VALUE")]
    EnvPair(String),
}

/// A function, every field checked against Lambda's rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// Function name.
    pub name: FunctionName,
    /// Base runtime.
    pub runtime: Runtime,
    /// Handler string as given (`app.handler`, `tool.sh`).
    pub handler: String,
    /// Architecture of the image.
    pub arch: Arch,
    /// Memory size.
    pub memory: MemorySize,
    /// Per-invoke timeout.
    pub timeout: Timeout,
    /// Size of `/tmp`.
    pub ephemeral_storage: EphemeralStorage,
    /// The function's own environment variables, in order, later keys replacing earlier.
    pub env: Environment,
    /// Environments run at once (the local stand-in for reserved concurrency).
    pub concurrency: Concurrency,
}

/// Settings from one source, every one optional: flags, `lamina.toml`, image labels. Layer
/// them with [`Settings::over`] (the higher source wins), then [`Settings::resolve`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// Function name.
    pub name: Option<FunctionName>,
    /// Base runtime.
    pub runtime: Option<Runtime>,
    /// Handler string.
    pub handler: Option<String>,
    /// Architecture (`platform` in `lamina.toml`, as on the command line).
    pub arch: Option<Arch>,
    /// Memory size.
    pub memory: Option<MemorySize>,
    /// Timeout.
    pub timeout: Option<Timeout>,
    /// Size of `/tmp`.
    pub ephemeral_storage: Option<EphemeralStorage>,
    /// Environment; merged key by key with lower sources.
    pub env: Environment,
    /// Environments run at once.
    pub concurrency: Option<Concurrency>,
}

impl Settings {
    /// `self` where it says something, else `lower`; environments merge key by key.
    pub fn over(self, lower: Settings) -> Settings {
        let mut env = lower.env;
        env.extend(self.env);
        Settings {
            name: self.name.or(lower.name),
            runtime: self.runtime.or(lower.runtime),
            handler: self.handler.or(lower.handler),
            arch: self.arch.or(lower.arch),
            memory: self.memory.or(lower.memory),
            timeout: self.timeout.or(lower.timeout),
            ephemeral_storage: self.ephemeral_storage.or(lower.ephemeral_storage),
            env,
            concurrency: self.concurrency.or(lower.concurrency),
        }
    }

    /// A [`Function`], with Lambda's defaults for what no source said (runtime
    /// `python3.13`, the host's architecture, 128 MB, 3 s, 512 MB of `/tmp`, one
    /// environment). `None` when there is no name or no handler: the caller knows what to
    /// suggest.
    pub fn resolve(self) -> Option<Function> {
        Some(Function {
            name: self.name?,
            runtime: self.runtime.unwrap_or_default(),
            handler: self.handler?,
            arch: self.arch.unwrap_or_else(Arch::host),
            memory: self.memory.unwrap_or_default(),
            timeout: self.timeout.unwrap_or_default(),
            ephemeral_storage: self.ephemeral_storage.unwrap_or_default(),
            env: self.env,
            concurrency: self.concurrency.unwrap_or_default(),
        })
    }
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

#[cfg(test)]
mod tests;
