//! The AWS CLI against `lamina rie`, unchanged: `aws lambda invoke --endpoint-url …` with
//! RequestResponse, Event and DryRun invokes, `--log-type Tail`, a function error and an
//! unknown function; and SAM CLI's `--env-vars` JSON reaching the function.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use common::*;
use serde_json::Value;

fn aws(port: u16, args: &[&str], dir: &Path) -> Output {
    Command::new(common::tools::aws_cli())
        .args([
            "lambda",
            "invoke",
            "--endpoint-url",
            &format!("http://127.0.0.1:{port}"),
        ])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .current_dir(dir)
        .output()
        .expect("run aws")
}

fn stdout_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "aws failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("aws prints JSON")
}

#[test]
fn the_aws_cli_invokes_lamina_rie_as_it_invokes_lambda() {
    require_docker();
    let tag = "lamina-awscli-test/calculator-errors:test";
    build_json(&["examples/calculator-errors", "--tag", tag]);
    let rie = Rie::start(tag, &[]);
    let dir = tempfile::tempdir().expect("temp dir");
    let divide = r#"{"queryStringParameters":{"num1":"6","num2":"3","operator":"divide"}}"#;

    let v = stdout_json(&aws(
        rie.port,
        &[
            "--function-name",
            "calculator-errors",
            "--payload",
            divide,
            "--log-type",
            "Tail",
            "out.json",
        ],
        dir.path(),
    ));
    assert_eq!(v["StatusCode"], 200, "{v}");
    assert_eq!(v["ExecutedVersion"], "$LATEST", "{v}");
    let log = base64::engine::general_purpose::STANDARD
        .decode(v["LogResult"].as_str().unwrap_or_default())
        .expect("LogResult is base64");
    let log = String::from_utf8_lossy(&log);
    assert!(
        log.starts_with("START RequestId: ") && log.contains("REPORT RequestId: "),
        "{log}"
    );
    let payload: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out.json")).expect("out.json"))
            .expect("payload");
    assert_eq!(payload["statusCode"], 200, "{payload}");

    let v = stdout_json(&aws(
        rie.port,
        &[
            "--function-name",
            "calculator-errors",
            "--invocation-type",
            "Event",
            "--payload",
            divide,
            "event.json",
        ],
        dir.path(),
    ));
    assert_eq!(v["StatusCode"], 202, "{v}");
    let v = stdout_json(&aws(
        rie.port,
        &[
            "--function-name",
            "calculator-errors",
            "--invocation-type",
            "DryRun",
            "dry.json",
        ],
        dir.path(),
    ));
    assert_eq!(v["StatusCode"], 204, "{v}");

    // A function error: 200 with FunctionError, the error body as the payload.
    let zero = r#"{"queryStringParameters":{"num1":"1","num2":"0","operator":"divide"}}"#;
    let v = stdout_json(&aws(
        rie.port,
        &[
            "--function-name",
            "arn:aws:lambda:us-east-1:000000000000:function:calculator-errors",
            "--payload",
            zero,
            "err.json",
        ],
        dir.path(),
    ));
    assert_eq!(v["FunctionError"], "Unhandled", "{v}");
    let err = std::fs::read_to_string(dir.path().join("err.json")).expect("err.json");
    assert!(err.contains("ZeroDivisionError"), "{err}");

    let missing = aws(
        rie.port,
        &["--function-name", "nope", "none.json"],
        dir.path(),
    );
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("ResourceNotFoundException"), "{stderr}");
}

#[test]
fn sam_env_vars_reach_the_function_under_the_flags() {
    require_docker();
    let tag = "lamina-awscli-test/env:test";
    let dir = tempfile::tempdir().expect("temp dir");
    let func = dir.path().join("envfn");
    std::fs::create_dir(&func).expect("mkdir");
    std::fs::write(
        func.join("app.py"),
        "import os\ndef handler(event, context):\n    return {k: os.environ.get(k) for k in ['STAGE', 'SHARED', 'FLAG', 'OTHER']}\n",
    )
    .expect("handler");
    std::fs::write(
        func.join("lamina.toml"),
        "name = \"envfn\"\nhandler = \"app.handler\"\n",
    )
    .expect("toml");
    build_json(&[&func.to_string_lossy(), "--tag", tag]);
    let vars = dir.path().join("env.json");
    std::fs::write(
        &vars,
        r#"{"Parameters": {"STAGE": "dev", "SHARED": 1}, "envfn": {"STAGE": "test", "FLAG": "file"}, "other": {"OTHER": "x"}}"#,
    )
    .expect("env.json");
    let rie = Rie::start(
        tag,
        &["--env-vars", &vars.to_string_lossy(), "--env", "FLAG=flag"],
    );
    let a = post(rie.port, INVOKE, &[], b"{}");
    assert_eq!(
        a.json(),
        serde_json::json!({"STAGE": "test", "SHARED": "1", "FLAG": "flag", "OTHER": null}),
        "{}",
        rie.stderr()
    );
}
