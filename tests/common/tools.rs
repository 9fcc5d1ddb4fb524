//! Tools the tests need that Debian does not ship, from PyPI into a venv under the cache
//! (once per machine): SAM CLI, whose venv also carries boto3.

use std::path::PathBuf;
use std::process::Command;

/// The SAM CLI release the test runs (pinned: its Dockerfile text is what is tested).
pub const SAM_VERSION: &str = "1.170.0";

/// `sam`, installed into `~/.cache/lamina/tools/aws-sam-cli-VERSION` on first use.
pub fn sam() -> PathBuf {
    let cache = std::env::var_os("LAMINA_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/lamina")))
        .expect("HOME or LAMINA_CACHE");
    let venv = cache
        .join("tools")
        .join(format!("aws-sam-cli-{SAM_VERSION}"));
    let bin = venv.join("bin/sam");
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
    assert!(ok, "this test needs python3 with venv to install SAM CLI");
    let out = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", &format!("aws-sam-cli=={SAM_VERSION}")])
        .output()
        .expect("run pip");
    assert!(
        out.status.success(),
        "pip could not install aws-sam-cli {SAM_VERSION} (PyPI must be reachable): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        bin.is_file(),
        "SAM CLI installed but {} is missing",
        bin.display()
    );
    std::fs::write(&done, SAM_VERSION).expect("mark the venv complete");
    bin
}

/// The Python of SAM CLI's venv, which has boto3 (installed with SAM CLI on first use).
pub fn python_with_boto3() -> PathBuf {
    sam().with_file_name("python3")
}
