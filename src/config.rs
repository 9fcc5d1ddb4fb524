//! Function settings: `lamina.toml` under flags (flags win), resolved into the one function
//! model, [`Function`]. The rules themselves live in `lamina_runtime_api::function`; this
//! module only finds the file, layers the sources and says where a bad value came from.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lamina_build::deps::{Deps, Installer};
use lamina_build::pipeline::base::{BaseSource, RicChoice};
use lamina_runtime_api::function::{
    EnvVar, EnvWarning, Environment, Function, FunctionName, Runtime,
};
use lamina_runtime_api::worker::RuntimeKind;

use crate::cli::FunctionArgs;

/// The config file read from a function folder.
pub const CONFIG_FILE: &str = "lamina.toml";

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
            "{} is not valid (its keys are name, runtime, handler, memory, timeout, ephemeral_storage, platform, base, ric, requirements, installer, deps_dir, zip, layers, concurrency, max_concurrency, tenant_isolation, log_format, application_log_level, system_log_level, an [env] table and an [http] table of payload, routes and cors)",
            path.display()
        )
    })
}

/// A function folder's settings, resolved.
#[derive(Debug)]
pub struct Resolved {
    /// The function.
    pub function: Function,
    /// Its dependencies.
    pub deps: Deps,
    /// The deployment ZIP, if the code comes from one.
    pub code_zip: Option<PathBuf>,
    /// Layer ZIPs, in order.
    pub layer_zips: Vec<PathBuf>,
    /// What the image is built on.
    pub base: BaseSource,
    /// Which runtime client starts it.
    pub ric: RicChoice,
}

/// Flags over file over Lambda's defaults.
pub fn resolve(dir: &Path, flags: &FunctionArgs) -> Result<Resolved> {
    if !dir.exists() {
        bail!(
            "function folder `{}` does not exist; pass the folder that holds your handler (and lamina.toml)",
            dir.display()
        );
    }
    if !dir.is_dir() {
        bail!(
            "`{}` is not a folder; pass the folder that holds your handler (and lamina.toml)",
            dir.display()
        );
    }
    let file = load_file(dir)?;
    let mut settings = flags.settings().over(file.settings());
    if settings.name.is_none() {
        settings.name = Some(default_name(dir)?);
    }
    let function = settings
        .resolve()
        .with_context(|| format!("the settings of {} do not go together", dir.display()))?
        .with_context(|| {
        format!(
            "no handler given for {}: set `handler = \"app.handler\"` in {CONFIG_FILE} or pass --handler",
            dir.display()
        )
    })?;
    warn_about_env(&function.config.env, true);
    let deps = deps(dir, flags, &file, function.runtime);
    // Paths in lamina.toml are relative to the folder; flags to the working directory.
    let code_zip = flags
        .zip
        .clone()
        .or_else(|| file.zip.as_ref().map(|z| dir.join(z)));
    let layer_zips = if flags.layers.is_empty() {
        file.layers.iter().map(|l| dir.join(l)).collect()
    } else {
        flags.layers.clone()
    };
    let base = match (&flags.base, &file.base) {
        (Some(b), _) => b
            .parse()
            .with_context(|| format!("--base {b} is not a base lamina can use"))?,
        (None, Some(b)) => relative_to(
            dir,
            b.parse().with_context(|| {
                format!("`base = \"{b}\"` in {CONFIG_FILE} is not a base lamina can use")
            })?,
        ),
        (None, None) => BaseSource::Recipe(function.runtime),
    };
    let ric = flags.ric.or(file.ric).unwrap_or_default();
    Ok(Resolved {
        function,
        deps,
        code_zip,
        layer_zips,
        base,
        ric,
    })
}

/// A base path from lamina.toml is relative to the function folder.
fn relative_to(dir: &Path, base: BaseSource) -> BaseSource {
    match base {
        BaseSource::Dir(p) => BaseSource::Dir(dir.join(p)),
        BaseSource::Oci(p, tag) => BaseSource::Oci(dir.join(p), tag),
        BaseSource::DockerArchive(p) => BaseSource::DockerArchive(dir.join(p)),
        other => other,
    }
}

