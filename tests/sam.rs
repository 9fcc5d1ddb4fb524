//! AWS SAM CLI runs lamina images: `sam local invoke` layers AWS's emulator onto the image
//! with `RUN mv … && chmod +x …` (samcli/local/docker/lambda_image.py), which needs the
//! coreutils the python3.13 base now carries, then runs lamina-ric under AWS's emulator.
//!
//! SAM CLI comes from PyPI into a venv under the cache (once per machine), like every other
//! tool the tests need that Debian does not ship.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

/// The SAM CLI release the test runs (pinned: its Dockerfile text is what is tested).
const SAM_VERSION: &str = "1.170.0";

/// `sam`, installed into `~/.cache/lamina/tools/aws-sam-cli-VERSION` on first use.
fn sam() -> PathBuf {
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

#[test]
fn sam_local_invoke_runs_a_lamina_built_python_image() {
    require_docker();
    let tag = "lamina-sam-test/calculator:test";
    run_ok(
        lamina()
            .args(["build", "examples/calculator", "--tag", tag, "--load"])
            .current_dir(root()),
    );
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("template.yaml"),
        format!(
            "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\nResources:\n  Calculator:\n    Type: AWS::Serverless::Function\n    Properties:\n      PackageType: Image\n      ImageUri: {tag}\n      Timeout: 30\n"
        ),
    )
    .expect("template");
    std::fs::write(
        dir.path().join("event.json"),
        r#"{"queryStringParameters":{"num1":"6","num2":"3","operator":"divide"}}"#,
    )
    .expect("event");
    let out = Command::new(sam())
        .args([
            "local",
            "invoke",
            "Calculator",
            "-e",
            "event.json",
            "--skip-pull-image",
        ])
        .current_dir(dir.path())
        .env("SAM_CLI_TELEMETRY", "0")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .expect("run sam");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "sam local invoke failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(r#"{"statusCode": 200, "body": "{\n    \"result\": 2.0\n}"}"#),
        "sam printed:\n{stdout}\n{stderr}"
    );
    assert!(stderr.contains("REPORT RequestId:"), "{stderr}");
}
