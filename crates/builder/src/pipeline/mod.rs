//! The build pipeline: plan → layers → config → manifest.
//!
//! An image is a few layers, ordered by how rarely they change, so that an edit to the handler
//! rebuilds (and later re-uploads) only the last one:
//! 1. the base: lamina's runtime from pinned Debian packages (cached by the lock's hash), or
//!    any image, folder or nothing (`base`);
//! 2. lamina-ric and its language adapters under `/var/runtime` (not on an AWS base that keeps
//!    its own client);
//! 3. the dependencies (`requirements.txt` installed in a container of the base, or a
//!    prebuilt folder), cached by what decides them (`deps`);
//! 4. the function code under `/var/task`.
//!
//! Every layer is deterministic (lamina-image's writer), and `created`/mtimes come from
//! `SOURCE_DATE_EPOCH` or the Unix epoch, so the same inputs give the same manifest digest.

pub mod base;
pub mod bases;
pub mod handler;
pub mod vendored;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lamina_image::{
    layer_for_key, write_image, write_layer_reporting, BuiltImage, ImageSpec, KeyBuilder,
    LayerDescriptor, LayerPlan, LayerSettings, Store,
};

pub use crate::error::{BuildError, Result};

use base::{base_parts, merged_env, Base, BaseParts, RicChoice};

use crate::deps::{self, ContainerRunner, Deps, InstallContext};
use crate::scratch::scratch_dir;
use crate::zips;
pub use lamina_runtime_api::function::{Arch, Function, Runtime};
use lamina_runtime_api::worker::{RuntimeKind, ENV_RUNTIME};

/// Kind and version of the key of the `/opt` layer made from layer ZIPs.
const LAYER_ZIPS_KEY_VERSION: &str = "lamina-layer-zips/v1";

/// Where lamina-ric lives in the image; the image's ENTRYPOINT.
pub const RIC_PATH: &str = "/var/runtime/lamina-ric";
/// The source of the language adapter lamina-ric's worker runs for `kind` (shipped in the
/// client layer, at `kind.adapter().path`).
pub fn adapter_source(kind: RuntimeKind) -> Option<&'static str> {
    match kind {
        RuntimeKind::Python => Some(include_str!("../../../../base-images/python/bootstrap.py")),
        RuntimeKind::Node => Some(include_str!("../../../../base-images/node/bootstrap.mjs")),
        RuntimeKind::Exec | RuntimeKind::Bootstrap => None,
    }
}

/// The environment of Lambda's own base images (images-and-registries.md §2).
pub const LAMBDA_ENV: [(&str, &str); 6] = [
    ("LANG", "en_US.UTF-8"),
    ("TZ", ":/etc/localtime"),
    ("PATH", "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"),
    (
        "LD_LIBRARY_PATH",
        "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
    ),
    ("LAMBDA_TASK_ROOT", "/var/task"),
    ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
];

/// Everything one build needs.
pub struct BuildInputs<'a> {
    /// The function folder.
    pub dir: &'a Path,
    /// The function (valid by construction: the model's types hold Lambda's rules).
    pub function: &'a Function,
    /// What the image is built on.
    pub base: &'a Base,
    /// Which runtime client starts the function on a foreign base.
    pub ric: RicChoice,
    /// The static lamina-ric binary to inject.
    pub ric_binary: &'a [u8],
    /// Seconds since the epoch for `created` and every mtime (`SOURCE_DATE_EPOCH`).
    pub source_date_epoch: u64,
    /// Where the dependencies come from.
    pub deps: &'a Deps,
    /// A deployment ZIP whose files are the code (`/var/task`) instead of the folder's.
    pub code_zip: Option<&'a Path>,
    /// Lambda layer ZIPs, merged in order under `/opt`.
    pub layer_zips: &'a [PathBuf],
    /// Who runs the installer's container, when there is a container engine.
    pub runner: Option<&'a dyn ContainerRunner>,
    /// Receives the installer's output as it comes.
    pub output: &'a (dyn Fn(&[u8]) + Sync),
    /// Told how much of a layer is written: its name, bytes so far, bytes in all.
    pub bytes: &'a (dyn Fn(&str, u64, u64) + Sync),
}

