//! What is being built: a validated function spec (name, runtime, handler, limits, platform).
//!
//! The CLI fills [`FunctionSpec`] from flags and `lamina.toml`; everything is checked here,
//! once, with errors that name the bad value and the fix.

use super::error::{BuildError, Result};

/// A base runtime lamina knows how to assemble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// Python 3.13 from Debian trixie, like Lambda's `python3.13`.
    Python313,
    /// An OS-only base for custom runtimes (`bootstrap`) and static executables.
    Provided,
}

impl Runtime {
    /// Every runtime, for listings and error messages.
    pub const ALL: [Runtime; 2] = [Runtime::Python313, Runtime::Provided];

    /// Parse a runtime name as Lambda spells it.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "python3.13" => Ok(Self::Python313),
            "provided" | "provided.al2023" | "provided.al2" => Ok(Self::Provided),
            other => Err(BuildError::UnknownRuntime {
                given: other.to_owned(),
                known: Self::ALL
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// The name of the runtime and of its recipe in `base-images/`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Python313 => "python3.13",
            Self::Provided => "provided",
        }
    }

    /// The value of `LAMINA_RUNTIME` that tells lamina-ric how to run the handler; `None`
    /// lets it detect a custom runtime (`bootstrap`) or a plain executable handler.
    pub fn ric_kind(self) -> Option<&'static str> {
        match self {
            Self::Python313 => Some("python"),
            Self::Provided => None,
        }
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
    /// Parse `linux/amd64`, `amd64`, `x86_64`, `linux/arm64`, `arm64` or `aarch64`.
    pub fn parse(platform: &str) -> Result<Self> {
        match platform.trim_start_matches("linux/") {
            "amd64" | "x86_64" => Ok(Self::Amd64),
            "arm64" | "aarch64" => Ok(Self::Arm64),
            _ => Err(BuildError::UnknownPlatform(platform.to_owned())),
        }
    }

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

    /// The architecture this lamina binary runs on.
    pub fn host() -> Self {
        if cfg!(target_arch = "aarch64") {
            Self::Arm64
        } else {
            Self::Amd64
        }
    }
}

/// Memory bounds of Lambda, in MB.
pub const MEMORY_RANGE: std::ops::RangeInclusive<u64> = 128..=10_240;
/// Timeout bounds of Lambda, in seconds.
pub const TIMEOUT_RANGE: std::ops::RangeInclusive<f64> = 1.0..=900.0;

/// A function, validated.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// Function name (Lambda's rules: letters, digits, `-`, `_`; 1 to 64 characters).
    pub name: String,
    /// Base runtime.
    pub runtime: Runtime,
    /// Handler string as given (`app.handler`).
    pub handler: String,
    /// Memory in MB.
    pub memory_mb: u64,
    /// Timeout in seconds.
    pub timeout_s: f64,
    /// Architecture of the image.
    pub arch: Arch,
    /// Extra environment, `KEY=VALUE`.
    pub env: Vec<(String, String)>,
}

impl FunctionSpec {
    /// Check every field against Lambda's limits.
    pub fn validate(&self) -> Result<()> {
        if !lamina_runtime_api::limits::is_valid_function_name(&self.name) {
            return Err(BuildError::InvalidName(self.name.clone()));
        }
        if !MEMORY_RANGE.contains(&self.memory_mb) {
            return Err(BuildError::InvalidMemory(self.memory_mb));
        }
        if !TIMEOUT_RANGE.contains(&self.timeout_s) {
            return Err(BuildError::InvalidTimeout(self.timeout_s));
        }
        for (key, _) in &self.env {
            let ok = !key.is_empty()
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !key.starts_with(|c: char| c.is_ascii_digit());
            if !ok {
                return Err(BuildError::InvalidEnv(key.clone()));
            }
        }
        Ok(())
    }
}

/// Split `KEY=VALUE`.
pub fn parse_env_pair(pair: &str) -> Result<(String, String)> {
    match pair.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(BuildError::InvalidEnv(pair.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> FunctionSpec {
        FunctionSpec {
            name: "calc".into(),
            runtime: Runtime::Python313,
            handler: "app.handler".into(),
            memory_mb: 128,
            timeout_s: 3.0,
            arch: Arch::Amd64,
            env: vec![],
        }
    }

    #[test]
    fn limits_are_checked() {
        assert!(spec().validate().is_ok());
        assert!(FunctionSpec {
            memory_mb: 64,
            ..spec()
        }
        .validate()
        .is_err());
        assert!(FunctionSpec {
            timeout_s: 901.0,
            ..spec()
        }
        .validate()
        .is_err());
        assert!(FunctionSpec {
            name: "a b".into(),
            ..spec()
        }
        .validate()
        .is_err());
        assert!(FunctionSpec {
            env: vec![("1X".into(), "v".into())],
            ..spec()
        }
        .validate()
        .is_err());
    }

    #[test]
    fn names_parse() {
        assert_eq!(Runtime::parse("python3.13").unwrap(), Runtime::Python313);
        assert!(Runtime::parse("python2.7")
            .unwrap_err()
            .to_string()
            .contains("python3.13"));
        assert_eq!(Arch::parse("linux/arm64").unwrap(), Arch::Arm64);
        assert!(Arch::parse("linux/s390x").is_err());
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[18] = 0xb7;
        assert_eq!(Arch::of_elf(&elf), Some(Arch::Arm64));
        elf[18] = 0x3e;
        assert_eq!(Arch::of_elf(&elf), Some(Arch::Amd64));
        assert_eq!(Arch::of_elf(b"#!/bin/sh"), None);
        assert_eq!(parse_env_pair("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert!(parse_env_pair("=x").is_err());
    }
}
