//! What the store keeps, and pruning it: the tagged images (`refs/`), the bytes of each area
//! of the store, and what a prune may remove.
//!
//! A blob is **in use** when a tag (or a running `lamina rie`'s lease, [`crate::lock`])
//! reaches it: the manifest, its config and its layers. A blob no tag reaches is either
//! **build cache** (a layer-cache entry names it: the next build reuses it) or **dangling**
//! (nothing does). A prune removes the dangling blobs; with `all`, the build cache too; with
//! `older_than`, the cache not used since; with `keep_storage`, the least recently used cache
//! until the store fits (BuildKit's `--keep-storage`). Images in use are never removed.
//!
//! A prune removes the cache entries first and the blobs after, each step a rename-free
//! unlink followed by a directory sync: killed at any point, it leaves blobs no entry names
//! (the next prune removes them), never an entry naming a missing blob.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::{read_config, read_manifest};
use crate::settings::LayerDescriptor;
use crate::store::Store;

/// A tagged image, as `lamina images` lists it.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    /// The tag (`calculator:latest`).
    pub tag: String,
    /// Its manifest.
    pub manifest: Digest,
    /// Bytes of its blobs in the store (manifest, config, compressed layers).
    pub size: u64,
    /// The config's `created`, if any (a reproducible build writes its source's epoch).
    pub created: Option<String>,
    /// When the tag was last set (the build or pull that made it).
    pub tagged: Option<SystemTime>,
    /// The config's labels.
    pub labels: BTreeMap<String, String>,
}

/// The blobs a manifest reaches (itself, its config, its layers), as far as they can be read.
fn reach(store: &Store, manifest: &Digest, into: &mut HashSet<Digest>) {
    into.insert(manifest.clone());
    let Ok(m) = read_manifest(store, manifest) else {
        return;
    };
    if let Ok(config) = Digest::from_oci(m.config().digest()) {
        into.insert(config);
    }
    for layer in m.layers() {
        if let Ok(d) = Digest::from_oci(layer.digest()) {
            into.insert(d);
        }
    }
}

/// Every tagged image, sorted by tag. A tag whose manifest cannot be read is listed with
/// what is known (its size counts only what is there).
pub fn images(store: &Store) -> Result<Vec<ImageSummary>> {
    let mut out = Vec::new();
    for (tag, manifest) in store.list_refs()? {
        let mut blobs = HashSet::new();
        reach(store, &manifest, &mut blobs);
        let size = blobs.iter().filter_map(|d| store.blob_len(d)).sum();
        let config = read_manifest(store, &manifest)
            .ok()
            .and_then(|m| read_config(store, &m).ok());
        let created = config.as_ref().and_then(|c| c.created().clone());
        let labels = config
            .as_ref()
            .and_then(|c| c.config().as_ref())
            .and_then(|c| c.labels().clone())
            .map(|l| l.into_iter().collect())
            .unwrap_or_default();
        let tagged = crate::Reference::parse(&tag)
            .ok()
            .and_then(|r| store.ref_modified(&r));
        out.push(ImageSummary {
            tag,
            tagged,
            manifest,
            size,
            created,
            labels,
        });
    }
    Ok(out)
}

/// The blobs in use: reached by a tag or a live lease.
fn in_use(store: &Store) -> Result<HashSet<Digest>> {
    let mut keep = HashSet::new();
    for (_, manifest) in store.list_refs()? {
        reach(store, &manifest, &mut keep);
    }
    for manifest in crate::lock::leased(store) {
        reach(store, &manifest, &mut keep);
    }
    Ok(keep)
}

/// One blob file.
struct BlobFile {
    digest: Digest,
    size: u64,
}