/// One layer of the result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LayerReport {
    /// `base`, `runtime-client`, `layers`, `dependencies`, `vendored` or `code`.
    pub name: &'static str,
    /// What was written.
    pub descriptor: LayerDescriptor,
    /// True when the layer came from the cache without being written again.
    pub cached: bool,
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct BuildOutput {
    /// The image in the store.
    pub image: BuiltImage,
    /// Its layers, in order.
    pub layers: Vec<LayerReport>,
}

impl BuildOutput {
    /// The layers' digests, bottom first.
    pub fn layer_digests(&self) -> Vec<lamina_image::Digest> {
        self.layers
            .iter()
            .map(|l| l.descriptor.digest.clone())
            .collect()
    }
}

/// Build the image for `inputs` into `store`; `stage` is told what is happening.
pub fn build(
    store: &Store,
    cache_root: &Path,
    inputs: &BuildInputs<'_>,
    stage: &dyn Fn(&str),
) -> Result<BuildOutput> {
    let spec = inputs.function;
    let dir = inputs.dir;
    if !dir.exists() {
        return Err(BuildError::DirMissing(dir.to_path_buf()));
    }
    if !dir.is_dir() {
        return Err(BuildError::NotADir(dir.to_path_buf()));
    }
    // The code: the folder itself, or a deployment ZIP unpacked into a scratch folder.
    let unpacked_code = match inputs.code_zip {
        Some(zip) => {
            let scratch = scratch_dir(cache_root, "code-")?;
            zips::unpack(zip, scratch.path())?;
            Some(scratch)
        }
        None => None,
    };
    let code_dir = unpacked_code.as_ref().map_or(dir, |s| s.path());
    let found = handler::check(spec.runtime, &spec.handler, code_dir)?;
    // What lamina-ric runs: the runtime's worker, else (an OS-only function) the folder's
    // own `bootstrap` or the executable its handler names — said outright, so that a
    // handler such as `tool.py` is never mistaken for a Python module.
    let kind = spec.runtime.ric_kind().or_else(|| {
        found.map(|p| {
            if p.file_name().is_some_and(|n| n == "bootstrap") {
                RuntimeKind::Bootstrap
            } else {
                RuntimeKind::Exec
            }
        })
    });
    match Arch::of_elf(inputs.ric_binary) {
        Some(have) if have == spec.arch => {}
        have => {
            return Err(BuildError::ClientArchMismatch {
                have: have
                    .map_or("an unknown architecture", Arch::name)
                    .to_owned(),
                want: spec.arch.name().to_owned(),
            })
        }
    }

    let settings = LayerSettings {
        mtime: inputs.source_date_epoch,
        ..LayerSettings::default()
    };
    let mut layers = Vec::with_capacity(3);

    stage(&format!("base ({})", spec.arch.name()));
    let report =
        |name: &'static str| move |done: u64, total: u64| (inputs.bytes)(name, done, total);
    let base = base_parts(
        store,
        cache_root,
        inputs.base,
        spec.arch,
        &settings,
        &report("base"),
    )?;
    let own_client = match inputs.ric {
        RicChoice::Lamina => true,
        RicChoice::Auto => !base.config.is_lambda_base(),
        RicChoice::Base if base.config.entrypoint.is_empty() => {
            return Err(BuildError::NoBaseEntrypoint {
                base: base_name(inputs.base),
            })
        }
        RicChoice::Base => false,
    };
    layers.extend(base.layers.iter().cloned());

    if own_client {
        stage("runtime client");
        let mut client = LayerPlan::new();
        client.add_bytes(
            RIC_PATH.trim_start_matches('/'),
            inputs.ric_binary.to_vec(),
            true,
        )?;
        if let Some(kind) = spec.runtime.ric_kind() {
            if let (Some(adapter), Some(source)) = (kind.adapter(), adapter_source(kind)) {
                client.add_bytes(
                    adapter.path.trim_start_matches('/'),
                    source.as_bytes().to_vec(),
                    false,
                )?;
            }
        }
        let (descriptor, cached) =
            write_layer_reporting(store, &client, &settings, &report("runtime client"))?;
        layers.push(LayerReport {
            name: "runtime-client",
            descriptor,
            cached,
        });
    }

    if !inputs.layer_zips.is_empty() {
        stage("Lambda layers");
        // Keyed by the ZIPs' own digests (so unchanged layers are not even unpacked), and a
        // folder given as a layer by its files, as a ZIP of them would be.
        let mut key = KeyBuilder::new(LAYER_ZIPS_KEY_VERSION, &settings);
        for input in inputs.layer_zips {
            if input.is_dir() {
                let mut plan = LayerPlan::new();
                plan.add_tree(input, "opt", &|_, _| false)?;
                key.field(
                    lamina_image::plan_key(&plan, &settings)?
                        .as_str()
                        .as_bytes(),
                );
            } else {
                key.field(zips::digest(input)?.as_str().as_bytes());
            }
        }
        let opt = scratch_dir(cache_root, "opt-")?;
        let (descriptor, cached) =
            layer_for_key(store, &key.finish(), &settings, &report("layers"), || {
                for input in inputs.layer_zips {
                    if input.is_dir() {
                        zips::copy_tree(input, opt.path())?;
                    } else {
                        zips::unpack(input, opt.path())?;
                    }
                }
                let mut plan = LayerPlan::new();
                plan.add_tree(opt.path(), "opt", &|_, _| false)?;
                Ok::<_, BuildError>(plan)
            })?;
        layers.push(LayerReport {
            name: "layers",
            descriptor,
            cached,
        });
    }

    if *inputs.deps != Deps::None {
        stage("dependencies");
        let base_image = write_image(
            store,
            &base_only_spec(spec, inputs.source_date_epoch, &base),
        )?;
        let mut output = |bytes: &[u8]| (inputs.output)(bytes);
        let ctx = InstallContext {
            store,
            cache_root,
            base_image: &base_image.manifest_digest,
            base_layer: &base_key(&base),
            arch: spec.arch,
            runner: inputs.runner,
            output: &mut output,
            report: &report("dependencies"),
        };
        if let Some((descriptor, cached)) = deps::layer(inputs.deps, ctx, &settings)? {
            layers.push(LayerReport {
                name: "dependencies",
                descriptor,
                cached,
            });
        }
    }

    // Packages vendored into the folder get a layer of their own, so a handler edit
    // rewrites only the small code layer.
    let vendored = vendored::vendored_names(code_dir);
    let is_vendored = |rel: &Path| {
        rel.components()
            .next()
            .is_some_and(|c| vendored.contains(c.as_os_str()))
    };
    if !vendored.is_empty() {
        stage("vendored packages");
        let mut plan = LayerPlan::new();
        plan.add_tree(code_dir, "var/task", &|rel, is_dir| {
            skip_in_code(rel, is_dir) || (rel.components().count() == 1 && !is_vendored(rel))
        })?;
        let (descriptor, cached) =
            write_layer_reporting(store, &plan, &settings, &report("vendored packages"))?;
        layers.push(LayerReport {
            name: "vendored",
            descriptor,
            cached,
        });
    }

    stage("function code");
    let mut code = LayerPlan::new();
    code.add_tree(code_dir, "var/task", &|rel, is_dir| {
        skip_in_code(rel, is_dir) || is_vendored(rel)
    })?;
    let (descriptor, cached) =
        write_layer_reporting(store, &code, &settings, &report("function code"))?;
    layers.push(LayerReport {
        name: "code",
        descriptor,
        cached,
    });

    stage("image config and manifest");
    let image = write_image(
        store,
        &image_spec(
            spec,
            kind,
            inputs.source_date_epoch,
            &base,
            own_client,
            &layers,
        ),
    )?;
    Ok(BuildOutput { image, layers })
}

