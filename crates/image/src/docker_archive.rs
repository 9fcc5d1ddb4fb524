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

use std::collections::HashMap;
use std::io::Write;

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

/// Stream a docker-archive of `manifest` tagged with `refs` (e.g. `calculator:latest`) to `out`.
///
/// Returns `out` once the archive is complete (not flushed beyond what the tar writer does).
pub fn write_docker_archive<W: Write>(
    store: &Store,
    manifest: &Digest,
    refs: &[Reference],
    out: W,
) -> Result<W> {
    write_docker_load_archive(store, manifest, refs, 0, out)
}

/// Stream a docker-archive for `docker load` that leaves out the blobs of the first
/// `held_layers` layers (the daemon holds that chain already). With `held_layers == 0` it is
/// the full archive of [`write_docker_archive`].
pub fn write_docker_load_archive<W: Write>(
    store: &Store,
    manifest: &Digest,
    refs: &[Reference],
    held_layers: usize,
    out: W,
) -> Result<W> {
    let blobs = image_blobs(store, manifest)?;
    let blob_path = |d: &Digest| format!("blobs/sha256/{}", d.hex());

    let docker_manifest = [DockerManifestEntry {
        config: blob_path(&blobs.config),
        repo_tags: refs.iter().map(Reference::to_string).collect(),
        layers: blobs.layers.iter().map(blob_path).collect(),
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
    let partial = held_layers > 0;
    let sent: std::collections::HashSet<&Digest> = blobs
        .layers
        .iter()
        .skip(held_layers)
        .chain([&blobs.config])
        .collect();
    for (digest, size) in &blobs.all {
        if partial && !sent.contains(digest) {
            continue;
        }
        let file = store.open_blob(digest)?;
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
            return Err(Error::SizeMismatch {
                digest: digest.clone(),
                expected: *size,
                actual: n,
            });
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
