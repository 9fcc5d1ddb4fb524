//! `lamina build`: folder → image in the store, then optionally an OCI layout, a
//! docker-archive, or a load into Docker.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lamina_build::pipeline::{self, BuildInputs, BuildOutput};
use lamina_image::{Reference, Store};
use lamina_runtime_api::function::FunctionName;
use serde_json::json;

use super::Globals;
use crate::cli::BuildArgs;
use crate::output::{human_size, short, Progress};
use crate::{config, ric};

/// Where `--output` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputTarget {
    /// An OCI image layout folder.
    Oci(PathBuf),
    /// A docker-archive tar file.
    DockerArchive(PathBuf),
}

impl OutputTarget {
    /// Parse `oci:PATH` or `docker-archive:PATH`.
    pub fn parse(spec: &str) -> Result<Self> {
        match spec.split_once(':') {
            Some(("oci", path)) if !path.is_empty() => Ok(Self::Oci(path.into())),
            Some(("docker-archive", path)) if !path.is_empty() => {
                Ok(Self::DockerArchive(path.into()))
            }
            _ => bail!("--output `{spec}` is not understood: use oci:PATH or docker-archive:PATH"),
        }
    }
}

impl std::fmt::Display for OutputTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Oci(p) => write!(f, "oci:{}", p.display()),
            Self::DockerArchive(p) => write!(f, "docker-archive:{}", p.display()),
        }
    }
}

/// A finished build, as the other commands use it.
pub struct Built {
    /// The store reference, `name:tag`.
    pub reference: Reference,
    /// The pipeline's result.
    pub output: BuildOutput,
}

/// Build `dir` into the store under `tag` (default: the function name).
pub async fn build_dir(
    globals: &Globals,
    store: &Store,
    dir: &Path,
    flags: &crate::cli::FunctionArgs,
    tag: Option<&Reference>,
    runner: &lamina_docker::DockerRunner,
    registry: Option<&crate::cli::RegistryArgs>,
) -> Result<Built> {
    let config::Resolved {
        function,
        deps,
        code_zip,
        layer_zips,
        base,
        ric,
    } = config::resolve(dir, flags)?;
    let base = super::base_source::resolve(&base, store, function.arch, runner, registry).await?;
    let reference = match tag {
        Some(tag) => tag.clone(),
        None => reference_from_name(&function.name)?,
    };
    let progress = Progress::new(globals.json, &format!("building {reference}"));
    let inputs = BuildInputs {
        dir,
        function: &function,
        base: &base,
        ric,
        ric_binary: ric::BINARY,
        source_date_epoch: source_date_epoch()?,
        deps: &deps,
        code_zip: code_zip.as_deref(),
        layer_zips: &layer_zips,
        runner: Some(runner),
        output: &|bytes| progress.output(bytes),
        bytes: &|layer, done, total| progress.bytes(layer, done, total),
    };
    // The pipeline is synchronous (file and network I/O with blocking clients); run it on a
    // thread of its own so it never nests inside the async runtime, and let this worker's
    // tasks move elsewhere meanwhile (the installer's container is driven by the runtime).
    let output = tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            scope
                .spawn(|| pipeline::build(store, &globals.cache, &inputs, &|s| progress.stage(s)))
                .join()
        })
    })
    .map_err(|_| anyhow::anyhow!("the build thread panicked"))??;
    progress.stage("checking what Lambda will accept");
    tokio::task::block_in_place(|| {
        super::check::refuse_unacceptable(
            store,
            &output,
            matches!(base, lamina_build::pipeline::base::Base::Image { .. }),
            &reference.to_string(),
        )
    })?;
    store.set_ref(&reference, &output.image.manifest_digest)?;
    progress.finish();
    Ok(Built { reference, output })
}

