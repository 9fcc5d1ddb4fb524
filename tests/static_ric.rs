//! The injected client is fully static: it has no dynamic loader and runs in an image that
//! holds nothing but itself (no libc, no shell), serving the embedded emulator.

mod common;

use std::process::Command;

use common::*;

/// The lamina-ric that `lamina build` embeds (built by build.rs).
const RIC: &str = concat!(env!("OUT_DIR"), "/lamina-ric");

#[test]
fn ldd_says_static() {
    let out = Command::new("ldd").arg(RIC).output().expect("run ldd");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("not a dynamic executable") || text.contains("statically linked"),
        "lamina-ric is dynamically linked:\n{text}"
    );
}

#[test]
fn runs_in_an_image_with_nothing_else() {
    require_docker();
    let image = "lamina-e2e/ric-only:test";
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("rootfs");
    std::fs::create_dir_all(root.join("var/runtime")).expect("mkdir");
    std::fs::create_dir_all(root.join("tmp")).expect("mkdir");
    std::fs::copy(RIC, root.join("var/runtime/lamina-ric")).expect("copy");
    let status = Command::new("sh")
        .arg("-c")
        .arg(r#"tar -C "$1" -c . | docker import -c 'ENTRYPOINT ["/var/runtime/lamina-ric"]' - "$2" >/dev/null"#)
        .args(["sh", root.to_str().expect("utf-8"), image])
        .status()
        .expect("docker import");
    assert!(status.success());

    // Embedded mode: the client serves the invoke API and runs itself as the runtime; the
    // handler (an `exec` kind naming a file that does not exist) fails on invoke, which the
    // emulator reports as a function error. Every step runs without a libc in the image.
    let served =
        common::Served::start(image, &[("LAMINA_RUNTIME", "exec")], &["/var/task/missing"]);
    let (answer, logs) = (served.first.clone(), served.logs());
    drop(served);
    let _ = common::engine_cli().args(["rmi", "-f", image]).output();
    assert_eq!(answer.status, 200, "{}\n{logs}", answer.text());
    assert_eq!(
        answer.header("x-amz-function-error"),
        Some("Unhandled"),
        "{}\n{logs}",
        answer.text()
    );
    assert!(logs.contains("START RequestId: "), "{logs}");
}
