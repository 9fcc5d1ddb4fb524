//! What goes into a layer: [`LayerPlan`], a sorted map from in-image path to [`EntryKind`].
//!
//! The plan owns path hygiene (relative, no `.`/`..`, no whiteout names), explicit parent
//! directories (inserted automatically, so every ancestor exists before its children) and the
//! safety checks on host trees (no device nodes, FIFOs or sockets; no symlinks that point
//! outside the tree). Writing the plan as a tar is [`crate::layer`]'s job.

use std::collections::btree_map::{self, BTreeMap};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::tarball;

/// Mode of directories and executables in every layer we write.
pub const MODE_EXEC: u32 = 0o755;
/// Mode of non-executable files.
pub const MODE_FILE: u32 = 0o644;
/// Mode of symlinks (what GNU tar and Docker record).
pub const MODE_LINK: u32 = 0o777;
/// Mode of shared scratch directories such as `/tmp`: world-writable with the sticky bit.
/// The one exception to 0755/0644, kept because Docker gives a `/tmp` tmpfs the image's mode
/// for it, so a non-root function could not write to `/tmp` otherwise.
pub const MODE_SHARED_DIR: u32 = 0o1777;

/// One entry of a layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory (mode 0755).
    Dir,
    /// A world-writable sticky directory such as `/tmp` (mode 1777).
    SharedDir,
    /// A regular file streamed from the host at write time.
    File {
        /// Host path to read.
        source: PathBuf,
        /// Size recorded when planned; the writer refuses a file whose size changed.
        size: u64,
        /// Mode 0755 if true, else 0644.
        executable: bool,
    },
    /// A small generated file held in memory.
    Bytes {
        /// The content.
        data: Vec<u8>,
        /// Mode 0755 if true, else 0644.
        executable: bool,
    },
    /// A symbolic link (never followed).
    Symlink {
        /// The link target, verbatim.
        target: String,
    },
}

impl EntryKind {
    /// Short name used in messages and in the cache key.
    pub fn name(&self) -> &'static str {
        match self {
            EntryKind::Dir | EntryKind::SharedDir => "directory",
            EntryKind::File { .. } | EntryKind::Bytes { .. } => "file",
            EntryKind::Symlink { .. } => "symlink",
        }
    }

    /// The normalised tar mode of this entry.
    pub fn mode(&self) -> u32 {
        match self {
            EntryKind::Dir => MODE_EXEC,
            EntryKind::SharedDir => MODE_SHARED_DIR,
            EntryKind::File { executable, .. } | EntryKind::Bytes { executable, .. } => {
                if *executable {
                    MODE_EXEC
                } else {
                    MODE_FILE
                }
            }
            EntryKind::Symlink { .. } => MODE_LINK,
        }
    }

    /// Content size in the tar (0 for dirs and symlinks).
    pub fn size(&self) -> u64 {
        match self {
            EntryKind::File { size, .. } => *size,
            EntryKind::Bytes { data, .. } => data.len() as u64,
            EntryKind::Dir | EntryKind::SharedDir | EntryKind::Symlink { .. } => 0,
        }
    }
}

/// The full content of one layer, keyed by relative path (no leading or trailing `/`).
///
/// Iteration order is byte order of the path, which puts every directory before its
/// children; this is the order the tar is written in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LayerPlan {
    entries: BTreeMap<String, EntryKind>,
}

/// Which symlink targets a tree walk accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LinkPolicy {
    /// Relative targets that stay inside the tree only.
    InsideTree,
    /// Also absolute targets (a base root filesystem).
    AllowAbsolute,
}

impl LayerPlan {
    /// An empty plan.
    pub fn new() -> Self {
        LayerPlan::default()
    }