fn blob_files(store: &Store) -> Result<Vec<BlobFile>> {
    let dir = store.root().join("blobs").join("sha256");
    let mut out = Vec::new();
    for entry in fs::read_dir(&dir).map_err(Error::io("list directory", &dir))? {
        let entry = entry.map_err(Error::io("list directory", &dir))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Ok(digest) = format!("sha256:{name}").parse::<Digest>() else {
            continue;
        };
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        out.push(BlobFile { digest, size });
    }
    Ok(out)
}

/// One layer-cache entry: its file, the blob it names, when it was last used.
struct CacheEntry {
    path: PathBuf,
    blob: Option<Digest>,
    used: SystemTime,
}

fn cache_entries(store: &Store) -> Result<Vec<CacheEntry>> {
    let dir = store.root().join("layers");
    let mut out = Vec::new();
    for entry in fs::read_dir(&dir).map_err(Error::io("list directory", &dir))? {
        let entry = entry.map_err(Error::io("list directory", &dir))?;
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let used = entry
            .metadata()
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let blob = fs::read(&path)
            .ok()
            .and_then(|d| serde_json::from_slice::<LayerDescriptor>(&d).ok())
            .map(|d| d.digest);
        out.push(CacheEntry { path, blob, used });
    }
    Ok(out)
}

/// Bytes of each part of the store.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Usage {
    /// Every blob.
    pub blobs: u64,
    /// How many blobs.
    pub blob_count: usize,
    /// Blobs the tagged images (and running emulators) use.
    pub in_use: u64,
    /// Blobs only the build cache names (`lamina prune --all` removes them).
    pub build_cache: u64,
    /// Blobs nothing names (`lamina prune` removes them).
    pub dangling: u64,
    /// Layer-cache entries.
    pub cache_entries: usize,
}

/// What the store holds, by part.
pub fn usage(store: &Store) -> Result<Usage> {
    let keep = in_use(store)?;
    let cached: HashSet<Digest> = cache_entries(store)?
        .into_iter()
        .filter_map(|e| e.blob)
        .collect();
    let mut u = Usage {
        cache_entries: fs::read_dir(store.root().join("layers"))
            .map(|d| d.count())
            .unwrap_or(0),
        ..Usage::default()
    };
    for b in blob_files(store)? {
        u.blobs += b.size;
        u.blob_count += 1;
        if keep.contains(&b.digest) {
            u.in_use += b.size;
        } else if cached.contains(&b.digest) {
            u.build_cache += b.size;
        } else {
            u.dangling += b.size;
        }
    }
    Ok(u)
}

/// What a prune may remove.
#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// The build cache too, not only dangling blobs.
    pub all: bool,
    /// The build cache not used for this long.
    pub older_than: Option<Duration>,
    /// Remove the least recently used build cache until the store holds at most this.
    pub keep_storage: Option<u64>,
}

/// What a prune removes: cache entries, then blobs.
#[derive(Debug, Clone, Default)]
pub struct PrunePlan {
    /// Layer-cache entries (their blob goes, or is gone).
    pub entries: Vec<PathBuf>,
    /// Blobs, with their sizes.
    pub blobs: Vec<(Digest, u64)>,
}

impl PrunePlan {
    /// Bytes the blobs take.
    pub fn bytes(&self) -> u64 {
        self.blobs.iter().map(|(_, s)| s).sum()
    }
}

