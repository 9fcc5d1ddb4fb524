//! The on-disk queue of one function's accepted `Event` invokes: one JSON file per event,
//! written to a temporary name, fsynced, renamed into place and the folder fsynced — only
//! then is the invoker answered 202, so an accepted event survives a `kill -9` or a power cut.
//! A folder is owned by one emulator at a time (an exclusive `flock`, released by the kernel
//! when the process dies).

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// One accepted event, as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueuedEvent {
    /// Order of acceptance.
    pub(crate) seq: u64,
    /// The invoke's request id (the same on every attempt, as in the cloud).
    pub(crate) request_id: String,
    /// The payload, JSON text.
    pub(crate) payload: String,
    /// `X-Amzn-Trace-Id` of the invoke.
    pub(crate) trace_id: String,
    /// Decoded client context, if any.
    pub(crate) client_context: Option<String>,
    /// `X-Amz-Tenant-Id` of the invoke (a tenant-isolated function's event runs in its
    /// tenant's environments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tenant_id: Option<String>,
    /// Accepted at, ms since the epoch (for the maximum event age).
    pub(crate) accepted_ms: u64,
    /// Attempts begun so far (written before each attempt: an attempt cut short by a crash
    /// still counts, as `approximateInvokeCount` does).
    pub(crate) attempts: u32,
    /// Not to be tried before this, ms since the epoch.
    pub(crate) not_before_ms: u64,
    /// The event is done, but its destination record could not be written yet: what is
    /// left is writing it (never invoking again), with backoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) unrecorded: Option<Unrecorded>,
}

/// A finished event's record that is still to be written.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Unrecorded {
    /// The record goes to the on-success folder (else on-failure).
    pub(crate) success: bool,
    /// The record, rendered when the event finished.
    pub(crate) record: serde_json::Value,
    /// Failed writes so far (for the backoff).
    pub(crate) failures: u32,
}

/// A function's queue folder, locked for this process.
pub(crate) struct Store {
    dir: PathBuf,
    _lock: File,
}

impl Store {
    /// Open (creating) and lock `dir`.
    pub(crate) fn open(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let lock = File::create(dir.join(".lock"))?;
        // SAFETY: flock on a file descriptor this function owns; no memory is involved.
        let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "another lamina rie holds the event queue in {}: stop it, or give this one its own --events-dir",
                    dir.display()
                ),
            ));
        }
        Ok(Self {
            dir: dir.to_owned(),
            _lock: lock,
        })
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.json"))
    }

    /// Write `event` durably (new or updated).
    pub(crate) fn put(&self, event: &QueuedEvent) -> io::Result<()> {
        let bytes = serde_json::to_vec(event).map_err(io::Error::other)?;
        write_durably(&self.dir, &format!("{:020}.json", event.seq), &bytes)
    }

    /// One stored event, payload and all.
    pub(crate) fn get(&self, seq: u64) -> io::Result<QueuedEvent> {
        let bytes = fs::read(self.path(seq))?;
        serde_json::from_slice(&bytes).map_err(io::Error::other)
    }

    /// Remove a finished event.
    pub(crate) fn remove(&self, seq: u64) -> io::Result<()> {
        match fs::remove_file(self.path(seq)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => File::open(&self.dir)?.sync_all(),
        }
    }

    /// Every stored event, oldest first. The folder is input like any other (other programs
    /// can write it): only regular files named `*.json` are read, each at most
    /// [`MAX_STORED`] bytes (a FIFO would block, a link to `/dev/zero` would never end);
    /// anything else named `*.json` and every file that does not parse is set aside as
    /// `.bad` and named; temporary files a full disk left behind are swept.
    pub(crate) fn load(&self) -> io::Result<Vec<QueuedEvent>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with('.') && name.ends_with(".tmp") {
                if let Err(e) = fs::remove_file(&path) {
                    tracing::warn!("cannot remove the leftover {}: {e}", path.display());
                }
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match read_event(&path) {
                Ok(e) => out.push(e),
                Err(why) => set_aside(&path, &why),
            }
        }
        out.sort_by_key(|e| e.seq);
        Ok(out)
    }
}

/// Largest stored event read: Lambda's 1 MB async payload, JSON-escaped, with room.
const MAX_STORED: u64 = 8 * lamina_runtime_api::limits::MAX_ASYNC_REQUEST as u64;

