//! The one model of a function: what Lambda calls its configuration (name, runtime, handler,
//! architecture, memory, timeout, ephemeral storage, environment, concurrency) and the HTTP
//! front in front of it, with Lambda's rules, defaults and their messages written once.
//!
//! Every entry point — `lamina build` flags, `lamina.toml`, image labels, `lamina rie` flags,
//! the embedded emulator's environment — parses its raw values with the same `FromStr` (and
//! serde, which goes through `FromStr`), so a rule broken anywhere gets the same verdict and
//! the same message (style.md, "validate once"). Each consumer then converts a [`Function`]
//! (or the typed values) into what it needs: the builder's image config, the emulator's
//! function config, the RIC's embedded emulator.

/// `Deserialize` through `FromStr`, accepting numbers and strings alike (one rule, one
/// message, whether a value comes from a flag or a file).
macro_rules! deserialize_from_str {
    ($($t:ty),*) => {$(
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::function::error::deserialize_scalar(d)
            }
        }
    )*};
}

mod environment;
mod error;
mod execution;
pub mod labels;
mod values;

pub use environment::{EnvVar, EnvWarning, Environment};
pub use error::FunctionError;
pub use execution::{Execution, Flag, LogFormat, LogLevel, MaxConcurrency, SystemLogLevel};
pub use values::{Arch, Concurrency, EphemeralStorage, FunctionName, MemorySize, Runtime, Timeout};

pub use crate::front::HttpSettings;

/// What Lambda keeps of a function apart from its code and how to start it: the limits it
/// runs under, its environment, and (lamina's) the HTTP front before it. What serving a
/// function needs of the model, whatever built its image: `lamina build` writes it into the
/// image's labels ([`labels`]), `lamina rie` serves by it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Configuration {
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
    /// How each environment runs: invokes at once, tenancy, logging.
    pub execution: Execution,
    /// The HTTP front (`lamina rie --http`): payload, routes, CORS.
    pub http: HttpSettings,
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
    /// Its configuration.
    pub config: Configuration,
}

/// Settings from one source, every one optional: flags, `lamina.toml`, image labels. Layer
/// them with [`Settings::over`] (the higher source wins), then [`Settings::resolve`] (a
/// function to build) or [`Settings::configuration`] (one to serve).
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
    /// Invokes one environment takes at once (Lambda Managed Instances).
    pub max_concurrency: Option<MaxConcurrency>,
    /// Environments per tenant.
    pub tenant_isolation: Option<Flag>,
    /// SnapStart.
    pub snapstart: Option<Flag>,
    /// `LoggingConfig.LogFormat`.
    pub log_format: Option<LogFormat>,
    /// `LoggingConfig.ApplicationLogLevel`.
    pub application_log_level: Option<LogLevel>,
    /// `LoggingConfig.SystemLogLevel`.
    pub system_log_level: Option<SystemLogLevel>,
    /// The HTTP front; each of its settings layered on its own.
    pub http: HttpSettings,
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
            max_concurrency: self.max_concurrency.or(lower.max_concurrency),
            tenant_isolation: self.tenant_isolation.or(lower.tenant_isolation),
            snapstart: self.snapstart.or(lower.snapstart),
            log_format: self.log_format.or(lower.log_format),
            application_log_level: self.application_log_level.or(lower.application_log_level),
            system_log_level: self.system_log_level.or(lower.system_log_level),
            http: self.http.over(lower.http),
        }
    }

    /// The configuration these settings give, with Lambda's defaults for what they leave
    /// out (128 MB, 3 s, 512 MB of `/tmp`, one environment, one invoke at a time, text
    /// logs), or the rule that settings which cannot go together break.
    pub fn configuration(&self) -> Result<Configuration, FunctionError> {
        Ok(Configuration {
            memory: self.memory.unwrap_or_default(),
            timeout: self.timeout.unwrap_or_default(),
            ephemeral_storage: self.ephemeral_storage.unwrap_or_default(),
            env: self.env.clone(),
            concurrency: self.concurrency.unwrap_or_default(),
            execution: Execution::resolve(
                self.max_concurrency,
                self.tenant_isolation,
                self.log_format,
                self.application_log_level,
                self.system_log_level,
            )?
            .with_snapstart(self.snapstart)?,
            http: self.http.clone(),
        })
    }

    /// A [`Function`], with Lambda's defaults for what no source said (runtime
    /// `python3.13`, the host's architecture, and [`Settings::configuration`]'s). `None`
    /// when there is no name or no handler: the caller knows what to suggest.
    pub fn resolve(self) -> Result<Option<Function>, FunctionError> {
        let config = self.configuration()?;
        Ok((|| {
            Some(Function {
                name: self.name?,
                runtime: self.runtime.unwrap_or_default(),
                handler: self.handler?,
                arch: self.arch.unwrap_or_else(Arch::host),
                config,
            })
        })())
    }
}

#[cfg(test)]
mod tests;