/// `lamina build`.
pub async fn run(globals: &Globals, args: &BuildArgs) -> Result<()> {
    let output_target = args
        .output
        .as_deref()
        .map(OutputTarget::parse)
        .transpose()?;
    let cache_max = super::keep::cache_max()?;
    let (store, in_use) = globals.store_in_use()?;
    let runner = std::sync::Arc::new(lamina_docker::DockerRunner::new(
        tokio::runtime::Handle::current(),
        store.clone(),
        None,
    ));
    let given = if args.push.is_empty() && args.cache_from.is_none() && args.cache_to.is_none() {
        None
    } else {
        super::credentials::credentials(&args.registry)?
    };
    let client_for = |target: &Reference| -> Result<lamina_registry::Client> {
        let credentials = super::credentials::credentials_for(given.as_ref(), target)?;
        Ok(lamina_registry::Client::new(
            target,
            credentials,
            args.registry.insecure,
        )?)
    };
    let cache_from = match &args.cache_from {
        Some(source) => Some(
            lamina_registry::cache::import(&client_for(source)?, &store, source)
                .await
                .with_context(|| format!("cannot import the layer cache {source}"))?,
        ),
        None => None,
    };
    let cleaner = tokio::spawn(clean_up_on_signal(
        globals.cache.clone(),
        store.clone(),
        runner.clone(),
    ));
    let built = build_dir(
        globals,
        &store,
        &args.dir,
        &args.function,
        args.tag.as_ref(),
        &runner,
        Some(&args.registry),
    )
    .await;
    cleaner.abort();
    let built = built?;
    let manifest = &built.output.image.manifest_digest;

    match &output_target {
        Some(OutputTarget::Oci(path)) => {
            lamina_image::write_oci_layout(
                &store,
                manifest,
                path,
                Some(&built.reference.to_string()),
            )
            .with_context(|| format!("cannot write the OCI layout {}", path.display()))?;
        }
        Some(OutputTarget::DockerArchive(path)) => {
            write_archive(&store, manifest, &built.reference, path)?
        }
        None => {}
    }
    let loaded = if args.load {
        let docker = runner.docker().await?;
        Some(lamina_docker::ensure_loaded(docker, &store, manifest, &built.reference).await?)
    } else {
        None
    };
    let mut pushed = Vec::new();
    for target in &args.push {
        let r =
            super::push::push_one(globals, &client_for(target)?, &store, manifest, target).await?;
        pushed.push((target.clone(), r));
    }
    let cache_to = match &args.cache_to {
        Some(target) => {
            let artifact = lamina_registry::cache::export(&store, manifest)?;
            let r = super::push::push_one(globals, &client_for(target)?, &store, &artifact, target)
                .await
                .with_context(|| format!("cannot keep the layer cache at {target}"))?;
            Some((target.clone(), r))
        }
        None => None,
    };
    let caches = Caches {
        from: cache_from,
        to: cache_to,
    };
    report(
        globals,
        &built,
        output_target.as_ref(),
        loaded,
        &pushed,
        &caches,
    );
    drop(in_use);
    if let Some(limit) = cache_max {
        super::keep::enforce_cache_max(&store, limit);
    }
    Ok(())
}

/// On SIGINT or SIGTERM mid-build: remove this build's temporary files and installer
/// containers, then exit as the signal would (130 or 143). After a SIGKILL the next build
/// sweeps them instead.
async fn clean_up_on_signal(
    cache: PathBuf,
    store: Store,
    runner: std::sync::Arc<lamina_docker::DockerRunner>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    let code = tokio::select! {
        _ = int.recv() => 130,
        _ = term.recv() => 143,
    };
    runner.remove_own_containers().await;
    let removed = store.remove_own_temp_files()
        + lamina_image::sweep::remove_own(
            &cache.join("tmp"),
            lamina_build::scratch::SCRATCH_PREFIX,
        );
    eprintln!("interrupted: removed {removed} temporary file(s) of this build");
    std::process::exit(code);
}

/// Write a docker-archive through a temp file renamed into place, so a failure never leaves a
/// half-written archive at `path`.
fn write_archive(
    store: &Store,
    manifest: &lamina_image::Digest,
    reference: &Reference,
    path: &Path,
) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::NamedTempFile::new_in(parent)
        .with_context(|| format!("cannot create a file in {}", parent.display()))?;
    let file = std::io::BufWriter::new(tmp);
    let file =
        lamina_image::write_docker_archive(store, manifest, std::slice::from_ref(reference), file)?;
    let tmp = file.into_inner().context("cannot finish the archive")?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// What the shared layer cache did in a build.
struct Caches {
    from: Option<lamina_registry::cache::CacheImport>,
    to: Option<(Reference, lamina_registry::PushReport)>,
}