    /// Entries in tar order.
    pub fn entries(&self) -> btree_map::Iter<'_, String, EntryKind> {
        self.entries.iter()
    }

    /// Number of entries, including inserted parent directories.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if nothing was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Add a directory (and its parents).
    pub fn add_dir(&mut self, path: &str) -> Result<()> {
        self.insert(path, EntryKind::Dir)
    }

    /// Add a world-writable sticky directory such as `/tmp` (mode 1777).
    pub fn add_shared_dir(&mut self, path: &str) -> Result<()> {
        self.insert(path, EntryKind::SharedDir)
    }

    /// Add a host file; it is executable in the image if any x bit is set on the host.
    /// A symlink given here is followed once, at planning time; use [`Self::add_symlink`] to keep a link.
    pub fn add_file(&mut self, path: &str, source: &Path) -> Result<()> {
        let meta = fs::metadata(source).map_err(Error::io("read metadata of", source))?;
        if !meta.is_file() {
            let kind = if meta.is_dir() {
                "directory (use add_tree)"
            } else {
                special_kind(&meta.file_type())
            };
            return Err(Error::UnsupportedFileType {
                path: source.to_path_buf(),
                kind,
            });
        }
        let executable = meta.permissions().mode() & 0o111 != 0;
        self.insert(
            path,
            EntryKind::File {
                source: source.to_path_buf(),
                size: meta.len(),
                executable,
            },
        )
    }

    /// Add a small generated file.
    pub fn add_bytes(&mut self, path: &str, data: Vec<u8>, executable: bool) -> Result<()> {
        self.insert(path, EntryKind::Bytes { data, executable })
    }

    /// Add a symlink; the target is stored verbatim and not checked (the caller chose it).
    pub fn add_symlink(&mut self, path: &str, target: &str) -> Result<()> {
        if target.is_empty() || target.contains('\0') {
            return Err(Error::InvalidPath {
                path: path.to_string(),
                reason: "symlink target is empty or contains NUL",
            });
        }
        self.insert(
            path,
            EntryKind::Symlink {
                target: target.to_string(),
            },
        )
    }

    /// Walk a host directory (sorted by name bytes, not following symlinks) into the layer under
    /// `dest` (e.g. `"var/task"`, or `""` for the image root).
    ///
    /// `skip(rel_path, is_dir)` returns true to leave an entry (and, for a directory, its subtree)
    /// out. Device nodes, FIFOs and sockets are refused; symlinks are kept as symlinks, but an
    /// absolute target or a relative one that escapes `host_dir` is refused.
    pub fn add_tree(
        &mut self,
        host_dir: &Path,
        dest: &str,
        skip: &dyn Fn(&Path, bool) -> bool,
    ) -> Result<()> {
        self.add_tree_with(host_dir, dest, skip, LinkPolicy::InsideTree)
    }

    /// Like [`Self::add_tree`] but absolute symlink targets are kept, as a base root filesystem
    /// needs (`/usr/bin/python3 -> /usr/bin/python3.13`). Devices are still refused.
    pub fn add_tree_allow_abs_links(
        &mut self,
        host_dir: &Path,
        dest: &str,
        skip: &dyn Fn(&Path, bool) -> bool,
    ) -> Result<()> {
        self.add_tree_with(host_dir, dest, skip, LinkPolicy::AllowAbsolute)
    }

    fn add_tree_with(
        &mut self,
        host_dir: &Path,
        dest: &str,
        skip: &dyn Fn(&Path, bool) -> bool,
        policy: LinkPolicy,
    ) -> Result<()> {
        let meta = fs::metadata(host_dir).map_err(Error::io("read metadata of", host_dir))?;
        if !meta.is_dir() {
            return Err(Error::Io {
                action: "walk",
                path: host_dir.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        if !dest.is_empty() {
            self.add_dir(dest)?;
        }
        self.walk(host_dir, Path::new(""), dest, skip, policy)
    }

    fn walk(
        &mut self,
        dir: &Path,
        rel: &Path,
        dest: &str,
        skip: &dyn Fn(&Path, bool) -> bool,
        policy: LinkPolicy,
    ) -> Result<()> {
        let mut children = Vec::new();
        for entry in fs::read_dir(dir).map_err(Error::io("list directory", dir))? {
            let entry = entry.map_err(Error::io("list directory", dir))?;
            children.push(entry.file_name());
        }
        children.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in children {
            let host = dir.join(&name);
            let rel_child = rel.join(&name);
            let ft = fs::symlink_metadata(&host)
                .map_err(Error::io("read metadata of", &host))?
                .file_type();
            if skip(&rel_child, ft.is_dir()) {
                continue;
            }
            let rel_str = rel_child
                .to_str()
                .ok_or_else(|| Error::NonUtf8Path { path: host.clone() })?;
            let in_image = if dest.is_empty() {
                rel_str.to_string()
            } else {
                format!("{dest}/{rel_str}")
            };
            if ft.is_dir() {
                let mode = fs::symlink_metadata(&host)
                    .map_err(Error::io("read metadata of", &host))?
                    .permissions()
                    .mode();
                if mode & MODE_SHARED_DIR == MODE_SHARED_DIR {
                    self.add_shared_dir(&in_image)?;
                } else {
                    self.add_dir(&in_image)?;
                }
                self.walk(&host, &rel_child, dest, skip, policy)?;
            } else if ft.is_file() {
                self.add_file(&in_image, &host)?;
            } else if ft.is_symlink() {
                let target = fs::read_link(&host).map_err(Error::io("read symlink", &host))?;
                let target_str = target
                    .to_str()
                    .ok_or_else(|| Error::NonUtf8Path { path: host.clone() })?;
                check_link(&host, &rel_child, &target, target_str, policy)?;
                self.add_symlink(&in_image, target_str)?;
            } else {
                return Err(Error::UnsupportedFileType {
                    path: host,
                    kind: special_kind(&ft),
                });
            }
        }
        Ok(())
    }

    fn insert(&mut self, path: &str, kind: EntryKind) -> Result<()> {
        validate_path(path)?;
        // Ancestors first, so a file over a planned file or symlink is caught at its parent.
        let mut end = 0;
        while let Some(pos) = path[end..].find('/') {
            end += pos;
            self.put(&path[..end], EntryKind::Dir)?;
            end += 1;
        }
        self.put(path, kind)
    }

    fn put(&mut self, path: &str, kind: EntryKind) -> Result<()> {
        match self.entries.get(path) {
            None => {
                self.entries.insert(path.to_string(), kind);
                Ok(())
            }
            // A directory already planned (plain or shared) satisfies a parent insertion.
            Some(EntryKind::Dir | EntryKind::SharedDir) if kind == EntryKind::Dir => Ok(()),
            Some(existing) => Err(Error::PathConflict {
                path: path.to_string(),
                existing: existing.name(),
                new: kind.name(),
            }),
        }
    }
}

/// Refuse paths that are not clean, relative, UTF-8 layer paths.
fn validate_path(path: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidPath {
            path: path.to_string(),
            reason,
        })
    };
    if path.is_empty() {
        return bad("path is empty");
    }
    if path.starts_with('/') {
        return bad("layer paths are relative; drop the leading '/'");
    }
    if path.ends_with('/') {
        return bad("drop the trailing '/'");
    }
    if path.contains('\0') {
        return bad("path contains a NUL byte");
    }
    for part in path.split('/') {
        match part {
            "" => return bad("path has an empty component ('//')"),
            "." | ".." => return bad("path has a '.' or '..' component"),
            p if p.starts_with(".wh.") => {
                return bad("names starting with '.wh.' are OCI whiteouts")
            }
            _ => {}
        }
    }
    Ok(())
}