/// Where the dependencies come from: `--deps-dir`, `--requirements` (relative to the
/// folder when given in lamina.toml), or the folder's own `requirements.txt` for Python.
fn deps(dir: &Path, flags: &FunctionArgs, file: &FunctionArgs, runtime: Runtime) -> Deps {
    let installer = flags.installer.or(file.installer).unwrap_or_default();
    if let Some(d) = &flags.deps_dir {
        return Deps::Dir(d.clone());
    }
    if let Some(r) = &flags.requirements {
        return Deps::Requirements {
            file: r.clone(),
            installer,
        };
    }
    if let Some(d) = &file.deps_dir {
        return Deps::Dir(dir.join(d));
    }
    if let Some(r) = &file.requirements {
        return Deps::Requirements {
            file: dir.join(r),
            installer,
        };
    }
    let default = dir.join("requirements.txt");
    let kind = runtime.ric_kind();
    if kind == Some(RuntimeKind::Python) && default.is_file() {
        return Deps::Requirements {
            file: default,
            installer,
        };
    }
    // A Node.js function's `package.json` dependencies, installed by npm in a container of
    // the base — unless the folder brings its own `node_modules` (a layer of their own).
    let package = dir.join("package.json");
    if kind == Some(RuntimeKind::Node)
        && package.is_file()
        && !dir.join("node_modules").is_dir()
        && has_dependencies(&package)
    {
        return Deps::Requirements {
            file: package,
            installer: Installer::Npm,
        };
    }
    Deps::None
}

/// Whether a `package.json` lists dependencies to install (one npm cannot read counts, so
/// that npm says what is wrong with it).
fn has_dependencies(package: &Path) -> bool {
    let Ok(text) = std::fs::read(package) else {
        return true;
    };
    match serde_json::from_slice::<serde_json::Value>(&text) {
        Ok(v) => v["dependencies"].as_object().is_some_and(|d| !d.is_empty()),
        Err(_) => true,
    }
}

/// Print the model's warnings about an environment; `baked` when it goes into an image
/// (credentials there are a leak; given to `lamina rie` they are how a local run gets them).
pub fn warn_about_env(env: &Environment, baked: bool) {
    for warning in env.warnings() {
        if baked || !matches!(warning, EnvWarning::Credential(_)) {
            eprintln!("warning: {warning}");
        }
    }
}

/// The folder's name, made into a valid function name.
fn default_name(dir: &Path) -> Result<FunctionName> {
    let abs =
        std::fs::canonicalize(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    let raw = abs
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("function");
    Ok(FunctionName::sanitised(raw))
}

/// Parse `--env-file` lines: `KEY=VALUE`, blank lines and `#` comments ignored, an
/// `export ` prefix and quotes around the value dropped.
pub fn read_env_file(path: &Path) -> Result<Vec<EnvVar>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read env file {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let mut var: EnvVar = line
            .parse()
            .with_context(|| format!("{}:{}", path.display(), n + 1))?;
        var.value = var.value.trim_matches('"').to_owned();
        out.push(var);
    }
    Ok(out)
}

/// SAM CLI's `--env-vars` JSON: `Parameters` for every function, then the function's own
/// object (SAM's `sam local invoke --env-vars`); values may be strings, numbers or booleans.
#[derive(Debug, Default)]
pub struct EnvVarsFile(serde_json::Map<String, serde_json::Value>);

