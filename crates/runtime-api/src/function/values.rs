//! The scalar settings of a function, each a type whose constructor is Lambda's rule.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::error::FunctionError;
use crate::limits::{
    DEFAULT_EPHEMERAL_STORAGE_MB, DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, MAX_CONCURRENCY,
    MAX_EPHEMERAL_STORAGE_MB, MAX_FUNCTION_NAME, MAX_MEMORY_MB, MAX_TIMEOUT_S,
    MIN_EPHEMERAL_STORAGE_MB, MIN_MEMORY_MB, MIN_TIMEOUT_S,
};

deserialize_from_str!(
    FunctionName,
    Runtime,
    Arch,
    MemorySize,
    Timeout,
    EphemeralStorage,
    Concurrency
);

/// `Display` as the bare number, for the newtypes over one.
macro_rules! display_number {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}
display_number!(MemorySize, Timeout, EphemeralStorage, Concurrency);

/// A whole number from `text`, also written as an integral float (`3.0`, as TOML allows).
fn whole_number(text: &str) -> Option<u64> {
    let text = text.trim();
    text.parse::<u64>().ok().or_else(|| {
        let f: f64 = text.parse().ok()?;
        // Bounded well below 2^53, so the cast is exact.
        (f.is_finite() && f.fract() == 0.0 && (0.0..1e12).contains(&f)).then_some(f as u64)
    })
}

/// A function name: 1 to 64 letters, digits, `-` or `_` (`FunctionName` in the API).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FunctionName(String);

impl FunctionName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A valid name made from any text (a folder's name): other characters become `-`,
    /// and an empty result becomes `function`.
    pub fn sanitised(raw: &str) -> Self {
        let name: String = raw
            .chars()
            .map(|c| if Self::allowed(c) { c } else { '-' })
            .take(MAX_FUNCTION_NAME)
            .collect();
        Self(if name.is_empty() {
            "function".into()
        } else {
            name
        })
    }

    fn allowed(c: char) -> bool {
        c.is_ascii_alphanumeric() || c == '-' || c == '_'
    }
}

impl FromStr for FunctionName {
    type Err = FunctionError;
    fn from_str(s: &str) -> Result<Self, FunctionError> {
        let ok = !s.is_empty() && s.len() <= MAX_FUNCTION_NAME && s.chars().all(Self::allowed);
        ok.then(|| Self(s.to_owned()))
            .ok_or_else(|| FunctionError::Name(s.to_owned()))
    }
}

impl fmt::Display for FunctionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A base runtime lamina knows how to assemble.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Runtime {
    /// Python 3.13, like Lambda's `python3.13`.
    #[default]
    Python313,
    /// Python 3.14, like Lambda's `python3.14` (from Debian's testing suite).
    Python314,
    /// Node.js 24, like Lambda's `nodejs24.x` (from Debian's testing suite).
    Nodejs24,
    /// An OS-only base for custom runtimes (`bootstrap`) and static executables.
    Provided,
}

impl Runtime {
    /// Every runtime, for listings and error messages.
    pub const ALL: [Runtime; 4] = [
        Runtime::Python313,
        Runtime::Python314,
        Runtime::Nodejs24,
        Runtime::Provided,
    ];

    /// The name of the runtime and of its recipe in `base-images/`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Python313 => "python3.13",
            Self::Python314 => "python3.14",
            Self::Nodejs24 => "nodejs24",
            Self::Provided => "provided",
        }
    }

    /// `AWS_EXECUTION_ENV` as the managed runtime's bootstrap sets it for the handler
    /// (`AWS_Lambda_python3.13`); `None` for custom runtimes, which Lambda gives none.
    /// Python 3.12+ answers non-ASCII text as UTF-8 only when it is set (awslambdaric
    /// `lambda_runtime_marshaller.py`).
    pub fn execution_env(self) -> Option<&'static str> {
        match self {
            Self::Python313 => Some("AWS_Lambda_python3.13"),
            Self::Python314 => Some("AWS_Lambda_python3.14"),
            Self::Nodejs24 => Some("AWS_Lambda_nodejs24.x"),
            Self::Provided => None,
        }
    }

    /// The value of `LAMINA_RUNTIME` that tells lamina-ric how to run the handler; `None`
    /// lets it detect a custom runtime (`bootstrap`) or a plain executable handler.
    pub fn ric_kind(self) -> Option<crate::worker::RuntimeKind> {
        match self {
            Self::Python313 | Self::Python314 => Some(crate::worker::RuntimeKind::Python),
            Self::Nodejs24 => Some(crate::worker::RuntimeKind::Node),
            Self::Provided => None,
        }
    }
}

impl FromStr for Runtime {
    type Err = FunctionError;
    fn from_str(s: &str) -> Result<Self, FunctionError> {
        match s.trim() {
            "python3.13" => Ok(Self::Python313),
            "python3.14" => Ok(Self::Python314),
            // Lambda's identifier, as users copy it from the console.
            "nodejs24" | "nodejs24.x" => Ok(Self::Nodejs24),
            "provided" | "provided.al2023" | "provided.al2" => Ok(Self::Provided),
            other => Err(FunctionError::Runtime {
                given: other.to_owned(),
                known: Self::ALL.map(Self::name).join(", "),
            }),
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A CPU architecture Lambda runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// `x86_64` in Lambda's words.
    Amd64,
    /// Graviton.
    Arm64,
}

impl Arch {
    /// The OCI / Debian name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Amd64 => "amd64",
            Self::Arm64 => "arm64",
        }
    }

