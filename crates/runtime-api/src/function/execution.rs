//! How a function's environments run, as Lambda's 2025–2026 settings say: invokes at once
//! per environment (Lambda Managed Instances), per-tenant isolation, and the logging
//! configuration (format and levels). Each value is a type whose constructor is the cloud's
//! rule; [`Execution`] is their resolved whole, with the cloud's defaults and the rules
//! that tie them together.

use std::fmt;
use std::str::FromStr;

use super::error::FunctionError;
use crate::limits::MAX_PER_ENVIRONMENT_CONCURRENCY;

/// Invokes one environment takes at once: Lambda Managed Instances'
/// `PerExecutionEnvironmentMaxConcurrency`, 1 to 1,600 (API reference,
/// `LambdaManagedInstancesCapacityProviderConfig`). Set, the environment runs in that mode
/// (`AWS_LAMBDA_MAX_CONCURRENCY`, runtime-api.md §1.9), even at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MaxConcurrency(usize);

impl MaxConcurrency {
    /// Invokes at once.
    pub fn get(self) -> usize {
        self.0
    }
}

impl FromStr for MaxConcurrency {
    type Err = FunctionError;
    fn from_str(s: &str) -> Result<Self, FunctionError> {
        s.trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PER_ENVIRONMENT_CONCURRENCY).contains(n))
            .map(Self)
            .ok_or_else(|| FunctionError::MaxConcurrency(s.to_owned()))
    }
}

impl fmt::Display for MaxConcurrency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `LoggingConfig.LogFormat`: how the runtime and the platform write their lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Plain lines (`START RequestId: …`, `[INFO]\t…`): the cloud's default.
    #[default]
    Text,
    /// One JSON object per line; the platform's own lines as `{"time","type","record"}`.
    Json,
}

impl FromStr for LogFormat {
    type Err = FunctionError;
    fn from_str(s: &str) -> Result<Self, FunctionError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "TEXT" => Ok(Self::Text),
            "JSON" => Ok(Self::Json),
            _ => Err(FunctionError::LogFormat(s.to_owned())),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Text => "Text",
            Self::Json => "JSON",
        })
    }
}

/// `LoggingConfig.ApplicationLogLevel`: the lowest level of the function's own records
/// that reach the log (runtime-api.md §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `TRACE`.
    Trace,
    /// `DEBUG`.
    Debug,
    /// `INFO`, the default in JSON format.
    Info,
    /// `WARN`.
    Warn,
    /// `ERROR`.
    Error,
    /// `FATAL`.
    Fatal,
}

const LEVELS: [(&str, LogLevel); 6] = [
    ("TRACE", LogLevel::Trace),
    ("DEBUG", LogLevel::Debug),
    ("INFO", LogLevel::Info),
    ("WARN", LogLevel::Warn),
    ("ERROR", LogLevel::Error),
    ("FATAL", LogLevel::Fatal),
];

impl LogLevel {
    /// The cloud's name (`INFO`).
    pub fn name(self) -> &'static str {
        LEVELS
            .iter()
            .find(|(_, l)| *l == self)
            .map_or("INFO", |(n, _)| n)
    }

    /// The level a record names (`"level"` of a JSON line, any case; Python's `WARNING`
    /// and `CRITICAL` too), if it names one.
    pub fn of_record(name: &str) -> Option<Self> {
        match name.trim().to_ascii_uppercase().as_str() {
            "WARNING" => Some(Self::Warn),
            "CRITICAL" => Some(Self::Fatal),
            n => LEVELS.iter().find(|(k, _)| *k == n).map(|(_, l)| *l),
        }
    }
}

impl FromStr for LogLevel {
    type Err = FunctionError;
    fn from_str(s: &str) -> Result<Self, FunctionError> {
        let upper = s.trim().to_ascii_uppercase();
        LEVELS
            .iter()
            .find(|(n, _)| *n == upper)
            .map(|(_, l)| *l)
            .ok_or_else(|| FunctionError::LogLevel(s.to_owned()))
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `LoggingConfig.SystemLogLevel`: which of the platform's own records reach the log:
/// `DEBUG` < `INFO` (the default: start and report) < `WARN` (runtime-api.md §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum SystemLogLevel {
    /// Every platform record.
    Debug,
    /// Start, end and report records.
    #[default]
    Info,
    /// Only records of failures.
    Warn,
}

impl FromStr for SystemLogLevel {
    type Err = FunctionError;
    fn from_str(s: &str) -> Result<Self, FunctionError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "DEBUG" => Ok(Self::Debug),
            "INFO" => Ok(Self::Info),
            "WARN" => Ok(Self::Warn),
            _ => Err(FunctionError::SystemLogLevel(s.to_owned())),
        }
    }
}

impl fmt::Display for SystemLogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warn => "WARN",
        })
    }
}

/// A setting that is on or off (`tenant_isolation`, `snapstart`): `true` or `false`, from a
/// flag, a label or a TOML boolean alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flag(pub bool);

impl FromStr for Flag {
    type Err = FunctionError;
    fn from_str(s: &str) -> Result<Self, FunctionError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Self(true)),
            "false" => Ok(Self(false)),
            _ => Err(FunctionError::Flag(s.to_owned())),
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> serde::Deserialize<'de> for Flag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(b) => Ok(Self(b)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

