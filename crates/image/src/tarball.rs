//! Deterministic tar entries shared by the layer writer and the docker-archive writer.
//!
//! Every header is built here, field by field (reference §6): GNU format, uid/gid 0, empty
//! uname/gname, the given mode and mtime, no atime/ctime, no xattrs. Long paths and link
//! targets go through the `tar` crate's GNU `L`/`K` records; sizes ≥ 8 GiB use base-256.

use std::io::{self, Read, Write};

use tar::{Builder, EntryType, Header};

/// A tar builder configured never to follow symlinks nor write sparse entries.
pub(crate) fn builder<W: Write>(out: W) -> Builder<W> {
    let mut b = Builder::new(out);
    b.follow_symlinks(false);
    b.sparse(false);
    b
}

/// A header with every field set explicitly.
fn header(kind: EntryType, mode: u32, size: u64, mtime: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    h.set_size(size);
    // new_gnu() zero-fills uname/gname, atime/ctime and device numbers: leave them empty.
    h
}

/// Append a directory; `path` has no trailing slash, the entry name gets one.
pub(crate) fn append_dir<W: Write>(
    b: &mut Builder<W>,
    path: &str,
    mode: u32,
    mtime: u64,
) -> io::Result<()> {
    let mut h = header(EntryType::Directory, mode, 0, mtime);
    b.append_data(&mut h, format!("{path}/"), io::empty())
}

/// Append a regular file of exactly `size` bytes read from `data`; returns the bytes copied.
///
/// The caller must check the returned count: the tar crate pads whatever it reads, so a short
/// reader would leave a header that promises more bytes than follow.
pub(crate) fn append_file<W: Write, R: Read>(
    b: &mut Builder<W>,
    path: &str,
    mode: u32,
    size: u64,
    mtime: u64,
    data: R,
) -> io::Result<u64> {
    let mut h = header(EntryType::Regular, mode, size, mtime);
    let mut counted = CountingReader {
        inner: data.take(size),
        count: 0,
    };
    b.append_data(&mut h, path, &mut counted)?;
    Ok(counted.count)
}

/// Append a symlink (mode 0777, size 0).
pub(crate) fn append_symlink<W: Write>(
    b: &mut Builder<W>,
    path: &str,
    target: &str,
    mtime: u64,
) -> io::Result<()> {
    let mut h = header(EntryType::Symlink, 0o777, 0, mtime);
    b.append_link(&mut h, path, target)
}

/// Exact number of bytes an entry occupies in the tar stream (header, long-name records, padded data).
pub(crate) fn entry_len(path_len: usize, link_len: usize, size: u64) -> u64 {
    let long = |n: usize| {
        if n > 100 {
            512 + padded(n as u64 + 1)
        } else {
            0
        }
    };
    512 + long(path_len) + long(link_len) + padded(size)
}

/// Bytes of the two zero blocks that end an archive.
pub(crate) const TRAILER_LEN: u64 = 1024;

fn padded(n: u64) -> u64 {
    n.div_ceil(512) * 512
}

struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_of_8_gib_and_more_use_base_256() {
        let size = (9u64 << 30) + 7;
        let h = header(EntryType::Regular, 0o644, size, 0);
        assert_eq!(h.size().unwrap(), size);
        assert_eq!(h.as_old().size[0] & 0x80, 0x80, "GNU base-256 marker");
        assert!(h.username_bytes().unwrap_or_default().is_empty());
        assert!(h.groupname_bytes().unwrap_or_default().is_empty());
    }

    #[test]
    fn entry_len_matches_the_builder() {
        let long = "d/".repeat(70) + "f";
        for (path, target, size) in [
            ("a", None, 0u64),
            ("b", None, 513),
            (long.as_str(), None, 1),
            ("l", Some(long.as_str()), 0),
        ] {
            let mut b = builder(Vec::new());
            match target {
                Some(t) => append_symlink(&mut b, path, t, 0).unwrap(),
                None => {
                    append_file(&mut b, path, 0o644, size, 0, io::repeat(1)).unwrap();
                }
            }
            let out = b.into_inner().unwrap();
            let link_len = target.map_or(0, str::len);
            assert_eq!(
                out.len() as u64,
                entry_len(path.len(), link_len, size) + TRAILER_LEN,
                "{path}"
            );
        }
    }
}
