//! What lamina keeps on this machine, and reclaiming it: `lamina images`, `lamina image
//! inspect`, `lamina system df`, `lamina rmi` and `lamina prune`. The store's own rules
//! (what is in use, what a prune may take, in which order) live in `lamina_image::gc` and
//! `lamina_image::lock`; this module reads the flags and prints.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use lamina_image::gc::{self, PruneOptions};
use lamina_image::lock::StoreLock;
use lamina_image::Reference;
use serde_json::json;

use super::Globals;
use crate::cli::PruneArgs;
use crate::output::{human_size, parse_size, short};

/// How long a prune waits for the builds, pushes and pulls under way to finish.
const PRUNE_WAIT: Duration = Duration::from_secs(600);

/// `lamina images`.
pub fn images(globals: &Globals) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let store = globals.store()?;
    let images = gc::images(&store)?;
    let label = |i: &gc::ImageSummary, k: &str| i.labels.get(k).cloned().unwrap_or_default();
    use lamina_runtime_api::function::labels::{NAME, RUNTIME};
    if globals.json {
        let rows: Vec<_> = images
            .iter()
            .map(|i| {
                json!({"tag": i.tag, "digest": i.manifest.to_string(), "size": i.size,
                       "created": i.created, "tagged": i.tagged.map(when),
                       "function": label(i, NAME), "runtime": label(i, RUNTIME)})
            })
            .collect();
        writeln!(out, "{}", serde_json::Value::Array(rows))?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<40} {:<20} {:>10}  {:<20} {:<20} RUNTIME",
        "TAG", "DIGEST", "SIZE", "TAGGED", "FUNCTION"
    )?;
    for i in &images {
        writeln!(
            out,
            "{:<40} {:<20} {:>10}  {:<20} {:<20} {}",
            i.tag,
            short(&i.manifest.to_string()),
            human_size(i.size),
            i.tagged.map(when).unwrap_or_else(|| "-".into()),
            label(i, NAME),
            label(i, RUNTIME)
        )?;
    }
    Ok(())
}

/// A time for people and scripts alike: RFC 3339, to the second.
fn when(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// What a layer holds, from the history lamina writes for it (`pipeline::history_of`).
fn layer_kind(history: &str) -> &'static str {
    if history.starts_with("lamina: base") || history.starts_with("base:") {
        "base"
    } else if history.starts_with("lamina: /var/runtime/lamina-ric") {
        "runtime client"
    } else if history.contains("dependencies") || history.contains("vendored") {
        "dependencies"
    } else if history.contains("Lambda layers") {
        "layers"
    } else if history.contains("function code") {
        "code"
    } else {
        "other"
    }
}

/// `lamina image inspect REF`.
pub fn inspect(globals: &Globals, reference: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let store = globals.store()?;
    let parsed = Reference::parse(reference)
        .with_context(|| format!("`{reference}` is not an image reference"))?;
    let manifest_digest = store.get_ref(&parsed)?.with_context(|| {
        format!("no image `{reference}` in lamina's store: `lamina images` lists them")
    })?;
    let manifest = lamina_image::read_manifest(&store, &manifest_digest)?;
    let config = lamina_image::read_config(&store, &manifest)?;
    let histories: Vec<String> = config
        .history()
        .iter()
        .flatten()
        .filter(|h| !h.empty_layer().unwrap_or(false))
        .map(|h| h.created_by().clone().unwrap_or_default())
        .collect();
    let layers: Vec<_> = manifest
        .layers()
        .iter()
        .enumerate()
        .map(|(n, l)| {
            let history = histories.get(n).cloned().unwrap_or_default();
            json!({"digest": l.digest().to_string(), "size": l.size(),
                   "kind": layer_kind(&history), "history": history})
        })
        .collect();
    let c = config.config().clone().unwrap_or_default();
    let info = json!({
        "reference": reference,
        "digest": manifest_digest.to_string(),
        "created": config.created(),
        "architecture": config.architecture().to_string(),
        "entrypoint": c.entrypoint(),
        "cmd": c.cmd(),
        "workingDir": c.working_dir(),
        "env": c.env(),
        "labels": c.labels(),
        "layers": layers,
    });
    if globals.json {
        writeln!(out, "{info}")?;
    } else {
        writeln!(out, "{}", serde_json::to_string_pretty(&info)?)?;
    }
    Ok(())
}

