//! A function's logging configuration under `lamina rie` and Docker (runtime-api.md §6.1):
//! `log_format = "JSON"` makes the Python worker write AWS's JSON records and the platform
//! its `{"time","type","record"}` records; the application level filters both in the worker
//! and on the platform's side, and a `lamina rie` flag overrides the image's level. Each
//! record is compared field by field with `tests/fixtures/python-json-logs.json`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Map, Value};

const TAG: &str = "lamina-json-logs-test/fn:test";

const HANDLER: &str = r#"
import logging

log = logging.getLogger("app")

def handler(event, context):
    print("printed as is")
    log.debug("debug 1")
    log.info("info 1")
    log.warning("warning 1")
    log.error("error 1")
    log.critical("critical 1")
    try:
        raise ValueError("bad value")
    except ValueError:
        log.exception("caught")
    if event.get("raise"):
        raise RuntimeError("boom")
    return "ok"
"#;

fn fixture() -> Value {
    let path = root().join("tests/fixtures/python-json-logs.json");
    serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("fixture JSON")
}

/// Whether `actual` is the fixture's `expected`, field by field, placeholders standing for
/// what changes from run to run.
fn matches(expected: &Map<String, Value>, actual: &Map<String, Value>, request_id: &str) -> bool {
    let mut keys: Vec<_> = expected.keys().collect();
    let mut got: Vec<_> = actual.keys().collect();
    keys.sort();
    got.sort();
    if keys != got {
        return false;
    }
    expected.iter().all(|(k, want)| {
        let have = &actual[k];
        match want.as_str() {
            Some("<timestamp>") => have
                .as_str()
                .is_some_and(|t| t.len() == 20 && t.ends_with('Z') && t.as_bytes()[10] == b'T'),
            Some("<requestId>") => have == request_id,
            Some("<stackTrace>") => have
                .as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string)),
            Some("<location>") => have
                .as_str()
                .is_some_and(|l| l.starts_with("/var/task/app.py:handler:")),
            _ => have == want,
        }
    })
}

/// Invoke (raising when `raise`) and wait until the invoke's report is in the log; the
/// invoke's request id and the log lines from its platform.start to its platform.report.
fn invoke_and_read(rie: &Rie, raise: bool) -> (String, Vec<String>) {
    let body = if raise { r#"{"raise": true}"# } else { "{}" };
    let a = post(rie.port, INVOKE, &[], body.as_bytes());
    assert_eq!(
        a.header("X-Amz-Function-Error").is_some(),
        raise,
        "{}",
        a.text()
    );
    let id = a.header("X-Amzn-RequestId").expect("request id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = rie.stdout();
        let lines: Vec<String> = log.lines().map(str::to_owned).collect();
        let at = |kind: &str| {
            lines.iter().position(|l| {
                serde_json::from_str::<Value>(l)
                    .is_ok_and(|v| v["type"] == kind && v["record"]["requestId"] == id.as_str())
            })
        };
        if let (Some(start), Some(end)) = (at("platform.start"), at("platform.report")) {
            return (id, lines[start..=end].to_vec());
        }
        assert!(Instant::now() < deadline, "no report of {id}:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The fixture's cases found in `lines`, each exactly once; fails on a JSON line of the
/// function's that matches no case.
fn cases_in(lines: &[String], request_id: &str, fixture: &Value) -> Vec<String> {
    let cases = fixture["records"].as_array().expect("records");
    let mut found = Vec::new();
    for line in lines {
        let Ok(Value::Object(record)) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if record.contains_key("type") && record.contains_key("record") {
            continue; // a platform record
        }
        let case = cases
            .iter()
            .find(|c| matches(c["record"].as_object().expect("case"), &record, request_id))
            .unwrap_or_else(|| panic!("a record no fixture case describes: {line}"));
        found.push(case["case"].as_str().expect("name").to_owned());
    }
    found
}

#[test]
fn python_json_records_match_the_fixture_and_the_level_filters_them() {
    require_docker();
    let fixture = fixture();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("app.py"), HANDLER).expect("handler");
    std::fs::write(
        dir.path().join("lamina.toml"),
        "name = \"json-logs\"\nhandler = \"app.handler\"\nlog_format = \"JSON\"\napplication_log_level = \"DEBUG\"\n",
    )
    .expect("lamina.toml");
    run_ok(lamina().arg("build").arg(dir.path()).args(["--tag", TAG]));

    for (args, level) in [
        (&[][..], "DEBUG"),
        (&["--application-log-level", "WARN"][..], "WARN"),
    ] {
        let rie = Rie::start(TAG, args);
        let mut seen = Vec::new();
        for raise in [false, true] {
            let (id, lines) = invoke_and_read(&rie, raise);
            let printed = lines
                .iter()
                .any(|l| l == fixture["print"].as_str().expect("print"));
            if printed {
                seen.push("print".to_owned());
            }
            assert!(
                !lines.iter().any(|l| l.starts_with("START ")),
                "JSON format has no text platform lines: {lines:#?}"
            );
            seen.extend(cases_in(&lines, &id, &fixture));
        }
        // Each case the level keeps once per invoke (print() as written), and the unhandled
        // error on the second.
        let kept: Vec<String> = fixture["kept_at"][level]
            .as_array()
            .expect("kept_at")
            .iter()
            .map(|c| c.as_str().expect("case").to_owned())
            .collect();
        let mut want: Vec<String> = kept.iter().filter(|c| *c != "unhandled").cloned().collect();
        want.extend(kept.iter().cloned());
        want.sort();
        seen.sort();
        assert_eq!(seen, want, "at {level}:\n{}", rie.stdout());
    }
}
