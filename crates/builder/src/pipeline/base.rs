//! What an image is built on: the `--base` spelling ([`BaseSource`]), the resolved base the
//! pipeline receives ([`Base`]), and its layers and settings ([`BaseParts`]).
//!
//! Sources that need a registry or a Docker Engine (`REF`, `docker-daemon:NAME`) and the
//! file imports (`oci:PATH`, `docker-archive:PATH`) are brought into the store by the caller
//! before the build, so the builder sees a stored image and never talks to either. A stored
//! base's layers are used byte for byte; a Docker-typed base gives a Docker-typed image.

use std::path::{Path, PathBuf};

use lamina_image::import::stored_layers;
use lamina_image::{
    read_config, read_manifest, write_layer_reporting, Digest, LayerPlan, LayerSettings,
    ManifestFormat, Reference, Store,
};

use super::{bases, Arch, LayerReport, Runtime, LAMBDA_ENV};
use crate::error::{BuildError, Result};

/// The entrypoint of AWS's Lambda base images (reference §2).
pub const LAMBDA_ENTRYPOINT: &str = "/lambda-entrypoint.sh";

/// A base as the user names it (`--base`, `base =` in lamina.toml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseSource {
    /// lamina's recipe for a runtime (`python3.13`, `provided`).
    Recipe(Runtime),
    /// Nothing: the image is lamina's layers alone.
    Scratch,
    /// A root filesystem folder, made into one layer.
    Dir(PathBuf),
    /// An OCI image layout, optionally `oci:PATH:TAG`.
    Oci(PathBuf, Option<String>),
    /// A docker-archive file (`docker save` output).
    DockerArchive(PathBuf),
    /// An image in the local Docker Engine.
    DockerDaemon(Reference),
    /// An image in a registry.
    Registry(Reference),
}

impl std::str::FromStr for BaseSource {
    type Err = BuildError;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| BuildError::BadBase {
            base: s.to_owned(),
            why: why.to_owned(),
        };
        let path = |p: &str| {
            if p.is_empty() {
                Err(bad("the path is empty"))
            } else {
                Ok(PathBuf::from(p))
            }
        };
        if s == "scratch" {
            return Ok(Self::Scratch);
        }
        if let Ok(runtime) = s.parse::<Runtime>() {
            return Ok(Self::Recipe(runtime));
        }
        if let Some(p) = s.strip_prefix("dir:") {
            return Ok(Self::Dir(path(p)?));
        }
        if let Some(p) = s.strip_prefix("oci:") {
            // `oci:PATH:TAG` when the last `:` part is not a path of its own.
            return Ok(match p.rsplit_once(':') {
                Some((dir, tag)) if !tag.is_empty() && !tag.contains('/') => {
                    Self::Oci(path(dir)?, Some(tag.to_owned()))
                }
                _ => Self::Oci(path(p)?, None),
            });
        }
        if let Some(p) = s.strip_prefix("docker-archive:") {
            return Ok(Self::DockerArchive(path(p)?));
        }
        if let Some(name) = s.strip_prefix("docker-daemon:") {
            return name
                .parse()
                .map(Self::DockerDaemon)
                .map_err(|e| bad(&e.to_string()));
        }
        s.parse().map(Self::Registry).map_err(|e: lamina_image::Error| {
            bad(&format!(
                "{e}; use a runtime name (python3.13, python3.14, nodejs24, provided), scratch, dir:PATH, oci:PATH, docker-archive:PATH, docker-daemon:NAME or a registry reference"
            ))
        })
    }
}

impl std::fmt::Display for BaseSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Recipe(r) => f.write_str(r.name()),
            Self::Scratch => f.write_str("scratch"),
            Self::Dir(p) => write!(f, "dir:{}", p.display()),
            Self::Oci(p, None) => write!(f, "oci:{}", p.display()),
            Self::Oci(p, Some(t)) => write!(f, "oci:{}:{t}", p.display()),
            Self::DockerArchive(p) => write!(f, "docker-archive:{}", p.display()),
            Self::DockerDaemon(r) => write!(f, "docker-daemon:{r}"),
            Self::Registry(r) => write!(f, "{r}"),
        }
    }
}

/// A base ready for the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// lamina's recipe for the runtime.
    Recipe(Runtime),
    /// No base layers.
    Scratch,
    /// A root filesystem folder.
    Dir(PathBuf),
    /// An image already in the store (imported or pulled); `source` names it for history.
    Image {
        /// Its manifest digest.
        manifest: Digest,
        /// How the user named it.
        source: String,
    },
}

/// Which runtime client an image on a foreign base starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RicChoice {
    /// The base's own on an AWS Lambda base (its `/lambda-entrypoint.sh`), else lamina's.
    #[default]
    Auto,
    /// The base's entrypoint and runtime client.
    Base,
    /// lamina-ric as the entrypoint.
    Lamina,
}

impl std::str::FromStr for RicChoice {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "base" => Ok(Self::Base),
            "lamina" => Ok(Self::Lamina),
            _ => Err(format!(
                "`{s}` is not a runtime client choice: use base, lamina or auto"
            )),
        }
    }
}

/// The settings a base hands on to the image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseConfig {
    /// `KEY=value` entries.
    pub env: Vec<String>,
    /// Its entrypoint.
    pub entrypoint: Vec<String>,
    /// Its working directory.
    pub working_dir: String,
}

