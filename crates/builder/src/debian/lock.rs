//! The lock file: `base-images/<name>/lamina.lock`, every `.deb` pinned by sha256.
//!
//! A lock records, per architecture, the exact packages the resolver chose (name,
//! version, filename on the mirror, sha256, size), plus the recipe hash it was made from
//! so a changed package selection is caught. Building from a lock never consults the
//! package index, so a base is the same bytes until someone re-locks on purpose.

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{io_err, Error, Result};
use super::fetch::Fetcher;
use super::index::PackageIndex;
use lamina_image::Digest;

use super::recipe::Recipe;
use super::resolve::resolve;

/// Version of the lock format written by this code.
pub const LOCK_VERSION: u32 = 1;

/// A recipe's pinned packages for each architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// Lock format version ([`LOCK_VERSION`]).
    pub version: u32,
    /// The recipe's name.
    pub recipe: String,
    /// [`Recipe::resolve_hash`] of the recipe the lock was made from.
    pub recipe_hash: Digest,
    /// Mirror the filenames are relative to.
    pub mirror: String,
    /// Suite that was resolved.
    pub suite: String,
    /// Pins per Debian architecture.
    #[serde(rename = "arch")]
    pub arches: BTreeMap<String, ArchLock>,
}

/// The pins for one architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchLock {
    /// `Date` of the suite's InRelease when resolved (a snapshot.debian.org timestamp
    /// can be derived from it once the pinned files leave the mirror).
    pub release_date: String,
    /// Packages, sorted by name.
    #[serde(rename = "package")]
    pub packages: Vec<LockedPackage>,
}

/// One pinned `.deb`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPackage {
    /// Package name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// The package's architecture (`all` or the locked one).
    pub arch: String,
    /// Path relative to the mirror root.
    pub filename: String,
    /// sha256 of the `.deb` (hex).
    pub sha256: String,
    /// Size of the `.deb` in bytes.
    pub size: u64,
}

impl Lock {
    /// Stable id of the rootfs built from this lock for `arch` with `recipe`'s layout
    /// (drop, keep, post-steps) and this unpacker's version; a cache key.
    pub fn rootfs_hash(&self, recipe: &Recipe, arch: &str) -> Option<Digest> {
        let pins = self.arches.get(arch)?;
        let input = serde_json::json!({
            "unpacker": super::unpack::UNPACKER_VERSION,
            "recipe": recipe.name,
            "arch": arch,
            "mirror": self.mirror,
            "packages": pins.packages.iter().map(|p| &p.sha256).collect::<Vec<_>>(),
            "layout": recipe.layout_fingerprint(),
        });
        Some(Digest::sha256_of(input.to_string().as_bytes()))
    }
}

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

/// Parses a lock from its text (e.g. embedded with `include_str!`).
pub fn parse_lock(text: &str) -> Result<Lock> {
    parse_lock_from(text, "<embedded>")
}

/// Reads `dir/lamina.lock` (`dir` is `base-images/<name>`).
pub fn load_lock(dir: &Path) -> Result<Lock> {
    let path = dir.join("lamina.lock");
    let text = std::fs::read_to_string(&path).map_err(io_err("read lock file", &path))?;
    parse_lock_from(&text, &path.display().to_string())
}

fn parse_lock_from(text: &str, origin: &str) -> Result<Lock> {
    let lock: Lock = toml::from_str(text).map_err(|source| Error::LockSyntax {
        origin: origin.to_owned(),
        source: Box::new(source),
    })?;
    Ok(lock)
}

/// Serialises a lock to its TOML text, with a header comment.
pub fn render_lock(lock: &Lock) -> Result<String> {
    let body = toml::to_string_pretty(lock).map_err(|source| Error::LockSerialize {
        recipe: lock.recipe.clone(),
        source,
    })?;
    Ok(format!(
        "# Generated by `lamina base lock {}` from recipe.toml; do not edit by hand.\n{body}",
        lock.recipe
    ))
}

/// Writes a lock atomically (temporary file in the same directory, then rename).
pub fn write_lock(lock: &Lock, path: &Path) -> Result<()> {
    let text = render_lock(lock)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(io_err("create temporary file in", dir))?;
    tmp.write_all(text.as_bytes())
        .map_err(io_err("write", tmp.path().to_owned()))?;
    tmp.persist(path).map_err(|e| Error::Io {
        action: "write lock file",
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Lock {
        let pkg = LockedPackage {
            name: "dash".into(),
            version: "0.5.12-12".into(),
            arch: "amd64".into(),
            filename: "pool/main/d/dash/dash_0.5.12-12_amd64.deb".into(),
            sha256: "a".repeat(64),
            size: 98504,
        };
        Lock {
            version: LOCK_VERSION,
            recipe: "tiny".into(),
            recipe_hash: Digest::sha256_of(b"recipe"),
            mirror: "http://deb.debian.org/debian".into(),
            suite: "trixie".into(),
            arches: BTreeMap::from([(
                "amd64".to_owned(),
                ArchLock {
                    release_date: "today".into(),
                    packages: vec![pkg],
                },
            )]),
        }
    }

    #[test]
    fn lock_round_trips_through_toml() {
        let lock = sample();
        let text = render_lock(&lock).unwrap();
        assert!(text.contains("[[arch.amd64.package]]"), "{text}");
        assert_eq!(parse_lock(&text).unwrap(), lock);
    }

    #[test]
    fn write_lock_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lamina.lock");
        std::fs::write(&path, "old").unwrap();
        write_lock(&sample(), &path).unwrap();
        assert_eq!(load_lock(dir.path()).unwrap(), sample());
    }

    #[test]
    fn bad_lock_names_the_fix() {
        let err = parse_lock("version = 1").unwrap_err();
        assert!(err.to_string().contains("lamina base lock"), "{err}");
    }
}
