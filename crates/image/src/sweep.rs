//! Leftovers of interrupted work: temporary files and folders are named
//! `<prefix><pid>-<random>`, so the next run can tell whose they are and remove those whose
//! process is gone (a build killed with SIGKILL, a machine that lost power), and a process
//! told to stop can remove its own. A leaf module.

use std::path::Path;

/// `<prefix><our pid>-`: the start of a temporary name this process makes.
pub fn own_prefix(prefix: &str) -> String {
    format!("{prefix}{}-", std::process::id())
}

/// The pid in a name `<prefix><pid>-…`, if it is one of ours.
fn pid_of(name: &str, prefix: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?;
    rest.split_once('-')?.0.parse().ok()
}

fn alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

fn remove(path: &Path) -> bool {
    let removed = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    removed.is_ok()
}

/// Remove the entries of `dir` named `<prefix><pid>-…` whose process no longer runs;
/// returns how many went.
pub fn sweep_dead(dir: &Path, prefix: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| pid_of(&e.file_name().to_string_lossy(), prefix).is_some_and(|pid| !alive(pid)))
        .filter(|e| remove(&e.path()))
        .count()
}

/// Remove this process's own entries of `dir` (on SIGINT or SIGTERM, before exiting).
pub fn remove_own(dir: &Path, prefix: &str) -> usize {
    let mine = own_prefix(prefix);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&mine))
        .filter(|e| remove(&e.path()))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_dead_and_our_own_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // pid 0x7fff_fffe is above any kernel's pid_max: its process is gone.
        std::fs::write(d.join(".blob-2147483646-abc"), "x").unwrap();
        std::fs::create_dir_all(d.join(".blob-2147483646-dir/sub")).unwrap();
        std::fs::write(d.join(format!("{}x", own_prefix(".blob-"))), "mine").unwrap();
        std::fs::write(d.join(".blob-1-init"), "init lives").unwrap();
        std::fs::write(d.join("other"), "not ours").unwrap();
        assert_eq!(sweep_dead(d, ".blob-"), 2);
        let left: Vec<String> = {
            let mut v: Vec<String> = std::fs::read_dir(d)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(left.len(), 3, "{left:?}");
        assert_eq!(remove_own(d, ".blob-"), 1);
        assert!(d.join(".blob-1-init").exists() && d.join("other").exists());
    }
}
