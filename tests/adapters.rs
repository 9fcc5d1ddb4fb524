//! The language adapters' own unit tests, run by the README's test command inside the bases
//! they ship in: `base-images/python/tests` under the python3.13 and python3.14 bases'
//! interpreters and `base-images/node/tests` under the nodejs24 base's Node (not the host's),
//! in a container of an image lamina built, each against the golden frames of
//! `tests/fixtures/worker-frames.json`. A broken adapter assertion fails here.

mod common;

use common::*;

#[test]
fn the_python_adapter_tests_pass_on_the_python313_base() {
    adapter_tests_pass_on("python3.13", "3.13");
}

#[test]
fn the_python_adapter_tests_pass_on_the_python314_base() {
    adapter_tests_pass_on("python3.14", "3.14");
}

/// Build the calculator on `runtime`'s base into Docker and run `python3 -m unittest` there
/// on the adapter folder, mounted read-only; the interpreter must be `version`.
fn adapter_tests_pass_on(runtime: &str, version: &str) {
    require_docker();
    let tag = format!("lamina-e2e/adapter-tests:{runtime}");
    let tag = tag.as_str();
    run_ok(
        lamina()
            .args([
                "build",
                "examples/calculator",
                "--runtime",
                runtime,
                "--tag",
                tag,
                "--load",
            ])
            .current_dir(root()),
    );
    let adapter = root().join("base-images/python");
    let out = common::engine_cli()
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            "-e",
            "PYTHONDONTWRITEBYTECODE=1",
        ])
        .arg("-v")
        .arg(format!("{}:/adapter:ro", adapter.display()))
        .args(golden_frames())
        .args(["--entrypoint", "python3", tag])
        .args(["-m", "unittest", "discover", "-v", "-s", "/adapter/tests"])
        .output()
        .expect("run docker");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the adapter's tests failed:\n{text}");

    // Every test in the folder ran (none was skipped by an import failure).
    let defined: usize = std::fs::read_dir(adapter.join("tests"))
        .expect("list tests")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("test_"))
        .map(|e| {
            std::fs::read_to_string(e.path())
                .expect("read test file")
                .lines()
                .filter(|l| l.trim_start().starts_with("def test_"))
                .count()
        })
        .sum();
    assert!(defined > 0);
    assert!(
        text.contains(&format!("Ran {defined} tests")) && text.trim_end().ends_with("OK"),
        "expected {defined} tests to run and pass:\n{text}"
    );
    let interpreter = common::engine_cli()
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "python3",
            tag,
        ])
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .expect("run docker");
    assert_eq!(String::from_utf8_lossy(&interpreter.stdout).trim(), version);
}

/// `docker run` arguments that mount the golden frames and name them to the adapters' tests.
fn golden_frames() -> Vec<String> {
    let fixtures = root().join("tests/fixtures");
    vec![
        "-v".into(),
        format!("{}:/fixtures:ro", fixtures.display()),
        "-e".into(),
        "LAMINA_WORKER_FRAMES=/fixtures/worker-frames.json".into(),
    ]
}

#[test]
fn the_node_adapter_tests_pass_on_the_nodejs24_base() {
    require_docker();
    let tag = "lamina-e2e/adapter-tests:nodejs24";
    run_ok(
        lamina()
            .args(["build", "examples/node-hello", "--tag", tag, "--load"])
            .current_dir(root()),
    );
    let adapter = root().join("base-images/node");
    let out = common::engine_cli()
        .args(["run", "--rm", "--network", "none"])
        .arg("-v")
        .arg(format!("{}:/adapter:ro", adapter.display()))
        .args(golden_frames())
        .args(["--entrypoint", "node", tag])
        .args([
            "--test",
            "--test-reporter=tap",
            "/adapter/tests/bootstrap.test.mjs",
        ])
        .output()
        .expect("run docker");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the adapter's tests failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every test in the folder ran and passed.
    let defined: usize = std::fs::read_dir(adapter.join("tests"))
        .expect("list tests")
        .flatten()
        .map(|e| {
            std::fs::read_to_string(e.path())
                .expect("read test file")
                .lines()
                .filter(|l| l.starts_with("test(\""))
                .count()
        })
        .sum();
    assert!(defined > 0);
    assert!(
        text.contains(&format!("# pass {defined}\n")) && text.contains("# fail 0\n"),
        "expected {defined} tests to run and pass:\n{text}"
    );
    let version = common::engine_cli()
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "node",
            tag,
        ])
        .args(["-p", "process.versions.node.split('.')[0]"])
        .output()
        .expect("run docker");
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), "24");
}