/// Refuse a symlink whose target leaves the tree (`rel` is the link's path relative to the tree root).
fn check_link(
    host: &Path,
    rel: &Path,
    target: &Path,
    target_str: &str,
    policy: LinkPolicy,
) -> Result<()> {
    let refuse = |reason| {
        Err(Error::UnsafeSymlink {
            path: host.to_path_buf(),
            target: target_str.to_string(),
            reason,
        })
    };
    if target_str.is_empty() {
        return refuse("has an empty target");
    }
    if target.is_absolute() {
        return match policy {
            LinkPolicy::AllowAbsolute => Ok(()),
            LinkPolicy::InsideTree => refuse("is absolute"),
        };
    }
    // Depth of the directory holding the link, then walk the target lexically.
    let mut depth = rel.components().count() as i64 - 1;
    for c in target.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
        if depth < 0 {
            return refuse("escapes the tree root");
        }
    }
    Ok(())
}

/// Human name of a non-regular, non-directory, non-symlink file type.
fn special_kind(ft: &fs::FileType) -> &'static str {
    if ft.is_fifo() {
        "FIFO"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_block_device() {
        "block device"
    } else {
        "special file"
    }
}

impl LayerPlan {
    /// Exact size of the uncompressed tar this plan produces.
    pub fn uncompressed_estimate(&self) -> u64 {
        let entries: u64 = self
            .entries()
            .map(|(path, kind)| {
                let is_dir = matches!(kind, EntryKind::Dir | EntryKind::SharedDir);
                let path_len = path.len() + usize::from(is_dir);
                let link_len = match kind {
                    EntryKind::Symlink { target } => target.len(),
                    _ => 0,
                };
                tarball::entry_len(path_len, link_len, kind.size())
            })
            .sum();
        entries + tarball::TRAILER_LEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_inserted_and_sorted_first() {
        let mut p = LayerPlan::new();
        p.add_bytes("var/task/app.py", b"x".to_vec(), false)
            .unwrap();
        p.add_bytes("var/task b", b"y".to_vec(), true).unwrap();
        let paths: Vec<&str> = p.entries().map(|(k, _)| k.as_str()).collect();
        assert_eq!(paths, ["var", "var/task", "var/task b", "var/task/app.py"]);
        assert_eq!(p.entries().nth(2).unwrap().1.mode(), 0o755);
    }

    #[test]
    fn bad_paths_are_refused() {
        let mut p = LayerPlan::new();
        for bad in [
            "", "/abs", "a/", "a//b", "a/../b", "..", "./a", "a/.wh.b", "a\0b",
        ] {
            assert!(
                matches!(p.add_dir(bad), Err(Error::InvalidPath { .. })),
                "{bad:?} accepted"
            );
        }
        assert!(p.is_empty());
    }

    #[test]
    fn conflicting_kinds_are_refused() {
        let mut p = LayerPlan::new();
        p.add_bytes("a/f", vec![], false).unwrap();
        p.add_dir("a").unwrap();
        assert!(matches!(p.add_dir("a/f"), Err(Error::PathConflict { .. })));
        assert!(matches!(
            p.add_bytes("a/f/g", vec![], false),
            Err(Error::PathConflict { .. })
        ));
        assert!(matches!(
            p.add_symlink("a/f", "x"),
            Err(Error::PathConflict { .. })
        ));
    }

    #[test]
    fn link_escape_is_lexical_from_the_link_dir() {
        let h = Path::new("/h/l");
        let ok = |rel: &str, t: &str| {
            check_link(h, Path::new(rel), Path::new(t), t, LinkPolicy::InsideTree).is_ok()
        };
        assert!(ok("a/l", "../b"));
        assert!(ok("a/l", "./x/../../b"));
        assert!(!ok("a/l", "../../b"));
        assert!(!ok("l", "../b"));
        assert!(!ok("l", "/etc/passwd"));
        assert!(check_link(
            h,
            Path::new("l"),
            Path::new("/x"),
            "/x",
            LinkPolicy::AllowAbsolute
        )
        .is_ok());
    }
}
