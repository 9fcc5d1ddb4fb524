//! The Linux process table, read from `/proc`: the one place lamina parses `/proc/<pid>/stat`
//! and `/proc/<pid>/status`. Used by [`crate::ProcessSandbox`] (a runtime's process group and
//! its memory) and by lamina-ric's reaper as PID 1 (its orphaned zombies).
//!
//! Reads are synchronous and quick (`/proc` is in memory); async callers wrap them in
//! `spawn_blocking`.

use std::fs;
use std::path::Path;

/// What `/proc/<pid>/stat` says of one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Process id.
    pub pid: u32,
    /// State letter: `R`, `S`, `D`, `Z` (zombie), …
    pub state: char,
    /// Parent process id.
    pub ppid: u32,
    /// Process group id.
    pub pgrp: u32,
}

impl ProcStat {
    /// Parse a `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and may
    /// itself contain spaces and parentheses, so fields are counted from the last `)`.
    pub fn parse(stat: &str) -> Option<Self> {
        let (head, rest) = stat.rsplit_once(')')?;
        let pid = head.split_whitespace().next()?.parse().ok()?;
        let mut fields = rest.split_whitespace();
        let state = fields.next()?.chars().next()?;
        let ppid = fields.next()?.parse().ok()?;
        let pgrp = fields.next()?.parse().ok()?;
        Some(Self {
            pid,
            state,
            ppid,
            pgrp,
        })
    }

    /// Whether the process has exited and waits to be reaped.
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }
}

/// Every process under `proc` (normally `/proc`) whose stat could be read.
pub fn processes(proc: &Path) -> Vec<ProcStat> {
    let Ok(dir) = fs::read_dir(proc) else {
        return Vec::new();
    };
    dir.flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|e| fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|text| ProcStat::parse(&text))
        .collect()
}

/// The pids of process group `pgid` (the leader first, whether or not it is still listed).
pub fn group_members(proc: &Path, pgid: u32) -> Vec<u32> {
    std::iter::once(pgid)
        .chain(
            processes(proc)
                .into_iter()
                .filter(|p| p.pgrp == pgid && p.pid != pgid)
                .map(|p| p.pid),
        )
        .collect()
}

/// `VmHWM` (peak resident set) in kB of process `pid`, if it is alive and readable.
pub fn peak_rss_kb(proc: &Path, pid: u32) -> Option<u64> {
    let status = fs::read_to_string(proc.join(pid.to_string()).join("status")).ok()?;
    vm_hwm_kb(&status)
}

/// `VmHWM` in kB from a `/proc/<pid>/status` text.
fn vm_hwm_kb(status: &str) -> Option<u64> {
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
    fn stat_lines_parse_past_odd_command_names() {
        assert_eq!(
            ProcStat::parse("42 (python3) S 7 40 40 0 -1 4194560"),
            Some(ProcStat {
                pid: 42,
                state: 'S',
                ppid: 7,
                pgrp: 40
            })
        );
        let odd = ProcStat::parse("42 (a) b (c) Z 1 41 41 0").unwrap();
        assert_eq!((odd.pgrp, odd.is_zombie()), (41, true));
        assert_eq!(ProcStat::parse("garbage"), None);
        assert_eq!(ProcStat::parse("x (y) S a b c"), None);
    }

    #[test]
    fn status_gives_the_peak() {
        assert_eq!(
            vm_hwm_kb("Name:\tx\nVmHWM:\t   5120 kB\nVmRSS:\t1 kB\n"),
            Some(5120)
        );
        assert_eq!(vm_hwm_kb("Name:\tx\n"), None);
    }

    #[test]
    fn our_group_contains_us() {
        // SAFETY: getpgrp(2) has no preconditions.
        let pgid = u32::try_from(unsafe { libc::getpgrp() }).unwrap();
        let me = std::process::id();
        let proc = Path::new("/proc");
        assert!(group_members(proc, pgid).contains(&me));
        assert!(processes(proc)
            .iter()
            .any(|p| p.pid == me && !p.is_zombie()));
        assert!(peak_rss_kb(proc, me).is_some());
    }
}
