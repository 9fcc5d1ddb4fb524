//! The deterministic streaming layer writer.
//!
//! [`write_layer`] turns a [`LayerPlan`] into a gzip blob in the [`Store`] in one pass:
//! tar → sha256 (diffID) → gzip → sha256 (digest) → temp file → fsync → rename. Memory stays
//! bounded whatever the layer size: file contents are streamed, never buffered whole.
//!
//! Output is byte-identical across runs and machines for the same plan and settings: entries in
//! path-byte order with explicit parents, normalised owner/mode/mtime (see the `tarball` module), and
//! one gzip configuration (flate2's zlib-rs deflate in fixed 128 KiB blocks on every core, see
//! [`crate::pgzip`]; fixed level, no name, mtime 0), the same bytes on any number of cores.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};

use crate::digest::{Digest, HashingReader, HashingWriter};
use crate::error::{Error, Result};
use crate::key::{plan_key_with, KeyBuilder};
use crate::pgzip::ParGzWriter;
use crate::plan::{EntryKind, LayerPlan};
use crate::settings::{LayerDescriptor, LayerSettings};
use crate::store::Store;
use crate::tarball;

/// Size of the buffer between the gzip stream and the temp file.
const FILE_BUFFER: usize = 1 << 20;

/// Write the layer into the store, or return the cached descriptor (`true`) if a layer with the
/// same input key is already there.
///
/// On a miss the layer is cached under the key of what was actually read, so a file edited
/// mid-build never poisons the cache.
pub fn write_layer(
    store: &Store,
    plan: &LayerPlan,
    settings: &LayerSettings,
) -> Result<(LayerDescriptor, bool)> {
    write_layer_reporting(store, plan, settings, &|_, _| {})
}

/// [`write_layer`], telling `report(bytes_written, bytes_total)` of the uncompressed tar
/// after each entry (for a progress bar).
pub fn write_layer_reporting(
    store: &Store,
    plan: &LayerPlan,
    settings: &LayerSettings,
    report: &dyn Fn(u64, u64),
) -> Result<(LayerDescriptor, bool)> {
    if settings.gzip_level > 9 {
        return Err(Error::InvalidSpec(format!(
            "gzip level {} is out of range 0..=9",
            settings.gzip_level
        )));
    }
    let mut index = store.hash_index();
    let key = plan_key_with(plan, settings, Some(&mut index))?;
    if let Err(e) = index.save() {
        tracing::debug!(error = %e, "could not save the file hash index (only speed is lost)");
    }
    if let Some(desc) = cached(store, &key)? {
        return Ok((desc, true));
    }

    let tmp = store.temp_file()?;
    let tmp_path = tmp.path().to_path_buf();
    let file_out = BufWriter::with_capacity(FILE_BUFFER, tmp.as_file());
    let gz = ParGzWriter::new(HashingWriter::new(file_out), settings.gzip_level);
    let mut tar = tarball::builder(HashingWriter::new(gz));

    // A full disk is the store's problem, not the input file's: say so, with the size.
    let full = |e: Error| match e {
        Error::Io { source, .. } if source.kind() == io::ErrorKind::StorageFull => {
            Error::StoreFull {
                store: store.root().to_path_buf(),
                needed: plan.uncompressed_estimate(),
            }
        }
        e => e,
    };
    let total = plan.uncompressed_estimate();
    let progress = |tar: &tar::Builder<HashingWriter<_>>| report(tar.get_ref().count(), total);
    let written_key = write_entries(&mut tar, plan, settings, &progress).map_err(full)?;

    let write_err = |e: io::Error| {
        full(Error::Io {
            action: "write layer to",
            path: tmp_path.clone(),
            source: e,
        })
    };
    let (gz, diff_id, uncompressed_size) = tar.into_inner().map_err(write_err)?.finish();
    let (file_out, digest, size) = gz.finish().map_err(write_err)?.finish();
    file_out
        .into_inner()
        .map_err(|e| write_err(e.into_error()))?;
    tmp.as_file()
        .sync_all()
        .map_err(Error::io("sync", &tmp_path))?;
    store.commit_temp(tmp, &digest)?;

    let desc = LayerDescriptor {
        diff_id,
        digest,
        size,
        uncompressed_size,
    };
    store.cache_layer(&written_key, &desc)?;
    if written_key != key {
        tracing::warn!(
            "layer inputs changed while writing; cached under the key of what was written"
        );
    }
    Ok((desc, false))
}

/// The layer cached under `key`, as long as the store still holds its blob whole.
fn cached(store: &Store, key: &Digest) -> Result<Option<LayerDescriptor>> {
    match store.cached_layer(key)? {
        Some(desc) if store.blob_len(&desc.digest) == Some(desc.size) => {
            tracing::debug!(key = %key, digest = %desc.digest, "layer cache hit");
            // Entries older than `Store::known_layer` are filed by digest on their next use.
            if store.known_layer(&desc.digest)?.is_none() {
                store.remember_layer(&desc)?;
            }
            Ok(Some(desc))
        }
        Some(desc) => {
            tracing::debug!(key = %key, digest = %desc.digest, "cached layer blob missing; rewriting");
            Ok(None)
        }
        None => Ok(None),
    }
}

