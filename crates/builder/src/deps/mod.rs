//! The dependencies layer: a `requirements.txt` installed *inside a container of the target
//! base* (so native wheels match its Python, libc and architecture, and sdists such as jieba
//! build there), or a prebuilt folder, into `/var/task` — where AWS's own Dockerfiles put
//! them (`pip install -r requirements.txt --target "${LAMBDA_TASK_ROOT}"`).
//!
//! The builder does not know Docker: it asks a [`ContainerRunner`] (the CLI's, over the one
//! Docker connection) to run the installer. The installer is mounted in, never installed, so
//! it does not end up in the image. The layer is cached by the requirements' bytes, the base
//! layer's digest, the platform and the installer's pinned version ([`KeyBuilder`]), so
//! unchanged dependencies are never reinstalled and a handler edit never touches them.

mod tools;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use lamina_image::{
    layer_for_key, Digest, KeyBuilder, LayerDescriptor, LayerPlan, LayerSettings, Reference, Store,
};

use lamina_runtime_api::function::Arch;

use crate::error::{BuildError, Result};
use crate::scratch::scratch_dir;
pub use tools::{Tool, NPM, PIP, UV};

/// Where dependencies go in the image (and where the installer writes them in its container).
pub const DEPS_PATH: &str = "var/task";

/// Which installer runs `requirements.txt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Installer {
    /// pip, as AWS documents.
    #[default]
    Pip,
    /// uv, a static binary: much faster.
    Uv,
    /// npm, for a Node.js function's `package.json` (`npm ci` when a lock file exists).
    Npm,
}

impl Installer {
    /// The installer's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pip => "pip",
            Self::Uv => "uv",
            Self::Npm => "npm",
        }
    }

    /// The pinned tool.
    pub fn tool(self) -> &'static Tool {
        match self {
            Self::Pip => &PIP,
            Self::Uv => &UV,
            Self::Npm => &NPM,
        }
    }
}

impl FromStr for Installer {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim() {
            "pip" => Ok(Self::Pip),
            "uv" => Ok(Self::Uv),
            "npm" => Ok(Self::Npm),
            other => Err(format!(
                "installer `{other}` is not one lamina runs: use pip or uv (Python), npm (Node.js)"
            )),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Installer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Where a function's dependencies come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deps {
    /// None.
    None,
    /// A requirements file, installed with `installer`.
    Requirements {
        /// The file.
        file: PathBuf,
        /// Who installs it.
        installer: Installer,
    },
    /// A folder of installed packages, copied as it is.
    Dir(PathBuf),
}

/// A bind mount of a host path into a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// On the host.
    pub host: PathBuf,
    /// In the container.
    pub container: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// One command to run in a container of a stored image.
#[derive(Debug, Clone)]
pub struct ContainerJob {
    /// The image's manifest in the store.
    pub image: Digest,
    /// The name to give it in the container engine.
    pub name: Reference,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Bind mounts.
    pub mounts: Vec<Mount>,
    /// `uid:gid` to run as (the owner of the output folder, so the files stay removable).
    pub user: String,
}

/// Runs commands in containers; implemented by the CLI over Docker.
pub trait ContainerRunner: Sync {
    /// Run `job` to completion, passing its output (stdout and stderr) to `output` as it
    /// comes; the exit code, or why the container could not be run.
    fn run(
        &self,
        job: &ContainerJob,
        output: &mut dyn FnMut(&[u8]),
    ) -> std::result::Result<i64, String>;
}

/// What installing needs besides the requirements.
pub struct InstallContext<'a> {
    /// The store the layer goes into.
    pub store: &'a Store,
    /// lamina's cache (downloaded installers, their caches, scratch folders).
    pub cache_root: &'a Path,
    /// A stored image of the base alone, to run the installer in.
    pub base_image: &'a Digest,
    /// The base layer (part of the cache key).
    pub base_layer: &'a Digest,
    /// The image's architecture.
    pub arch: Arch,
    /// Who runs containers; `None` when no container engine is available.
    pub runner: Option<&'a dyn ContainerRunner>,
    /// Receives the installer's output.
    pub output: &'a mut dyn FnMut(&[u8]),
    /// Told how much of the layer is written (bytes, of a total).
    pub report: &'a dyn Fn(u64, u64),
}

