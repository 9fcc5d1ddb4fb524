//! Builds `lamina-ric` as a fully static binary and embeds it in `lamina`.
//!
//! `lamina build` injects the runtime interface client into every image it makes, so the CLI
//! must carry a copy that runs in any Linux base (no libc assumed). There is no musl target on
//! our toolchain, so we link glibc statically (`+crt-static`) for the host target, in a target
//! directory of its own so this nested cargo never contends with the outer build's lock.
//!
//! `LAMINA_RIC_BINARY=/path/to/lamina-ric` skips the nested build and embeds that file
//! (for packagers who build the client separately, e.g. for another architecture).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=LAMINA_RIC_BINARY");
    for dir in ["crates/ric", "crates/runtime-api", "crates/rie"] {
        println!("cargo:rerun-if-changed={dir}/src");
        println!("cargo:rerun-if-changed={dir}/Cargo.toml");
    }
    println!("cargo:rerun-if-changed=Cargo.lock");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dest = out_dir.join("lamina-ric");

    if let Ok(given) = env::var("LAMINA_RIC_BINARY") {
        std::fs::copy(&given, &dest)
            .unwrap_or_else(|e| panic!("LAMINA_RIC_BINARY={given} cannot be read: {e}"));
        return;
    }

    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let target_dir = ric_target_dir(&manifest_dir, &out_dir);
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&manifest_dir)
        .args([
            "build",
            "--release",
            "-p",
            "lamina-ric",
            "--target",
            &target,
            "--target-dir",
        ])
        .arg(&target_dir);
    if env::var("CARGO_NET_OFFLINE").is_ok_and(|v| v == "true") {
        cmd.arg("--offline");
    }
    // The outer build's flags and jobserver must not leak into the nested one.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
        "CARGO_PRIMARY_PACKAGE",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        cmd.env_remove(var);
    }
    // Static glibc, symbols stripped (the client ships in every image; ~0.8 MB less).
    cmd.env(
        "CARGO_ENCODED_RUSTFLAGS",
        "-Ctarget-feature=+crt-static\x1f-Cstrip=symbols",
    );
    let status = cmd.status().expect("run cargo to build lamina-ric");
    assert!(
        status.success(),
        "building the static lamina-ric failed (see the output above)"
    );
    let built = target_dir.join(&target).join("release").join("lamina-ric");
    std::fs::copy(&built, &dest)
        .unwrap_or_else(|e| panic!("copy {} to {}: {e}", built.display(), dest.display()));
}

/// `target/ric-static` beside the outer target dir, shared by every profile (debug, release,
/// clippy) so the client is compiled once, not once per outer profile.
fn ric_target_dir(manifest_dir: &Path, out_dir: &Path) -> PathBuf {
    // OUT_DIR = <target>/<profile>/build/lamina-<hash>/out (or <target>/<triple>/<profile>/…).
    out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(|t| {
            if t.file_name()
                .is_some_and(|n| n == env::var("TARGET").unwrap_or_default().as_str())
            {
                t.parent().unwrap_or(t).join("ric-static")
            } else {
                t.join("ric-static")
            }
        })
        .unwrap_or_else(|| manifest_dir.join("target").join("ric-static"))
}
