//! Lambda's own packages: a deployment ZIP (→ `/var/task`) and layer ZIPs (→ `/opt`, in
//! order, later layers overwriting earlier files, as Lambda merges them; a folder may stand
//! for a layer ZIP, its files copied as the ZIP's would be unpacked), unpacked into a staging
//! folder that then becomes a layer.
//!
//! Every entry is checked before anything is written, and the error names the entry:
//! absolute names and `..` (zip-slip), backslashes, two entries for one path, device files,
//! FIFOs and sockets, and symlinks whose target is absolute or leaves the root. Executable
//! bits come from the entry's Unix mode (the ZIP's external attributes). Contents stream to
//! disk; no entry is held in memory.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use crate::error::{BuildError, Result};

/// File-type bits of a Unix mode.
const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;
/// Longest symlink target read from a ZIP.
const MAX_LINK_TARGET: u64 = 4096;

/// Why an entry is refused.
fn refused(zip: &Path, entry: &str, why: &str) -> BuildError {
    BuildError::ZipEntry {
        zip: zip.to_path_buf(),
        entry: entry.to_owned(),
        why: why.to_owned(),
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The entry's path as clean relative components, or why not.
fn clean_name(name: &str) -> std::result::Result<PathBuf, &'static str> {
    if name.contains('\\') {
        return Err("has a backslash in its name; ZIP names use '/'");
    }
    if name.contains('\0') {
        return Err("has a NUL in its name");
    }
    let path = Path::new(name);
    if path.is_absolute() {
        return Err("is an absolute path; entries must be relative to the ZIP's root");
    }
    let mut clean = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("climbs out of the ZIP's root with '..'"),
            Component::RootDir | Component::Prefix(_) => {
                return Err("is an absolute path; entries must be relative to the ZIP's root")
            }
        }
    }
    Ok(clean)
}

/// Whether a symlink at `at` (relative) pointing to `target` stays inside the root.
fn link_stays_inside(at: &Path, target: &str) -> bool {
    if target.is_empty() || Path::new(target).is_absolute() {
        return false;
    }
    let mut depth: i64 = at.components().count() as i64 - 1;
    for c in Path::new(target).components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

/// Open a ZIP, naming it when it is not there.
fn open(zip: &Path) -> Result<File> {
    File::open(zip).map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            BuildError::ZipMissing(zip.to_path_buf())
        } else {
            BuildError::Io {
                path: zip.to_path_buf(),
                source,
            }
        }
    })
}

/// Copy the folder `from` over `dest` (a folder given as a Lambda layer: its files land in
/// `/opt` as a ZIP of them would): files with their modes, folders, symbolic links as links.
/// An existing file where one goes is replaced (a later layer wins).
pub fn copy_tree(from: &Path, dest: &Path) -> Result<()> {
    fs::create_dir_all(dest).map_err(io_err(dest))?;
    for entry in fs::read_dir(from).map_err(io_err(from))? {
        let entry = entry.map_err(io_err(from))?;
        let source = entry.path();
        let target = dest.join(entry.file_name());
        let kind = entry.file_type().map_err(io_err(&source))?;
        if kind.is_dir() {
            copy_tree(&source, &target)?;
        } else if kind.is_symlink() {
            let link = fs::read_link(&source).map_err(io_err(&source))?;
            let _ = fs::remove_file(&target);
            std::os::unix::fs::symlink(&link, &target).map_err(io_err(&target))?;
        } else {
            let _ = fs::remove_file(&target);
            fs::copy(&source, &target).map_err(io_err(&source))?;
        }
    }
    Ok(())
}

/// The sha256 of a ZIP file, streamed.
pub fn digest(zip: &Path) -> Result<lamina_image::Digest> {
    let file = open(zip)?;
    let mut reader = lamina_image::HashingReader::new(io::BufReader::with_capacity(1 << 20, file));
    io::copy(&mut reader, &mut io::sink()).map_err(io_err(zip))?;
    Ok(reader.finish().1)
}