fn report(
    globals: &Globals,
    built: &Built,
    output: Option<&OutputTarget>,
    loaded: Option<Option<lamina_docker::LoadReport>>,
    pushed: &[(Reference, lamina_registry::PushReport)],
    caches: &Caches,
) {
    let image = &built.output.image;
    if globals.json {
        let layers: Vec<_> = built
            .output
            .layers
            .iter()
            .map(|l| {
                json!({"name": l.name, "digest": l.descriptor.digest.to_string(),
                       "diffId": l.descriptor.diff_id.to_string(), "size": l.descriptor.size, "cached": l.cached})
            })
            .collect();
        let out = json!({
            "reference": built.reference.to_string(),
            "manifestDigest": image.manifest_digest.to_string(),
            "configDigest": image.config_digest.to_string(),
            "uncompressedSize": image.uncompressed_size,
            "layers": layers,
            "loaded": loaded.is_some(),
            "load": loaded.flatten().map(|r| json!({
                "layersSent": r.layers_sent,
                "layersTotal": r.layers_total,
                "bytesSent": r.bytes_sent,
            })),
            "output": output.map(OutputTarget::to_string),
            "pushed": pushed
                .iter()
                .map(|(t, r)| super::push::report_json(t, r))
                .collect::<Vec<_>>(),
            "cacheFrom": caches.from.as_ref().map(|c| json!({"entries": c.entries, "fetched": c.fetched})),
            "cacheTo": caches.to.as_ref().map(|(t, r)| super::push::report_json(t, r)),
        });
        println!("{out}");
        return;
    }
    let fresh = built.output.layers.iter().filter(|l| !l.cached).count();
    println!(
        "built {} {} ({} layers, {} rebuilt, {} uncompressed)",
        built.reference,
        short(&image.manifest_digest.to_string()),
        built.output.layers.len(),
        fresh,
        human_size(image.uncompressed_size),
    );
    match output {
        Some(OutputTarget::Oci(p)) => println!("wrote OCI layout {}", p.display()),
        Some(OutputTarget::DockerArchive(p)) => println!("wrote docker-archive {}", p.display()),
        None => {}
    }
    match loaded {
        Some(Some(r)) => println!(
            "loaded into Docker as {} ({} of {} layers sent, {})",
            built.reference,
            r.layers_sent,
            r.layers_total,
            human_size(r.bytes_sent)
        ),
        Some(None) => println!("{} is already in Docker", built.reference),
        None => {}
    }
    for (target, r) in pushed {
        super::push::print_report(globals, target, r);
    }
    if let Some(c) = &caches.from {
        println!(
            "layer cache: {} entries imported, {} layers fetched",
            c.entries, c.fetched
        );
    }
    if let Some((target, r)) = &caches.to {
        println!(
            "layer cache kept at {target} ({} layers sent)",
            r.uploaded.len()
        );
    }
}

/// The image name for a function with no `--tag`: its name in lowercase (`My_Func` →
/// `my_func:latest`), with any separator run Docker refuses turned into one `-`.
fn reference_from_name(name: &FunctionName) -> Result<Reference> {
    let lower = name.as_str().to_ascii_lowercase();
    if let Ok(r) = Reference::parse(&lower) {
        return Ok(r);
    }
    let mut out = String::with_capacity(lower.len());
    for c in lower.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_end_matches('-');
    Ok(Reference::parse(if trimmed.is_empty() {
        "function"
    } else {
        trimmed
    })?)
}

/// `SOURCE_DATE_EPOCH`, or 0: the same inputs give the same digest on any day.
fn source_date_epoch() -> Result<u64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => v
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH={v} is not a whole number of seconds")),
        _ => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_references() {
        let r = |n: &str| {
            reference_from_name(&n.parse().unwrap())
                .unwrap()
                .to_string()
        };
        assert_eq!(r("My_Func"), "my_func:latest");
        assert_eq!(r("-tmpAbC"), "tmpabc:latest");
        assert_eq!(r("__"), "function:latest");
        assert_eq!(r("a_-b"), "a-b:latest");
        assert_eq!(r("a___b-"), "a-b:latest");
    }

    #[test]
    fn outputs() {
        assert_eq!(
            OutputTarget::parse("oci:out").unwrap(),
            OutputTarget::Oci("out".into())
        );
        assert!(OutputTarget::parse("zip:out").is_err());
        let archive = OutputTarget::parse("docker-archive:a.tar").unwrap();
        assert_eq!(archive.to_string(), "docker-archive:a.tar");
        assert!(OutputTarget::parse("oci:").is_err());
    }
}