/// What never goes into `/var/task`: lamina's own config, VCS data and Python caches.
fn skip_in_code(rel: &Path, is_dir: bool) -> bool {
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let top_level = rel.components().count() == 1;
    (top_level && name == "lamina.toml")
        || (is_dir && matches!(name, ".git" | "__pycache__" | ".lamina" | ".venv"))
        || (!is_dir && (name.ends_with(".pyc") || name == ".DS_Store"))
}

/// The top-level folders a layer lamina writes can hold, by its [`LayerReport::name`]
/// (`None`: any path, as a base does).
pub fn layer_roots(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "runtime-client" => Some(&["var/runtime/"]),
        "layers" => Some(&["opt/"]),
        "dependencies" | "vendored" | "code" => Some(&["var/task/"]),
        _ => None,
    }
}

/// How the user named a base, for messages.
fn base_name(base: &Base) -> String {
    match base {
        Base::Recipe(r) => r.name().to_owned(),
        Base::Scratch => "scratch".to_owned(),
        Base::Dir(d) => format!("dir:{}", d.display()),
        Base::Image { source, .. } => source.clone(),
    }
}

/// One digest that stands for all of a base's layers (what the dependencies are installed
/// on): the single layer's own, or a key over all of them.
fn base_key(base: &BaseParts) -> lamina_image::Digest {
    match base.layers.as_slice() {
        [one] => one.descriptor.digest.clone(),
        layers => {
            let mut key = KeyBuilder::new("lamina-base-layers/v1", &LayerSettings::default());
            for l in layers {
                key.field(l.descriptor.digest.as_str().as_bytes());
            }
            key.finish()
        }
    }
}

