use super::*;

fn report(status: Status) -> Report {
    let mut r = Report::new("id", 15.74, 128, status);
    r.metrics.max_memory_used_mb = 56;
    r.metrics.init_duration_ms = Some(130.49);
    r
}

fn text(event: PlatformEvent) -> Vec<String> {
    PlatformRecord::now(event).text()
}

#[test]
fn report_matches_reference_layout() {
    assert_eq!(
        text(PlatformEvent::Report(report(Status::Success))),
        ["REPORT RequestId: id\tDuration: 15.74 ms\tBilled Duration: 16 ms\tMemory Size: 128 MB\tMax Memory Used: 56 MB\tInit Duration: 130.49 ms\t"]
    );
    let mut warm = report(Status::Timeout);
    warm.metrics.init_duration_ms = None;
    warm.timed_out_after_ms = Some(3000);
    let lines = text(PlatformEvent::Report(warm));
    assert!(lines[0].ends_with("Max Memory Used: 56 MB\tStatus: timeout\t"));
    assert!(
        lines[1].ends_with("Z id Task timed out after 3.00 seconds"),
        "{lines:?}"
    );
    assert_eq!(
        text(PlatformEvent::Start(Start {
            request_id: "id".into(),
            version: "$LATEST".into(),
            tenant_id: None,
        })),
        ["START RequestId: id Version: $LATEST"]
    );
    assert_eq!(
        text(PlatformEvent::RuntimeDone(RuntimeDone {
            request_id: "id".into(),
            status: Status::Success,
            error_type: None,
            metrics: None,
        })),
        ["END RequestId: id"]
    );
}

fn init_start(runtime: Option<&str>, seed: &str) -> String {
    text(PlatformEvent::InitStart(InitStart::new(
        "calc",
        runtime,
        "us-east-1",
        seed,
        InitPhase::Init,
    )))
    .remove(0)
}

fn init_report(ms: f64, phase: InitPhase, status: Status) -> Vec<String> {
    text(PlatformEvent::InitReport(InitReport {
        initialization_type: InitType::OnDemand,
        phase,
        status,
        error_type: None,
        metrics: InitReportMetrics { duration_ms: ms },
    }))
}

#[test]
fn init_lines_match_the_reference_layout() {
    let line = init_start(Some("python3.13"), "calc:latest");
    let (version, arn) = line
        .strip_prefix("INIT_START Runtime Version: ")
        .and_then(|l| l.split_once("\tRuntime Version ARN: "))
        .expect(&line);
    assert!(version.starts_with("python:3.13."), "{line}");
    let id = arn
        .strip_prefix("arn:aws:lambda:us-east-1::runtime:")
        .expect(&line);
    assert_eq!(id.len(), 64);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(line, init_start(Some("python3.13"), "calc:latest"));
    assert_ne!(line, init_start(Some("python3.13"), "other"));
    assert!(init_start(Some("provided"), "s").contains("Version: provided:lamina-"));
    assert_eq!(
        init_report(1236.04, InitPhase::Init, Status::Error),
        ["INIT_REPORT Init Duration: 1236.04 ms\tPhase: init\tStatus: error"]
    );
    assert_eq!(
        init_report(3000.0, InitPhase::Invoke, Status::Timeout),
        ["INIT_REPORT Init Duration: 3000.00 ms\tPhase: invoke\tStatus: timeout"]
    );
    assert!(
        init_report(80.0, InitPhase::Init, Status::Success).is_empty(),
        "a successful init's duration is on the first REPORT"
    );
}

/// The documented fields of each record type (fixtures/telemetry-record-fields.json).
fn documented() -> serde_json::Value {
    serde_json::from_str(include_str!("../../fixtures/telemetry-record-fields.json")).unwrap()
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::String(_) => "string",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::Object(_) => "object",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Null => "null",
    }
}

/// Every required field present with its type, nothing undocumented.
fn check_fields(what: &str, record: &serde_json::Value, spec: &serde_json::Value) {
    let record = record
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object"));
    for (name, ty) in spec["required"].as_object().unwrap() {
        let value = record
            .get(name)
            .unwrap_or_else(|| panic!("{what}: `{name}` is missing"));
        assert_eq!(json_type(value), ty, "{what}.{name}");
    }
    for (name, value) in record {
        let ty = spec["required"]
            .get(name)
            .or_else(|| spec["optional"].get(name))
            .unwrap_or_else(|| panic!("{what}: `{name}` is not a documented field"));
        assert_eq!(json_type(value), ty, "{what}.{name}");
        if name == "metrics" {
            check_fields(&format!("{what}.metrics"), value, &spec["metrics"]);
        }
    }
}

