//! OCI image layout output: a directory with `oci-layout`, `index.json` and `blobs/sha256/<hex>`
//! (image-spec `image-layout.md`).
//!
//! The layout is assembled in a sibling temp directory and renamed into place, so a reader never
//! sees a half-written layout. Blobs are hardlinked from the store when it is on the same
//! filesystem, else copied (streamed by the kernel).

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use oci_spec::image::{ImageIndexBuilder, ImageManifest, MediaType};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::{canonical_json, descriptor, manifest_media_type, read_manifest};
use crate::store::{sync_dir, Store};

/// Content of the `oci-layout` marker file.
pub const OCI_LAYOUT_FILE: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";
/// Annotation carrying the tag of an index entry.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation containerd (and Docker's containerd store) uses for the full image name.
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";

/// A manifest and the blobs (digest → size) an export must contain, the manifest itself included.
pub struct ImageBlobs {
    /// The parsed manifest.
    pub manifest: ImageManifest,
    /// Manifest digest.
    pub manifest_digest: Digest,
    /// Manifest size.
    pub manifest_size: u64,
    /// Config digest.
    pub config: Digest,
    /// Layer digests in manifest order.
    pub layers: Vec<Digest>,
    /// Every blob, sorted and deduplicated, with its verified on-disk size.
    pub all: BTreeMap<Digest, u64>,
}

/// Load a manifest and check that every blob it names is in the store with the right size.
pub fn image_blobs(store: &Store, manifest_digest: &Digest) -> Result<ImageBlobs> {
    let manifest = read_manifest(store, manifest_digest)?;
    let manifest_size = need_blob(store, manifest_digest, None)?;
    let config = Digest::from_oci(manifest.config().digest())?;
    let mut all = BTreeMap::new();
    all.insert(manifest_digest.clone(), manifest_size);
    all.insert(
        config.clone(),
        need_blob(store, &config, Some(manifest.config().size()))?,
    );
    let mut layers = Vec::new();
    for layer in manifest.layers() {
        let d = Digest::from_oci(layer.digest())?;
        all.insert(d.clone(), need_blob(store, &d, Some(layer.size()))?);
        layers.push(d);
    }
    Ok(ImageBlobs {
        manifest,
        manifest_digest: manifest_digest.clone(),
        manifest_size,
        config,
        layers,
        all,
    })
}

fn need_blob(store: &Store, d: &Digest, expected: Option<u64>) -> Result<u64> {
    let actual = store.blob_len(d).ok_or_else(|| Error::BlobMissing {
        digest: d.clone(),
        path: store.blob_path(d),
    })?;
    match expected {
        Some(expected) if expected != actual => Err(Error::SizeMismatch {
            digest: d.clone(),
            expected,
            actual,
        }),
        _ => Ok(actual),
    }
}

/// `index.json` for the image: one manifest entry per name in `annotations` (or one bare entry).
pub(crate) fn index_json(
    blobs: &ImageBlobs,
    annotations: Vec<HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let media_type = manifest_media_type(&blobs.manifest);
    let mut entries = Vec::new();
    let sets = if annotations.is_empty() {
        vec![HashMap::new()]
    } else {
        annotations
    };
    for set in sets {
        let mut d = descriptor(&media_type, &blobs.manifest_digest, blobs.manifest_size)?;
        if !set.is_empty() {
            d.set_annotations(Some(set));
        }
        entries.push(d);
    }
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(entries)
        .build()?;
    canonical_json(&index, "index.json")
}

/// Write an OCI image layout for `manifest` at `path`, tagging it `ref_name` if given.
///
/// Refuses to replace anything but an empty directory or an existing OCI layout.
pub fn write_oci_layout(
    store: &Store,
    manifest: &Digest,
    path: &Path,
    ref_name: Option<&str>,
) -> Result<()> {
    let blobs = image_blobs(store, manifest)?;
    check_destination(path)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::NotOciLayout { path: path.into() })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(Error::io("create directory", &parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempdir_in(&parent)
        .map_err(Error::io("create temp directory in", &parent))?;

    let blob_dir = tmp.path().join("blobs").join("sha256");
    fs::create_dir_all(&blob_dir).map_err(Error::io("create directory", &blob_dir))?;
    for digest in blobs.all.keys() {
        copy_blob(&store.blob_path(digest), &blob_dir.join(digest.hex()))?;
    }
    let annotations: Vec<HashMap<String, String>> = ref_name
        .map(|r| HashMap::from([(ANNOTATION_REF_NAME.to_string(), r.to_string())]))
        .into_iter()
        .collect();
    write_synced(
        &tmp.path().join("index.json"),
        &index_json(&blobs, annotations)?,
    )?;
    write_synced(&tmp.path().join("oci-layout"), OCI_LAYOUT_FILE.as_bytes())?;
    for dir in [blob_dir.as_path(), tmp.path()] {
        sync_dir(dir)?;
    }

    let staged = tmp.keep();
    let result = swap_into_place(&staged, path, &parent, name);
    if result.is_err() {
        let _ = fs::remove_dir_all(&staged);
    }
    result
}

/// A destination is acceptable if absent, an empty directory, or an OCI layout.
fn check_destination(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Io {
            action: "read metadata of",
            path: path.into(),
            source: e,
        }),
        Ok(meta) if !meta.is_dir() => Err(Error::NotOciLayout { path: path.into() }),
        Ok(_) => {
            let empty = fs::read_dir(path)
                .map_err(Error::io("list directory", path))?
                .next()
                .is_none();
            if empty || path.join("oci-layout").is_file() {
                Ok(())
            } else {
                Err(Error::NotOciLayout { path: path.into() })
            }
        }
    }
}

/// Rename `staged` to `path`, moving an existing layout aside first and deleting it after.
fn swap_into_place(staged: &Path, path: &Path, parent: &Path, name: &str) -> Result<()> {
    let old = if path.exists() {
        let aside = tempfile::Builder::new()
            .prefix(&format!(".{name}.old-"))
            .tempdir_in(parent)
            .map_err(Error::io("create temp directory in", parent))?
            .keep();
        // `aside` is an empty directory, which rename(2) may replace.
        fs::rename(path, &aside).map_err(Error::io("move aside", path))?;
        Some(aside)
    } else {
        None
    };
    fs::rename(staged, path).map_err(Error::io("rename OCI layout into", path))?;
    if let Some(old) = old {
        fs::remove_dir_all(&old).map_err(Error::io("remove old layout", &old))?;
    }
    sync_dir(parent)
}

/// Copy a store blob into an export. Never a hard link: an export is the user's to edit,
/// and an edit through a shared inode would corrupt the store, whose cache then hands the
/// corrupt layer to later builds. `fs::copy` uses `copy_file_range`, which shares extents
/// copy-on-write where the filesystem can (Btrfs, XFS), so the copy is cheap there.
fn copy_blob(src: &Path, dst: &Path) -> Result<()> {
    fs::copy(src, dst).map_err(Error::io("copy blob to", dst))?;
    File::open(dst)
        .and_then(|f| f.sync_all())
        .map_err(Error::io("sync", dst))
}

fn write_synced(path: &Path, data: &[u8]) -> Result<()> {
    fs::write(path, data).map_err(Error::io("write", path))?;
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(Error::io("sync", path))
}
