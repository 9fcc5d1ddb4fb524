//! Cache keys: a sha256 over everything that determines a layer's bytes, built field by
//! field with a length prefix so that no two different field sequences hash alike.
//!
//! [`plan_key`] keys a [`LayerPlan`]: the writer version, the [`LayerSettings`], and for every
//! entry its path, kind, mode, size and content sha256 (symlink target for links). Two plans
//! with the same key produce byte-identical layers, which is what makes the layer cache
//! sound. [`KeyBuilder::new`] keys anything else that stands for a layer's inputs (a base's
//! recipe and lock, an installer's requirements): every key lamina computes goes through this
//! one builder.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::digest::{Digest, Hasher, HashingReader};
use crate::error::{Error, Result};
use crate::filehash::HashIndex;
use crate::plan::{EntryKind, LayerPlan};
use crate::settings::{LayerSettings, WRITER_VERSION};

/// Incremental builder of a cache key.
pub struct KeyBuilder(Hasher);

impl KeyBuilder {
    /// Start a key of `kind` (a name with a version, e.g. `lamina-base-layer/v1`) for layers
    /// written with `settings`; the writer version is always part of it.
    pub fn new(kind: &str, settings: &LayerSettings) -> KeyBuilder {
        let mut k = KeyBuilder::for_plan(settings);
        k.field(kind.as_bytes());
        k
    }

    /// Start the key of a plan's entries.
    pub(crate) fn for_plan(settings: &LayerSettings) -> KeyBuilder {
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
        };
    }

    /// Add one field, length-prefixed.
    pub fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(&(bytes.len() as u64).to_be_bytes());
        self.0.update(bytes);
        self
    }

    /// The finished key.
    pub fn finish(self) -> Digest {
        self.0.finish()
    }
}

/// Deterministic cache key of the layer `plan` would produce with `settings`.
///
/// Reads (streams) every host file to hash it; fails if a file's size changed since it was
/// planned.
pub fn plan_key(plan: &LayerPlan, settings: &LayerSettings) -> Result<Digest> {
    plan_key_with(plan, settings, None)
}

/// [`plan_key`], taking the hashes of unchanged files from `index` instead of reading them.
pub fn plan_key_with(
    plan: &LayerPlan,
    settings: &LayerSettings,
    mut index: Option<&mut HashIndex>,
) -> Result<Digest> {
    let mut key = KeyBuilder::for_plan(settings);
    for (path, kind) in plan.entries() {
        let content = match kind {
            EntryKind::File { source, size, .. } => Some(match index.as_deref_mut() {
                Some(index) => {
                    let meta = std::fs::metadata(source).map_err(Error::io("stat", source))?;
                    if meta.len() != *size {
                        return Err(Error::FileChanged {
                            path: source.clone(),
                            expected: *size,
                        });
                    }
                    index.digest(source, &meta, || hash_file(source, *size))?
                }
                None => hash_file(source, *size)?,
            }),
            EntryKind::Bytes { data, .. } => Some(Digest::sha256_of(data)),
            EntryKind::Dir | EntryKind::SharedDir | EntryKind::Symlink { .. } => None,
        };
        key.entry(path, kind, content.as_ref());
    }
    Ok(key.finish())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_length_prefixed_so_splits_differ() {
        let s = LayerSettings::default();
        let mut a = KeyBuilder::new("k/v1", &s);
        a.field(b"ab").field(b"c");
        let mut b = KeyBuilder::new("k/v1", &s);
        b.field(b"a").field(b"bc");
        assert_ne!(a.finish(), b.finish());
        let other = LayerSettings { mtime: 1, ..s };
        assert_ne!(
            KeyBuilder::new("k/v1", &s).finish(),
            KeyBuilder::new("k/v1", &other).finish(),
            "settings are part of every key"
        );
    }
}
