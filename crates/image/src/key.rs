//! Layer input keys: a sha256 over everything that determines a layer's bytes.
//!
//! The key covers the writer version (tar dialect, gzip backend), the [`LayerSettings`], and for
//! every entry its path, kind, mode, size and content sha256 (symlink target for links). Two plans
//! with the same key produce byte-identical layers, which is what makes the layer cache sound.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::digest::{Digest, Hasher, HashingReader};
use crate::error::{Error, Result};
use crate::layer::{LayerSettings, WRITER_VERSION};
use crate::plan::{EntryKind, LayerPlan};

/// Incremental builder of an input key, fed entries in tar order.
pub(crate) struct KeyBuilder(Hasher);

impl KeyBuilder {
    /// Start a key for the given settings.
    pub(crate) fn new(settings: &LayerSettings) -> KeyBuilder {
        let mut k = KeyBuilder(Hasher::new());
        k.field(WRITER_VERSION.as_bytes());
        k.field(&settings.mtime.to_be_bytes());
        k.field(&settings.gzip_level.to_be_bytes());
        k
    }

    /// Add one entry; `content` is the sha256 of a file's bytes (None for dirs and links).
    pub(crate) fn entry(&mut self, path: &str, kind: &EntryKind, content: Option<&Digest>) {
        self.field(path.as_bytes());
        self.field(kind.name().as_bytes());
        self.field(&kind.mode().to_be_bytes());
        self.field(&kind.size().to_be_bytes());
        match (kind, content) {
            (EntryKind::Symlink { target }, _) => self.field(target.as_bytes()),
            (_, Some(d)) => self.field(d.as_str().as_bytes()),
            (_, None) => self.field(b""),
        }
    }

    /// The finished key.
    pub(crate) fn finish(self) -> Digest {
        self.0.finish()
    }

    /// Length-prefixed, so no two different field sequences hash alike.
    fn field(&mut self, bytes: &[u8]) {
        self.0.update(&(bytes.len() as u64).to_be_bytes());
        self.0.update(bytes);
    }
}

impl LayerPlan {
    /// Deterministic cache key of the layer this plan would produce with `settings`.
    ///
    /// Reads (streams) every host file to hash it; fails if a file's size changed since it was planned.
    pub fn input_key(&self, settings: &LayerSettings) -> Result<Digest> {
        let mut key = KeyBuilder::new(settings);
        for (path, kind) in self.entries() {
            let content = match kind {
                EntryKind::File { source, size, .. } => Some(hash_file(source, *size)?),
                EntryKind::Bytes { data, .. } => Some(Digest::sha256_of(data)),
                EntryKind::Dir | EntryKind::SharedDir | EntryKind::Symlink { .. } => None,
            };
            key.entry(path, kind, content.as_ref());
        }
        Ok(key.finish())
    }
}

/// Stream a host file through sha256, insisting it is exactly `size` bytes long.
fn hash_file(source: &Path, size: u64) -> Result<Digest> {
    let file = File::open(source).map_err(Error::io("open", source))?;
    let mut reader = HashingReader::new(file.take(size.saturating_add(1)));
    io::copy(&mut reader, &mut io::sink()).map_err(Error::io("read", source))?;
    let (_, digest, n) = reader.finish();
    if n != size {
        return Err(Error::FileChanged {
            path: source.to_path_buf(),
            expected: size,
        });
    }
    Ok(digest)
}