/// The bytes under `path` (a file or a folder, walked without following links).
fn size_of(path: &Path) -> u64 {
    let Ok(meta) = path.symlink_metadata() else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|d| d.flatten().map(|e| size_of(&e.path())).sum())
        .unwrap_or(0)
}

/// The installers' download caches (`installers/<tool>/cache`): what `prune --all` empties
/// (they fill again with what the next builds download), and the trash a killed prune left.
fn installer_caches(cache: &Path) -> Vec<std::path::PathBuf> {
    let root = cache.join("installers");
    let Ok(tools) = std::fs::read_dir(&root) else {
        return Vec::new();
    };
    let pruned = |p: &std::path::PathBuf| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".pruned-"))
    };
    let mut out: Vec<_> = tools
        .flatten()
        .flat_map(|t| {
            let p = t.path();
            let trash: Vec<_> = std::fs::read_dir(&p)
                .map(|d| d.flatten().map(|e| e.path()).filter(pruned).collect())
                .unwrap_or_default();
            std::iter::once(p.join("cache")).chain(trash)
        })
        .filter(|p| p.exists())
        .collect();
    out.sort();
    out
}

/// Empty the installers' download caches: each is renamed away first (at once: a cache is
/// whole or gone, never half there for the next build), then deleted. Returns the bytes.
fn empty_installer_caches(cache: &Path) -> Result<u64> {
    let mut freed = 0;
    for dir in installer_caches(cache) {
        freed += size_of(&dir);
        let trash = if dir.file_name().is_some_and(|n| n == "cache") {
            let trash = dir.with_file_name(format!(".pruned-{}", std::process::id()));
            std::fs::rename(&dir, &trash)
                .with_context(|| format!("cannot move {} aside", dir.display()))?;
            trash
        } else {
            dir
        };
        std::fs::remove_dir_all(&trash)
            .with_context(|| format!("cannot remove {}", trash.display()))?;
    }
    Ok(freed)
}

/// `lamina system df`.
pub fn df(globals: &Globals) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let store = globals.store()?;
    let usage = gc::usage(&store)?;
    let cache = &globals.cache;
    let areas = [
        (
            "bases",
            cache.join("bases"),
            "unpacked base runtimes (made again from the Debian downloads)",
        ),
        (
            "debian",
            cache.join("debian"),
            "Debian packages the bases come from",
        ),
        (
            "installers",
            cache.join("installers"),
            "pip, uv and npm, and their download caches",
        ),
        (
            "tools",
            cache.join("tools"),
            "lamina-ric copies and test tools",
        ),
        (
            "event queues",
            cache.join("rie"),
            "`lamina rie`'s durable Event queues",
        ),
    ];
    // Each area walked on a thread of its own: the slowest (installers' download caches)
    // sets the time, not their sum.
    let rows: Vec<(&str, u64, &str)> = std::thread::scope(|s| {
        let walks: Vec<_> = areas
            .iter()
            .map(|(name, path, what)| (*name, s.spawn(move || size_of(path)), *what))
            .collect();
        walks
            .into_iter()
            .map(|(name, walk, what)| (name, walk.join().unwrap_or(0), what))
            .collect()
    });
    if globals.json {
        let mut info = json!({"store": usage, "store_path": store.root()});
        for (name, size, _) in &rows {
            info[name.replace(' ', "_")] = json!(size);
        }
        writeln!(out, "{info}")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<14} {:>10} {:>12}  WHAT",
        "AREA", "SIZE", "RECLAIMABLE"
    )?;
    writeln!(
        out,
        "{:<14} {:>10} {:>12}  {} blobs: {} in images, {} build cache (`lamina prune --all`), {} dangling (`lamina prune`)",
        "store",
        human_size(usage.blobs),
        human_size(usage.build_cache + usage.dangling),
        usage.blob_count,
        human_size(usage.in_use),
        human_size(usage.build_cache),
        human_size(usage.dangling),
    )?;
    let caches: u64 = installer_caches(cache).iter().map(|p| size_of(p)).sum();
    for (name, size, what) in rows {
        let reclaimable = if name == "installers" {
            human_size(caches)
        } else {
            "-".to_owned()
        };
        writeln!(
            out,
            "{name:<14} {:>10} {:>12}  {what}",
            human_size(size),
            reclaimable
        )?;
    }
    Ok(())
}