/// Plan a prune by `options`, as of now.
pub fn plan(store: &Store, options: &PruneOptions) -> Result<PrunePlan> {
    let keep = in_use(store)?;
    let entries = cache_entries(store)?;
    let blobs = blob_files(store)?;
    // When each cached blob was last used (its most recent entry).
    let mut last_used: HashMap<Digest, SystemTime> = HashMap::new();
    for e in &entries {
        if let Some(b) = &e.blob {
            let t = last_used.entry(b.clone()).or_insert(e.used);
            *t = (*t).max(e.used);
        }
    }
    let cutoff = options
        .older_than
        .and_then(|d| SystemTime::now().checked_sub(d));
    let mut remove: HashMap<Digest, u64> = HashMap::new();
    let mut cache: Vec<(SystemTime, &BlobFile)> = Vec::new();
    for b in &blobs {
        if keep.contains(&b.digest) {
            continue;
        }
        match last_used.get(&b.digest) {
            None => {
                remove.insert(b.digest.clone(), b.size);
            }
            Some(used) if options.all || cutoff.is_some_and(|c| *used < c) => {
                remove.insert(b.digest.clone(), b.size);
            }
            Some(used) => cache.push((*used, b)),
        }
    }
    if let Some(limit) = options.keep_storage {
        let mut total: u64 =
            blobs.iter().map(|b| b.size).sum::<u64>() - remove.values().sum::<u64>();
        cache.sort_by_key(|(used, b)| (*used, b.digest.clone()));
        for (_, b) in cache {
            if total <= limit {
                break;
            }
            total = total.saturating_sub(b.size);
            remove.insert(b.digest.clone(), b.size);
        }
    }
    let present: HashSet<&Digest> = blobs.iter().map(|b| &b.digest).collect();
    let mut plan = PrunePlan {
        entries: entries
            .iter()
            .filter(|e| match &e.blob {
                Some(b) => remove.contains_key(b) || !present.contains(b),
                None => false,
            })
            .map(|e| e.path.clone())
            .collect(),
        blobs: remove.into_iter().collect(),
    };
    plan.entries.sort();
    plan.blobs.sort();
    Ok(plan)
}

/// Carry out `plan`: the entries first, then the blobs (see the module's note on order).
/// Returns the bytes freed.
pub fn execute(store: &Store, plan: &PrunePlan) -> Result<u64> {
    for path in &plan.entries {
        remove(path)?;
    }
    sync_dir_quietly(&store.root().join("layers"));
    let mut freed = 0;
    for (digest, size) in &plan.blobs {
        remove(&store.blob_path(digest))?;
        freed += size;
    }
    sync_dir_quietly(&store.root().join("blobs").join("sha256"));
    Ok(freed)
}

fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Io {
            action: "remove",
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// A directory's entries made durable; a failure only weakens the crash guarantee of this
/// one step (the next prune finishes it).
fn sync_dir_quietly(dir: &Path) {
    let _ = crate::store::sync_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::LayerDescriptor;

    fn descriptor(digest: &Digest) -> LayerDescriptor {
        LayerDescriptor {
            diff_id: digest.clone(),
            digest: digest.clone(),
            size: 1,
            uncompressed_size: 1,
        }
    }

    #[test]
    fn dangling_blobs_go_first_the_cache_with_all_and_nothing_in_use_ever() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let dangling = store.put_bytes(b"nobody names me").unwrap();
        let cached = store.put_bytes(b"a cached layer").unwrap();
        let key = Digest::sha256_of(b"an input key");
        store.cache_layer(&key, &descriptor(&cached)).unwrap();
        let plan = plan(&store, &PruneOptions::default()).unwrap();
        assert_eq!(
            plan.blobs.iter().map(|(d, _)| d).collect::<Vec<_>>(),
            [&dangling]
        );
        assert!(plan.entries.is_empty());
        let all = super::plan(
            &store,
            &PruneOptions {
                all: true,
                ..PruneOptions::default()
            },
        )
        .unwrap();
        assert!(all.blobs.iter().any(|(d, _)| d == &cached));
        assert_eq!(
            all.entries.len(),
            2,
            "the key's entry and the known-layer one"
        );
        execute(&store, &all).unwrap();
        assert!(!store.has_blob(&cached));
        assert!(store.cached_layer(&key).unwrap().is_none());
        assert!(plan_is_empty(&store));
    }

    fn plan_is_empty(store: &Store) -> bool {
        let p = plan(
            store,
            &PruneOptions {
                all: true,
                ..PruneOptions::default()
            },
        )
        .unwrap();
        p.entries.is_empty() && p.blobs.iter().all(|(d, _)| store.has_blob(d))
    }
}
