//! Building (or reusing) the unpacked root filesystem of a locked recipe.
//!
//! The rootfs lives at `<cache>/bases/<recipe>/<arch>/<rootfs-hash>/rootfs`, where the
//! hash covers the pinned `.deb` hashes, the recipe's layout (drop, keep, post-steps)
//! and the unpacker's version. It is assembled in a temporary sibling directory and
//! renamed into place when complete; the `complete` marker beside it is written last,
//! so a crash leaves either nothing or a directory that is rebuilt on the next call.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use lamina_image::Digest;

use super::error::{io_err, Error, Result};
use super::fetch::Fetcher;
use super::lock::{ArchLock, Lock};
use super::pin::lock_arch;
use super::recipe::Recipe;
use super::unpack::{unpack_deb, Filter};

/// Options for [`ensure_rootfs`].
#[derive(Debug, Clone, Copy, Default)]
pub struct UnpackOptions {
    /// When a pinned `.deb` is gone from the mirror (or the lock no longer matches the
    /// recipe), re-resolve against the current index instead of failing, with a warning
    /// that the lock is stale.
    pub refresh: bool,
}

/// Where a rootfs is and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsInfo {
    /// The rootfs directory.
    pub path: PathBuf,
    /// Stable id of this rootfs (`sha256:<hex>`), usable as a cache key for its layers.
    pub lock_hash: Digest,
    /// Number of packages unpacked.
    pub packages: usize,
    /// Bytes of regular-file content in the rootfs.
    pub bytes: u64,
    /// The pins actually used when `refresh` had to re-resolve; write them back with
    /// [`super::write_lock`] to stop the warning.
    pub refreshed: Option<ArchLock>,
}

/// Contents of the `complete` marker.
#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    packages: usize,
    bytes: u64,
}

/// Returns the rootfs of `recipe` for `arch` pinned by `lock`, building it when absent.
pub fn ensure_rootfs(
    recipe: &Recipe,
    lock: &Lock,
    arch: &str,
    cache: &Path,
    opts: &UnpackOptions,
) -> Result<RootfsInfo> {
    let fetcher = Fetcher::new(cache)?;
    let mut lock = lock.clone();
    let mut refreshed = None;
    if lock.recipe_hash != recipe.resolve_hash() {
        if !opts.refresh {
            return Err(Error::StaleLock {
                recipe: recipe.name.clone(),
            });
        }
        tracing::warn!(recipe = %recipe.name, "lamina.lock does not match recipe.toml; re-resolving (run `lamina base lock {}`)", recipe.name);
        refresh(recipe, &mut lock, arch, &fetcher, &mut refreshed)?;
    }
    loop {
        let pins = lock.arches.get(arch).ok_or_else(|| Error::ArchNotLocked {
            recipe: recipe.name.clone(),
            arch: arch.to_owned(),
        })?;
        let lock_hash = lock
            .rootfs_hash(recipe, arch)
            .ok_or_else(|| Error::ArchNotLocked {
                recipe: recipe.name.clone(),
                arch: arch.to_owned(),
            })?;
        let dir = cache
            .join("bases")
            .join(&recipe.name)
            .join(arch)
            .join(lock_hash.hex());
        let info = |marker: Marker| RootfsInfo {
            path: dir.join("rootfs"),
            lock_hash: lock_hash.clone(),
            packages: marker.packages,
            bytes: marker.bytes,
            refreshed: refreshed.clone(),
        };
        if let Some(marker) = read_marker(&dir) {
            tracing::info!(recipe = %recipe.name, arch, path = %dir.display(), "base rootfs is cached");
            return Ok(info(marker));
        }
        let debs = match download_all(recipe, &lock, pins, &fetcher) {
            Err(Error::PinnedGone { package, .. }) if opts.refresh => {
                let why = if recipe.moving {
                    format!(
                        " ({} is a moving suite: Debian testing replaces packages often)",
                        recipe.suite
                    )
                } else {
                    String::new()
                };
                tracing::warn!(recipe = %recipe.name, %package, "a pinned package left the mirror{why}; lamina.lock is stale, re-resolving against today's {} (run `lamina base lock {}` to pin it again)", recipe.suite, recipe.name);
                refresh(recipe, &mut lock, arch, &fetcher, &mut refreshed)?;
                continue;
            }
            other => other?,
        };
        let marker = build(recipe, arch, &debs, &dir)?;
        return Ok(info(marker));
    }
}

