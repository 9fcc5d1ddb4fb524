//! `lamina invoke` against `lamina rie`: the payload on stdout, the log tail on stderr, exit 1
//! on a function error, Event and DryRun invokes, and the service's refusals by name.

mod common;

use common::*;

fn invoke(port: u16, args: &[&str]) -> std::process::Output {
    run(lamina()
        .arg("invoke")
        .args(args)
        .args(["--endpoint", &format!("http://127.0.0.1:{port}")])
        .current_dir(root().join("examples/calculator-errors")))
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn lamina_invoke_prints_the_answer_and_exits_non_zero_on_a_function_error() {
    require_docker();
    let tag = "lamina-invoke-test/calculator-errors:test";
    build_json(&["examples/calculator-errors", "--tag", tag]);
    let rie = Rie::start(tag, &[]);

    let ok = invoke(rie.port, &["--event", "events/divide.json", "--tail"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(
        text(&ok.stdout).contains("\"statusCode\": 200"),
        "{}",
        text(&ok.stdout)
    );
    let tail = text(&ok.stderr);
    assert!(
        tail.starts_with("START RequestId: ") && tail.contains("REPORT RequestId: "),
        "{tail}"
    );

    let failed = invoke(rie.port, &["--event", "events/divide-by-zero.json"]);
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed.stderr));
    assert!(
        text(&failed.stdout).contains("ZeroDivisionError"),
        "{}",
        text(&failed.stdout)
    );

    // The event from standard input, and --json.
    let mut child = lamina()
        .args(["--json", "invoke", "--event", "-", "--endpoint"])
        .arg(format!("http://127.0.0.1:{}", rie.port))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::io::Write::write_all(
        child.stdin.as_mut().expect("stdin"),
        br#"{"queryStringParameters":{"num1":"1","num2":"2","operator":"add"}}"#,
    )
    .expect("write");
    let out = child.wait_with_output().expect("wait");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["statusCode"], 200, "{v}");
    assert_eq!(v["functionError"], serde_json::Value::Null, "{v}");
    assert!(
        v["payload"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("3")),
        "{v}"
    );

    for flag in ["--async", "--dry-run"] {
        let out = invoke(rie.port, &[flag]);
        assert!(out.status.success(), "{flag}: {}", text(&out.stderr));
    }
    let missing = invoke(rie.port, &["nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("ResourceNotFoundException"),
        "{}",
        text(&missing.stderr)
    );
    let no_file = invoke(rie.port, &["--event", "events/none.json"]);
    assert!(
        text(&no_file.stderr).contains("events/none.json"),
        "{}",
        text(&no_file.stderr)
    );
}