impl EnvVarsFile {
    /// Read and check the file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read env vars file {}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not JSON; write it as SAM does: {{\"Parameters\": {{\"KEY\": \"value\"}}, \"FunctionName\": {{\"KEY\": \"value\"}}}}",
                path.display()
            )
        })?;
        let serde_json::Value::Object(map) = value else {
            bail!("{} must hold a JSON object of objects, e.g. {{\"Parameters\": {{\"KEY\": \"value\"}}}}", path.display());
        };
        for (section, vars) in &map {
            let Some(vars) = vars.as_object() else {
                bail!(
                    "`{section}` in {} must be an object of KEY: value",
                    path.display()
                );
            };
            for (k, v) in vars {
                if !(v.is_string() || v.is_number() || v.is_boolean()) {
                    bail!(
                        "`{section}.{k}` in {} must be a string, number or boolean",
                        path.display()
                    );
                }
            }
        }
        Ok(Self(map))
    }

    /// The variables for function `name`: `Parameters`, then its own.
    pub fn for_function(&self, name: &str) -> Result<Vec<EnvVar>> {
        let mut out = Vec::new();
        for section in ["Parameters", name] {
            let Some(serde_json::Value::Object(vars)) = self.0.get(section) else {
                continue;
            };
            for (k, v) in vars {
                let value = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.push(
                    format!("{k}={value}")
                        .parse()
                        .with_context(|| format!("`{section}.{k}` in the env vars file"))?,
                );
            }
        }
        Ok(out)
    }
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
            "name = \"calc\"\nhandler = \"app.handler\"\nmemory = 256\n[env]\nAA = \"1\"\nBB = 2\n",
        )
        .unwrap();
        let flags = FunctionArgs {
            memory: Some("512".parse().unwrap()),
            env: vec!["AA=2".parse().unwrap()],
            ..Default::default()
        };
        let f = resolve(dir.path(), &flags).unwrap().function;
        assert_eq!(f.name.as_str(), "calc");
        assert_eq!(f.config.memory.mb(), 512);
        assert_eq!(f.config.timeout.secs(), 3);
        assert_eq!(
            f.config.env.iter().collect::<Vec<_>>(),
            vec![("BB", "2"), ("AA", "2")]
        );
    }

    #[test]
    fn the_execution_settings_are_read_from_the_file_and_unknown_keys_still_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "handler = \"app.handler\"\nmax_concurrency = 8\ntenant_isolation = true\napplication_log_level = \"warn\"\n",
        )
        .unwrap();
        let x = resolve(dir.path(), &FunctionArgs::default())
            .unwrap()
            .function
            .config
            .execution;
        assert_eq!(x.slots(), 8);
        assert!(x.tenant_isolation);
        assert_eq!(x.application_log_level.map(|l| l.name()), Some("WARN"));
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "handler = \"app.handler\"\nmax_concurency = 8\n",
        )
        .unwrap();
        let err = resolve(dir.path(), &FunctionArgs::default()).unwrap_err();
        assert!(format!("{err:#}").contains("max_concurency"), "{err:#}");
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "handler = \"app.handler\"\nmax_concurrency = 8\nlog_format = \"Text\"\n",
        )
        .unwrap();
        let err = resolve(dir.path(), &FunctionArgs::default()).unwrap_err();
        assert!(format!("{err:#}").contains("JSON only"), "{err:#}");
    }

    #[test]
    fn bad_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "handlr = \"x\"\n").unwrap();
        let err = resolve(dir.path(), &FunctionArgs::default()).unwrap_err();
        assert!(format!("{err:#}").contains("lamina.toml"), "{err:#}");
    }

    #[test]
    fn sam_env_vars_give_parameters_then_the_functions_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env.json");
        std::fs::write(
            &path,
            r#"{"Parameters": {"STAGE": "dev", "NUM": 1}, "calc": {"STAGE": "test", "ON": true}, "other": {"X": "y"}}"#,
        )
        .unwrap();
        let f = EnvVarsFile::read(&path).unwrap();
        let vars: Vec<String> = f
            .for_function("calc")
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(vars, ["NUM=1", "STAGE=dev", "ON=true", "STAGE=test"]);
        std::fs::write(&path, r#"{"calc": {"K": {"nested": 1}}}"#).unwrap();
        let err = format!("{:#}", EnvVarsFile::read(&path).unwrap_err());
        assert!(err.contains("`calc.K`"), "{err}");
        std::fs::write(&path, "KEY=value").unwrap();
        let err = format!("{:#}", EnvVarsFile::read(&path).unwrap_err());
        assert!(
            err.contains("not JSON") && err.contains("Parameters"),
            "{err}"
        );
    }

    #[test]
    fn env_files_take_export_and_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "# c\nexport AB=\"x y\"\n\nCD=1=2\n").unwrap();
        let vars = read_env_file(&path).unwrap();
        assert_eq!(vars[0].to_string(), "AB=x y");
        assert_eq!(vars[1].to_string(), "CD=1=2");
        std::fs::write(&path, "1X=2\n").unwrap();
        let err = format!("{:#}", read_env_file(&path).unwrap_err());
        assert!(err.contains(".env:1") && err.contains("`1X`"), "{err}");
    }
}