/// Unpack `zip` over `dest`: checks every entry first, then writes. An existing file where
/// an entry goes is replaced (a later layer wins).
pub fn unpack(zip: &Path, dest: &Path) -> Result<()> {
    let file = open(zip)?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| BuildError::ZipUnreadable {
        zip: zip.to_path_buf(),
        reason: e.to_string(),
    })?;
    let unreadable = |e: zip::result::ZipError| BuildError::ZipUnreadable {
        zip: zip.to_path_buf(),
        reason: e.to_string(),
    };

    // Pass 1: names, kinds and links, before anything is written.
    let mut seen = HashSet::new();
    let mut entries = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(unreadable)?;
        let name = entry.name().to_owned();
        let rel = clean_name(&name).map_err(|why| refused(zip, &name, why))?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        if !seen.insert(rel.clone()) {
            return Err(refused(
                zip,
                &name,
                "appears twice in the ZIP (two entries for one path)",
            ));
        }
        let mode = entry.unix_mode();
        let kind = match mode.map(|m| m & S_IFMT) {
            _ if entry.is_dir() => Kind::Dir,
            Some(S_IFLNK) => {
                let mut target = String::new();
                io::Read::read_to_string(
                    &mut io::Read::take(&mut entry, MAX_LINK_TARGET),
                    &mut target,
                )
                .map_err(|_| refused(zip, &name, "is a symlink whose target is not UTF-8 text"))?;
                if !link_stays_inside(&rel, &target) {
                    return Err(refused(
                        zip,
                        &name,
                        &format!("is a symlink to `{target}`, which is outside the ZIP's root"),
                    ));
                }
                Kind::Link(target)
            }
            None | Some(0) | Some(S_IFREG) => Kind::File {
                executable: mode.is_some_and(|m| m & 0o111 != 0),
            },
            Some(S_IFDIR) => Kind::Dir,
            Some(_) => {
                return Err(refused(
                    zip,
                    &name,
                    "is a device file, FIFO or socket, which a Lambda package cannot hold",
                ))
            }
        };
        entries.push((i, rel, kind));
    }
    // Parents must not be symlinks another entry writes through.
    let links: HashSet<&PathBuf> = entries
        .iter()
        .filter(|(_, _, k)| matches!(k, Kind::Link(_)))
        .map(|(_, p, _)| p)
        .collect();
    for (_, rel, _) in &entries {
        if rel
            .ancestors()
            .skip(1)
            .any(|a| links.contains(&a.to_path_buf()))
        {
            return Err(refused(
                zip,
                &rel.to_string_lossy(),
                "is inside a symlinked folder of the same ZIP",
            ));
        }
    }

    // Pass 2: write.
    for (i, rel, kind) in entries {
        let out = dest.join(&rel);
        if let Some(parent) = out.parent() {
            make_dir(parent)?;
        }
        match kind {
            Kind::Dir => make_dir(&out)?,
            Kind::Link(target) => {
                remove_existing(&out)?;
                std::os::unix::fs::symlink(&target, &out).map_err(io_err(&out))?;
            }
            Kind::File { executable } => {
                remove_existing(&out)?;
                let mut entry = archive.by_index(i).map_err(unreadable)?;
                let mut f = File::create(&out).map_err(io_err(&out))?;
                io::copy(&mut entry, &mut f).map_err(|e| BuildError::ZipUnreadable {
                    zip: zip.to_path_buf(),
                    reason: format!("entry {}: {e}", rel.display()),
                })?;
                let mode = if executable { 0o755 } else { 0o644 };
                fs::set_permissions(&out, fs::Permissions::from_mode(mode))
                    .map_err(io_err(&out))?;
            }
        }
    }
    Ok(())
}

enum Kind {
    Dir,
    File { executable: bool },
    Link(String),
}

/// A folder, replacing a file or link of that name (a later layer wins).
fn make_dir(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => fs::remove_file(path).map_err(io_err(path))?,
        Err(_) => {}
    }
    fs::create_dir_all(path).map_err(io_err(path))
}

/// Make room for a file or link: whatever is at `path` goes.
fn remove_existing(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).map_err(io_err(path)),
        Ok(_) => fs::remove_file(path).map_err(io_err(path)),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests;
