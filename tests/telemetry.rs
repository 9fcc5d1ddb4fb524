//! The Telemetry API under `lamina rie`, on real Docker: `examples/telemetry-logger`, whose
//! extension subscribes (HTTP destination on `sandbox.localdomain`) and keeps every record it
//! receives; the function answers `{"dump": true}` with them. The records are checked field
//! by field against `crates/runtime-api/fixtures/telemetry-record-fields.json` (the documented
//! fields of each type, its source named there).

mod common;

use std::sync::Once;
use std::time::{Duration, Instant};

use common::{post, require_docker, root, Rie, INVOKE};
use serde_json::Value;

fn example() -> &'static str {
    static MADE: Once = Once::new();
    MADE.call_once(|| common::run_python("examples/telemetry-logger/make_layer.py"));
    "examples/telemetry-logger"
}

fn documented() -> Value {
    let text = std::fs::read_to_string(
        root().join("crates/runtime-api/fixtures/telemetry-record-fields.json"),
    )
    .expect("the fixture");
    serde_json::from_str(&text).expect("JSON")
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::Bool(_) => "boolean",
        Value::Null => "null",
    }
}

/// Every required field present with its documented type, nothing undocumented.
fn check_fields(what: &str, record: &Value, spec: &Value) {
    let record = record
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object"));
    for (name, ty) in spec["required"].as_object().unwrap() {
        let value = record
            .get(name)
            .unwrap_or_else(|| panic!("{what}: no `{name}`"));
        assert_eq!(json_type(value), ty, "{what}.{name}");
    }
    for (name, value) in record {
        let ty = spec["required"]
            .get(name)
            .or_else(|| spec["optional"].get(name))
            .unwrap_or_else(|| panic!("{what}: `{name}` is not documented"));
        assert_eq!(json_type(value), ty, "{what}.{name}");
        if name == "metrics" {
            check_fields(&format!("{what}.metrics"), value, &spec["metrics"]);
        }
    }
}