/// The layer for a key that its caller computes from cheaper inputs than the plan's files
/// (a base's recipe and lock rather than its unpacked rootfs): from the cache when the store
/// still has it, else `plan()` is made, written and recorded under `key` too. Returns whether
/// it came from the cache. Callers build `key` with [`KeyBuilder::new`], never by hand.
pub fn layer_for_key<E: From<Error>>(
    store: &Store,
    key: &Digest,
    settings: &LayerSettings,
    report: &dyn Fn(u64, u64),
    plan: impl FnOnce() -> std::result::Result<LayerPlan, E>,
) -> std::result::Result<(LayerDescriptor, bool), E> {
    if let Some(desc) = cached(store, key)? {
        return Ok((desc, true));
    }
    let (desc, _) = write_layer_reporting(store, &plan()?, settings, report)?;
    store.cache_layer(key, &desc)?;
    Ok((desc, false))
}

/// Write every entry of the plan; returns the input key of what was actually read.
fn write_entries<W: Write>(
    tar: &mut tar::Builder<W>,
    plan: &LayerPlan,
    settings: &LayerSettings,
    progress: &dyn Fn(&tar::Builder<W>),
) -> Result<Digest> {
    let mut key = KeyBuilder::for_plan(settings);
    let mtime = settings.mtime;
    for (path, kind) in plan.entries() {
        let entry_err = |e: io::Error| Error::Io {
            action: "write layer entry",
            path: path.into(),
            source: e,
        };
        let content = match kind {
            EntryKind::Dir | EntryKind::SharedDir => {
                tarball::append_dir(tar, path, kind.mode(), mtime).map_err(entry_err)?;
                None
            }
            EntryKind::Symlink { target } => {
                tarball::append_symlink(tar, path, target, mtime).map_err(entry_err)?;
                None
            }
            EntryKind::Bytes { data, .. } => {
                tarball::append_file(tar, path, kind.mode(), kind.size(), mtime, &data[..])
                    .map_err(entry_err)?;
                Some(Digest::sha256_of(data))
            }
            EntryKind::File { source, size, .. } => {
                let file = File::open(source).map_err(Error::io("open", source))?;
                let mut reader = HashingReader::new(file);
                let n = tarball::append_file(tar, path, kind.mode(), *size, mtime, &mut reader)
                    .map_err(Error::io("read", source))?;
                let (mut file, digest, _) = reader.finish();
                let grew = file
                    .read(&mut [0u8; 1])
                    .map_err(Error::io("read", source))?
                    != 0;
                if n != *size || grew {
                    return Err(Error::FileChanged {
                        path: source.clone(),
                        expected: *size,
                    });
                }
                Some(digest)
            }
        };
        key.entry(path, kind, content.as_ref());
        progress(tar);
    }
    Ok(key.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_grows_or_shrinks_while_writing_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("f");
        for after in ["0123456789abc", "0123"] {
            std::fs::write(&src, "0123456789").unwrap();
            let mut plan = LayerPlan::new();
            plan.add_file("f", &src).unwrap();
            std::fs::write(&src, after).unwrap();
            let mut tar = crate::tarball::builder(Vec::new());
            let err =
                write_entries(&mut tar, &plan, &LayerSettings::default(), &|_| {}).unwrap_err();
            assert!(
                matches!(err, Error::FileChanged { expected: 10, .. }),
                "{err}"
            );
        }
    }

    /// A writer whose disk is full after `room` bytes.
    struct FullDisk {
        room: usize,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::from(io::ErrorKind::StorageFull));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_is_reported_as_such_not_as_an_unreadable_input() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("big");
        std::fs::write(&src, vec![7u8; 200_000]).unwrap();
        let mut plan = LayerPlan::new();
        plan.add_file("big", &src).unwrap();
        let mut tar = crate::tarball::builder(FullDisk { room: 10_000 });
        let err = write_entries(&mut tar, &plan, &LayerSettings::default(), &|_| {}).unwrap_err();
        // What write_layer turns into StoreFull: an I/O error of kind StorageFull.
        assert!(
            matches!(&err, Error::Io { source, .. } if source.kind() == io::ErrorKind::StorageFull),
            "{err}"
        );
        let store = Store::open(&dir.path().join("store")).unwrap();
        let msg = Error::StoreFull {
            store: store.root().to_path_buf(),
            needed: plan.uncompressed_estimate(),
        }
        .to_string();
        assert!(
            msg.contains("no space left") && msg.contains("LAMINA_STORE"),
            "{msg}"
        );
    }

    #[test]
    fn gzip_level_out_of_range_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let settings = LayerSettings {
            mtime: 0,
            gzip_level: 10,
        };
        assert!(matches!(
            write_layer(&store, &LayerPlan::new(), &settings),
            Err(Error::InvalidSpec(_))
        ));
    }
}
