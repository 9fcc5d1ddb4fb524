//! `lamina build`: folder → image in the store, then optionally an OCI layout, a
//! docker-archive, or a load into Docker.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lamina_build::pipeline::{self, BuildInputs, BuildOutput};
use lamina_image::Store;
use serde_json::json;

use super::Globals;
use crate::cli::BuildArgs;
use crate::output::{human_size, short, Progress};
use crate::{config, docker, ric};

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
    pub reference: String,
    /// The pipeline's result.
    pub output: BuildOutput,
}

/// Build `dir` into the store under `tag` (default: the function name).
pub fn build_dir(
    globals: &Globals,
    store: &Store,
    dir: &Path,
    flags: &crate::cli::FunctionArgs,
    tag: Option<&str>,
) -> Result<Built> {
    let function = config::resolve(dir, flags)?;
    let reference = match tag {
        Some(tag) => normalise_reference(tag)?,
        None => normalise_reference(&reference_from_name(function.name.as_str()))?,
    };
    let progress = Progress::new(globals.json, &format!("building {reference}"));
    let inputs = BuildInputs {
        dir,
        function: &function,
        ric_binary: ric::BINARY,
        source_date_epoch: source_date_epoch()?,
    };
    // The pipeline is synchronous (file and network I/O with blocking clients); run it on a
    // thread of its own so it never blocks, or nests inside, the async runtime.
    let output = std::thread::scope(|scope| {
        scope
            .spawn(|| pipeline::build(store, &globals.cache, &inputs, &|s| progress.stage(s)))
            .join()
    })
    .map_err(|_| anyhow::anyhow!("the build thread panicked"))??;
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
    let store = globals.store()?;
    let built = build_dir(
        globals,
        &store,
        &args.dir,
        &args.function,
        args.tag.as_deref(),
    )?;
    let manifest = &built.output.image.manifest_digest;

    match &output_target {
        Some(OutputTarget::Oci(path)) => {
            lamina_image::write_oci_layout(&store, manifest, path, Some(&built.reference))
                .with_context(|| format!("cannot write the OCI layout {}", path.display()))?;
        }
        Some(OutputTarget::DockerArchive(path)) => {
            write_archive(&store, manifest, &built.reference, path)?
        }
        None => {}
    }
    let loaded = if args.load {
        let docker = docker::connect().await?;
        docker::ensure_loaded(&docker, &store, manifest, &built.reference).await?;
        true
    } else {
        false
    };
    report(globals, &built, output_target.as_ref(), loaded);
    Ok(())
}

/// Write a docker-archive through a temp file renamed into place, so a failure never leaves a
/// half-written archive at `path`.
fn write_archive(
    store: &Store,
    manifest: &lamina_image::Digest,
    reference: &str,
    path: &Path,
) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::NamedTempFile::new_in(parent)
        .with_context(|| format!("cannot create a file in {}", parent.display()))?;
    let file = std::io::BufWriter::new(tmp);
    let file = lamina_image::write_docker_archive(store, manifest, &[reference.to_owned()], file)?;
    let tmp = file.into_inner().context("cannot finish the archive")?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn report(globals: &Globals, built: &Built, output: Option<&OutputTarget>, loaded: bool) {
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
            "reference": built.reference,
            "manifestDigest": image.manifest_digest.to_string(),
            "configDigest": image.config_digest.to_string(),
            "uncompressedSize": image.uncompressed_size,
            "layers": layers,
            "loaded": loaded,
            "output": output.map(OutputTarget::to_string),
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
    if loaded {
        println!("loaded into Docker as {}", built.reference);
    }
}

/// `calculator` → `calculator:latest`; refuses what Docker would refuse.
pub fn normalise_reference(reference: &str) -> Result<String> {
    let (repo, tag) = match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (reference, "latest"),
    };
    // A registry host (`localhost:5000/`, `123.dkr.ecr.…/`) may carry a port and capitals.
    let path = match repo.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => rest,
        _ => repo,
    };
    let repo_ok = !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c))
        && !path.starts_with(['.', '-', '_', '/'])
        && !path.ends_with(['.', '-', '_', '/']);
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !tag.starts_with(['.', '-']);
    if !repo_ok || !tag_ok {
        bail!(
            "invalid image name `{reference}`: use lowercase letters, digits, `.`, `_`, `-` and `/`, with an optional :tag"
        );
    }
    Ok(format!("{repo}:{tag}"))
}

/// An image name for a function name: Docker wants lowercase and no leading or trailing
/// separators (`My_Func` → `my_func`, `.tmpX` → `tmpx`).
fn reference_from_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let trimmed = lower.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "function".into()
    } else {
        trimmed.to_owned()
    }
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
    fn references() {
        assert_eq!(
            normalise_reference("calculator").unwrap(),
            "calculator:latest"
        );
        assert_eq!(normalise_reference("calc:v2").unwrap(), "calc:v2");
        assert_eq!(
            normalise_reference("localhost:5000/calc").unwrap(),
            "localhost:5000/calc:latest"
        );
        assert!(normalise_reference("Calc").is_err());
        assert!(normalise_reference("calc:").is_err());
    }

    #[test]
    fn names_become_references() {
        assert_eq!(reference_from_name("My_Func"), "my_func");
        assert_eq!(reference_from_name("-tmpAbC"), "tmpabc");
        assert_eq!(reference_from_name("__"), "function");
        assert!(normalise_reference(&reference_from_name("-x-")).is_ok());
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
