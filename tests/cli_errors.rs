//! Bad input gets a clear error naming the problem and the fix, a failing exit code, and
//! never a panic.

mod common;

use std::net::TcpListener;

use common::*;

fn fails_with(cmd: &mut std::process::Command, needles: &[&str]) {
    let out = run(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{cmd:?} should fail:\n{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in:\n{stderr}");
    }
}

#[test]
fn missing_folder() {
    fails_with(
        lamina().args(["build", "/nonexistent/fn"]),
        &["/nonexistent/fn", "does not exist"],
    );
}

#[test]
fn no_handler_file() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("lamina.toml"),
        "handler = \"app.handler\"\n",
    )
    .expect("write");
    fails_with(
        lamina().arg("build").arg(dir.path()),
        &["app.py", "app.handler"],
    );
}

#[test]
fn no_handler_given() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("app.py"), "def handler(e, c): pass\n").expect("write");
    fails_with(
        lamina().arg("build").arg(dir.path()),
        &["no handler", "--handler"],
    );
}

#[test]
fn malformed_handler() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("app.py"), "def handler(e, c): pass\n").expect("write");
    fails_with(
        lamina()
            .arg("build")
            .arg(dir.path())
            .args(["--handler", "apphandler"]),
        &["malformed handler `apphandler`"],
    );
}

#[test]
fn bad_config_file() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("lamina.toml"), "memory = \"lots\"\n").expect("write");
    fails_with(lamina().arg("build").arg(dir.path()), &["lamina.toml"]);
}

#[test]
fn docker_not_reachable() {
    fails_with(
        lamina()
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .args(["rie", "some-image", "--port", &free_port().to_string()]),
        &["cannot reach the Docker daemon", "/nonexistent/docker.sock"],
    );
}

#[test]
fn port_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    fails_with(
        lamina().args(["rie", "some-image", "--port", &port]),
        &[&port, "in use"],
    );
}

#[test]
fn unknown_image() {
    require_docker();
    fails_with(
        lamina().args([
            "rie",
            "lamina-no-such-image:nope",
            "--port",
            &free_port().to_string(),
        ]),
        &["lamina-no-such-image:nope", "lamina build"],
    );
}

#[test]
fn bad_output_target() {
    fails_with(
        lamina()
            .args(["build", "examples/calculator", "--output", "zip:/tmp/x"])
            .current_dir(root()),
        &["--output", "oci:PATH", "docker-archive:PATH"],
    );
}

#[test]
fn output_never_clobbers_a_folder_that_is_not_a_layout() {
    let dir = tempfile::tempdir().expect("tmp");
    let precious = dir.path().join("notes.txt");
    std::fs::write(&precious, "keep me").expect("write");
    fails_with(
        lamina()
            .args(["build", "examples/calculator", "--output"])
            .arg(format!("oci:{}", dir.path().display()))
            .current_dir(root()),
        &[&dir.path().display().to_string()],
    );
    assert_eq!(
        std::fs::read_to_string(&precious).expect("still there"),
        "keep me"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 1, "nothing half-written beside it: {names:?}");

    let missing = dir.path().join("no/such/dir/calc.tar");
    fails_with(
        lamina()
            .args(["build", "examples/calculator", "--output"])
            .arg(format!("docker-archive:{}", missing.display()))
            .current_dir(root()),
        &["no/such/dir"],
    );
}

#[test]
fn platform_without_a_matching_client() {
    let other = if cfg!(target_arch = "aarch64") {
        "linux/amd64"
    } else {
        "linux/arm64"
    };
    fails_with(
        lamina()
            .args(["build", "examples/calculator", "--platform", other])
            .current_dir(root()),
        &["lamina-ric", other, "LAMINA_RIC_BINARY"],
    );
}

#[test]
fn provided_with_nothing_to_run() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("run.sh"), "#!/bin/sh\n").expect("write");
    fails_with(
        lamina().arg("build").arg(dir.path()).args([
            "--runtime",
            "provided",
            "--handler",
            "run.sh",
        ]),
        &[
            "runtime `provided` needs an executable `bootstrap`",
            "chmod +x",
        ],
    );
}

#[test]
fn an_http_port_already_taken_is_named_with_its_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let out = lamina()
        .args([
            "rie",
            "no-such-image-for-this-test",
            "--port",
            "0",
            "--http",
            &port,
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("--http port {port}")), "{err}");
}
