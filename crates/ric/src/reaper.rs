//! Zombie reaping for embedded mode as PID 1 (a plain `docker run` without `--init`).
//!
//! When an environment ends (timeout, crash, shutdown) its whole process group is killed; the
//! runtime is our child and is reaped by its supervisor, but its workers (the Python process
//! under the runtime's `lamina-ric`) are orphans that the kernel hands to PID 1. Nobody else
//! will wait for them, so on every SIGCHLD we reap the zombies that are ours but not runtimes.
//!
//! Runtimes are told apart by being process-group leaders (the sandbox starts each in a group
//! of its own); their exit status belongs to the sandbox, which waits for them itself. An
//! orphan that made itself a group leader (`setsid` in user code) is therefore left alone.

use std::fs;

use tokio::signal::unix::{signal, SignalKind};

/// When this process is PID 1, start reaping orphaned zombies in the background.
pub fn spawn_if_init() {
    if std::process::id() != 1 {
        return;
    }
    let mut chld = match signal(SignalKind::child()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lamina-ric: cannot watch for exited processes: {e}");
            return;
        }
    };
    tokio::spawn(async move {
        while chld.recv().await.is_some() {
            reap_orphans();
        }
    });
}

/// Wait for every zombie child of ours that leads no process group.
fn reap_orphans() {
    let Ok(dir) = fs::read_dir("/proc") else {
        return;
    };
    let me = std::process::id();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((pid_t, true)) = orphan_zombie(&stat, pid, me) {
            let mut status = 0;
            // SAFETY: waitpid(2) on one pid, WNOHANG; `status` is a valid out-pointer.
            unsafe {
                libc::waitpid(pid_t, &mut status, libc::WNOHANG);
            }
        }
    }
}

/// Parse a `/proc/<pid>/stat` line: `Some((pid, reap))`, `reap` when the process is a zombie
/// whose parent is `parent` and which leads no process group.
fn orphan_zombie(stat: &str, pid: u32, parent: u32) -> Option<(i32, bool)> {
    // Fields after the command name (which may contain spaces and parentheses).
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    let ppid: u32 = fields.next()?.parse().ok()?;
    let pgrp: u32 = fields.next()?.parse().ok()?;
    let pid_t = i32::try_from(pid).ok()?;
    Some((pid_t, state == "Z" && ppid == parent && pgrp != pid))
}

#[cfg(test)]
mod tests {
    use super::orphan_zombie;

    #[test]
    fn only_orphaned_zombies_are_reaped() {
        // An orphaned worker, dead: reap.
        assert_eq!(
            orphan_zombie("42 (python3) Z 1 40 40 0", 42, 1),
            Some((42, true))
        );
        // A runtime (group leader), dead: its supervisor waits for it.
        assert_eq!(
            orphan_zombie("40 (lamina-ric) Z 1 40 40 0", 40, 1),
            Some((40, false))
        );
        // Alive, or someone else's child.
        assert_eq!(
            orphan_zombie("42 (python3) S 1 40 40 0", 42, 1),
            Some((42, false))
        );
        assert_eq!(
            orphan_zombie("42 (a) b) Z 7 40 40 0", 42, 1),
            Some((42, false))
        );
        assert_eq!(orphan_zombie("nonsense", 42, 1), None);
    }
}