/// The history text of each layer.
fn history_of(base: &BaseParts) -> impl Fn(&LayerReport) -> String + '_ {
    move |r: &LayerReport| match r.name {
        "base" => base.history.clone(),
        "runtime-client" => format!("lamina: {RIC_PATH}"),
        "dependencies" => "lamina: dependencies in /var/task".to_owned(),
        "layers" => "lamina: Lambda layers in /opt".to_owned(),
        "vendored" => "lamina: vendored packages in /var/task".to_owned(),
        _ => "lamina: function code in /var/task".to_owned(),
    }
}

/// An image of the base alone, with its environment: where installers run.
fn base_only_spec(spec: &Function, epoch: u64, base: &BaseParts) -> ImageSpec {
    let history = history_of(base);
    ImageSpec {
        architecture: spec.arch.name().to_owned(),
        os: "linux".to_owned(),
        entrypoint: Vec::new(),
        cmd: vec!["/bin/sh".to_owned()],
        working_dir: "/var/task".to_owned(),
        env: merged_env(&base.config.env),
        labels: BTreeMap::new(),
        created: lamina_image::created_from_epoch(epoch),
        layers: base
            .layers
            .iter()
            .map(|r| (r.descriptor.clone(), history(r)))
            .collect(),
        format: base.format,
    }
}

fn image_spec(
    spec: &Function,
    kind: Option<RuntimeKind>,
    epoch: u64,
    base: &BaseParts,
    own_client: bool,
    layers: &[LayerReport],
) -> ImageSpec {
    let mut env = merged_env(&base.config.env);
    if own_client {
        if let Some(kind) = kind {
            env.push(format!("{ENV_RUNTIME}={}", kind.as_str()));
        }
        if let Some(value) = spec.runtime.execution_env() {
            env.push(format!(
                "{}={value}",
                lamina_runtime_api::env::LAMINA_EXECUTION_ENV
            ));
        }
    }
    for (k, v) in spec.config.env.iter() {
        env.retain(|e| !e.starts_with(&format!("{k}=")));
        env.push(format!("{k}={v}"));
    }
    let labels: BTreeMap<String, String> = lamina_runtime_api::function::labels::write(spec)
        .into_iter()
        .collect();
    let history = history_of(base);
    let entrypoint = if own_client {
        vec![RIC_PATH.to_owned()]
    } else {
        base.config.entrypoint.clone()
    };
    ImageSpec {
        architecture: spec.arch.name().to_owned(),
        os: "linux".to_owned(),
        entrypoint,
        cmd: vec![spec.handler.clone()],
        working_dir: "/var/task".to_owned(),
        env,
        labels,
        created: lamina_image::created_from_epoch(epoch),
        layers: layers
            .iter()
            .map(|r| (r.descriptor.clone(), history(r)))
            .collect(),
        format: base.format,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_skips() {
        assert!(skip_in_code(Path::new("lamina.toml"), false));
        assert!(!skip_in_code(Path::new("sub/lamina.toml"), false));
        assert!(skip_in_code(Path::new("a/__pycache__"), true));
        assert!(skip_in_code(Path::new("a/x.pyc"), false));
        assert!(!skip_in_code(Path::new("app.py"), false));
    }
}
