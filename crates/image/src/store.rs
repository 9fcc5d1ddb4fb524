//! The local content-addressed store (`~/.cache/lamina` by default).
//!
//! Layout under the root:
//! - `blobs/sha256/<hex>`: every blob (layers, configs, manifests), named by its digest;
//! - `tmp/`: temp files, on the same filesystem so finished blobs are renamed into place;
//! - `layers/<key hex>.json`: layer cache, input key → [`LayerDescriptor`];
//! - `refs/<name>`: tag → manifest digest (`/` and `:` in the name are percent-encoded).
//!
//! Every write is a temp file + fsync + rename, so readers never see a partial blob or entry.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::digest::{Digest, HashingWriter};
use crate::error::{Error, Result};
use crate::reference::Reference;
use crate::sweep;

/// Start of the store's temporary file names (then `<pid>-`).
const TEMP_PREFIX: &str = ".blob-";
use crate::key::KeyBuilder;
use crate::settings::{LayerDescriptor, LayerSettings};

/// A content-addressed blob store with a layer cache and named refs.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Open (creating if needed) a store at `root`.
    pub fn open(root: &Path) -> Result<Self> {
        let store = Store {
            root: root.to_path_buf(),
        };
        for dir in [
            store.blobs_dir(),
            store.tmp_dir(),
            store.root.join("layers"),
            store.root.join("refs"),
        ] {
            fs::create_dir_all(&dir).map_err(Error::io("create directory", &dir))?;
        }
        // Blobs half-written by a build that was killed: nothing references them.
        let swept = sweep::sweep_dead(&store.tmp_dir(), TEMP_PREFIX);
        if swept > 0 {
            tracing::info!(swept, "removed temporary files left by interrupted builds");
        }
        Ok(store)
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with digest `d` lives (whether or not it exists).
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.blobs_dir().join(d.hex())
    }

    /// True if the blob is present.
    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    /// Size of the blob on disk, or None if it is absent.
    pub fn blob_len(&self, d: &Digest) -> Option<u64> {
        fs::metadata(self.blob_path(d))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    /// Open a blob for streaming, with a clear error if it is missing.
    pub fn open_blob(&self, d: &Digest) -> Result<File> {
        let path = self.blob_path(d);
        File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::BlobMissing {
                digest: d.clone(),
                path: path.clone(),
            },
            _ => Error::Io {
                action: "open",
                path: path.clone(),
                source: e,
            },
        })
    }

    /// Read a small blob (manifest, config) whole, refusing more than `max` bytes, and verify its digest.
    pub fn read_small_blob(&self, d: &Digest, max: u64, what: &str) -> Result<Vec<u8>> {
        let path = self.blob_path(d);
        let mut data = Vec::new();
        self.open_blob(d)?
            .take(max + 1)
            .read_to_end(&mut data)
            .map_err(Error::io("read", &path))?;
        if data.len() as u64 > max {
            return Err(Error::UnsupportedManifest {
                digest: d.clone(),
                reason: format!("{what} is larger than {max} bytes; it is probably not a {what}"),
            });
        }
        let actual = Digest::sha256_of(&data);
        if &actual != d {
            return Err(Error::DigestMismatch {
                what: format!("{what} blob {}", path.display()),
                expected: d.clone(),
                actual,
                fix: crate::error::FIX_STORE,
            });
        }
        Ok(data)
    }

    /// Store a small in-memory blob atomically; returns its digest. Idempotent.
    pub fn put_bytes(&self, data: &[u8]) -> Result<Digest> {
        let digest = Digest::sha256_of(data);
        if self.has_blob(&digest) {
            return Ok(digest);
        }
        let tmp = self.synced_temp(data)?;
        self.commit_temp(tmp, &digest)?;
        Ok(digest)
    }

    /// Stream `reader` into the store as one blob (`what` names the source in errors),
    /// hashing as it goes; refuses bytes that do not hash to `expected` when given. Returns the
    /// digest and size.
    pub fn put_reader(
        &self,
        reader: impl Read,
        expected: Option<&Digest>,
        what: &str,
    ) -> Result<(Digest, u64)> {
        let tmp = self.temp_file()?;
        let tmp_path = tmp.path().to_path_buf();
        let mut out = HashingWriter::new(io::BufWriter::with_capacity(1 << 20, tmp.as_file()));
        let mut reader = reader;
        io::copy(&mut reader, &mut out).map_err(|e| Error::Io {
            action: "copy into the store from",
            path: PathBuf::from(what),
            source: e,
        })?;
        let (buffered, digest, size) = out.finish();
        buffered
            .into_inner()
            .map_err(|e| Error::io("write", &tmp_path)(e.into_error()))?;
        if let Some(want) = expected.filter(|w| *w != &digest) {
            return Err(Error::DigestMismatch {
                what: what.to_owned(),
                expected: want.clone(),
                actual: digest,
                fix: crate::error::FIX_INPUT,
            });
        }
        tmp.as_file()
            .sync_all()
            .map_err(Error::io("sync", &tmp_path))?;
        self.commit_temp(tmp, &digest)?;
        Ok((digest, size))
    }

    /// A new temp folder in `root/tmp` (swept like temp files when its process is gone).
    pub fn temp_dir(&self) -> Result<tempfile::TempDir> {
        let dir = self.tmp_dir();
        tempfile::Builder::new()
            .prefix(&sweep::own_prefix(TEMP_PREFIX))
            .tempdir_in(&dir)
            .map_err(Error::io("create temp folder in", &dir))
    }

    /// A new temp file in `root/tmp` (same filesystem as the blobs); deleted if dropped uncommitted.
    pub fn temp_file(&self) -> Result<NamedTempFile> {
        let dir = self.tmp_dir();
        tempfile::Builder::new()
            .prefix(&sweep::own_prefix(TEMP_PREFIX))
            .tempfile_in(&dir)
            .map_err(Error::io("create temp file in", &dir))
    }

    /// Move a finished, synced temp file into place as the blob `expected`.
    ///
    /// The caller vouches that the content hashes to `expected` (it computed the digest while
    /// writing). If the blob already exists the temp file is discarded.
    pub fn commit_temp(&self, tmp: NamedTempFile, expected: &Digest) -> Result<()> {
        let dest = self.blob_path(expected);
        if dest.is_file() {
            return Ok(());
        }
        tmp.persist(&dest).map_err(|e| Error::Io {
            action: "move blob into",
            path: dest.clone(),
            source: e.error,
        })?;
        sync_dir(&self.blobs_dir())
    }

    /// The cached descriptor of a layer by input key, if any.
    pub fn cached_layer(&self, key: &Digest) -> Result<Option<LayerDescriptor>> {
        let path = self.layer_entry_path(key);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::Io {
                    action: "read layer cache entry",
                    path,
                    source: e,
                })
            }
        };
        match serde_json::from_slice(&data) {
            Ok(desc) => {
                // The entry's time is its last use: what `lamina prune --older-than` and
                // `--keep-storage` go by (losing it costs only an earlier prune).
                if let Ok(f) = fs::File::options().write(true).open(&path) {
                    let _ = f.set_modified(std::time::SystemTime::now());
                }
                Ok(Some(desc))
            }
            Err(e) => {
                // A corrupt entry is a miss: the layer is rewritten and the entry replaced.
                tracing::warn!(path = %path.display(), error = %e, "ignoring corrupt layer cache entry");
                Ok(None)
            }
        }
    }

    /// Every layer cache entry (input key → descriptor) whose layer is one of `digests`: what
    /// a shared cache exports for an image.
    pub fn cached_layers_for(
        &self,
        digests: &std::collections::HashSet<Digest>,
    ) -> Result<Vec<(Digest, LayerDescriptor)>> {
        let dir = self.root.join("layers");
        let mut out = Vec::new();
        let entries = fs::read_dir(&dir).map_err(Error::io("list", &dir))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(hex) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            let Ok(key) = format!("sha256:{hex}").parse::<Digest>() else {
                continue;
            };
            if let Some(desc) = self.cached_layer(&key)? {
                if digests.contains(&desc.digest) && key != known_layer_key(&desc.digest) {
                    out.push((key, desc));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Record a layer's descriptor under its input key (and by its blob digest, see
    /// [`Store::known_layer`]).
    pub fn cache_layer(&self, key: &Digest, desc: &LayerDescriptor) -> Result<()> {
        let data = serde_json::to_vec(desc).map_err(|e| Error::Json {
            what: "layer cache entry".into(),
            source: e,
        })?;
        self.write_atomic(&self.layer_entry_path(key), &data)?;
        let known = known_layer_key(&desc.digest);
        let by_digest = self.layer_entry_path(&known);
        if *key != known && !by_digest.exists() {
            self.write_atomic(&by_digest, &data)?;
        }
        Ok(())
    }

    /// What the store knows of the layer blob `digest` without reading it (its diffID and
    /// uncompressed size), as recorded by [`Store::remember_layer`] or whenever a
    /// descriptor with that digest was cached; `None` if nothing is recorded.
    pub fn known_layer(&self, digest: &Digest) -> Result<Option<LayerDescriptor>> {
        Ok(self
            .cached_layer(&known_layer_key(digest))?
            .filter(|d| d.digest == *digest))
    }

    /// Record what was learnt of a stored layer blob, by its digest.
    pub fn remember_layer(&self, desc: &LayerDescriptor) -> Result<()> {
        self.cache_layer(&known_layer_key(&desc.digest), desc)
    }

    /// A small derived record (`kind`: what it is, e.g. `layer-scan-v1`) cached under `key`,
    /// such as what a check learnt from reading a layer; `None` when there is none.
    pub fn fact(&self, kind: &str, key: &Digest) -> Option<Vec<u8>> {
        fs::read(self.fact_path(kind, key)).ok()
    }

    /// Record a derived fact (written atomically; losing it costs only a re-read).
    pub fn set_fact(&self, kind: &str, key: &Digest, data: &[u8]) -> Result<()> {
        let path = self.fact_path(kind, key);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(Error::io("create directory", dir))?;
        }
        self.write_atomic(&path, data)
    }

    fn fact_path(&self, kind: &str, key: &Digest) -> PathBuf {
        self.root
            .join("facts")
            .join(kind)
            .join(format!("{}.json", key.hex()))
    }

    /// Point a tagged reference (`calculator:latest`) at a manifest. A reference by digest
    /// names its manifest already and cannot be pointed anywhere.
    pub fn set_ref(&self, reference: &Reference, manifest: &Digest) -> Result<()> {
        let path = self.ref_path(reference)?;
        self.write_atomic(&path, format!("{manifest}\n").as_bytes())
    }

    /// The manifest a reference names in this store, if any: the tag's target, or for
    /// `name@sha256:…` that digest when its blob is here.
    pub fn get_ref(&self, reference: &Reference) -> Result<Option<Digest>> {
        if let Some(d) = reference.digest() {
            return Ok(self.has_blob(d).then(|| d.clone()));
        }
        let path = self.ref_path(reference)?;
        match fs::read_to_string(&path) {
            Ok(s) => Ok(Some(s.trim().parse::<Digest>()?)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Io {
                action: "read ref",
                path,
                source: e,
            }),
        }
    }

    /// When a tag was last pointed at its manifest (its file's time).
    pub fn ref_modified(&self, reference: &Reference) -> Option<std::time::SystemTime> {
        let path = self.ref_path(reference).ok()?;
        fs::metadata(path).and_then(|m| m.modified()).ok()
    }

    /// Remove a tag (its blobs stay for `lamina prune`); `false` when there was none.
    pub fn remove_ref(&self, reference: &Reference) -> Result<bool> {
        let path = self.ref_path(reference)?;
        match fs::remove_file(&path) {
            Ok(()) => {
                sync_dir(&self.root.join("refs"))?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::Io {
                action: "remove ref",
                path,
                source: e,
            }),
        }
    }

    /// All tags in the store with their manifests, sorted by name.
    pub fn list_refs(&self) -> Result<Vec<(String, Digest)>> {
        let dir = self.root.join("refs");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(Error::io("list directory", &dir))? {
            let entry = entry.map_err(Error::io("list directory", &dir))?;
            let Some(file) = entry.file_name().to_str().map(decode_ref) else {
                continue;
            };
            if file.starts_with('.') {
                continue;
            }
            let Ok(reference) = Reference::parse(&file) else {
                continue;
            };
            if let Some(d) = self.get_ref(&reference)? {
                out.push((file, d));
            }
        }
        out.sort();
        Ok(out)
    }

    fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    /// The store's index of remembered file hashes ([`crate::filehash`]).
    pub fn hash_index(&self) -> crate::filehash::HashIndex {
        crate::filehash::HashIndex::load(&self.root.join("file-hashes.tsv"))
    }

    /// Remove this process's temporary files (when told to stop mid-build).
    pub fn remove_own_temp_files(&self) -> usize {
        sweep::remove_own(&self.tmp_dir(), TEMP_PREFIX)
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn layer_entry_path(&self, key: &Digest) -> PathBuf {
        self.root.join("layers").join(format!("{}.json", key.hex()))
    }

    /// A tag's file: its familiar form (`calculator:latest`) with `/` and `:` escaped.
    fn ref_path(&self, reference: &Reference) -> Result<PathBuf> {
        if reference.digest().is_some() || reference.tag().is_none() {
            return Err(Error::InvalidReference {
                name: reference.to_string(),
                reason: "only a tag can be set in the store; use name:tag".into(),
            });
        }
        let full = reference.to_string();
        Ok(self
            .root
            .join("refs")
            .join(full.replace('/', "%2F").replace(':', "%3A")))
    }

    /// `data` in a new temp file of the store, synced to disk, ready to be renamed into place.
    fn synced_temp(&self, data: &[u8]) -> Result<NamedTempFile> {
        let mut tmp = self.temp_file()?;
        let tmp_path = tmp.path().to_path_buf();
        tmp.write_all(data).map_err(Error::io("write", &tmp_path))?;
        tmp.as_file()
            .sync_all()
            .map_err(Error::io("sync", &tmp_path))?;
        Ok(tmp)
    }

    fn write_atomic(&self, path: &Path, data: &[u8]) -> Result<()> {
        let tmp = self.synced_temp(data)?;
        tmp.persist(path).map_err(|e| Error::Io {
            action: "replace",
            path: path.to_path_buf(),
            source: e.error,
        })?;
        Ok(())
    }
}

fn decode_ref(file: &str) -> String {
    file.replace("%2F", "/").replace("%3A", ":")
}

/// fsync a directory so a rename into it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(Error::io("sync directory", dir))
}

/// Kind and version of the key under which a stored layer's descriptor is kept by its blob
/// digest (the layer cache's own folder; an input key can never equal it).
const KNOWN_LAYER_KEY: &str = "lamina-stored-layer/v1";

fn known_layer_key(digest: &Digest) -> Digest {
    let mut k = KeyBuilder::new(KNOWN_LAYER_KEY, &LayerSettings::default());
    k.field(digest.as_str().as_bytes());
    k.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_bytes_is_content_addressed_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let d = store.put_bytes(b"{}").unwrap();
        assert_eq!(d, Digest::sha256_of(b"{}"));
        assert_eq!(fs::read(store.blob_path(&d)).unwrap(), b"{}");
        assert_eq!(store.put_bytes(b"{}").unwrap(), d);
        assert_eq!(store.read_small_blob(&d, 10, "test").unwrap(), b"{}");
        assert!(
            fs::read_dir(dir.path().join("tmp"))
                .unwrap()
                .next()
                .is_none(),
            "temp files left behind"
        );
    }

    #[test]
    fn corrupt_blob_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let d = store.put_bytes(b"original").unwrap();
        fs::write(store.blob_path(&d), b"tampered").unwrap();
        assert!(matches!(
            store.read_small_blob(&d, 100, "test"),
            Err(Error::DigestMismatch { .. })
        ));
        let missing = Digest::sha256_of(b"nope");
        assert!(matches!(
            store.open_blob(&missing),
            Err(Error::BlobMissing { .. })
        ));
    }

    #[test]
    fn refs_round_trip_and_default_to_latest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let d = Digest::sha256_of(b"m");
        let r = |s: &str| Reference::parse(s).unwrap();
        store.set_ref(&r("calculator"), &d).unwrap();
        store.set_ref(&r("localhost:5000/team/app:v1"), &d).unwrap();
        assert_eq!(
            store.get_ref(&r("calculator:latest")).unwrap(),
            Some(d.clone())
        );
        assert_eq!(store.get_ref(&r("other:latest")).unwrap(), None);
        let names: Vec<String> = store
            .list_refs()
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["calculator:latest", "localhost:5000/team/app:v1"]);
        let by_digest = r(&format!("calculator@{d}"));
        assert!(matches!(
            store.set_ref(&by_digest, &d),
            Err(Error::InvalidReference { .. })
        ));
        assert_eq!(
            store.get_ref(&by_digest).unwrap(),
            None,
            "no such blob here"
        );
    }
}