/// Version of the dependency layer's key; bump when the way it is made changes.
const DEPS_KEY_VERSION: &str = "lamina-deps-layer/v1";
/// How much of a failed installer's output its error repeats.
const OUTPUT_TAIL: usize = 8 * 1024;

/// The dependency layer for `deps`, from the cache when nothing it depends on changed.
/// `Ok(None)` when there are no dependencies.
pub fn layer(
    deps: &Deps,
    ctx: InstallContext<'_>,
    settings: &LayerSettings,
) -> Result<Option<(LayerDescriptor, bool)>> {
    match deps {
        Deps::None => Ok(None),
        Deps::Dir(dir) => {
            if !dir.is_dir() {
                return Err(BuildError::DepsDirMissing(dir.clone()));
            }
            let mut plan = LayerPlan::new();
            plan.add_tree(dir, DEPS_PATH, &|_, _| false)?;
            Ok(Some(lamina_image::write_layer_reporting(
                ctx.store, &plan, settings, ctx.report,
            )?))
        }
        Deps::Requirements { file, installer } => {
            let requirements = std::fs::read(file).map_err(|source| {
                if source.kind() == std::io::ErrorKind::NotFound {
                    BuildError::RequirementsMissing(file.clone())
                } else {
                    BuildError::Io {
                        path: file.clone(),
                        source,
                    }
                }
            })?;
            let tool = installer.tool();
            let lock = npm_lock(file, *installer);
            let lock_bytes = match &lock {
                Some(path) => std::fs::read(path).map_err(|source| BuildError::Io {
                    path: path.clone(),
                    source,
                })?,
                None => Vec::new(),
            };
            let mut key = KeyBuilder::new(DEPS_KEY_VERSION, settings);
            key.field(installer.name().as_bytes())
                .field(tool.version.as_bytes())
                .field(&requirements)
                .field(&lock_bytes)
                .field(ctx.base_layer.as_str().as_bytes())
                .field(ctx.arch.name().as_bytes());
            let key = key.finish();
            let store = ctx.store;
            // Outlives the layer's writing, which reads the installed files from it.
            let scratch = scratch_dir(ctx.cache_root, "deps-")?;
            let report = ctx.report;
            layer_for_key(store, &key, settings, report, || {
                install(file, *installer, ctx, scratch.path())
            })
            .map(Some)
        }
    }
}

/// A Node.js function's lock file beside its `package.json` (npm installs exactly it).
fn npm_lock(package_json: &Path, installer: Installer) -> Option<PathBuf> {
    if installer != Installer::Npm {
        return None;
    }
    let lock = package_json.with_file_name("package-lock.json");
    lock.is_file().then_some(lock)
}

