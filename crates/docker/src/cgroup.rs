//! A container's peak memory, read from its memory cgroup when the daemon runs on this host:
//! cgroup v1 `memory.max_usage_in_bytes` or v2 `memory.peak`, under the cgroupfs or the
//! systemd driver's layout, of Docker's or Podman's (rootful or rootless) containers.
//!
//! The file is opened once per container and re-read in place: a read at offset 0 makes the
//! kernel render a cgroup file afresh (`seq_read_iter` restarts at offset 0), so each REPORT
//! costs one `pread` instead of an open, a stat, two reads and a close.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

/// The peak-memory file of one container, opened on first use.
#[derive(Debug, Default)]
pub(super) struct CgroupPeak(Mutex<Option<File>>);

impl CgroupPeak {
    /// The container's peak memory in bytes, or `None` when its cgroup can't be read (a
    /// daemon on another host, or the container is gone).
    pub(super) fn read(&self, container_id: &str) -> Option<u64> {
        let mut file = self.0.lock().ok()?;
        if file.is_none() {
            *file = open(container_id);
        }
        let mut buf = [0u8; 32];
        let n = match file.as_ref()?.read_at(&mut buf, 0) {
            Ok(n) => n,
            Err(_) => {
                // The cgroup went with its container; a later call tries to open it again.
                *file = None;
                return None;
            }
        };
        std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
    }
}

/// Whether this host mounts cgroup v1 (v2 has `cgroup.controllers` at its root). A rootless
/// engine, always on this host, cannot give its containers cgroups of their own under v1.
pub(super) fn host_has_cgroup_v1() -> bool {
    !std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

fn open(container_id: &str) -> Option<File> {
    if container_id.is_empty() || !container_id.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    // Docker's cgroupfs and systemd layouts, then Podman's (rootful: `libpod_parent` under
    // cgroupfs, `machine.slice` under systemd; rootless: the user's own slice, cgroup v2).
    let v1 = |dir: &str| format!("/sys/fs/cgroup/memory/{dir}/memory.max_usage_in_bytes");
    let v2 = |dir: &str| format!("/sys/fs/cgroup/{dir}/memory.peak");
    let id = container_id;
    let mut paths = vec![
        v1(&format!("docker/{id}")),
        v1(&format!("system.slice/docker-{id}.scope")),
        v2(&format!("docker/{id}")),
        v2(&format!("system.slice/docker-{id}.scope")),
        v1(&format!("libpod_parent/libpod-{id}")),
        v1(&format!("machine.slice/libpod-{id}.scope")),
        v2(&format!("libpod_parent/libpod-{id}")),
        v2(&format!("machine.slice/libpod-{id}.scope")),
    ];
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    paths.push(v2(&format!(
        "user.slice/user-{uid}.slice/user@{uid}.service/user.slice/libpod-{id}.scope/container"
    )));
    paths.push(v2(&format!(
        "user.slice/user-{uid}.slice/user@{uid}.service/user.slice/libpod-{id}.scope"
    )));
    paths.iter().find_map(|path| File::open(path).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_is_not_a_container_id_reads_nothing() {
        let peak = CgroupPeak::default();
        assert_eq!(peak.read(""), None);
        assert_eq!(peak.read("../../etc"), None);
    }
}
