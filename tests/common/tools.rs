//! Tools the tests need that Debian does not ship, from PyPI into venvs under the cache
//! (once per machine): SAM CLI, whose venv also carries boto3, and the AWS CLI.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// The SAM CLI release the test runs (pinned: its Dockerfile text is what is tested).
pub const SAM_VERSION: &str = "1.170.0";
/// The AWS CLI (v1, the one on PyPI) the tests drive.
pub const AWS_CLI_VERSION: &str = "1.46.3";

/// Tests of one binary run in parallel threads: one install at a time.
static INSTALLING: Mutex<()> = Mutex::new(());

/// `BIN` of PyPI package `spec` (`name==version`), installed into
/// `~/.cache/lamina/tools/DIR` on first use.
fn venv_tool(dir: &str, spec: &str, bin: &str) -> PathBuf {
    let _one = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    let cache = std::env::var_os("LAMINA_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/lamina")))
        .expect("HOME or LAMINA_CACHE");
    let venv = cache.join("tools").join(dir);
    let bin = venv.join("bin").join(bin);
    // A venv's scripts name its own path, so it is built where it stays; a marker written
    // last says the install finished (a half-made venv is removed and made again).
    let done = venv.join(".lamina-complete");
    if done.is_file() && bin.is_file() {
        return bin;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "this test needs python3 with venv to install {spec}");
    let out = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", spec])
        .output()
        .expect("run pip");
    assert!(
        out.status.success(),
        "pip could not install {spec} (PyPI must be reachable): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        bin.is_file(),
        "{spec} installed but {} is missing",
        bin.display()
    );
    std::fs::write(&done, spec).expect("mark the venv complete");
    bin
}

/// `sam`, installed into `~/.cache/lamina/tools/aws-sam-cli-VERSION` on first use.
pub fn sam() -> PathBuf {
    venv_tool(
        &format!("aws-sam-cli-{SAM_VERSION}"),
        &format!("aws-sam-cli=={SAM_VERSION}"),
        "sam",
    )
}

/// The Python of SAM CLI's venv, which has boto3 (installed with SAM CLI on first use).
pub fn python_with_boto3() -> PathBuf {
    sam().with_file_name("python3")
}

/// `aws` (AWS CLI v1 from PyPI), installed into `~/.cache/lamina/tools/awscli-VERSION`.
pub fn aws_cli() -> PathBuf {
    venv_tool(
        &format!("awscli-{AWS_CLI_VERSION}"),
        &format!("awscli=={AWS_CLI_VERSION}"),
        "aws",
    )
}

/// `libstdc++.so.6` from Debian's `libstdc++6` package (the host's release, through
/// `apt-get download`; cached under `~/.cache/lamina/tools/libstdcxx`): AWS's Python client
/// links it, and lamina's minimal Python bases do not carry it (AWS's own bases do).
pub fn libstdcxx() -> PathBuf {
    let _one = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    let cache = std::env::var_os("LAMINA_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/lamina")))
        .expect("HOME or LAMINA_CACHE");
    let dir = cache.join("tools").join("libstdcxx");
    let lib = dir.join("libstdc++.so.6");
    if lib.is_file() {
        return lib;
    }
    let work = tempfile::tempdir().expect("temp dir");
    let fetched = Command::new("apt-get")
        .args(["download", "libstdc++6"])
        .current_dir(work.path())
        .output()
        .expect("run apt-get");
    assert!(
        fetched.status.success(),
        "apt-get download libstdc++6 failed (the Debian mirror must be reachable): {}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    let deb = std::fs::read_dir(work.path())
        .expect("read dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("the downloaded .deb");
    let root = work.path().join("root");
    let ok = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&root)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "dpkg-deb -x {} failed", deb.display());
    let found = ["usr/lib/x86_64-linux-gnu", "usr/lib/aarch64-linux-gnu"]
        .iter()
        .map(|d| root.join(d).join("libstdc++.so.6"))
        .find(|p| p.exists())
        .expect("libstdc++.so.6 in the package");
    std::fs::create_dir_all(&dir).expect("mkdir");
    // Copied through a temporary name: a half-written library is never taken for one.
    let part = dir.join("libstdc++.so.6.part");
    std::fs::copy(&found, &part).expect("copy libstdc++");
    std::fs::rename(&part, &lib).expect("rename");
    lib
}

/// The release binary `bin` of the Rust project `tests/fixtures/NAME` (clients of Lambda's
/// APIs written with AWS's Rust crates), built with its own lock file into lamina's cache —
/// one target folder for all of them, so their shared crates compile once and a rerun
/// compiles nothing.
pub fn rust_fixture(name: &str, bin: &str) -> PathBuf {
    let _one = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    let cache = std::env::var_os("LAMINA_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/lamina")))
        .expect("HOME or LAMINA_CACHE");
    let target = cache.join("tools/rust-extension");
    let manifest = super::root()
        .join("tests/fixtures")
        .join(name)
        .join("Cargo.toml");
    let built = Command::new("cargo")
        .args(["build", "--release", "--locked", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .output()
        .expect("run cargo");
    assert!(
        built.status.success(),
        "cannot build {}: {}",
        manifest.display(),
        String::from_utf8_lossy(&built.stderr)
    );
    target.join("release").join(bin)
}