#[test]
fn a_subscriber_gets_init_then_each_invokes_events_and_lines_with_the_documented_fields() {
    require_docker();
    let rie = Rie::start(example(), &[]);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let a = post(rie.port, INVOKE, &[], b"{}");
        assert_eq!(a.json()["ok"], true, "{}", rie.stdout());
        ids.push(a.header("x-amzn-requestid").unwrap().to_owned());
    }
    // The last invoke's report reaches the subscriber within its 25 ms buffering.
    let last_report = |records: &[Value]| {
        records
            .iter()
            .any(|r| r["type"] == "platform.report" && r["record"]["requestId"] == ids[2].as_str())
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let records = loop {
        let dump = post(rie.port, INVOKE, &[], br#"{"dump": true}"#).json();
        let records = dump["records"].as_array().cloned().unwrap_or_default();
        if last_report(&records) {
            break records;
        }
        assert!(
            Instant::now() < deadline,
            "no report of the third invoke: {dump}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let doc = documented();
    let platform: Vec<(&str, &Value)> = records
        .iter()
        .filter_map(|r| {
            let ty = r["type"].as_str()?;
            ty.starts_with("platform.").then_some((ty, &r["record"]))
        })
        .collect();
    let types: Vec<&str> = platform.iter().map(|(t, _)| *t).collect();
    // Init: its start, the extension registering and subscribing, the runtime's init, and
    // init's report.
    let mut expected = vec![
        "platform.initStart",
        "platform.extension",
        "platform.telemetrySubscription",
        "platform.initRuntimeDone",
        "platform.initReport",
    ];
    for _ in &ids {
        expected.extend(["platform.start", "platform.runtimeDone", "platform.report"]);
    }
    assert_eq!(&types[..expected.len()], &expected[..], "{records:#?}");
    assert_eq!(
        (
            platform[1].1["name"].as_str(),
            platform[1].1["state"].as_str()
        ),
        (Some("telemetry-logger"), Some("Ready")),
        "{records:#?}"
    );
    assert_eq!(
        platform[2].1["types"],
        serde_json::json!(["platform", "function"])
    );
    for (ty, record) in &platform {
        check_fields(ty, record, &doc[*ty]);
        for shared in ["status", "initializationType", "phase"] {
            if let Some(v) = record.get(shared) {
                assert!(
                    doc[shared].as_array().unwrap().contains(v),
                    "{ty}.{shared} = {v}"
                );
            }
        }
    }
    for (i, id) in ids.iter().enumerate() {
        let per_invoke = &platform[5 + 3 * i..8 + 3 * i];
        assert!(
            per_invoke
                .iter()
                .all(|(_, r)| r["requestId"] == id.as_str()),
            "{per_invoke:?}"
        );
        assert!(per_invoke[1].1["metrics"]["durationMs"].as_f64().unwrap() > 0.0);
        let line = format!("handled {id}");
        assert!(
            records
                .iter()
                .any(|r| r["type"] == "function" && r["record"] == line.as_str()),
            "the function's line as a `function` record: {line}"
        );
    }
    for r in &records {
        let time = r["time"].as_str().unwrap();
        assert!(time.len() == 24 && time.ends_with('Z'), "{r}");
    }
}

#[test]
fn a_tcp_subscriber_gets_the_same_records_as_ndjson() {
    require_docker();
    let rie = Rie::start(example(), &["--env", "TELEMETRY_PROTOCOL=TCP"]);
    let a = post(rie.port, INVOKE, &[], b"{}");
    assert_eq!(a.json()["ok"], true, "{}", rie.stdout());
    let id = a.header("x-amzn-requestid").unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(15);
    let records = loop {
        let dump = post(rie.port, INVOKE, &[], br#"{"dump": true}"#).json();
        let records = dump["records"].as_array().cloned().unwrap_or_default();
        if records
            .iter()
            .any(|r| r["type"] == "platform.report" && r["record"]["requestId"] == id.as_str())
        {
            break records;
        }
        assert!(Instant::now() < deadline, "no report over TCP: {dump}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let of_invoke: Vec<&str> = records
        .iter()
        .filter(|r| r["record"]["requestId"] == id.as_str())
        .filter_map(|r| r["type"].as_str())
        .collect();
    assert_eq!(
        of_invoke,
        ["platform.start", "platform.runtimeDone", "platform.report"],
        "{records:#?}"
    );
    let line = format!("handled {id}");
    assert!(
        records
            .iter()
            .any(|r| r["type"] == "function" && r["record"] == line.as_str()),
        "{records:#?}"
    );
    assert!(
        rie.stdout().contains("subscribing (TCP)"),
        "{}",
        rie.stdout()
    );
}

#[test]
fn a_slow_subscriber_loses_records_with_a_logs_dropped_notice_and_never_holds_an_invoke() {
    require_docker();
    // The subscriber holds each batch 3 s; each invoke logs 6,000 lines, past what its
    // buffer keeps (4 batches of 1,000).
    let rie = Rie::start(example(), &["--env", "TELEMETRY_SLOW_MS=3000"]);
    let mut answered = Vec::new();
    for _ in 0..3 {
        let a = post(rie.port, INVOKE, &[], br#"{"lines": 6000}"#);
        assert_eq!(a.json()["ok"], true, "{}", rie.stdout());
        answered.push(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64(),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let records = loop {
        let dump = post(rie.port, INVOKE, &[], br#"{"dump": true}"#).json();
        let records = dump["records"].as_array().cloned().unwrap_or_default();
        if records.iter().any(|r| r["type"] == "platform.logsDropped") {
            break records;
        }
        assert!(
            Instant::now() < deadline,
            "no platform.logsDropped: {} records",
            records.len()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    // Every invoke was answered before the subscriber answered its first batch.
    let first_answer = records
        .iter()
        .find(|r| r["type"] == "lamina-example.answered")
        .and_then(|r| r["time"].as_f64())
        .expect("the subscriber answered a batch");
    assert!(
        answered.iter().all(|&t| t < first_answer),
        "invokes answered at {answered:?}, the subscriber's first batch at {first_answer}"
    );
    let dropped = records
        .iter()
        .find(|r| r["type"] == "platform.logsDropped")
        .expect("logsDropped");
    check_fields(
        "platform.logsDropped",
        &dropped["record"],
        &documented()["platform.logsDropped"],
    );
    assert!(
        dropped["record"]["droppedRecords"].as_u64() > Some(0),
        "{dropped}"
    );
}
