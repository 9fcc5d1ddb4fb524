//! Remembered content hashes of host files, so proving a big unchanged layer unchanged does
//! not read it: a file whose size, mtime, ctime, inode and device are what they were when it
//! was hashed has the same content (what git's index and BuildKit's content cache rely on).
//!
//! The index is one tab-separated file in the store, loaded per layer key and replaced
//! atomically when it learned something; a missing or damaged index is an empty one. A file
//! modified within two seconds of being hashed is not remembered ("racily clean" in git's
//! words): its mtime might not move on the next edit.

use std::collections::HashMap;
use std::fs::Metadata;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::digest::Digest;
use crate::error::{Error, Result};

/// How recent a modification may be for its hash to be remembered, in nanoseconds.
const RACY_NS: i128 = 2_000_000_000;

/// What stat says of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
    dev: u64,
}

impl Stamp {
    fn of(meta: &Metadata) -> Self {
        Self {
            size: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
            ino: meta.ino(),
            dev: meta.dev(),
        }
    }
}

/// The index of one store.
pub struct HashIndex {
    file: PathBuf,
    entries: HashMap<PathBuf, (Stamp, Digest)>,
    learned: bool,
}

impl HashIndex {
    /// Load the index at `file` (empty if it is missing or unreadable).
    pub fn load(file: &Path) -> Self {
        let entries = std::fs::read_to_string(file)
            .map(|text| text.lines().filter_map(parse_line).collect())
            .unwrap_or_default();
        Self {
            file: file.to_path_buf(),
            entries,
            learned: false,
        }
    }

    /// The sha256 of `source` (whose metadata is `meta`): remembered, or `compute`d and
    /// remembered.
    pub fn digest(
        &mut self,
        source: &Path,
        meta: &Metadata,
        compute: impl FnOnce() -> Result<Digest>,
    ) -> Result<Digest> {
        let stamp = Stamp::of(meta);
        if let Some((known, digest)) = self.entries.get(source) {
            if *known == stamp {
                return Ok(digest.clone());
            }
        }
        let digest = compute()?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        if now - stamp.mtime_ns > RACY_NS {
            self.entries
                .insert(source.to_path_buf(), (stamp, digest.clone()));
            self.learned = true;
        }
        Ok(digest)
    }

    /// Write the index back if it learned anything (atomically; a failure only costs speed).
    pub fn save(&self) -> Result<()> {
        if !self.learned {
            return Ok(());
        }
        let dir = self.file.parent().unwrap_or(Path::new("."));
        let mut tmp =
            tempfile::NamedTempFile::new_in(dir).map_err(Error::io("create temp file in", dir))?;
        let mut out = std::io::BufWriter::new(tmp.as_file_mut());
        for (path, (s, d)) in &self.entries {
            // Paths with a tab or newline cannot be written in this format; they are re-hashed.
            let Some(p) = path.to_str().filter(|p| !p.contains(['\t', '\n'])) else {
                continue;
            };
            writeln!(
                out,
                "{p}\t{}\t{}\t{}\t{}\t{}\t{d}",
                s.size, s.mtime_ns, s.ctime_ns, s.ino, s.dev
            )
            .map_err(Error::io("write", &self.file))?;
        }
        out.flush().map_err(Error::io("write", &self.file))?;
        drop(out);
        tmp.persist(&self.file).map_err(|e| Error::Io {
            action: "replace",
            path: self.file.clone(),
            source: e.error,
        })?;
        Ok(())
    }
}

fn parse_line(line: &str) -> Option<(PathBuf, (Stamp, Digest))> {
    let mut f = line.split('\t');
    let path = PathBuf::from(f.next()?);
    let stamp = Stamp {
        size: f.next()?.parse().ok()?,
        mtime_ns: f.next()?.parse().ok()?,
        ctime_ns: f.next()?.parse().ok()?,
        ino: f.next()?.parse().ok()?,
        dev: f.next()?.parse().ok()?,
    };
    let digest = f.next()?.parse().ok()?;
    Some((path, (stamp, digest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_unchanged_file_is_not_read_again_and_a_changed_one_is() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "one").unwrap();
        // Old enough to be remembered.
        let old = SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let index_file = dir.path().join("hashes.tsv");
        let mut index = HashIndex::load(&index_file);
        let meta = std::fs::metadata(&file).unwrap();
        let d = index
            .digest(&file, &meta, || Ok(Digest::sha256_of(b"one")))
            .unwrap();
        index.save().unwrap();

        let mut again = HashIndex::load(&index_file);
        let remembered = again
            .digest(&file, &meta, || panic!("must not hash an unchanged file"))
            .unwrap();
        assert_eq!(remembered, d);

        std::fs::write(&file, "two").unwrap();
        let meta = std::fs::metadata(&file).unwrap();
        let changed = again
            .digest(&file, &meta, || Ok(Digest::sha256_of(b"two")))
            .unwrap();
        assert_ne!(changed, d);
        // Just modified: racily clean, so not remembered.
        assert!(!again.learned);
    }
}