#[test]
fn every_platform_event_serialises_as_the_telemetry_api_documents_it() {
    let doc = documented();
    let mut report = report(Status::Error);
    report.error_type = Some("Runtime.ExitError".into());
    let events = [
        PlatformEvent::InitStart(InitStart::new(
            "calc",
            Some("python3.13"),
            "us-east-1",
            "calc:latest",
            InitPhase::Init,
        )),
        PlatformEvent::InitRuntimeDone(InitRuntimeDone {
            initialization_type: InitType::OnDemand,
            phase: InitPhase::Init,
            status: Status::Error,
            error_type: Some("Runtime.ExitError".into()),
        }),
        PlatformEvent::InitReport(InitReport {
            initialization_type: InitType::OnDemand,
            phase: InitPhase::Invoke,
            status: Status::Timeout,
            error_type: None,
            metrics: InitReportMetrics { duration_ms: 10.5 },
        }),
        PlatformEvent::Start(Start {
            request_id: "id".into(),
            version: "$LATEST".into(),
            tenant_id: None,
        }),
        PlatformEvent::RuntimeDone(RuntimeDone {
            request_id: "id".into(),
            status: Status::Success,
            error_type: None,
            metrics: Some(RuntimeDoneMetrics { duration_ms: 1.25 }),
        }),
        PlatformEvent::Report(report),
        PlatformEvent::RestoreStart(RestoreStart::from(&InitStart::new(
            "calc",
            Some("python3.13"),
            "us-east-1",
            "calc:latest",
            InitPhase::Init,
        ))),
        PlatformEvent::RestoreRuntimeDone(RestoreDone {
            status: Status::Success,
            error_type: None,
            metrics: None,
        }),
        PlatformEvent::RestoreReport(RestoreDone {
            status: Status::Error,
            error_type: Some("Runtime.AfterRestoreError".into()),
            metrics: Some(InitReportMetrics { duration_ms: 3.5 }),
        }),
    ];
    for event in events {
        let json = serde_json::to_value(PlatformRecord::now(event)).unwrap();
        let ty = json["type"].as_str().unwrap().to_owned();
        let spec = &doc[&ty];
        assert!(spec.is_object(), "`{ty}` is not a documented type");
        let time = json["time"].as_str().unwrap();
        assert!(
            time.len() == 24 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
            "{ty}: time {time} is not ISO 8601 with milliseconds"
        );
        assert_eq!(
            json.as_object().unwrap().len(),
            3,
            "{ty}: {{time,type,record}} only"
        );
        check_fields(&ty, &json["record"], spec);
        for shared in ["status", "initializationType", "phase"] {
            if let Some(v) = json["record"].get(shared) {
                assert!(
                    doc[shared].as_array().unwrap().contains(v),
                    "{ty}.{shared} = {v} is not a documented value"
                );
            }
        }
    }
}

#[test]
fn the_json_log_keeps_platform_records_by_the_system_level() {
    use crate::function::SystemLogLevel as L;
    let start = PlatformRecord::now(PlatformEvent::Start(Start {
        request_id: "id".into(),
        version: "$LATEST".into(),
        tenant_id: Some("blue".into()),
    }));
    let line = start.json_line(L::Info).expect("INFO keeps start");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["type"], "platform.start");
    assert_eq!(v["record"]["tenantId"], "blue");
    assert!(start.json_line(L::Warn).is_none());
    let ok = PlatformRecord::now(PlatformEvent::Report(report(Status::Success)));
    let failed = PlatformRecord::now(PlatformEvent::Report(report(Status::Timeout)));
    assert!(ok.json_line(L::Info).is_some() && ok.json_line(L::Warn).is_none());
    assert!(failed.json_line(L::Warn).is_some());
    let done = PlatformRecord::now(PlatformEvent::RuntimeDone(RuntimeDone {
        request_id: "id".into(),
        status: Status::Success,
        error_type: None,
        metrics: None,
    }));
    assert!(done.json_line(L::Info).is_none() && done.json_line(L::Debug).is_some());
}

#[test]
fn a_restore_has_its_own_lines_and_its_duration_on_the_first_report() {
    let start = RestoreStart::from(&InitStart::new(
        "calc",
        Some("python3.13"),
        "us-east-1",
        "calc:latest",
        InitPhase::Init,
    ));
    let line = &text(PlatformEvent::RestoreStart(start))[0];
    assert!(
        line.starts_with("RESTORE_START Runtime Version: python:3.13."),
        "{line}"
    );
    assert!(line.contains("\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:"));
    let report = RestoreDone {
        status: Status::Success,
        error_type: None,
        metrics: Some(InitReportMetrics {
            duration_ms: 270.734,
        }),
    };
    assert_eq!(
        text(PlatformEvent::RestoreReport(report)),
        ["RESTORE_REPORT Restore Duration: 270.73 ms"]
    );
    let mut first = Report::new("id", 1.0, 128, Status::Success);
    first.metrics.restore_duration_ms = Some(12.345);
    assert!(text(PlatformEvent::Report(first))[0].ends_with("Restore Duration: 12.35 ms\t"));
}
