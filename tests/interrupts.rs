//! Interrupted and failed builds leave the store clean: a full disk is named as such and
//! leaves no temp file; a build killed with SIGKILL leaves a temp blob that the next build
//! sweeps; SIGTERM removes the build's own temp files before it exits.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn temp_files(store: &Path) -> Vec<String> {
    std::fs::read_dir(store.join("tmp"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Start `lamina build examples/calculator` into `store` and wait until it is writing a
/// blob; returns the child.
fn build_until_writing(store: &Path) -> std::process::Child {
    let mut child = lamina()
        .env("LAMINA_STORE", store)
        .args(["build", "examples/calculator", "--json"])
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn lamina");
    let deadline = Instant::now() + Duration::from_secs(60);
    while temp_files(store).is_empty() {
        assert!(Instant::now() < deadline, "no temp blob appeared");
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the build ended before writing"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

#[test]
fn a_build_killed_mid_layer_leaves_a_temp_blob_that_the_next_build_sweeps() {
    let store = tempfile::tempdir().expect("tmp");
    let mut child = build_until_writing(store.path());
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    assert!(
        !temp_files(store.path()).is_empty(),
        "SIGKILL leaves the temp blob"
    );
    run_ok(
        lamina()
            .env("LAMINA_STORE", store.path())
            .args(["build", "examples/calculator", "--json"])
            .current_dir(root()),
    );
    assert_eq!(temp_files(store.path()), Vec::<String>::new(), "swept");
}

#[test]
fn sigterm_mid_build_removes_the_builds_temp_files() {
    let store = tempfile::tempdir().expect("tmp");
    let child = build_until_writing(store.path());
    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(143), "exits as SIGTERM would");
    assert_eq!(temp_files(store.path()), Vec::<String>::new());
}

#[test]
fn a_full_disk_names_the_store_and_leaves_no_temp_file() {
    let mount = tempfile::tempdir().expect("tmp");
    let small = mount.path().join("small");
    std::fs::create_dir(&small).expect("mkdir");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&small)
        .status()
        .expect("run mount");
    assert!(
        mounted.success(),
        "this test mounts a 4 MB tmpfs as the store's disk and needs root (as CI runs)"
    );
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _guard = Unmount(&small);
    let out = run(lamina()
        .env("LAMINA_STORE", &small)
        .args(["build", "examples/calculator"])
        .current_dir(root()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no space left on the disk of lamina's store")
            && stderr.contains(&small.display().to_string()),
        "{stderr}"
    );
    assert_eq!(temp_files(&small), Vec::<String>::new(), "{stderr}");
    assert!(
        std::fs::read_dir(small.join("refs"))
            .expect("refs")
            .next()
            .is_none(),
        "no image was recorded"
    );
}
