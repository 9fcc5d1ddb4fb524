//! The CI image: the repository's `Dockerfile` built with the `lamina` under test on lamina's
//! own `provided` base (nothing can be pulled here), then run as a CI job runs it — a build
//! inside the container, its image written to a mounted folder and checked outside.

mod common;

use std::process::Command;

use common::{docker, lamina, require_docker, root, run_ok};

const BASE: &str = "lamina-test/provided-base:ci";
const IMAGE: &str = "lamina-test/ci-image:latest";

/// lamina's `provided` rootfs imported into Docker (once per rootfs).
fn provided_base() {
    let out = run_ok(lamina().args(["--json", "base", "build", "provided"]));
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("base build --json");
    let rootfs = v["rootfs"].as_str().expect("rootfs").to_owned();
    let have = common::engine_cli()
        .args([
            "image",
            "inspect",
            "-f",
            "{{index .Config.Labels \"rootfs\"}}",
            BASE,
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    if have != rootfs {
        let script = "tar --numeric-owner -C \"$1\" -c . | docker import --change \"LABEL rootfs=$1\" - \"$2\" >/dev/null";
        let ok = Command::new("sh")
            .args(["-c", script, "sh", &rootfs, BASE])
            .status()
            .expect("sh");
        assert!(ok.success(), "docker import of the provided rootfs");
    }
}

#[test]
fn the_dockerfile_packages_lamina_and_the_image_builds_a_function_in_ci() {
    require_docker();
    provided_base();
    // The build context: the repository's Dockerfile and the binary under test.
    let ctx = tempfile::tempdir().unwrap();
    std::fs::copy(root().join("Dockerfile"), ctx.path().join("Dockerfile")).unwrap();
    std::fs::create_dir(ctx.path().join("bin")).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_lamina"), ctx.path().join("bin/lamina")).unwrap();
    common::docker_build(
        ctx.path(),
        IMAGE,
        &[
            "--build-arg",
            &format!("BASE={BASE}"),
            "--build-arg",
            "LAMINA_BIN=bin/lamina",
        ],
    );

    let version = docker(&["run", "--rm", IMAGE, "--version"]);
    assert!(version.starts_with("lamina "), "{version}");

    // A CI job: the checkout mounted at /work, a build on `scratch` (no daemon, no network:
    // the client comes from inside lamina), written out as an OCI layout.
    let work = tempfile::tempdir().unwrap();
    let func = work.path().join("fn");
    std::fs::create_dir(&func).unwrap();
    let handler = func.join("handler");
    std::fs::copy(env!("CARGO_BIN_EXE_lamina"), &handler).unwrap();
    let out = docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/work", work.path().display()),
        IMAGE,
        "--json",
        "build",
        "fn",
        "--runtime",
        "provided",
        "--base",
        "scratch",
        "--handler",
        "handler",
        "--output",
        "oci:/work/out",
    ]);
    let built: serde_json::Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("build --json in the CI image ({e}): {out}"));
    let digest = built["manifestDigest"].as_str().expect("manifestDigest");

    // Outside: the layout is whole and Lambda would take it.
    let checked = run_ok(
        lamina()
            .args(["--json", "check"])
            .arg(format!("oci:{}", work.path().join("out").display())),
    );
    let checked: serde_json::Value = serde_json::from_str(checked.trim()).expect("check --json");
    assert_eq!(checked["accepted"], true, "{checked}");
    let index = std::fs::read_to_string(work.path().join("out/index.json")).expect("an OCI layout");
    assert!(index.contains(digest), "{index}");
    // Files written by root in the container: let the temp dir go.
    let _ = common::engine_cli()
        .args(["run", "--rm", "-v"])
        .arg(format!("{}:/work", work.path().display()))
        .args([
            "--entrypoint",
            "/bin/sh",
            IMAGE,
            "-c",
            "rm -rf /work/out /work/cache",
        ])
        .status();
}
