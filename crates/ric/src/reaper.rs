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

use std::path::Path;

use lamina_rie::procfs::{self, ProcStat};
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
    let me = std::process::id();
    for p in procfs::processes(Path::new("/proc")) {
        if is_orphan_zombie(&p, me) {
            let Ok(pid) = i32::try_from(p.pid) else {
                continue;
            };
            let mut status = 0;
            // SAFETY: waitpid(2) on one pid, WNOHANG; `status` is a valid out-pointer.
            unsafe {
                libc::waitpid(pid, &mut status, libc::WNOHANG);
            }
        }
    }
}

/// A zombie whose parent is `parent` and which leads no process group.
fn is_orphan_zombie(p: &ProcStat, parent: u32) -> bool {
    p.is_zombie() && p.ppid == parent && p.pgrp != p.pid
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(line: &str) -> ProcStat {
        ProcStat::parse(line).unwrap()
    }

    #[test]
    fn only_orphaned_zombies_are_reaped() {
        // An orphaned worker, dead: reap.
        assert!(is_orphan_zombie(&stat("42 (python3) Z 1 40 40 0"), 1));
        // A runtime (group leader), dead: its supervisor waits for it.
        assert!(!is_orphan_zombie(&stat("40 (lamina-ric) Z 1 40 40 0"), 1));
        // Alive, or someone else's child.
        assert!(!is_orphan_zombie(&stat("42 (python3) S 1 40 40 0"), 1));
        assert!(!is_orphan_zombie(&stat("42 (a) b) Z 7 40 40 0"), 1));
    }
}
