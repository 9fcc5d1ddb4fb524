//! Pinning: a recipe resolved against the mirror's current package index into a [`Lock`]
//! (the index is fetched and cached by [`Fetcher`], the closure chosen by [`resolve`]).

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::Path;

use super::error::{io_err, Result};
use super::fetch::Fetcher;
use super::index::PackageIndex;
use super::lock::{ArchLock, Lock, LockedPackage, LOCK_VERSION};
use super::recipe::Recipe;
use super::resolve::resolve;

/// Resolves `recipe` for each of its architectures against the mirror's current index.
///
/// Indexes are cached content-addressed under `<cache>/debian/indexes/`; only the small
/// `InRelease` is fetched every time.
pub fn lock(recipe: &Recipe, cache: &Path) -> Result<Lock> {
    let fetcher = Fetcher::new(cache)?;
    let mut arches = BTreeMap::new();
    for arch in &recipe.architectures {
        arches.insert(arch.clone(), lock_arch(recipe, arch, &fetcher)?);
    }
    Ok(Lock {
        version: LOCK_VERSION,
        recipe: recipe.name.clone(),
        recipe_hash: recipe.resolve_hash(),
        mirror: recipe.mirror_url().to_owned(),
        suite: recipe.suite.clone(),
        arches,
    })
}

/// Resolves one architecture (also used by `ensure_rootfs` when refreshing a stale lock).
pub(crate) fn lock_arch(recipe: &Recipe, arch: &str, fetcher: &Fetcher) -> Result<ArchLock> {
    tracing::info!(recipe = %recipe.name, arch, suite = %recipe.suite, "resolving packages");
    let release = fetcher.release(recipe)?;
    let mut index = PackageIndex::default();
    for component in &recipe.components {
        let path = fetcher.packages_index(recipe, &release, component, arch)?;
        let file = std::fs::File::open(&path).map_err(io_err("open package index", &path))?;
        let reader = BufReader::with_capacity(1 << 20, xz2::read::XzDecoder::new(file));
        index.extend_from(reader, &format!("{component}/binary-{arch}/Packages.xz"))?;
    }
    let closure = resolve(recipe, &index, arch)?;
    let packages: Vec<LockedPackage> = closure
        .into_iter()
        .map(|e| LockedPackage {
            name: e.name.clone(),
            version: e.version.clone(),
            arch: e.architecture.clone(),
            filename: e.filename.clone(),
            sha256: e.sha256.clone(),
            size: e.size,
        })
        .collect();
    let bytes: u64 = packages.iter().map(|p| p.size).sum();
    tracing::info!(recipe = %recipe.name, arch, packages = packages.len(), bytes, "resolved");
    Ok(ArchLock {
        release_date: release.date,
        packages,
    })
}
