//! The vocabulary shared by the layer writer, its cache keys and the store: the settings that
//! change a layer's bytes, the writer's version, and the descriptor of a written layer. A leaf
//! module: it imports nothing else of this crate but [`crate::digest`].

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// Identifies the tar dialect and gzip backend; part of every input key, so changing how layers
/// are written (and thus their digests) invalidates the cache. Bump on any output change.
pub const WRITER_VERSION: &str = "lamina-layer/2 tar=gnu gzip=flate2-zlib-rs";

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
