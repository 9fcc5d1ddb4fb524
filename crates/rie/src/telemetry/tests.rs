use super::*;
use bytes::Bytes;
use lamina_runtime_api::platform::{Report, RuntimeDone, Start, Status};
use std::sync::Arc;

fn subscribe(t: &Telemetry, types: &str, timeout_ms: u64) {
    let body = format!(
        r#"{{"schemaVersion":"2022-12-13","types":{types},"buffering":{{"timeoutMs":{timeout_ms},"maxItems":1000}},"destination":{{"protocol":"HTTP","URI":"http://sandbox.localdomain:4243/t"}}}}"#
    );
    t.subscribe("logger", Subscription::parse(body.as_bytes()).unwrap())
        .unwrap();
}

fn output(text: &'static str) -> LogEvent {
    LogEvent::Output {
        function: "f".into(),
        extension: None,
        bytes: Bytes::from_static(text.as_bytes()),
    }
}

#[tokio::test]
async fn function_lines_go_out_as_records_once_the_buffer_times_out() {
    let t = Telemetry::default();
    subscribe(&t, r#"["function"]"#, 25);
    t.observe(&output("one\ntwo\n"));
    let batch = tokio::time::timeout(std::time::Duration::from_secs(2), t.next_batch())
        .await
        .unwrap();
    assert_eq!(
        batch.destination,
        Destination::Http {
            port: 4243,
            path: "/t".into()
        }
    );
    let records: Vec<serde_json::Value> = serde_json::from_str(&batch.body).unwrap();
    let lines: Vec<&str> = records
        .iter()
        .map(|r| r["record"].as_str().unwrap())
        .collect();
    assert_eq!(lines, ["one", "two"]);
    assert!(records.iter().all(|r| r["type"] == "function"));
}

#[tokio::test]
async fn a_subscriber_gets_what_init_logged_before_it_subscribed() {
    let t = Telemetry::default();
    t.observe(&output("init line\n"));
    subscribe(&t, r#"["function"]"#, 25);
    t.close();
    let batch = t.next_batch().await;
    let records: Vec<serde_json::Value> = serde_json::from_str(&batch.body).unwrap();
    assert_eq!(records[0]["record"], "init line");
}

#[test]
fn no_subscription_after_init_and_nothing_buffered_without_one() {
    let t = Telemetry::default();
    t.observe(&output("lost\n"));
    t.close();
    let body = br#"{"schemaVersion":"2022-12-13","types":["platform"],"destination":{"protocol":"TCP","port":4243}}"#;
    let e = t
        .subscribe("late", Subscription::parse(body).unwrap())
        .unwrap_err();
    assert_eq!(e.error_type, "Telemetry.SubscriptionClosed");
}

#[tokio::test]
async fn a_subscriber_that_cannot_keep_up_is_told_how_much_it_lost() {
    let t = Telemetry::default();
    subscribe(&t, r#"["function"]"#, 25);
    for _ in 0..(1000 * BUFFER_BATCHES + 7) {
        t.observe(&output("x\n"));
    }
    let batch = t.next_batch().await;
    let records: Vec<serde_json::Value> = serde_json::from_str(&batch.body).unwrap();
    assert_eq!(records[0]["type"], "platform.logsDropped");
    assert_eq!(records[0]["record"]["droppedRecords"], 7);
    assert_eq!(records.len(), 1001, "the notice, then one batch of 1,000");
}

fn platform(event: PlatformEvent) -> LogEvent {
    let record = PlatformRecord::now(event);
    LogEvent::Platform {
        function: "f".into(),
        lines: record.text(),
        record: Arc::new(record),
    }
}

#[tokio::test]
async fn a_logs_api_subscriber_gets_start_end_and_report_in_the_logs_api_shapes() {
    let t = Telemetry::default();
    let body = br#"{"schemaVersion":"2021-03-18","types":["platform","function"],"buffering":{"timeoutMs":25},"destination":{"protocol":"TCP","port":4243}}"#;
    t.subscribe("logs", Subscription::parse_for(Api::Logs, body).unwrap())
        .unwrap();
    t.close();
    t.observe(&platform(PlatformEvent::Start(Start {
        request_id: "r1".into(),
        version: "$LATEST".into(),
        tenant_id: None,
    })));
    t.observe(&output("hello\n"));
    t.observe(&platform(PlatformEvent::RuntimeDone(RuntimeDone {
        request_id: "r1".into(),
        status: Status::Success,
        error_type: None,
        metrics: None,
    })));
    t.observe(&platform(PlatformEvent::Report(Report::new(
        "r1",
        2.5,
        128,
        Status::Success,
    ))));
    let batch = t.next_batch().await;
    assert_eq!(batch.destination, Destination::Tcp { port: 4243 });
    let records: Vec<serde_json::Value> = batch
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types: Vec<&str> = records.iter().filter_map(|r| r["type"].as_str()).collect();
    assert_eq!(
        types,
        [
            "platform.logsSubscription",
            "platform.start",
            "function",
            "platform.runtimeDone",
            "platform.end",
            "platform.report"
        ]
    );
    assert_eq!(records[0]["record"]["name"], "logs");
    assert_eq!(records[2]["record"], "hello");
    assert_eq!(records[5]["record"]["metrics"]["billedDurationMs"], 3);
}

#[test]
fn an_extension_subscribes_through_one_api_only() {
    let t = Telemetry::default();
    subscribe(&t, r#"["platform"]"#, 25);
    let body = br#"{"types":["platform"],"destination":{"protocol":"TCP","port":4243}}"#;
    let e = t
        .subscribe("logger", Subscription::parse_for(Api::Logs, body).unwrap())
        .unwrap_err();
    assert_eq!((e.status, e.error_type.as_str()), (400, "ValidationError"));
    assert!(
        e.error_message.contains("Telemetry API"),
        "{}",
        e.error_message
    );
    t.close();
    let e = t
        .subscribe("other", Subscription::parse_for(Api::Logs, body).unwrap())
        .unwrap_err();
    assert_eq!(e.error_type, "Logs.SubscriptionClosed");
}

#[tokio::test]
async fn a_subscriber_hears_of_each_extension_that_registered_and_of_its_own_subscription() {
    let t = Telemetry::default();
    t.platform(PlatformEvent::Extension(
        lamina_runtime_api::platform::ExtensionReady {
            name: "logger".into(),
            state: "Ready".into(),
            events: vec!["INVOKE".into(), "SHUTDOWN".into()],
        },
    ));
    subscribe(&t, r#"["platform"]"#, 25);
    let batch = t.next_batch().await;
    let records: Vec<serde_json::Value> = serde_json::from_str(&batch.body).unwrap();
    assert_eq!(records[0]["type"], "platform.extension");
    assert_eq!(
        records[0]["record"],
        serde_json::json!({"name": "logger", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]})
    );
    assert_eq!(records[1]["type"], "platform.telemetrySubscription");
    assert_eq!(
        records[1]["record"]["types"],
        serde_json::json!(["platform"])
    );
}

#[tokio::test]
async fn extension_lines_are_extension_records_and_never_go_back_to_their_writer() {
    let t = Telemetry::default();
    subscribe(&t, r#"["extension"]"#, 25);
    let line = |from: &str, text: &'static str| LogEvent::Output {
        function: "f".into(),
        extension: Some(from.into()),
        bytes: Bytes::from_static(text.as_bytes()),
    };
    t.observe(&line("logger", "my own line\n"));
    t.observe(&line("secrets", "fetched\n"));
    t.observe(&output("the function's\n"));
    let batch = t.next_batch().await;
    let records: Vec<serde_json::Value> = serde_json::from_str(&batch.body).unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["type"], "extension");
    assert_eq!(records[0]["record"], "fetched");
}