fn refresh(
    recipe: &Recipe,
    lock: &mut Lock,
    arch: &str,
    fetcher: &Fetcher,
    refreshed: &mut Option<ArchLock>,
) -> Result<()> {
    let pins = lock_arch(recipe, arch, fetcher)?;
    lock.recipe_hash = recipe.resolve_hash();
    lock.mirror = recipe.mirror_url().to_owned();
    lock.arches.insert(arch.to_owned(), pins.clone());
    *refreshed = Some(pins);
    Ok(())
}

fn download_all(
    recipe: &Recipe,
    lock: &Lock,
    pins: &ArchLock,
    fetcher: &Fetcher,
) -> Result<Vec<PathBuf>> {
    let missing: Vec<_> = pins
        .packages
        .iter()
        .filter(|p| !fetcher.deb_path(p).is_file())
        .collect();
    let bytes: u64 = missing.iter().map(|p| p.size).sum();
    tracing::info!(recipe = %recipe.name, packages = missing.len(), bytes, cached = pins.packages.len() - missing.len(), "downloading packages");
    pins.packages
        .iter()
        .map(|p| fetcher.deb(&recipe.name, &lock.mirror, p))
        .collect()
}

/// Unpacks `debs` and applies the post-steps in a temporary directory beside `dir`,
/// then renames it to `dir` and writes the marker.
fn build(recipe: &Recipe, arch: &str, debs: &[PathBuf], dir: &Path) -> Result<Marker> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(".unpack-")
        .tempdir_in(parent)
        .map_err(io_err("create temporary directory in", parent))?;
    let root = tmp.path().join("rootfs");
    fs::create_dir(&root).map_err(io_err("create directory", &root))?;
    tracing::info!(recipe = %recipe.name, arch, packages = debs.len(), "unpacking");
    let filter = Filter {
        drop: &recipe.drop,
        keep: &recipe.keep,
    };
    let mut bytes = 0;
    for deb in debs {
        bytes += unpack_deb(deb, &root, &filter)?.bytes;
    }
    merged_usr_links(&root)?;
    super::post::apply(recipe, &root, arch)?;
    if dir.exists() {
        // A previous build died between rename and marker; start over.
        fs::remove_dir_all(dir).map_err(io_err("remove incomplete rootfs", dir))?;
    }
    fs::rename(tmp.path(), dir).map_err(io_err("move rootfs into", dir))?;
    let marker = Marker {
        packages: debs.len(),
        bytes,
    };
    let text = serde_json::to_string(&marker).unwrap_or_default();
    let marker_path = dir.join("complete");
    fs::write(&marker_path, text).map_err(io_err("write", &marker_path))?;
    tracing::info!(recipe = %recipe.name, arch, bytes, path = %dir.join("rootfs").display(), "base rootfs ready");
    Ok(marker)
}

/// `bin`, `sbin`, `lib` → `usr/…` always; `lib32`, `lib64`, `libx32` only when the
/// `usr/` directory exists (as Debian's base-files does per architecture).
fn merged_usr_links(root: &Path) -> Result<()> {
    for (name, always) in [
        ("bin", true),
        ("sbin", true),
        ("lib", true),
        ("lib32", false),
        ("lib64", false),
        ("libx32", false),
    ] {
        let target = root.join("usr").join(name);
        if always {
            fs::create_dir_all(&target).map_err(io_err("create directory", &target))?;
        } else if !target.is_dir() {
            continue;
        }
        let link = root.join(name);
        std::os::unix::fs::symlink(format!("usr/{name}"), &link)
            .map_err(io_err("create symlink", &link))?;
    }
    Ok(())
}

fn read_marker(dir: &Path) -> Option<Marker> {
    let text = fs::read_to_string(dir.join("complete")).ok()?;
    let marker = serde_json::from_str(&text).ok()?;
    dir.join("rootfs").is_dir().then_some(marker)
}
