//! The language adapters' own unit tests, run by the README's test command inside the bases
//! they ship in: `base-images/python/tests` under the python3.13 and python3.14 bases'
//! interpreters (not the host's), in a container of an image lamina built. A broken adapter
//! assertion fails here.

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
