//! `lamina push` (and `lamina build --push`): a stored image to a registry, by tag, reporting
//! the digest to deploy by. Credentials come from `--username`/`--password-stdin`; they are
//! never printed.

use std::sync::Arc;

use anyhow::{Context, Result};
use lamina_image::{Digest, Reference, Store};
use lamina_registry::{Client, PushReport};
use serde_json::json;

use super::Globals;
use crate::cli::{PullArgs, PushArgs};
use crate::output::{human_size, Progress};

/// `lamina push`.
pub async fn run(globals: &Globals, args: &PushArgs) -> Result<()> {
    // The target is checked before anything else, so a bad one is named first.
    let client = Client::new(
        &args.target,
        super::credentials::credentials_for(
            super::credentials::credentials(&args.registry)?.as_ref(),
            &args.target,
        )?,
        args.registry.insecure,
    )?;
    let (store, _in_use) = globals.store_in_use()?;
    let manifest = source_manifest(&store, &args.source).await?;
    let report = push_one(globals, &client, &store, &manifest, &args.target).await?;
    print_report(globals, &args.target, &report);
    Ok(())
}

/// The manifest `lamina push` sends: a stored image by name, or an `oci:PATH[:TAG]`,
/// `docker-archive:PATH` or `docker-daemon:NAME` image brought into the store first.
async fn source_manifest(store: &Store, source: &str) -> Result<Digest> {
    use lamina_build::pipeline::base::BaseSource;
    let file_or_daemon = ["oci:", "docker-archive:", "docker-daemon:"]
        .iter()
        .any(|p| source.starts_with(p));
    if file_or_daemon {
        let parsed: BaseSource = source
            .parse()
            .with_context(|| format!("`{source}` is not an image lamina can read"))?;
        let runner = lamina_docker::DockerRunner::new(
            tokio::runtime::Handle::current(),
            store.clone(),
            None,
        );
        let arch = lamina_runtime_api::function::Arch::host();
        return Ok(
            super::base_source::import(&parsed, store, arch, &runner, None)
                .await?
                .manifest,
        );
    }
    let reference = Reference::parse(source).with_context(|| {
        format!("`{source}` is neither an image name nor oci:PATH, docker-archive:PATH or docker-daemon:NAME")
    })?;
    store.get_ref(&reference)?.with_context(|| {
        format!(
            "image `{reference}` is not in lamina's store; build it with `lamina build DIR --tag {reference}`, or push a file with oci:PATH / docker-archive:PATH"
        )
    })
}

/// `lamina pull`: the image into the store, tagged as it was named (a digest reference is
/// kept by digest only).
pub async fn pull(globals: &Globals, args: &PullArgs) -> Result<()> {
    let client = Client::new(
        &args.source,
        super::credentials::credentials_for(
            super::credentials::credentials(&args.registry)?.as_ref(),
            &args.source,
        )?,
        args.registry.insecure,
    )?;
    let (store, _in_use) = globals.store_in_use()?;
    let arch = args
        .platform
        .unwrap_or_else(lamina_runtime_api::function::Arch::host);
    let progress = Progress::new(globals.json, &format!("pulling {}", args.source));
    let report = lamina_registry::pull(&client, &store, &args.source, arch.name())
        .await
        .with_context(|| format!("cannot pull {}", args.source))?;
    progress.finish();
    if args.source.tag().is_some() && args.source.digest().is_none() {
        store.set_ref(&args.source, &report.digest)?;
    }
    if globals.json {
        println!(
            "{}",
            json!({"reference": args.source.to_string(), "digest": report.digest.to_string(),
                   "fetched": report.fetched, "present": report.present})
        );
    } else {
        println!(
            "pulled {} {} ({} blobs fetched, {} already here)",
            args.source, report.digest, report.fetched, report.present
        );
    }
    Ok(())
}

/// Push `manifest` to `target`, with progress on a terminal.
pub async fn push_one(
    globals: &Globals,
    client: &Client,
    store: &Store,
    manifest: &Digest,
    target: &Reference,
) -> Result<PushReport> {
    let progress = Arc::new(Progress::new(globals.json, &format!("pushing {target}")));
    let shown = progress.clone();
    let report = lamina_registry::push(
        client,
        store,
        manifest,
        target,
        &(Arc::new(move |blob: &str, done: u64, total: u64| shown.bytes(blob, done, total))
            as lamina_registry::Progress),
    )
    .await
    .with_context(|| format!("cannot push to {target}"))?;
    progress.finish();
    Ok(report)
}

/// A push as JSON: the reference, the digest to deploy by, what was sent, skipped, mounted.
pub fn report_json(target: &Reference, report: &PushReport) -> serde_json::Value {
    let uploaded: Vec<_> = report
        .uploaded
        .iter()
        .map(|(d, size)| json!({"digest": d, "size": size}))
        .collect();
    json!({
        "reference": target.to_string(),
        "digest": report.digest,
        "byDigest": report.by_digest,
        "uploaded": uploaded,
        "skipped": report.skipped,
        "mounted": report.mounted,
    })
}

/// The result, as prose or `--json`.
pub fn print_report(globals: &Globals, target: &Reference, report: &PushReport) {
    if globals.json {
        println!("{}", report_json(target, report));
        return;
    }
    let sent: u64 = report.uploaded.iter().map(|(_, s)| s).sum();
    println!(
        "pushed {target} ({} blobs sent, {}; {} already there; {} mounted from another repository)\n{}",
        report.uploaded.len(),
        human_size(sent),
        report.skipped.len(),
        report.mounted.len(),
        report.by_digest
    );
}
