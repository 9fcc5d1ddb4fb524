//! Process groups on Linux, for [`crate::ProcessSandbox`]: each runtime is started as the
//! leader of a group of its own, so killing the group reaches its workers too (a Python worker
//! under `lamina-ric`, a shell's children), and its memory is the sum over the group.
//!
//! Everything here reads `/proc` or calls `kill(2)`; nothing blocks for long.

use std::path::Path;

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

/// The sum of the peak resident sets (`VmHWM`) of the live processes in group `pgid`, in
/// bytes; `None` when none could be read. An upper bound of the group's true peak (members
/// need not peak at the same moment), and the best `/proc` offers without a cgroup.
pub(crate) async fn group_peak_bytes(pgid: u32) -> Option<u64> {
    let mut total_kb = 0u64;
    let mut found = false;
    for pid in group_members(Path::new("/proc"), pgid).await {
        let status = format!("/proc/{pid}/status");
        if let Ok(text) = tokio::fs::read_to_string(status).await {
            if let Some(kb) = vm_hwm_kb(&text) {
                total_kb += kb;
                found = true;
            }
        }
    }
    found.then_some(total_kb * 1024)
}

/// The pids under `proc` whose process group is `pgid` (the leader first when it is alive).
async fn group_members(proc: &Path, pgid: u32) -> Vec<u32> {
    let mut out = vec![pgid];
    let Ok(mut dir) = tokio::fs::read_dir(proc).await else {
        return out;
    };
    while let Ok(Some(entry)) = dir.next_entry().await {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == pgid {
            continue;
        }
        let stat = entry.path().join("stat");
        if let Ok(text) = tokio::fs::read_to_string(stat).await {
            if stat_pgrp(&text) == Some(pgid) {
                out.push(pid);
            }
        }
    }
    out
}

/// The process group (field 5) of a `/proc/<pid>/stat` line. The command name (field 2) is
/// in parentheses and may itself contain spaces and parentheses, so fields are counted from
/// the last `)`.
fn stat_pgrp(stat: &str) -> Option<u32> {
    let (_, rest) = stat.rsplit_once(')')?;
    // state, ppid, pgrp
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// `VmHWM` in kB from a `/proc/<pid>/status` text.
pub(crate) fn vm_hwm_kb(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vm_hwm() {
        assert_eq!(
            vm_hwm_kb("Name:\tx\nVmHWM:\t   5120 kB\nVmRSS:\t1 kB\n"),
            Some(5120)
        );
        assert_eq!(vm_hwm_kb("Name:\tx\n"), None);
    }

    #[test]
    fn parses_stat_pgrp() {
        assert_eq!(stat_pgrp("42 (python3) S 7 40 40 0 -1 4194560"), Some(40));
        assert_eq!(stat_pgrp("42 (a) b (c) S 7 41 41 0"), Some(41));
        assert_eq!(stat_pgrp("garbage"), None);
    }

    #[tokio::test]
    async fn our_group_contains_us() {
        // SAFETY: getpgrp(2) has no preconditions.
        let pgid = u32::try_from(unsafe { libc::getpgrp() }).unwrap();
        let me = std::process::id();
        assert!(group_members(Path::new("/proc"), pgid).await.contains(&me));
        assert!(group_peak_bytes(me).await.is_some());
    }
}
