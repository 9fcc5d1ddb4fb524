//! A platform record as each subscriber API renders it. The Telemetry API (§3.2) takes the
//! record as serde writes it. The Logs API (§3.4, superseded but still served, and still the
//! one older Datadog and `lambda-extension` subscribers call) has older shapes, which the
//! `lambda-extension` crate's `LambdaLogRecord` reads: `platform.start` `{requestId,
//! version}`; `platform.end` `{requestId}` where the Telemetry API has
//! `platform.runtimeDone` (schema `2021-03-18` adds `platform.runtimeDone` `{requestId,
//! status}` before it); `platform.report` `{requestId, metrics}`; `platform.extension`,
//! `platform.logsSubscription` and `platform.logsDropped` as they are. Init's events and
//! `platform.telemetrySubscription` have no Logs API record.

use serde_json::{json, Value};

use super::{PlatformEvent, PlatformRecord};
use crate::telemetry::{Api, LOGS_RUNTIME_DONE_SCHEMA};

/// `record` as `api` delivers it to a subscriber of `schema_version`: none, one or two
/// records (`{"time","type","record"}`, JSON text), in order.
pub fn records(record: &PlatformRecord, api: Api, schema_version: &str) -> Vec<String> {
    match api {
        // Written straight from the record: the Telemetry API's shapes are serde's.
        Api::Telemetry => match record.event {
            PlatformEvent::LogsSubscription(_) => Vec::new(),
            _ => serde_json::to_string(record).ok().into_iter().collect(),
        },
        Api::Logs => logs_records(record, schema_version)
            .iter()
            .map(Value::to_string)
            .collect(),
    }
}

/// The Logs API's records of `record`, as JSON values.
fn logs_records(record: &PlatformRecord, schema_version: &str) -> Vec<Value> {
    let to_value = |r: &PlatformRecord| serde_json::to_value(r).ok();
    let event = &record.event;
    let envelope = |kind: &str, body: Value| {
        let mut v = to_value(record).unwrap_or_else(|| json!({}));
        v["type"] = Value::from(kind);
        v["record"] = body;
        v
    };
    match event {
        PlatformEvent::Start(e) => vec![envelope(
            "platform.start",
            json!({"requestId": e.request_id, "version": e.version}),
        )],
        PlatformEvent::RuntimeDone(e) => {
            let mut out = Vec::new();
            // Dates compare as strings: the schema versions are ISO dates.
            if schema_version >= LOGS_RUNTIME_DONE_SCHEMA {
                out.push(envelope(
                    "platform.runtimeDone",
                    json!({"requestId": e.request_id, "status": e.status}),
                ));
            }
            out.push(envelope("platform.end", json!({"requestId": e.request_id})));
            out
        }
        PlatformEvent::Report(e) => vec![envelope(
            "platform.report",
            json!({"requestId": e.request_id, "metrics": e.metrics}),
        )],
        PlatformEvent::Extension(_)
        | PlatformEvent::LogsSubscription(_)
        | PlatformEvent::LogsDropped(_) => to_value(record).into_iter().collect(),
        PlatformEvent::InitStart(_)
        | PlatformEvent::InitRuntimeDone(_)
        | PlatformEvent::InitReport(_)
        | PlatformEvent::RestoreStart(_)
        | PlatformEvent::RestoreRuntimeDone(_)
        | PlatformEvent::RestoreReport(_)
        | PlatformEvent::TelemetrySubscription(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{Report, RuntimeDone, Start, Status, Subscribed};

    fn parsed(texts: Vec<String>) -> Vec<Value> {
        texts
            .iter()
            .map(|t| serde_json::from_str(t).unwrap())
            .collect()
    }

    fn logs(event: PlatformEvent, schema: &str) -> Vec<Value> {
        parsed(records(&PlatformRecord::now(event), Api::Logs, schema))
    }

    #[test]
    fn the_logs_api_ends_an_invoke_with_platform_end_and_runtime_done_from_2021_03_18() {
        let done = || {
            PlatformEvent::RuntimeDone(RuntimeDone {
                request_id: "id".into(),
                status: Status::Success,
                error_type: None,
                metrics: None,
            })
        };
        let old = logs(done(), "2020-08-15");
        assert_eq!(old.len(), 1);
        assert_eq!(old[0]["type"], "platform.end");
        assert_eq!(old[0]["record"], json!({"requestId": "id"}));
        let new = logs(done(), "2021-03-18");
        let types: Vec<&str> = new.iter().filter_map(|v| v["type"].as_str()).collect();
        assert_eq!(types, ["platform.runtimeDone", "platform.end"]);
        assert_eq!(
            new[0]["record"],
            json!({"requestId": "id", "status": "success"})
        );
    }

    #[test]
    fn the_logs_api_report_carries_request_id_and_metrics_only() {
        let mut report = Report::new("id", 1.23456, 128, Status::Timeout);
        report.error_type = Some("Sandbox.Timedout".into());
        let v = logs(PlatformEvent::Report(report), "2021-03-18").remove(0);
        assert_eq!(v["type"], "platform.report");
        assert_eq!(
            v["record"],
            json!({"requestId": "id", "metrics": {"durationMs": 1.235, "billedDurationMs": 2,
                "memorySizeMB": 128, "maxMemoryUsedMB": 0}})
        );
        assert!(v["time"].as_str().is_some_and(|t| t.ends_with('Z')));
        let start = logs(
            PlatformEvent::Start(Start {
                request_id: "id".into(),
                version: "$LATEST".into(),
                tenant_id: None,
            }),
            "2020-08-15",
        );
        assert_eq!(
            start[0]["record"],
            json!({"requestId": "id", "version": "$LATEST"})
        );
    }

    #[test]
    fn each_api_gets_only_its_own_subscription_record() {
        let subscribed = || Subscribed {
            name: "logger".into(),
            state: "Subscribed".into(),
            types: vec!["platform".into()],
        };
        let record = PlatformRecord::now(PlatformEvent::TelemetrySubscription(subscribed()));
        assert_eq!(records(&record, Api::Telemetry, "2022-12-13").len(), 1);
        assert!(records(&record, Api::Logs, "2021-03-18").is_empty());
        let record = PlatformRecord::now(PlatformEvent::LogsSubscription(subscribed()));
        assert!(records(&record, Api::Telemetry, "2022-12-13").is_empty());
        let logs = parsed(records(&record, Api::Logs, "2021-03-18"));
        assert_eq!(logs[0]["type"], "platform.logsSubscription");
        assert_eq!(
            logs[0]["record"],
            json!({"name": "logger", "state": "Subscribed", "types": ["platform"]})
        );
    }
}