/// Run the installer into `scratch/out`; the plan of what it installed.
fn install(
    requirements: &Path,
    installer: Installer,
    ctx: InstallContext<'_>,
    scratch: &Path,
) -> Result<LayerPlan> {
    let runner = ctx.runner.ok_or(BuildError::NoContainerEngine)?;
    let tool = installer.tool();
    let tool_path = tools::ensure(tool, ctx.arch, ctx.cache_root)?;
    let out = scratch.join("out");
    let tool_cache = ctx
        .cache_root
        .join("installers")
        .join(installer.name())
        .join("cache");
    for dir in [&out, &tool_cache] {
        std::fs::create_dir_all(dir).map_err(|source| BuildError::Io {
            path: dir.clone(),
            source,
        })?;
    }
    let user = owner_of(&out)?;
    let abs_requirements =
        std::fs::canonicalize(requirements).map_err(|source| BuildError::Io {
            path: requirements.to_path_buf(),
            source,
        })?;
    let mut mounts = vec![Mount {
        host: tool_path,
        container: tool.mount_path().into(),
        read_only: true,
    }];
    let lock = npm_lock(requirements, installer);
    if installer == Installer::Npm {
        // npm reads the manifest (and lock) where it installs: copies in the output folder,
        // which the layer then takes `node_modules` from.
        for from in std::iter::once(&abs_requirements).chain(lock.as_ref()) {
            let to = out.join(from.file_name().unwrap_or_default());
            std::fs::copy(from, &to).map_err(|source| BuildError::Io {
                path: from.clone(),
                source,
            })?;
        }
    } else {
        mounts.push(Mount {
            host: abs_requirements,
            container: "/lamina/requirements.txt".into(),
            read_only: true,
        });
    }
    mounts.extend([
        Mount {
            host: out.clone(),
            container: "/lamina/out".into(),
            read_only: false,
        },
        Mount {
            host: tool_cache,
            container: "/lamina/cache".into(),
            read_only: false,
        },
    ]);
    let mut env = vec![
        ("HOME".to_owned(), "/tmp".to_owned()),
        ("PYTHONDONTWRITEBYTECODE".to_owned(), "1".to_owned()),
    ];
    // A TLS-inspecting proxy's CA is in the host's bundle, not in the base's: hand it over so
    // the installer reaches the package index as the host does.
    if let Some(bundle) = host_ca_bundle() {
        mounts.push(Mount {
            host: bundle,
            container: "/lamina/ca.crt".into(),
            read_only: true,
        });
        for var in [
            "SSL_CERT_FILE",
            "PIP_CERT",
            "REQUESTS_CA_BUNDLE",
            "NODE_EXTRA_CA_CERTS",
        ] {
            env.push((var.to_owned(), "/lamina/ca.crt".to_owned()));
        }
    }
    // Where the index is and how to reach it; not PIP_CERT or PIP_FIND_LINKS, whose host
    // paths mean nothing in the container.
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "PIP_RETRIES",
        "PIP_DEFAULT_TIMEOUT",
        "UV_INDEX_URL",
        "UV_EXTRA_INDEX_URL",
        "UV_HTTP_TIMEOUT",
        "NPM_CONFIG_REGISTRY",
        "npm_config_registry",
    ] {
        if let Ok(v) = std::env::var(var) {
            env.push((var.to_owned(), v));
        }
    }
    let job = ContainerJob {
        image: ctx.base_image.clone(),
        name: base_image_name(ctx.base_image)?,
        command: tool.command(lock.is_some()),
        env,
        mounts,
        user,
    };
    let mut tail: Vec<u8> = Vec::new();
    let output = ctx.output;
    let code = runner
        .run(&job, &mut |bytes: &[u8]| {
            output(bytes);
            tail.extend_from_slice(bytes);
            if tail.len() > 2 * OUTPUT_TAIL {
                tail.drain(..tail.len() - OUTPUT_TAIL);
            }
        })
        .map_err(BuildError::ContainerEngine)?;
    if code != 0 {
        let text = String::from_utf8_lossy(&tail[tail.len().saturating_sub(OUTPUT_TAIL)..]);
        return Err(BuildError::InstallerFailed {
            installer: installer.name(),
            requirements: requirements.to_path_buf(),
            code,
            output: text.trim_end().to_owned(),
        });
    }
    let mut plan = LayerPlan::new();
    if installer == Installer::Npm {
        // The packages only: the manifest and lock are the code layer's.
        let modules = out.join("node_modules");
        if modules.is_dir() {
            plan.add_tree(&modules, &format!("{DEPS_PATH}/node_modules"), &|_, _| {
                false
            })?;
        }
        return Ok(plan);
    }
    plan.add_tree(&out, DEPS_PATH, &|rel, is_dir| {
        // The installer's own byte-code caches are left out (the image compiles its own).
        is_dir && rel.file_name().is_some_and(|n| n == "__pycache__")
    })?;
    Ok(plan)
}

/// The repository of the base-only images the installers run in (`lamina-base:<digest>`).
pub const BASE_IMAGE_REPOSITORY: &str = "lamina-base";

/// The name the base-only image gets in the container engine.
fn base_image_name(manifest: &Digest) -> Result<Reference> {
    Ok(format!("{BASE_IMAGE_REPOSITORY}:{}", &manifest.hex()[..12]).parse()?)
}

/// `uid:gid` of a folder we just made: who the installer runs as.
fn owner_of(dir: &Path) -> Result<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir).map_err(|source| BuildError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(format!("{}:{}", meta.uid(), meta.gid()))
}

/// The host's CA bundle: `SSL_CERT_FILE`, else Debian's and Red Hat's usual places.
fn host_ca_bundle() -> Option<PathBuf> {
    std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            [
                "/etc/ssl/certs/ca-certificates.crt",
                "/etc/pki/tls/certs/ca-bundle.crt",
            ]
            .map(PathBuf::from),
        )
        .find(|p| p.is_file())
}
