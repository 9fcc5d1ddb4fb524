//! `lamina check`: will Lambda accept this image, and if not, why. The checks themselves are
//! `lamina_build::check` (also run by every `lamina build`); this adds what only the source
//! shows — an image index, attestation manifests — and prints the findings.

use anyhow::{Context, Result};
use lamina_build::check::{check_image, Finding};
use lamina_build::pipeline::base::BaseSource;
use lamina_image::import::IndexSummary;
use lamina_image::{Reference, Store};
use serde_json::json;

use super::Globals;
use crate::cli::CheckArgs;
use lamina_docker::DockerRunner;

/// `lamina check`. Exits non-zero when Lambda would refuse the image.
pub async fn run(globals: &Globals, args: &CheckArgs) -> Result<bool> {
    let store = globals.store()?;
    let arch = args
        .platform
        .unwrap_or_else(lamina_runtime_api::function::Arch::host);
    let runner = DockerRunner::new(tokio::runtime::Handle::current(), store.clone(), None);
    let stored = Reference::parse(&args.image)
        .ok()
        .map(|r| store.get_ref(&r))
        .transpose()?
        .flatten();
    let (manifest, index) = match stored {
        Some(d) => (d, None),
        None => {
            let source: BaseSource = args
                .image
                .parse()
                .with_context(|| format!("`{}` is not an image lamina can read", args.image))?;
            let imported =
                super::base_source::import(&source, &store, arch, &runner, Some(&args.registry))
                    .await?;
            (imported.manifest, imported.index)
        }
    };
    let mut findings = index.as_ref().map(index_findings).unwrap_or_default();
    let store2 = store.clone();
    let m = manifest.clone();
    findings.extend(
        tokio::task::spawn_blocking(move || check_image(&store2, &m))
            .await?
            .with_context(|| format!("cannot check {}", args.image))?,
    );
    report(globals, &args.image, &manifest, &findings);
    Ok(findings.is_empty())
}

fn index_findings(index: &IndexSummary) -> Vec<Finding> {
    let mut out = vec![Finding {
        code: "image-index",
        message: format!(
            "{} is an image index with {} entries, not one image manifest",
            index.digest, index.manifests
        ),
        fix: "Lambda refuses an index or manifest list: push the single-platform manifest (lamina push does; with buildx use --provenance=false --sbom=false)".into(),
    }];
    if index.attestations > 0 {
        out.push(Finding {
            code: "attestation-manifest",
            message: format!(
                "the index carries {} attestation manifest(s) (buildx provenance/SBOM)",
                index.attestations
            ),
            fix: "build with --provenance=false --sbom=false, or push with lamina, which sends one manifest (aws-lambda-roadmap #82)".into(),
        });
    }
    out
}

fn report(globals: &Globals, image: &str, manifest: &lamina_image::Digest, findings: &[Finding]) {
    if globals.json {
        println!(
            "{}",
            json!({"image": image, "manifestDigest": manifest.to_string(),
                   "accepted": findings.is_empty(), "findings": findings})
        );
        return;
    }
    if findings.is_empty() {
        println!("{image}: Lambda will accept it ({manifest})");
        return;
    }
    println!(
        "{image}: Lambda would refuse it ({} finding(s)):",
        findings.len()
    );
    for f in findings {
        println!("  ✗ [{}] {}\n      fix: {}", f.code, f.message, f.fix);
    }
}

/// Refuse a built image Lambda would not accept, before it is written out, loaded or pushed.
/// Layers lamina wrote (all but a foreign base's) are trusted, not read again.
pub fn refuse_unacceptable(
    store: &Store,
    output: &lamina_build::pipeline::BuildOutput,
    foreign_base: bool,
    name: &str,
) -> Result<()> {
    use lamina_build::check::{check_image_trusting, Trusted};
    let trusted = output
        .layers
        .iter()
        .filter(|l| !(foreign_base && l.name == "base"))
        .map(|l| {
            let trust = Trusted {
                uncompressed: l.descriptor.uncompressed_size,
                roots: lamina_build::pipeline::layer_roots(l.name),
            };
            (l.descriptor.digest.clone(), trust)
        })
        .collect();
    let findings = check_image_trusting(store, &output.image.manifest_digest, &trusted)
        .with_context(|| format!("cannot check the built image {name}"))?;
    if findings.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = findings
        .iter()
        .map(|f| format!("  [{}] {f}", f.code))
        .collect();
    anyhow::bail!("Lambda would refuse the image {name}:\n{}", list.join("\n"))
}
