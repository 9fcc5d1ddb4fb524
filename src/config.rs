//! Function settings: `lamina.toml` merged with flags (flags win), then validated into a
//! [`FunctionSpec`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lamina_build::pipeline::{spec::parse_env_pair, Arch, FunctionSpec, Runtime};
use serde::{Deserialize, Deserializer};

use crate::cli::FunctionArgs;

/// The config file read from a function folder.
pub const CONFIG_FILE: &str = "lamina.toml";

/// Defaults when neither flags nor lamina.toml say (Lambda's own defaults).
const DEFAULT_MEMORY_MB: u64 = 128;
const DEFAULT_TIMEOUT_S: f64 = 3.0;
const DEFAULT_RUNTIME: &str = "python3.13";

/// Read `dir/lamina.toml` if there is one.
pub fn load_file(dir: &Path) -> Result<FunctionArgs> {
    let path = dir.join(CONFIG_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FunctionArgs::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    toml::from_str(&text).with_context(|| {
        format!(
            "{} is not valid: expected keys name, runtime, handler, memory, timeout, platform and an [env] table",
            path.display()
        )
    })
}

/// Flags over file over defaults, validated.
pub fn resolve(dir: &Path, flags: &FunctionArgs) -> Result<FunctionSpec> {
    if !dir.exists() {
        bail!(
            "function folder `{}` does not exist; pass the folder that holds your handler (and lamina.toml)",
            dir.display()
        );
    }
    if !dir.is_dir() {
        bail!(
            "`{}` is not a folder; pass the folder that holds your handler",
            dir.display()
        );
    }
    let file = load_file(dir)?;
    let pick = |flag: &Option<String>, file: &Option<String>| flag.clone().or_else(|| file.clone());

    let name = match pick(&flags.name, &file.name) {
        Some(name) => name,
        None => default_name(dir)?,
    };
    let runtime =
        Runtime::parse(&pick(&flags.runtime, &file.runtime).unwrap_or(DEFAULT_RUNTIME.into()))?;
    let handler = pick(&flags.handler, &file.handler).with_context(|| {
        format!(
            "no handler given for {}: set `handler = \"app.handler\"` in {} or pass --handler",
            dir.display(),
            CONFIG_FILE
        )
    })?;
    let arch = match pick(&flags.platform, &file.platform) {
        Some(p) => Arch::parse(&p)?,
        None => Arch::host(),
    };
    let mut env = Vec::new();
    for pair in file.env.iter().chain(&flags.env) {
        let (k, v) = parse_env_pair(pair)?;
        env.retain(|(key, _): &(String, String)| key != &k);
        env.push((k, v));
    }
    let spec = FunctionSpec {
        name,
        runtime,
        handler,
        memory_mb: flags.memory.or(file.memory).unwrap_or(DEFAULT_MEMORY_MB),
        timeout_s: flags.timeout.or(file.timeout).unwrap_or(DEFAULT_TIMEOUT_S),
        arch,
        env,
    };
    spec.validate()?;
    Ok(spec)
}

/// The folder's name, made into a valid function name.
fn default_name(dir: &Path) -> Result<String> {
    let abs: PathBuf =
        std::fs::canonicalize(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    let raw = abs
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("function");
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    Ok(if name.is_empty() {
        "function".into()
    } else {
        name
    })
}

/// `[env]` in lamina.toml is a table; flags are `KEY=VALUE` strings. Accept the table.
pub fn env_table<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    let table = BTreeMap::<String, String>::deserialize(d)?;
    Ok(table.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

/// Parse `--env-file` lines: `KEY=VALUE`, blank lines and `#` comments ignored.
pub fn read_env_file(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read env file {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (k, v) = parse_env_pair(line)
            .with_context(|| format!("{}:{}: expected KEY=VALUE", path.display(), n + 1))?;
        out.push((k, v.trim_matches('"').to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.py"), "def handler(e, c): pass\n").unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "name = \"calc\"\nhandler = \"app.handler\"\nmemory = 256\n[env]\nA = \"1\"\n",
        )
        .unwrap();
        let flags = FunctionArgs {
            memory: Some(512),
            env: vec!["A=2".into()],
            ..Default::default()
        };
        let spec = resolve(dir.path(), &flags).unwrap();
        assert_eq!(spec.name, "calc");
        assert_eq!(spec.memory_mb, 512);
        assert_eq!(spec.timeout_s, 3.0);
        assert_eq!(spec.env, vec![("A".to_owned(), "2".to_owned())]);
    }

    #[test]
    fn bad_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "handlr = \"x\"\n").unwrap();
        let err = resolve(dir.path(), &FunctionArgs::default()).unwrap_err();
        assert!(format!("{err:#}").contains("lamina.toml"), "{err:#}");
    }
}