/// `lamina rmi REF…`.
pub fn rmi(globals: &Globals, references: &[String]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let store = globals.store()?;
    let _lock = StoreLock::shared(&store)?;
    let mut missing = Vec::new();
    for r in references {
        let parsed =
            Reference::parse(r).with_context(|| format!("`{r}` is not an image reference"))?;
        if parsed.digest().is_some() {
            bail!(
                "`{r}` names an image by digest: remove it by its tag (`lamina images` lists them)"
            );
        }
        if store.remove_ref(&parsed)? {
            if globals.json {
                writeln!(out, "{}", json!({"untagged": r}))?;
            } else {
                writeln!(out, "untagged {r}")?;
            }
        } else {
            missing.push(r.as_str());
        }
    }
    if !missing.is_empty() {
        bail!(
            "no image {} in lamina's store (`lamina images` lists them); the others were removed",
            missing.join(", ")
        );
    }
    if !globals.json {
        eprintln!("their blobs stay until `lamina prune` (only what no other image uses goes)");
    }
    Ok(())
}

/// The store's size cap, `LAMINA_CACHE_MAX` (e.g. `20GB`), if set.
pub fn cache_max() -> Result<Option<u64>> {
    match std::env::var("LAMINA_CACHE_MAX") {
        Ok(v) if !v.trim().is_empty() => parse_size(&v)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("LAMINA_CACHE_MAX: {e}")),
        _ => Ok(None),
    }
}

/// After a build: the least recently used build cache goes until the store holds at most
/// `limit` (as `lamina prune --keep-storage`). Skipped, quietly, while another build, push
/// or pull uses the store: the next build enforces it.
pub fn enforce_cache_max(store: &lamina_image::Store, limit: u64) {
    let Ok(Some(_alone)) = StoreLock::exclusive(store, Duration::ZERO) else {
        return;
    };
    let options = PruneOptions {
        keep_storage: Some(limit),
        ..PruneOptions::default()
    };
    match gc::plan(store, &options).and_then(|plan| gc::execute(store, &plan)) {
        Ok(0) => {}
        Ok(freed) => tracing::info!(
            freed,
            "LAMINA_CACHE_MAX: removed the least recently used build cache"
        ),
        Err(e) => eprintln!("warning: LAMINA_CACHE_MAX could not be kept: {e}"),
    }
}

/// `lamina prune`.
pub fn prune(globals: &Globals, args: &PruneArgs) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let store = globals.store()?;
    let options = PruneOptions {
        all: args.all,
        older_than: args.older_than.map(Into::into),
        keep_storage: args.keep_storage,
    };
    // Builds, pushes and pulls under way hold the store shared: a prune waits for them, so
    // it never takes a blob one of them is writing or about to use.
    let lock = if args.dry_run {
        None
    } else {
        let lock = StoreLock::exclusive(&store, Duration::ZERO)?;
        let lock = match lock {
            Some(l) => l,
            None => {
                eprintln!("waiting for the builds, pushes and pulls under way to finish…");
                StoreLock::exclusive(&store, PRUNE_WAIT)?.with_context(|| {
                    format!("the store is still in use after {} s; try again once the builds under way have finished", PRUNE_WAIT.as_secs())
                })?
            }
        };
        Some(lock)
    };
    let plan = gc::plan(&store, &options)?;
    let freed = if args.dry_run {
        plan.bytes()
    } else {
        gc::execute(&store, &plan)?
    };
    // The installers' download caches are build cache too: `--all` empties them (no build
    // runs meanwhile: the lock above).
    let caches = match (args.all, args.dry_run) {
        (false, _) => 0,
        (true, true) => installer_caches(&globals.cache)
            .iter()
            .map(|p| size_of(p))
            .sum(),
        (true, false) => empty_installer_caches(&globals.cache)?,
    };
    drop(lock);
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    if globals.json {
        let blobs: Vec<String> = plan.blobs.iter().map(|(d, _)| d.to_string()).collect();
        writeln!(
            out,
            "{}",
            json!({"dry_run": args.dry_run, "blobs": blobs, "cache_entries": plan.entries.len(),
                   "bytes": freed, "installer_caches": caches})
        )?;
    } else {
        for (d, size) in &plan.blobs {
            writeln!(out, "{verb} {d} ({})", human_size(*size))?;
        }
        eprintln!(
            "{verb} {} blobs and {} cache entries: {}",
            plan.blobs.len(),
            plan.entries.len(),
            human_size(freed)
        );
        if args.all {
            eprintln!(
                "{verb} the installers' download caches: {}",
                human_size(caches)
            );
        }
    }
    Ok(())
}