impl BaseConfig {
    /// Whether this is one of AWS's Lambda base images (its entrypoint is the script).
    pub fn is_lambda_base(&self) -> bool {
        self.entrypoint.first().map(String::as_str) == Some(LAMBDA_ENTRYPOINT)
    }
}

/// A base's layers, settings and manifest format.
pub struct BaseParts {
    /// Layers bottom-up (each named `base`).
    pub layers: Vec<LayerReport>,
    /// Settings the image inherits.
    pub config: BaseConfig,
    /// The media types the image keeps.
    pub format: ManifestFormat,
    /// History text for its layers.
    pub history: String,
}

/// The layers and settings of `base` for an image of `arch`.
pub fn base_parts(
    store: &Store,
    cache_root: &Path,
    base: &Base,
    arch: Arch,
    settings: &LayerSettings,
    report: &dyn Fn(u64, u64),
) -> Result<BaseParts> {
    let lambda_config = || BaseConfig {
        env: LAMBDA_ENV.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        entrypoint: Vec::new(),
        working_dir: "/var/task".into(),
    };
    let one = |(descriptor, cached)| {
        vec![LayerReport {
            name: "base",
            descriptor,
            cached,
        }]
    };
    Ok(match base {
        Base::Recipe(runtime) => BaseParts {
            layers: one(bases::base_layer(
                store, cache_root, *runtime, arch, settings, report,
            )?),
            config: lambda_config(),
            format: ManifestFormat::Oci,
            history: format!("lamina: base {} from Debian packages", runtime.name()),
        },
        Base::Scratch => BaseParts {
            layers: Vec::new(),
            config: lambda_config(),
            format: ManifestFormat::Oci,
            history: String::new(),
        },
        Base::Dir(dir) => {
            if !dir.is_dir() {
                return Err(BuildError::BadBase {
                    base: format!("dir:{}", dir.display()),
                    why: "it is not a folder; pass the root filesystem folder to build on".into(),
                });
            }
            let mut plan = LayerPlan::new();
            plan.add_tree_allow_abs_links(dir, "", &|_, _| false)?;
            BaseParts {
                layers: one(write_layer_reporting(store, &plan, settings, report)?),
                config: lambda_config(),
                format: ManifestFormat::Oci,
                history: format!("lamina: base from {}", dir.display()),
            }
        }
        Base::Image { manifest, source } => {
            let parsed = read_manifest(store, manifest)?;
            let config = read_config(store, &parsed)?;
            let have = config.architecture().to_string();
            if have != arch.name() || config.os().to_string() != "linux" {
                return Err(BuildError::BadBase {
                    base: source.clone(),
                    why: format!(
                        "it is a {}/{have} image, and this build is for linux/{}; pick the base's linux/{} variant or build for --platform linux/{have}",
                        config.os(),
                        arch.name(),
                        arch.name()
                    ),
                });
            }
            let inner = config.config().clone().unwrap_or_default();
            let layers = stored_layers(store, manifest)?
                .into_iter()
                .map(|descriptor| LayerReport {
                    name: "base",
                    descriptor,
                    cached: true,
                })
                .collect();
            BaseParts {
                layers,
                config: BaseConfig {
                    env: inner.env().clone().unwrap_or_default(),
                    entrypoint: inner.entrypoint().clone().unwrap_or_default(),
                    working_dir: inner.working_dir().clone().unwrap_or_default(),
                },
                format: ManifestFormat::of(&parsed),
                history: format!("base: {source}"),
            }
        }
    })
}

/// `base` env, with Lambda's variables added where the base sets none, and Lambda's task and
/// runtime folders always (the client and handlers rely on them).
pub fn merged_env(base: &[String]) -> Vec<String> {
    let key = |e: &str| e.split_once('=').map_or(e, |(k, _)| k).to_owned();
    let mut env: Vec<String> = base.to_vec();
    for (k, v) in LAMBDA_ENV {
        let always = matches!(k, "LAMBDA_TASK_ROOT" | "LAMBDA_RUNTIME_DIR");
        let present = env.iter().position(|e| key(e) == k);
        match present {
            Some(i) if always => env[i] = format!("{k}={v}"),
            Some(_) => {}
            None => env.push(format!("{k}={v}")),
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_sources_parse_and_print_back() {
        for s in [
            "python3.13",
            "provided",
            "scratch",
            "dir:rootfs",
            "oci:out/layout",
            "oci:out/layout:v2",
            "docker-archive:base.tar",
            "docker-daemon:team/base:1",
            "public.ecr.aws/lambda/python:3.13",
        ] {
            let parsed: BaseSource = s.parse().unwrap();
            assert_eq!(parsed.to_string(), s, "{parsed:?}");
        }
        assert_eq!(
            "oci:a:b".parse::<BaseSource>().unwrap(),
            BaseSource::Oci("a".into(), Some("b".into()))
        );
        for bad in ["dir:", "oci:", "docker-daemon:UPPER CASE", "Not A Ref"] {
            let e = bad.parse::<BaseSource>().unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn lambda_env_fills_gaps_and_owns_the_task_root() {
        let env = merged_env(&[
            "PATH=/usr/bin:/bin".into(),
            "LAMBDA_TASK_ROOT=/elsewhere".into(),
        ]);
        assert!(env.contains(&"PATH=/usr/bin:/bin".to_string()), "{env:?}");
        assert!(env.contains(&"LAMBDA_TASK_ROOT=/var/task".to_string()));
        assert!(env.iter().any(|e| e.starts_with("LANG=")));
    }
}