    /// The architecture of an ELF executable (its `e_machine`), if it is one lamina knows.
    pub fn of_elf(binary: &[u8]) -> Option<Self> {
        if binary.get(..4) != Some(b"\x7fELF".as_slice()) {
            return None;
        }
        // e_machine: a little-endian u16 at offset 18 (both architectures are little-endian).
        match binary.get(18..20)? {
            [0x3e, 0x00] => Some(Self::Amd64),
            [0xb7, 0x00] => Some(Self::Arm64),
            _ => None,
        }
    }

    /// The architecture this binary runs on: the default platform.
    pub fn host() -> Self {
        if cfg!(target_arch = "aarch64") {
            Self::Arm64
        } else {
            Self::Amd64
        }
    }
}

impl FromStr for Arch {
    /// `linux/amd64`, `amd64`, `x86_64`, `linux/arm64`, `arm64` or `aarch64`.
    type Err = FunctionError;
    fn from_str(s: &str) -> Result<Self, FunctionError> {
        match s.trim().trim_start_matches("linux/") {
            "amd64" | "x86_64" => Ok(Self::Amd64),
            "arm64" | "aarch64" => Ok(Self::Arm64),
            _ => Err(FunctionError::Arch(s.to_owned())),
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "linux/{}", self.name())
    }
}

/// Memory size, 128 to 10,240 MB (`MemorySize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MemorySize(u64);

impl MemorySize {
    /// A size in MB, if Lambda accepts it.
    pub fn from_mb(mb: u64) -> Result<Self, FunctionError> {
        (MIN_MEMORY_MB..=MAX_MEMORY_MB)
            .contains(&mb)
            .then_some(Self(mb))
            .ok_or_else(|| FunctionError::Memory(mb.to_string()))
    }

    /// The size in MB.
    pub fn mb(self) -> u64 {
        self.0
    }
}

impl Default for MemorySize {
    fn default() -> Self {
        Self(DEFAULT_MEMORY_MB)
    }
}

impl FromStr for MemorySize {
    type Err = FunctionError;
    fn from_str(s: &str) -> Result<Self, FunctionError> {
        whole_number(s)
            .and_then(|mb| Self::from_mb(mb).ok())
            .ok_or_else(|| FunctionError::Memory(s.to_owned()))
    }
}

/// Timeout, 1 to 900 whole seconds (`Timeout`, an integer in the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timeout(u64);

impl Timeout {
    /// A timeout in seconds, if Lambda accepts it.
    pub fn from_secs(secs: u64) -> Result<Self, FunctionError> {
        (MIN_TIMEOUT_S..=MAX_TIMEOUT_S)
            .contains(&secs)
            .then_some(Self(secs))
            .ok_or_else(|| FunctionError::Timeout(secs.to_string()))
    }

    /// The timeout in seconds.
    pub fn secs(self) -> u64 {
        self.0
    }

    /// The timeout as a duration.
    pub fn duration(self) -> Duration {
        Duration::from_secs(self.0)
    }

    /// The timeout in milliseconds, as platform error bodies print it.
    pub fn millis(self) -> u64 {
        self.0 * 1_000
    }
}

impl Default for Timeout {
    fn default() -> Self {
        Self(DEFAULT_TIMEOUT_S)
    }
}

impl FromStr for Timeout {
    type Err = FunctionError;
    fn from_str(s: &str) -> Result<Self, FunctionError> {
        whole_number(s)
            .and_then(|secs| Self::from_secs(secs).ok())
            .ok_or_else(|| FunctionError::Timeout(s.to_owned()))
    }
}

/// Size of `/tmp`, 512 to 10,240 MB (`EphemeralStorage.Size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EphemeralStorage(u64);

impl EphemeralStorage {
    /// The size in MB.
    pub fn mb(self) -> u64 {
        self.0
    }
}

impl Default for EphemeralStorage {
    fn default() -> Self {
        Self(DEFAULT_EPHEMERAL_STORAGE_MB)
    }
}

impl FromStr for EphemeralStorage {
    type Err = FunctionError;
    fn from_str(s: &str) -> Result<Self, FunctionError> {
        whole_number(s)
            .filter(|mb| (MIN_EPHEMERAL_STORAGE_MB..=MAX_EPHEMERAL_STORAGE_MB).contains(mb))
            .map(Self)
            .ok_or_else(|| FunctionError::EphemeralStorage(s.to_owned()))
    }
}

/// Environments of one function run at once, 1 to 1,000. The default is one, as AWS's
/// emulator and a plain `docker run` give, so a laptop runs one container per function and
/// sees one cold start; raise it to watch the pool scale out the way the cloud does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Concurrency(usize);

impl Concurrency {
    /// A concurrency, if it is in range.
    pub fn new(n: usize) -> Result<Self, FunctionError> {
        (1..=MAX_CONCURRENCY)
            .contains(&n)
            .then_some(Self(n))
            .ok_or_else(|| FunctionError::Concurrency(n.to_string()))
    }

    /// The number of environments.
    pub fn get(self) -> usize {
        self.0
    }
}

impl Default for Concurrency {
    fn default() -> Self {
        Self(1)
    }
}

impl FromStr for Concurrency {
    type Err = FunctionError;
    fn from_str(s: &str) -> Result<Self, FunctionError> {
        whole_number(s)
            .and_then(|n| usize::try_from(n).ok())
            .and_then(|n| Self::new(n).ok())
            .ok_or_else(|| FunctionError::Concurrency(s.to_owned()))
    }
}