deserialize_from_str!(MaxConcurrency, LogFormat, LogLevel, SystemLogLevel);

/// How a function's environments run, resolved: the cloud's defaults filled in and its
/// rules applied ([`Execution::resolve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Execution {
    /// Set: a Managed-Instances environment taking this many invokes at once.
    pub max_concurrency: Option<MaxConcurrency>,
    /// Environments per tenant (`TenancyConfig.TenantIsolationMode = PER_TENANT`): every
    /// tenant id gets environments of its own, and every invoke must name one.
    pub tenant_isolation: bool,
    /// SnapStart (§1.10): the image is one Lambda publishes with SnapStart (`lamina build`
    /// labels it), and `lamina rie` runs init → snapshot → restore.
    pub snapstart: bool,
    /// Log format; always JSON under Managed Instances.
    pub log_format: LogFormat,
    /// Application log level, JSON format only (`AWS_LAMBDA_LOG_LEVEL`); `INFO` by default
    /// there.
    pub application_log_level: Option<LogLevel>,
    /// System log level, JSON format only.
    pub system_log_level: SystemLogLevel,
}

impl Execution {
    /// Apply the cloud's rules to what the settings said: Managed Instances log JSON only
    /// ("cannot be Text"); log levels are a JSON-format setting (the console and API offer
    /// them only there), so a level without a format means JSON, and with `Text` is refused.
    pub fn resolve(
        max_concurrency: Option<MaxConcurrency>,
        tenant_isolation: Option<Flag>,
        log_format: Option<LogFormat>,
        application_log_level: Option<LogLevel>,
        system_log_level: Option<SystemLogLevel>,
    ) -> Result<Self, FunctionError> {
        let levels = application_log_level.is_some() || system_log_level.is_some();
        let log_format = match (log_format, max_concurrency) {
            (Some(LogFormat::Text), Some(_)) => return Err(FunctionError::ManagedTextLogs),
            (Some(LogFormat::Text), None) if levels => return Err(FunctionError::TextLogLevels),
            (Some(f), _) => f,
            (None, Some(_)) => LogFormat::Json,
            (None, None) if levels => LogFormat::Json,
            (None, None) => LogFormat::Text,
        };
        Ok(Self {
            max_concurrency,
            tenant_isolation: tenant_isolation.is_some_and(|t| t.0),
            snapstart: false,
            log_format,
            application_log_level: match log_format {
                LogFormat::Json => Some(application_log_level.unwrap_or(LogLevel::Info)),
                LogFormat::Text => None,
            },
            system_log_level: system_log_level.unwrap_or_default(),
        })
    }

    /// These settings with SnapStart on or off: SnapStart is for on-demand environments,
    /// not Managed Instances (their environments are never snapshotted).
    pub fn with_snapstart(self, snapstart: Option<Flag>) -> Result<Self, FunctionError> {
        let on = snapstart.is_some_and(|f| f.0);
        if on && self.max_concurrency.is_some() {
            return Err(FunctionError::ManagedSnapStart);
        }
        Ok(Self {
            snapstart: on,
            ..self
        })
    }

    /// Invokes one environment takes at once (one outside Managed Instances).
    pub fn slots(&self) -> usize {
        self.max_concurrency.map_or(1, MaxConcurrency::get)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_instances_log_json_and_refuse_text() {
        let eight: MaxConcurrency = "8".parse().unwrap();
        let e = Execution::resolve(Some(eight), None, None, None, None).unwrap();
        assert_eq!((e.log_format, e.slots()), (LogFormat::Json, 8));
        assert_eq!(e.application_log_level, Some(LogLevel::Info));
        assert_eq!(
            Execution::resolve(Some(eight), None, Some(LogFormat::Text), None, None),
            Err(FunctionError::ManagedTextLogs)
        );
    }

    #[test]
    fn a_level_means_json_and_is_refused_beside_text() {
        let warn = Some(LogLevel::Warn);
        let e = Execution::resolve(None, None, None, warn, None).unwrap();
        assert_eq!(
            (e.log_format, e.application_log_level),
            (LogFormat::Json, warn)
        );
        assert!(Execution::resolve(None, None, Some(LogFormat::Text), warn, None).is_err());
        let plain = Execution::resolve(None, None, None, None, None).unwrap();
        assert_eq!(
            (plain.log_format, plain.application_log_level),
            (LogFormat::Text, None)
        );
        assert_eq!(plain.slots(), 1);
    }

    #[test]
    fn values_are_parsed_by_the_clouds_rules_in_any_case() {
        assert_eq!("json".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert_eq!("warn".parse::<LogLevel>().unwrap(), LogLevel::Warn);
        assert!(
            "WARNING".parse::<LogLevel>().is_err(),
            "the setting takes WARN"
        );
        assert_eq!(LogLevel::of_record("WARNING"), Some(LogLevel::Warn));
        assert!("TRACE".parse::<SystemLogLevel>().is_err());
        assert!("0".parse::<MaxConcurrency>().is_err());
        assert!("1601".parse::<MaxConcurrency>().is_err());
        assert_eq!("1600".parse::<MaxConcurrency>().unwrap().get(), 1600);
        assert!("maybe".parse::<Flag>().is_err());
        assert_eq!("TRUE".parse::<Flag>(), Ok(Flag(true)));
    }
}
