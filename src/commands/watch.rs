//! `lamina rie --watch`: when a served function folder changes, rebuild it through the build
//! cache (a handler edit rewrites only the code layer), load what Docker lacks, and hand the
//! new version to the running emulator, which switches once an environment of it has
//! initialised. A failed build or init leaves the last good version serving.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use lamina_image::{Digest, Store};
use lamina_rie::Updater;
use notify::{RecursiveMode, Watcher};

use super::build::build_dir;
use super::serving::Settings;
use super::Globals;
use crate::cli::FunctionArgs;

/// Events closer together than this are one change (an editor's save is several writes).
const DEBOUNCE: Duration = Duration::from_millis(50);

/// A served folder and the image it last gave.
pub struct Watched {
    /// The function folder.
    pub dir: PathBuf,
    /// The manifest now served.
    pub manifest: Digest,
    /// Its layers' digests.
    pub layers: Vec<Digest>,
}

/// Everything a rebuild needs, borrowed from `lamina rie`.
pub struct Rebuilder<'a> {
    /// Global options.
    pub globals: &'a Globals,
    /// The store.
    pub store: &'a Store,
    /// Runs installers and owns the one Docker connection.
    pub runner: &'a lamina_docker::DockerRunner,
    /// The flags' settings.
    pub settings: &'a Settings,
    /// The running emulator.
    pub updater: Updater,
}

/// Watch `folders` until the future is dropped (when `lamina rie` stops).
pub async fn run(r: Rebuilder<'_>, mut folders: Vec<Watched>) -> Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if !matches!(event.kind, notify::EventKind::Access(_)) {
                let _ = tx.send(event.paths);
            }
        }
    })
    .context("cannot watch files (inotify): raise fs.inotify.max_user_watches or drop --watch")?;
    for f in &folders {
        watcher
            .watch(&f.dir, RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {}", f.dir.display()))?;
        eprintln!("watching {} for changes", f.dir.display());
    }
    while let Some(paths) = rx.recv().await {
        let mut changed = paths;
        // Let the burst of one save end, then take it all at once.
        tokio::time::sleep(DEBOUNCE).await;
        while let Ok(more) = rx.try_recv() {
            changed.extend(more);
        }
        for f in folders.iter_mut() {
            if changed.iter().any(|p| p.starts_with(&f.dir)) {
                rebuild(&r, f).await;
            }
        }
    }
    drop(watcher);
    Ok(())
}

/// Rebuild one folder and hand its new version over; say what happened.
async fn rebuild(r: &Rebuilder<'_>, f: &mut Watched) {
    let t0 = Instant::now();
    // Shared while building and loading: a prune waits for the rebuild (the lease of the
    // versions served is the emulator's; a superseded version's blobs may then go).
    let _in_use = match lamina_image::lock::StoreLock::shared(r.store) {
        Ok(lock) => lock,
        Err(e) => {
            eprintln!("rebuild of {} failed: {e}", f.dir.display());
            return;
        }
    };
    let built = build_dir(
        r.globals,
        r.store,
        &f.dir,
        &FunctionArgs::default(),
        None,
        r.runner,
        None,
    )
    .await;
    let built = match built {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "watch: {} did not build, the last good version keeps serving: {e:#}",
                f.dir.display()
            );
            return;
        }
    };
    let manifest = built.output.image.manifest_digest.clone();
    if manifest == f.manifest {
        return;
    }
    // The layers that differ from the version served (new, or taken from the cache).
    let changed: Vec<&str> = built
        .output
        .layers
        .iter()
        .filter(|l| !f.layers.contains(&l.descriptor.digest))
        .map(|l| l.name)
        .collect();
    let layers = built.output.layer_digests();
    let t_built = t0.elapsed();
    let result = async {
        let docker = r.runner.docker().await?;
        let function = r
            .settings
            .function(docker, r.store, &built.reference, Some(&manifest))
            .await?;
        let t_loaded = t0.elapsed();
        let name = function.name.to_string();
        r.updater.update(function).await?;
        tracing::debug!(?t_built, ?t_loaded, updated = ?t0.elapsed(), "watch: built, loaded, switched");
        Ok::<_, anyhow::Error>(name)
    }
    .await;
    match result {
        Ok(name) => {
            f.manifest = manifest;
            f.layers = layers;
            eprintln!(
                "watch: {name} now runs the new code ({} ms from the change; changed layers: {})",
                t0.elapsed().as_millis() + DEBOUNCE.as_millis(),
                if changed.is_empty() {
                    "none".to_owned()
                } else {
                    changed.join(", ")
                }
            );
        }
        Err(e) => eprintln!("watch: {e:#}"),
    }
}
