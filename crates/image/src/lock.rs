//! Who is using the store, so a prune never takes what they need:
//!
//! - [`StoreLock`]: an advisory lock on `<store>/lock` (`flock`), shared by every build,
//!   push, pull and image load while it runs, exclusive for a prune. The kernel drops it with
//!   the process, so a `kill -9` leaves nothing to clean.
//! - [`Lease`]: `<store>/leases/<pid>.json`, the manifests a long-running process (a
//!   `lamina rie`) serves; a prune keeps everything they reach while that pid lives, even if
//!   their tags go meanwhile. A lease whose process is gone counts for nothing.
//!
//! `flock` is called through libc: the standard library's `File::lock` is newer than the
//! project's minimum Rust.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::store::Store;

/// A held lock on the store; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

fn lock_file(store: &Store) -> Result<File> {
    let path = store.root().join("lock");
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(Error::io("open the store's lock", &path))
}

fn flock(file: &File, operation: i32) -> bool {
    // SAFETY: flock(2) on a descriptor this function's caller owns.
    unsafe { libc::flock(file.as_raw_fd(), operation) == 0 }
}

impl StoreLock {
    /// Share the store with other users of it (builds, pushes, pulls, loads): waits only
    /// while a prune holds it.
    pub fn shared(store: &Store) -> Result<Self> {
        let file = lock_file(store)?;
        if flock(&file, libc::LOCK_SH) {
            Ok(Self { _file: file })
        } else {
            let path = store.root().join("lock");
            Err(Error::Io {
                action: "lock the store",
                path,
                source: std::io::Error::last_os_error(),
            })
        }
    }

    /// Have the store alone (a prune), waiting at most `wait` for its users to finish;
    /// `None` when they did not.
    pub fn exclusive(store: &Store, wait: Duration) -> Result<Option<Self>> {
        let file = lock_file(store)?;
        let deadline = Instant::now() + wait;
        loop {
            if flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
                return Ok(Some(Self { _file: file }));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The manifests a running process serves, kept by every prune while it lives.
#[derive(Debug)]
pub struct Lease {
    path: PathBuf,
}

impl Lease {
    /// Record that this process uses `manifests`.
    pub fn take(store: &Store, manifests: &[Digest]) -> Result<Self> {
        let dir = leases_dir(store);
        fs::create_dir_all(&dir).map_err(Error::io("create directory", &dir))?;
        let path = dir.join(format!("{}.json", std::process::id()));
        let list: Vec<String> = manifests.iter().map(ToString::to_string).collect();
        let data = serde_json::to_vec(&list).map_err(|e| Error::Json {
            what: "lease".into(),
            source: e,
        })?;
        // Written whole or not at all: a reader never sees half a lease.
        let tmp = dir.join(format!(".{}.tmp", std::process::id()));
        fs::write(&tmp, data).map_err(Error::io("write", &tmp))?;
        fs::rename(&tmp, &path).map_err(Error::io("rename", &path))?;
        Ok(Self { path })
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn leases_dir(store: &Store) -> PathBuf {
    store.root().join("leases")
}

/// The manifests leased by processes that still run (the leases of dead ones are removed).
pub fn leased(store: &Store) -> HashSet<Digest> {
    let dir = leases_dir(store);
    let mut out = HashSet::new();
    let Ok(entries) = fs::read_dir(&dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(pid) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if !alive(pid) {
            let _ = fs::remove_file(&path);
            continue;
        }
        let list: Vec<String> = fs::read(&path)
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
            .unwrap_or_default();
        out.extend(list.iter().filter_map(|d| d.parse::<Digest>().ok()));
    }
    out
}

fn alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prune_waits_for_a_build_and_gets_the_store_once_it_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let build = StoreLock::shared(&store).unwrap();
        let second = StoreLock::shared(&store).unwrap();
        assert!(StoreLock::exclusive(&store, Duration::from_millis(200))
            .unwrap()
            .is_none());
        drop((build, second));
        assert!(StoreLock::exclusive(&store, Duration::from_millis(200))
            .unwrap()
            .is_some());
    }

    #[test]
    fn a_lease_counts_while_its_process_lives() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let d = store.put_bytes(b"manifest").unwrap();
        let lease = Lease::take(&store, std::slice::from_ref(&d)).unwrap();
        assert!(leased(&store).contains(&d));
        // A lease left by a process that is gone.
        fs::write(
            leases_dir(&store).join("999999999.json"),
            b"[\"sha256:00\"]",
        )
        .unwrap();
        assert_eq!(leased(&store).len(), 1);
        assert!(!leases_dir(&store).join("999999999.json").exists());
        drop(lease);
        assert!(leased(&store).is_empty());
    }
}
