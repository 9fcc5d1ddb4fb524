//! AWS SAM CLI runs lamina images: `sam local invoke` layers AWS's emulator onto the image
//! with `RUN mv … && chmod +x …` (samcli/local/docker/lambda_image.py), which needs the
//! coreutils the python3.13 base now carries, then runs lamina-ric under AWS's emulator.
//!
//! SAM CLI comes from PyPI into a venv under the cache (`common::tools`).

mod common;

use std::process::Command;

use common::*;

/// The calculator built and loaded as `tag`, and a SAM project folder whose template names
/// it (with `events`, YAML lines under the function's `Properties`).
fn project(tag: &str, events: &str) -> tempfile::TempDir {
    require_docker();
    build_json(&["examples/calculator", "--tag", tag, "--load"]);
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("template.yaml"),
        format!(
            "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\nResources:\n  Calculator:\n    Type: AWS::Serverless::Function\n    Properties:\n      PackageType: Image\n      ImageUri: {tag}\n      Timeout: 30\n{events}"
        ),
    )
    .expect("template");
    dir
}

/// `sam` in `dir`, with no telemetry and placeholder AWS settings.
fn sam_in(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(common::tools::sam());
    cmd.current_dir(dir)
        .env("SAM_CLI_TELEMETRY", "0")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test");
    cmd
}

#[test]
fn sam_local_invoke_runs_a_lamina_built_python_image() {
    let dir = project("lamina-sam-test/calculator:test", "");
    std::fs::write(
        dir.path().join("event.json"),
        r#"{"queryStringParameters":{"num1":"6","num2":"3","operator":"divide"}}"#,
    )
    .expect("event");
    let out = sam_in(dir.path())
        .args([
            "local",
            "invoke",
            "Calculator",
            "-e",
            "event.json",
            "--skip-pull-image",
        ])
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

#[test]
fn sam_local_start_api_serves_a_lamina_built_python_image_over_http() {
    let dir = project(
        "lamina-sam-test/calculator:api",
        "      Events:\n        Calc:\n          Type: Api\n          Properties:\n            Path: /calc\n            Method: get\n",
    );
    let port = free_port();
    let mut sam = sam_in(dir.path())
        .args([
            "local",
            "start-api",
            "--skip-pull-image",
            "-p",
            &port.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run sam");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let answer = loop {
        let a = std::process::Command::new("curl")
            .args(["-s", "--max-time", "60"])
            .arg(format!(
                "http://127.0.0.1:{port}/calc?num1=6&num2=3&operator=divide"
            ))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&a.stdout).into_owned();
        if text.contains("result") || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    let _ = Command::new("kill")
        .args(["-INT", &sam.id().to_string()])
        .status();
    let _ = sam.wait();
    let body: serde_json::Value = serde_json::from_str(&answer)
        .unwrap_or_else(|e| panic!("sam local start-api answered {answer:?}: {e}"));
    assert_eq!(body, serde_json::json!({"result": 2.0}));
}
