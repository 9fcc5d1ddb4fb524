//! Unpacking a `.deb` into a root filesystem directory, without dpkg and without a daemon.
//!
//! A `.deb` is an `ar` archive holding `data.tar.{xz,zst,gz}` (or a plain `data.tar`);
//! its entries are streamed into the rootfs. Maintainer scripts never run (see
//! [`super::post`] for what replaces them). On the way in, each entry is:
//! - refused when it would escape the root (`..`, or absolute once `./` is stripped);
//! - moved under `usr/` when it sits in a top-level `bin`, `sbin`, `lib*` (usr-merge;
//!   the top-level symlinks themselves are made by [`super::rootfs`]);
//! - left out when a recipe `drop` prefix matches and no `keep` pattern does;
//! - skipped with a debug log when it is a device node or FIFO.
//!
//! Paths are resolved inside the root as if it were `/`: a symlink met on the way is
//! followed within the root, never on the host. Hard links get a copy of their target's
//! content. Ownership and timestamps are not kept: the layer writer normalises them.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::error::{io_err, Error, Result};

/// Bumped whenever unpacking or post-steps change what a rootfs contains; part of the
/// rootfs cache key.
pub(crate) const UNPACKER_VERSION: u32 = 2;

/// Top-level directories that live under `/usr` on a merged-usr system.
const MERGED: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32", "libo32"];

/// Symlinks followed while resolving one path before giving up (as Linux's ELOOP).
const MAX_LINK_HOPS: u32 = 40;

/// Which paths a recipe leaves out of the rootfs.
pub(crate) struct Filter<'a> {
    /// Prefixes to drop; one ending in `/` matches that directory and everything in it.
    pub drop: &'a [String],
    /// Exceptions: patterns where `*` matches exactly one path component.
    pub keep: &'a [String],
}

impl Filter<'_> {
    /// True when `rel` (normalised, `/`-separated, no trailing slash) is left out.
    pub(crate) fn excludes(&self, rel: &str) -> bool {
        let as_dir = format!("{rel}/");
        let dropped = self
            .drop
            .iter()
            .any(|p| rel.starts_with(p.as_str()) || as_dir == *p);
        dropped
            && !self
                .keep
                .iter()
                .any(|pattern| glob_components(pattern, rel))
    }
}

fn glob_components(pattern: &str, path: &str) -> bool {
    let (mut p, mut s) = (pattern.split('/'), path.split('/'));
    loop {
        match (p.next(), s.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == "*" || a == b => {}
            _ => return false,
        }
    }
}

/// Counts for progress reporting.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Stats {
    /// Entries written (files, directories, links).
    pub entries: u64,
    /// Bytes of regular-file content written.
    pub bytes: u64,
}

/// Streams the data archive of `deb` into `root`.
pub(crate) fn unpack_deb(deb: &Path, root: &Path, filter: &Filter<'_>) -> Result<Stats> {
    let bad = |reason: String| Error::BadDeb {
        deb: deb.to_owned(),
        reason,
    };
    let file = File::open(deb).map_err(io_err("open", deb))?;
    let mut archive = ar::Archive::new(io::BufReader::new(file));
    while let Some(entry) = archive.next_entry() {
        let entry = entry.map_err(|e| bad(format!("ar archive: {e}")))?;
        let name = String::from_utf8_lossy(entry.header().identifier())
            .trim_end_matches('/')
            .to_owned();
        let reader: Box<dyn Read + '_> = match name.as_str() {
            "data.tar.xz" => Box::new(xz2::read::XzDecoder::new(entry)),
            "data.tar.zst" => Box::new(
                zstd::stream::read::Decoder::new(entry).map_err(|e| bad(format!("zstd: {e}")))?,
            ),
            "data.tar.gz" => Box::new(flate2::read::GzDecoder::new(entry)),
            "data.tar" => Box::new(entry),
            n if n.starts_with("data.tar") => return Err(bad(format!("unsupported member `{n}`"))),
            _ => continue,
        };
        return unpack_tar(reader, deb, root, filter);
    }
    Err(bad("no data.tar member".to_owned()))
}

