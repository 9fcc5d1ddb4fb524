//! docker-archive output: one tar that both `docker load` (any version) and OCI tools read.
//!
//! The dual form of reference §5: an OCI layout (`oci-layout`, `index.json`, `blobs/sha256/…`)
//! plus Docker's `manifest.json` whose `Config` and `Layers` point into `blobs/sha256/`. Layers
//! stay gzip (loaders decompress them). Blobs are streamed from the store into the tar; entries
//! are written with the same deterministic headers as layers, so the archive is reproducible.
//!
//! For a load into a daemon that already holds the image's first layers,
//! [`write_docker_load_archive`] leaves those layers' blobs out: Docker's loader looks each
//! layer up by its chain id and opens the layer file only when the chain is missing (moby
//! `image/tarexport/load.go`, the trick Bazel's `incremental_load` and ko rely on). Such an
//! archive is Docker's `manifest.json` form only — without the OCI `index.json`, whose blobs
//! it no longer all holds.
//!
//! A load may also take layers uncompressed ([`LoadArchive::uncompressed`]): each layer whose
//! diffID and size the store knows ([`Store::known_layer`]) is inflated on the way into the
//! archive as `layers/<digest>.tar`, so a local daemon only unpacks it (Docker 20.10
//! decompresses gzip on one core in Go, which doubles its CPU for a load; the design's "local
//! loads may use uncompressed layers"). That form, too, is Docker's `manifest.json` only.

use std::collections::HashMap;
use std::io::{BufReader, Read, Write};

use serde::Serialize;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::canonical_json;
use crate::oci_layout::{
    image_blobs, index_json, ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME, OCI_LAYOUT_FILE,
};
use crate::reference::Reference;
use crate::store::Store;
use crate::tarball;

/// mtime of every archive entry.
const ARCHIVE_MTIME: u64 = 0;

/// One entry of Docker's `manifest.json`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// What a docker-archive for `docker load` may leave out or change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadArchive {
    /// Leave out the blobs of the first this many layers (the daemon holds that chain).
    pub held_layers: usize,
    /// Send layers uncompressed where the store knows their tar (a daemon on this machine).
    pub uncompressed: bool,
}

impl LoadArchive {
    /// Whether the archive is Docker's `manifest.json` form only (no OCI index).
    fn docker_only(&self) -> bool {
        self.held_layers > 0 || self.uncompressed
    }
}

/// Stream a docker-archive of `manifest` tagged with `refs` (e.g. `calculator:latest`) to `out`.
///
/// Returns `out` once the archive is complete (not flushed beyond what the tar writer does).
pub fn write_docker_archive<W: Write>(
    store: &Store,
    manifest: &Digest,
    refs: &[Reference],
    out: W,
) -> Result<W> {
    write_docker_load_archive(store, manifest, refs, LoadArchive::default(), out)
}

/// Stream a docker-archive for `docker load` shaped by `form` (see [`LoadArchive`]). With the
/// default form it is the full archive of [`write_docker_archive`].
pub fn write_docker_load_archive<W: Write>(
    store: &Store,
    manifest: &Digest,
    refs: &[Reference],
    form: LoadArchive,
    out: W,
) -> Result<W> {
    let blobs = image_blobs(store, manifest)?;
    let blob_path = |d: &Digest| format!("blobs/sha256/{}", d.hex());
    // Layers that go uncompressed: blob digest → uncompressed size.
    let mut expanded: HashMap<Digest, u64> = HashMap::new();
    if form.uncompressed {
        for layer in blobs.layers.iter().skip(form.held_layers) {
            if let Some(known) = store.known_layer(layer)? {
                expanded.insert(layer.clone(), known.uncompressed_size);
            }
        }
    }
    let layer_path = |d: &Digest| {
        if expanded.contains_key(d) {
            format!("layers/{}.tar", d.hex())
        } else {
            blob_path(d)
        }
    };

    let docker_manifest = [DockerManifestEntry {
        config: blob_path(&blobs.config),
        repo_tags: refs.iter().map(Reference::to_string).collect(),
        layers: blobs.layers.iter().map(layer_path).collect(),
    }];
    let annotations = refs
        .iter()
        .map(|r| {
            HashMap::from([
                (ANNOTATION_CONTAINERD_NAME.to_string(), r.qualified()),
                (
                    ANNOTATION_REF_NAME.to_string(),
                    r.tag().unwrap_or(crate::reference::DEFAULT_TAG).to_owned(),
                ),
            ])
        })
        .collect();
    let index = index_json(&blobs, annotations)?;
    let manifest_json = canonical_json(&docker_manifest, "manifest.json")?;

    let archive = std::path::Path::new("docker-archive");
    let tar_err = |e| Error::Io {
        action: "write",
        path: archive.into(),
        source: e,
    };
    let mut tar = tarball::builder(out);
    tarball::append_dir(&mut tar, "blobs", 0o755, ARCHIVE_MTIME).map_err(tar_err)?;
    tarball::append_dir(&mut tar, "blobs/sha256", 0o755, ARCHIVE_MTIME).map_err(tar_err)?;
    if !expanded.is_empty() {
        tarball::append_dir(&mut tar, "layers", 0o755, ARCHIVE_MTIME).map_err(tar_err)?;
    }
    let partial = form.docker_only();
    let sent: std::collections::HashSet<&Digest> = blobs
        .layers
        .iter()
        .skip(form.held_layers)
        .chain([&blobs.config])
        .collect();
    for (digest, size) in &blobs.all {
        if partial && !sent.contains(digest) {
            continue;
        }
        let file = store.open_blob(digest)?;
        let mismatch = |expected, actual| Error::SizeMismatch {
            digest: digest.clone(),
            expected,
            actual,
        };
        if let Some(&tar_size) = expanded.get(digest) {
            let mut tar_stream =
                flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 20, file));
            let n = tarball::append_file(
                &mut tar,
                &layer_path(digest),
                0o644,
                tar_size,
                ARCHIVE_MTIME,
                &mut tar_stream,
            )
            .map_err(tar_err)?;
            // Longer than recorded: the store's record is wrong (Docker would refuse the
            // diffID; say which blob instead).
            let longer = tar_stream.read(&mut [0u8; 1]).map_err(tar_err)? > 0;
            if n != tar_size || longer {
                return Err(mismatch(tar_size, n + u64::from(longer)));
            }
            continue;
        }
        let n = tarball::append_file(
            &mut tar,
            &blob_path(digest),
            0o644,
            *size,
            ARCHIVE_MTIME,
            file,
        )
        .map_err(tar_err)?;
        if n != *size {
            return Err(mismatch(*size, n));
        }
    }
    for (name, data) in [
        ("index.json", &index[..]),
        ("manifest.json", &manifest_json),
        ("oci-layout", OCI_LAYOUT_FILE.as_bytes()),
    ] {
        if partial && name != "manifest.json" {
            continue;
        }
        tarball::append_file(
            &mut tar,
            name,
            0o644,
            data.len() as u64,
            ARCHIVE_MTIME,
            data,
        )
        .map_err(tar_err)?;
    }
    tar.into_inner().map_err(tar_err)
}
