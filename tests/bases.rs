//! `--base` from every kind of source, built and run: a `docker save`d lamina image (its
//! layers keep their digests), an OCI layout, an image in Docker, a rootfs folder, scratch.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

const SOURCE_TAG: &str = "lamina-bases-test/calculator:source";

fn layer_digests(built: &Value) -> Vec<String> {
    built["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["digest"].as_str().expect("digest").to_owned())
        .collect()
}

/// The calculator, built and loaded into Docker as the image the other tests build on.
fn source_image() -> Value {
    build_json(&["examples/calculator", "--tag", SOURCE_TAG, "--load"])
}

fn divide(port: u16) -> String {
    let answer = post(
        port,
        INVOKE,
        &[],
        br#"{"queryStringParameters":{"num1":"6","num2":"3","operator":"divide"}}"#,
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.text()
}

#[test]
fn a_docker_saved_lamina_image_as_base_keeps_its_layer_digests_and_runs() {
    require_docker();
    let source = source_image();
    let tmp = tempfile::tempdir().expect("tmp");
    let saved = tmp.path().join("saved.tar");
    docker(&["save", "-o", saved.to_str().expect("path"), SOURCE_TAG]);

    let base = format!("docker-archive:{}", saved.display());
    let tag = "lamina-bases-test/on-archive:test";
    let built = build_json(&["examples/calculator", "--base", &base, "--tag", tag]);
    let have = layer_digests(&built);
    let want = layer_digests(&source);
    assert_eq!(
        have[..want.len()],
        want[..],
        "the base's layers are the saved image's, digest for digest: {built}"
    );
    assert!(built["layers"][0]["cached"].as_bool().expect("cached"));

    let rie = Rie::start(tag, &[]);
    assert!(divide(rie.port).contains("2.0"));
}

#[test]
fn oci_layout_and_docker_daemon_bases_give_the_same_layers() {
    require_docker();
    let source = source_image();
    let tmp = tempfile::tempdir().expect("tmp");
    let layout = tmp.path().join("layout");
    build_json(&[
        "examples/calculator",
        "--tag",
        SOURCE_TAG,
        "--output",
        &format!("oci:{}", layout.display()),
    ]);
    let from_oci = build_json(&[
        "examples/calculator",
        "--base",
        &format!("oci:{}", layout.display()),
        "--tag",
        "lamina-bases-test/on-oci:test",
    ]);
    let from_daemon = build_json(&[
        "examples/calculator",
        "--base",
        &format!("docker-daemon:{SOURCE_TAG}"),
        "--tag",
        "lamina-bases-test/on-daemon:test",
    ]);
    let want = layer_digests(&source);
    for built in [&from_oci, &from_daemon] {
        assert_eq!(layer_digests(built)[..want.len()], want[..], "{built}");
    }
    // The OCI base keeps OCI types: the same base, the same manifest, built twice.
    let again = build_json(&[
        "examples/calculator",
        "--base",
        &format!("oci:{}", layout.display()),
        "--tag",
        "lamina-bases-test/on-oci:test",
    ]);
    assert_eq!(again["manifestDigest"], from_oci["manifestDigest"]);
    // A legacy `docker save` gives a Docker-typed base, so a Docker-typed image.
    assert_ne!(from_daemon["manifestDigest"], from_oci["manifestDigest"]);
    // Both run.
    for tag in [
        "lamina-bases-test/on-oci:test",
        "lamina-bases-test/on-daemon:test",
    ] {
        let rie = Rie::start(tag, &[]);
        assert!(divide(rie.port).contains("2.0"), "{tag}");
    }
}

fn executable(path: &Path, text: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn scratch_and_rootfs_folder_bases_run_plain_executables() {
    require_docker();
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.is_file(),
        "needs a static /bin/busybox (busybox-static)"
    );
    let tmp = tempfile::tempdir().expect("tmp");

    // scratch: the function folder holds its own static `cat` (busybox by another name).
    let echo = tmp.path().join("echo");
    std::fs::create_dir_all(&echo).expect("mkdir");
    std::fs::copy(busybox, echo.join("cat")).expect("copy busybox");
    let tag = "lamina-bases-test/scratch:test";
    let built = build_json(&[
        echo.to_str().expect("path"),
        "--base",
        "scratch",
        "--runtime",
        "provided",
        "--handler",
        "cat",
        "--tag",
        tag,
    ]);
    assert_eq!(built["layers"][0]["name"], "runtime-client", "{built}");
    let rie = Rie::start(tag, &[]);
    let answer = post(rie.port, INVOKE, &[], br#"{"scratch":true}"#);
    assert_eq!(answer.text(), r#"{"scratch":true}"#);
    drop(rie);

    // dir: a root filesystem with a shell, and a shell-script handler.
    let rootfs = tmp.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).expect("mkdir");
    std::fs::copy(busybox, rootfs.join("bin/busybox")).expect("copy busybox");
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).expect("symlink");
    let script = tmp.path().join("script");
    std::fs::create_dir_all(&script).expect("mkdir");
    executable(
        &script.join("handler.sh"),
        b"#!/bin/sh\nread -r event\necho \"{\\\"from\\\": \\\"dir\\\", \\\"event\\\": $event}\"\n",
    );
    let tag = "lamina-bases-test/dir:test";
    build_json(&[
        script.to_str().expect("path"),
        "--base",
        &format!("dir:{}", rootfs.display()),
        "--runtime",
        "provided",
        "--handler",
        "handler.sh",
        "--tag",
        tag,
    ]);
    let rie = Rie::start(tag, &[]);
    let answer = post(rie.port, INVOKE, &[], br#"{"n":1}"#);
    let v: Value = serde_json::from_str(answer.text().trim())
        .unwrap_or_else(|e| panic!("{e}: {}", answer.text()));
    assert_eq!(v, serde_json::json!({"from": "dir", "event": {"n": 1}}));
}

#[test]
fn bad_bases_are_named_with_the_fix() {
    for (base, needle) in [
        ("dir:", "the path is empty"),
        ("oci:/nonexistent/layout", "/nonexistent/layout"),
        ("docker-archive:/nonexistent.tar", "/nonexistent.tar"),
        ("Not A Ref", "docker-daemon:NAME"),
    ] {
        let out = run(lamina()
            .args(["build", "examples/calculator", "--base", base])
            .current_dir(root()));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{base} was accepted");
        assert!(err.contains(needle), "{base}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// An image shaped like AWS's base images (its entrypoint is `/lambda-entrypoint.sh`),
/// made by `docker build` from scratch (no image can be pulled here).
fn fake_aws_base(tag: &str) {
    let ctx = tempfile::tempdir().expect("tmp");
    std::fs::copy("/bin/busybox", ctx.path().join("busybox")).expect("copy busybox");
    executable(
        &ctx.path().join("lambda-entrypoint.sh"),
        b"#!/bin/busybox sh\nexport _HANDLER=\"$1\"\nexec /var/runtime/bootstrap\n",
    );
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY lambda-entrypoint.sh /lambda-entrypoint.sh\nENV LANG=C.UTF-8 PATH=/usr/bin:/bin\nWORKDIR /var/task\nENTRYPOINT [\"/lambda-entrypoint.sh\"]\n",
    )
    .expect("Dockerfile");
    docker_build(ctx.path(), tag, &[]);
}

fn config_of(tag: &str) -> Value {
    let inspect: Value =
        serde_json::from_str(&docker(&["image", "inspect", tag])).expect("inspect json");
    inspect[0]["Config"].clone()
}

#[test]
fn an_aws_shaped_base_keeps_its_entrypoint_unless_told_to_use_lamina_ric() {
    require_docker();
    let base = "lamina-bases-test/aws-shaped:base";
    fake_aws_base(base);
    let source = format!("docker-daemon:{base}");

    let kept = "lamina-bases-test/aws-shaped:kept";
    let built = build_json(&[
        "examples/calculator",
        "--base",
        &source,
        "--tag",
        kept,
        "--load",
    ]);
    let names: Vec<&str> = built["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .filter_map(|l| l["name"].as_str())
        .collect();
    assert!(!names.contains(&"runtime-client"), "{names:?}");
    let config = config_of(kept);
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/lambda-entrypoint.sh"])
    );
    assert_eq!(config["Cmd"], serde_json::json!(["app.handler"]));
    let env = config["Env"].to_string();
    assert!(env.contains("LANG=C.UTF-8"), "the base's env stays: {env}");
    assert!(env.contains("LAMBDA_TASK_ROOT=/var/task"), "{env}");

    let own = "lamina-bases-test/aws-shaped:lamina";
    let built = build_json(&[
        "examples/calculator",
        "--base",
        &source,
        "--ric",
        "lamina",
        "--tag",
        own,
        "--load",
    ]);
    assert!(built["layers"].to_string().contains("runtime-client"));
    assert_eq!(
        config_of(own)["Entrypoint"],
        serde_json::json!(["/var/runtime/lamina-ric"])
    );
}