fn unpack_tar(reader: impl Read, deb: &Path, root: &Path, filter: &Filter<'_>) -> Result<Stats> {
    let bad = |reason: String| Error::BadDeb {
        deb: deb.to_owned(),
        reason,
    };
    let mut stats = Stats::default();
    let mut archive = tar::Archive::new(reader);
    for entry in archive
        .entries()
        .map_err(|e| bad(format!("data.tar: {e}")))?
    {
        let mut entry = entry.map_err(|e| bad(format!("data.tar: {e}")))?;
        let raw = entry
            .path()
            .map_err(|e| bad(format!("entry path: {e}")))?
            .into_owned();
        let shown = raw.display().to_string();
        let unsafe_entry = |reason| Error::UnsafeEntry {
            deb: deb.to_owned(),
            entry: shown.clone(),
            reason,
        };
        let Some(rel) = normalise(&raw).map_err(unsafe_entry)? else {
            continue;
        };
        let rel_str = rel.to_string_lossy().into_owned();
        if filter.excludes(&rel_str) {
            continue;
        }
        let kind = entry.header().entry_type();
        let mode = entry
            .header()
            .mode()
            .map_err(|e| bad(format!("mode of `{shown}`: {e}")))?
            & 0o7777;
        use tar::EntryType as T;
        match kind {
            T::Directory => {
                let dir = resolve_in_root(root, &rel, true)
                    .map_err(io_err("resolve", root.join(&rel)))?;
                fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
                set_mode(&dir, mode | 0o700)?;
            }
            T::Regular | T::Continuous => {
                let dest = prepare_dest(root, &rel)?;
                let mut out = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&dest)
                    .map_err(io_err("create file", &dest))?;
                stats.bytes += io::copy(&mut entry, &mut out).map_err(io_err("write", &dest))?;
                set_mode(&dest, mode | 0o600)?;
            }
            T::Symlink => {
                if rel.components().count() == 1 && MERGED.iter().any(|m| rel == Path::new(m)) {
                    continue; // a package's own /bin -> usr/bin style link; rootfs makes these
                }
                let target = entry
                    .link_name()
                    .map_err(|e| bad(format!("link target of `{shown}`: {e}")))?
                    .ok_or_else(|| bad(format!("symlink `{shown}` has no target")))?;
                let dest = prepare_dest(root, &rel)?;
                std::os::unix::fs::symlink(&target, &dest)
                    .map_err(io_err("create symlink", &dest))?;
            }
            T::Link => {
                let target = entry
                    .link_name()
                    .map_err(|e| bad(format!("hard link target of `{shown}`: {e}")))?
                    .ok_or_else(|| bad(format!("hard link `{shown}` has no target")))?;
                let Some(target_rel) = normalise(&target).map_err(unsafe_entry)? else {
                    continue;
                };
                let src = resolve_in_root(root, &target_rel, true)
                    .map_err(io_err("resolve", root.join(&target_rel)))?;
                if !src.is_file() {
                    tracing::warn!(deb = %deb.display(), entry = %shown, "hard link target is not unpacked (dropped?); skipping");
                    continue;
                }
                let dest = prepare_dest(root, &rel)?;
                stats.bytes +=
                    fs::copy(&src, &dest).map_err(io_err("copy hard link target to", &dest))?;
            }
            T::Char | T::Block | T::Fifo => {
                tracing::debug!(deb = %deb.display(), entry = %shown, "skipping device node or FIFO");
                continue;
            }
            other => {
                tracing::debug!(deb = %deb.display(), entry = %shown, ?other, "skipping unsupported tar entry");
                continue;
            }
        }
        stats.entries += 1;
    }
    Ok(stats)
}

/// Turns an archive path into a rootfs-relative one: strips `./`, refuses `..` and
/// absolute paths, and moves usr-merged top-level directories under `usr/`.
/// `Ok(None)` is the root itself.
pub(crate) fn normalise(raw: &Path) -> std::result::Result<Option<PathBuf>, &'static str> {
    let mut parts: Vec<OsString> = Vec::new();
    for component in raw.components() {
        match component {
            Component::CurDir => {}
            Component::Normal(c) => parts.push(c.to_owned()),
            Component::ParentDir => return Err("climbs out of the root with `..`"),
            Component::RootDir | Component::Prefix(_) => return Err("is an absolute path"),
        }
    }
    let Some(first) = parts.first() else {
        return Ok(None);
    };
    let mut rel = PathBuf::new();
    if MERGED.iter().any(|m| first == *m) {
        rel.push("usr");
    }
    rel.extend(parts);
    Ok(Some(rel))
}

/// Resolves `rel` inside `root` as if `root` were `/`, following symlinks on the way
/// (and the last component too when `follow_last`), clamping `..` at the root.
/// The result is a host path under `root` whose existing components are not symlinks.
pub(crate) fn resolve_in_root(root: &Path, rel: &Path, follow_last: bool) -> io::Result<PathBuf> {
    let mut resolved: Vec<OsString> = Vec::new();
    let mut pending: Vec<OsString> = rel.components().rev().filter_map(component_name).collect();
    let mut hops = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            resolved.pop();
            continue;
        }
        let mut here: PathBuf = root.iter().collect();
        here.extend(&resolved);
        here.push(&name);
        let is_last = pending.is_empty();
        let link = match fs::symlink_metadata(&here) {
            Ok(meta) if meta.file_type().is_symlink() && (follow_last || !is_last) => {
                Some(fs::read_link(&here)?)
            }
            _ => None,
        };
        let Some(target) = link else {
            resolved.push(name);
            continue;
        };
        hops += 1;
        if hops > MAX_LINK_HOPS {
            return Err(io::Error::other(format!(
                "too many levels of symbolic links at {}",
                here.display()
            )));
        }
        if target.is_absolute() {
            resolved.clear();
        }
        pending.extend(target.components().rev().filter_map(component_name));
    }
    let mut out = root.to_path_buf();
    out.extend(resolved);
    Ok(out)
}

fn component_name(c: Component<'_>) -> Option<OsString> {
    match c {
        Component::Normal(n) => Some(n.to_owned()),
        Component::ParentDir => Some("..".into()),
        _ => None,
    }
}

/// Resolves the parent of `rel` inside `root`, creates it, and removes whatever non-directory
/// sits at the destination (a later package replaces an earlier one's file, as dpkg does).
pub(crate) fn prepare_dest(root: &Path, rel: &Path) -> Result<PathBuf> {
    let dest = resolve_in_root(root, rel, false).map_err(io_err("resolve", root.join(rel)))?;
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
    }
    match fs::symlink_metadata(&dest) {
        Ok(meta) if meta.is_dir() => Err(Error::Io {
            action: "replace directory with a file at",
            path: dest,
            source: io::Error::from(io::ErrorKind::IsADirectory),
        }),
        Ok(_) => {
            fs::remove_file(&dest).map_err(io_err("replace", &dest))?;
            Ok(dest)
        }
        Err(_) => Ok(dest),
    }
}

pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(io_err("set permissions on", path))
}

#[cfg(test)]
mod tests;
