//! Process groups on Linux, for [`crate::ProcessSandbox`]: each runtime is started as the
//! leader of a group of its own, so killing the group reaches its workers too (a Python worker
//! under `lamina-ric`, a shell's children), and its memory is the sum over the group.
//!
//! Reading `/proc` is [`crate::procfs`]'s; this module only kills and adds up.

use std::path::Path;

use crate::procfs;

/// SIGKILL every process of group `pgid`. Refuses the groups that are not a runtime's
/// (`0` = our own, `1` = init's): a bug must never turn into `kill(-1)`.
pub(crate) fn kill_group(pgid: u32) {
    let Ok(id) = i32::try_from(pgid) else {
        return;
    };
    if id > 1 {
        // SAFETY: kill(2) with a negative pid signals one process group; no memory is touched.
        unsafe {
            libc::kill(-id, libc::SIGKILL);
        }
    }
}

/// SIGTERM to process `pid` alone (a group's leader: the runtime, or an init that passes it
/// on), as `docker stop` signals a container's first process.
pub(crate) fn terminate_leader(pid: u32) {
    let Ok(id) = i32::try_from(pid) else {
        return;
    };
    if id > 1 {
        // SAFETY: kill(2) on one process; no memory is touched.
        unsafe {
            libc::kill(id, libc::SIGTERM);
        }
    }
}

/// The sum of the peak resident sets (`VmHWM`) of the live processes in group `pgid`, in
/// bytes; `None` when none could be read. An upper bound of the group's true peak (members
/// need not peak at the same moment), and the best `/proc` offers without a cgroup.
pub(crate) async fn group_peak_bytes(pgid: u32) -> Option<u64> {
    tokio::task::spawn_blocking(move || {
        let proc = Path::new("/proc");
        let peaks: Vec<u64> = procfs::group_members(proc, pgid)
            .into_iter()
            .filter_map(|pid| procfs::peak_rss_kb(proc, pid))
            .collect();
        (!peaks.is_empty()).then(|| peaks.iter().sum::<u64>() * 1024)
    })
    .await
    .ok()
    .flatten()
}
