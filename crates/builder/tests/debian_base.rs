//! End-to-end proof for Debian base recipes: build the committed `python3.13` and
//! `provided` locks into a rootfs from the real mirror (network required; cached under
//! `~/.cache/lamina`, or `$LAMINA_TEST_CACHE`, so reruns are fast), check the files a
//! Lambda base needs, and with Docker (unless `LAMINA_SKIP_DOCKER_TESTS=1`) run the interpreter in a container.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lamina_build::debian::{self, RootfsInfo, UnpackOptions};

/// The same cache `lamina` uses (`~/.cache/lamina`), so the packages are downloaded once per
/// machine, not once per checkout; `LAMINA_TEST_CACHE` overrides it.
fn cache() -> PathBuf {
    std::env::var_os("LAMINA_TEST_CACHE")
        .or_else(|| std::env::var_os("LAMINA_CACHE"))
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/lamina")))
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("lamina-cache"))
}

/// Builds `name` for amd64 from the embedded recipe and lock (as the CLI will).
fn build(recipe: &str, lock: &str) -> RootfsInfo {
    let recipe = debian::parse_recipe(recipe).unwrap();
    let lock = debian::parse_lock(lock).unwrap();
    assert_eq!(
        lock.recipe_hash,
        recipe.resolve_hash(),
        "lamina.lock is stale: run `lamina base lock {}`",
        recipe.name
    );
    // refresh: a superseded pin (Debian point release) warns instead of failing CI.
    let opts = UnpackOptions { refresh: true };
    let info = debian::ensure_rootfs(&recipe, &lock, "amd64", &cache(), &opts).unwrap();
    if info.refreshed.is_some() {
        eprintln!(
            "warning: base-images/{}/lamina.lock is stale; run `lamina base lock {}`",
            recipe.name, recipe.name
        );
    }
    info
}

fn assert_file(root: &Path, rel: &str) {
    let meta = std::fs::metadata(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert!(
        meta.is_file() && meta.len() > 0,
        "{rel} is empty or not a file"
    );
}

#[test]
fn python313_rootfs_has_interpreter_loader_and_ca_bundle() {
    let info = build(
        include_str!("../../../base-images/python3.13/recipe.toml"),
        include_str!("../../../base-images/python3.13/lamina.lock"),
    );
    let root = &info.path;
    assert!(info.packages > 10);
    for rel in [
        "usr/bin/python3.13",
        "usr/bin/python3",
        "bin/sh",
        "lib64/ld-linux-x86-64.so.2",
        "usr/lib/x86_64-linux-gnu/libc.so.6",
        "usr/lib/python3.13/json/__init__.py",
        // py-compile post-step: the stdlib is byte-compiled at build time.
        "usr/lib/python3.13/json/__pycache__/__init__.cpython-313.pyc",
        "usr/lib/python3.13/re/__pycache__/__init__.cpython-313.pyc",
        "etc/ssl/certs/ca-certificates.crt",
        "usr/lib/ssl/cert.pem",
        "etc/localtime",
        "etc/passwd",
        "etc/services",
    ] {
        assert_file(root, rel);
    }
    // Hash-based, unchecked pycs (flags field = 0b01): valid whatever the layer's mtimes.
    let pyc =
        std::fs::read(root.join("usr/lib/python3.13/__pycache__/enum.cpython-313.pyc")).unwrap();
    assert_eq!(
        &pyc[4..8],
        &[1, 0, 0, 0],
        "enum's pyc is not an unchecked-hash pyc"
    );
    let bundle = std::fs::read_to_string(root.join("etc/ssl/certs/ca-certificates.crt")).unwrap();
    assert!(bundle.matches("BEGIN CERTIFICATE").count() > 100);
    assert!(std::fs::read_to_string(root.join("etc/passwd"))
        .unwrap()
        .contains("sbx_user1051:x:993:990"));
    for dir in ["tmp", "var/task", "var/runtime", "opt"] {
        assert!(root.join(dir).is_dir(), "{dir}");
    }
    assert!(
        !root.join("usr/share/man").exists()
            && !root.join("usr/share/doc/dash/changelog.Debian.gz").exists()
    );
    assert_file(root, "usr/share/doc/libc6/copyright");

    // Same lock again: a cache hit at the same path.
    let again = build(
        include_str!("../../../base-images/python3.13/recipe.toml"),
        include_str!("../../../base-images/python3.13/lamina.lock"),
    );
    assert_eq!(again.path, info.path);
    assert_eq!(again.lock_hash, info.lock_hash);

    if std::env::var_os("LAMINA_SKIP_DOCKER_TESTS").is_none_or(|v| v != "1") {
        let out = docker_run(root, "lamina-test-py:dev", &[
            "/usr/bin/python3",
            "-c",
            "import json, ssl, sqlite3, decimal, ctypes, zoneinfo, urllib.request, hashlib, uuid, lzma, bz2, zlib; \
             assert len(ssl.create_default_context().get_ca_certs()) > 100; print('ok')",
        ]);
        assert_eq!(out.trim(), "ok");
    }
}

#[test]
fn provided_rootfs_has_loader_shell_and_ca_bundle() {
    let info = build(
        include_str!("../../../base-images/provided/recipe.toml"),
        include_str!("../../../base-images/provided/lamina.lock"),
    );
    for rel in [
        "bin/sh",
        "lib64/ld-linux-x86-64.so.2",
        "etc/ssl/certs/ca-certificates.crt",
        "usr/share/zoneinfo/Etc/UTC",
    ] {
        assert_file(&info.path, rel);
    }
    if std::env::var_os("LAMINA_SKIP_DOCKER_TESTS").is_none_or(|v| v != "1") {
        let out = docker_run(
            &info.path,
            "lamina-test-provided:dev",
            &["/bin/sh", "-c", "echo ok"],
        );
        assert_eq!(out.trim(), "ok");
    }
}

/// The engine's own CLI: `LAMINA_TEST_ENGINE_CLI` when set (`tests/podman.sh` sets
/// `podman --url …`: Docker's CLI cannot run a container through Podman's Docker API), else
/// `docker`.
fn engine_cli() -> Command {
    let spec = std::env::var("LAMINA_TEST_ENGINE_CLI").unwrap_or_else(|_| "docker".to_owned());
    let mut words = spec.split_whitespace();
    let mut cmd = Command::new(words.next().unwrap_or("docker"));
    cmd.args(words);
    cmd
}

/// `tar -C root -c . | docker import - tag`, then `docker run --rm tag args…`; stdout.
fn docker_run(root: &Path, tag: &str, args: &[&str]) -> String {
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(root)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = tar.stdout.take().unwrap();
    let import = engine_cli()
        .args(["import", "-", tag])
        .stdin(stdin)
        .output()
        .unwrap();
    assert!(tar.wait().unwrap().success());
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let run = engine_cli()
        .args(["run", "--rm", "--read-only", "--user", "993:990", tag])
        .args(args)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout).unwrap()
}
