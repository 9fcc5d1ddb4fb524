//! The vocabulary shared by the layer writer, its cache keys and the store: the settings that
//! change a layer's bytes, the writer's version, and the descriptor of a written layer. A leaf
//! module: it imports nothing else of this crate but [`crate::digest`]. The media types an
//! image is written with ([`ManifestFormat`]) live here too.

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// Identifies the tar dialect and gzip backend; part of every input key, so changing how layers
/// are written (and thus their digests) invalidates the cache. Bump on any output change.
pub const WRITER_VERSION: &str =
    "lamina-layer/4 tar=gnu gzip=flate2-zlib-rs blocks=128k+dict noise=stored";

/// Default gzip level: 1, the fastest, matching the `pigz -1` throughput target. The compressed
/// digest depends on it (only the diffID is level-independent).
pub const DEFAULT_GZIP_LEVEL: u32 = 1;

/// Knobs that change a layer's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerSettings {
    /// mtime of every entry: `SOURCE_DATE_EPOCH`, or 0.
    pub mtime: u64,
    /// gzip level 0–9 (default [`DEFAULT_GZIP_LEVEL`]).
    pub gzip_level: u32,
}

impl Default for LayerSettings {
    fn default() -> Self {
        LayerSettings {
            mtime: 0,
            gzip_level: DEFAULT_GZIP_LEVEL,
        }
    }
}

/// What a manifest and config need to know about a written layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerDescriptor {
    /// sha256 of the uncompressed tar (goes into the config's `rootfs.diff_ids`).
    pub diff_id: Digest,
    /// sha256 of the gzip blob (the manifest's layer digest and the blob's file name).
    pub digest: Digest,
    /// Compressed size in bytes.
    pub size: u64,
    /// Uncompressed tar size in bytes (counts toward Lambda's 10 GiB limit).
    pub uncompressed_size: u64,
}

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image config media type.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI gzip layer media type.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Docker v2 schema 2 manifest media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker image config media type.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker gzip layer media type (the only Docker layer type Lambda accepts, reference §1).
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Which media types an image's manifest, config and layers carry. Never mixed: an image on a
/// Docker-typed base (AWS's base images are) is Docker-typed throughout, as ko does, since
/// some registries refuse mixed types (reference §1, "Don't mix").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ManifestFormat {
    /// OCI image-spec types (lamina's own bases).
    #[default]
    Oci,
    /// Docker v2 schema 2 types.
    Docker,
}

impl ManifestFormat {
    /// The format of a stored manifest (no media type means OCI).
    pub fn of(manifest: &oci_spec::image::ImageManifest) -> Self {
        match manifest.media_type().as_ref().map(ToString::to_string) {
            Some(t) if t == DOCKER_MANIFEST => Self::Docker,
            _ => Self::Oci,
        }
    }

    /// (manifest, config, gzip layer) media types.
    pub fn media_types(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Oci => (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP),
            Self::Docker => (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER_GZIP),
        }
    }
}