/// A stored event, if `path` is a regular file of at most [`MAX_STORED`] bytes that parses.
fn read_event(path: &Path) -> Result<QueuedEvent, String> {
    use std::io::Read as _;
    let meta = fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if !meta.file_type().is_file() {
        return Err("it is not a regular file".into());
    }
    if meta.len() > MAX_STORED {
        return Err(format!(
            "it is {} bytes, more than an event can be",
            meta.len()
        ));
    }
    // O_NOFOLLOW and O_NONBLOCK: the name may have been swapped for a link or a FIFO since.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_STORED + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_STORED {
        return Err("it grew past the size an event can be".into());
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("it is not a queued event: {e}"))
}

/// Move an unusable file out of the queue's way, saying what happened to it.
fn set_aside(path: &Path, why: &str) {
    let aside = path.with_extension("bad");
    match fs::rename(path, &aside) {
        Ok(()) => tracing::warn!("set aside {} as {}: {why}", path.display(), aside.display()),
        Err(e) => tracing::warn!(
            "skipped {} ({why}) and could not set it aside as {}: {e}",
            path.display(),
            aside.display()
        ),
    }
}

/// Write `bytes` to `dir/name` durably (temporary file, fsync, rename, folder fsync): queued
/// events and destination records. A temporary file is removed when any step fails (a full
/// disk must not fill the folder with `.tmp` files).
pub(crate) fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, dir.join(name))
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    File::open(dir)?.sync_all()
}

/// Check that records can be written to `dir` (creating it): a probe written durably and
/// removed. Run before serving, so a destination that cannot take records is refused at
/// start, not discovered when the first event finishes.
pub(crate) fn check_writable(dir: &Path) -> io::Result<()> {
    let name = format!(".lamina-probe-{}", std::process::id());
    write_durably(dir, &name, b"")?;
    fs::remove_file(dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64) -> QueuedEvent {
        QueuedEvent {
            seq,
            request_id: format!("id-{seq}"),
            payload: "{}".into(),
            trace_id: "Root=1-0-0".into(),
            client_context: None,
            tenant_id: None,
            accepted_ms: 1,
            attempts: 0,
            not_before_ms: 0,
            unrecorded: None,
        }
    }

    #[test]
    fn events_survive_reopening_in_order_and_updates_replace() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            s.put(&event(2)).unwrap();
            s.put(&event(1)).unwrap();
            s.put(&QueuedEvent {
                attempts: 1,
                ..event(2)
            })
            .unwrap();
            s.put(&event(3)).unwrap();
            s.remove(3).unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        let loaded = s.load().unwrap();
        assert_eq!(loaded.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(loaded[1].attempts, 1);
        assert_eq!(s.get(2).unwrap().payload, "{}");
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target name is taken by a folder: the rename fails after the temp file exists.
        fs::create_dir(dir.path().join("x.json")).unwrap();
        fs::write(dir.path().join("x.json").join("inside"), b"1").unwrap();
        assert!(write_durably(dir.path(), "x.json", b"{}").is_err());
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, [std::ffi::OsString::from("x.json")]);
    }

    #[test]
    fn a_destination_that_is_a_file_is_found_unwritable() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        fs::write(&file, b"").unwrap();
        assert!(check_writable(&file).is_err());
        assert!(check_writable(&dir.path().join("new")).is_ok());
        assert_eq!(fs::read_dir(dir.path().join("new")).unwrap().count(), 0);
    }

    #[test]
    fn only_regular_files_are_read_and_the_rest_is_set_aside_or_swept() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.put(&event(1)).unwrap();
        let fifo = dir.path().join("00000000000000000002.json");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("00000000000000000003.json"))
            .unwrap();
        fs::write(dir.path().join("00000000000000000004.json"), b"not json").unwrap();
        fs::write(dir.path().join(".00000000000000000005.json.tmp"), b"{").unwrap();
        let loaded = s.load().unwrap();
        assert_eq!(loaded.iter().map(|e| e.seq).collect::<Vec<_>>(), [1]);
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ".lock",
                "00000000000000000001.json",
                "00000000000000000002.bad",
                "00000000000000000003.bad",
                "00000000000000000004.bad"
            ]
        );
    }

    #[test]
    fn a_second_owner_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        let e = Store::open(dir.path()).err().unwrap().to_string();
        assert!(e.contains("--events-dir"), "{e}");
    }
}
