//! The emulator's log of an invoke, end to end with a fake Python runtime run by
//! `ProcessSandbox`: the cloud's line order, partial lines, platform events as data.

mod common;

use base64::Engine as _;
use common::{fake_function, Harness};

#[tokio::test]
async fn logs_are_framed_in_the_cloud_order() {
    let h = Harness::start_process(vec![fake_function("f")]).await;
    let a1 = h.invoke("f", r#"{"action":"print","lines":3}"#, &[]).await;
    let a2 = h.invoke("f", r#"{"action":"print","lines":2}"#, &[]).await;
    let (r1, r2) = (
        a1.header("x-amzn-requestid").unwrap(),
        a2.header("x-amzn-requestid").unwrap(),
    );
    let log = h.wait_reports(2).await;
    let lines: Vec<&str> = log.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no {needle} in\n{log}"))
    };
    assert!(at("init: starting") < at(&format!("START RequestId: {r1} Version: $LATEST")));
    for (rid, n) in [(r1, 3), (r2, 2)] {
        let start = at(&format!("START RequestId: {rid}"));
        let end = at(&format!("END RequestId: {rid}"));
        let report = at(&format!("REPORT RequestId: {rid}"));
        for i in 0..n {
            let l = at(&format!("line {i} of {rid}"));
            assert!(start < l && l < end, "output inside START..END:\n{log}");
        }
        assert_eq!(report, end + 1, "{log}");
    }
    let rep1 = lines[at(&format!("REPORT RequestId: {r1}"))];
    let rep2 = lines[at(&format!("REPORT RequestId: {r2}"))];
    assert!(rep1.contains("\tInit Duration: "), "{rep1}");
    assert!(!rep2.contains("Init Duration"), "{rep2}");
    assert!(
        rep1.contains("\tMemory Size: 128 MB\tMax Memory Used: "),
        "{rep1}"
    );
    assert!(
        !rep1.contains("Max Memory Used: 0 MB"),
        "memory is measured: {rep1}"
    );
    assert!(at(&format!("REPORT RequestId: {r1}")) < at(&format!("START RequestId: {r2}")));

    // Tail: the invoke's own log, base64, with its START and REPORT.
    let a = h
        .invoke(
            "f",
            r#"{"action":"print","lines":1}"#,
            &[("X-Amz-Log-Type", "Tail")],
        )
        .await;
    let rid = a.header("x-amzn-requestid").unwrap();
    let tail = base64::engine::general_purpose::STANDARD
        .decode(a.header("x-amz-log-result").unwrap())
        .unwrap();
    let tail = String::from_utf8(tail).unwrap();
    assert!(
        tail.starts_with(&format!("START RequestId: {rid}")),
        "{tail}"
    );
    assert!(tail.contains(&format!("line 0 of {rid}")), "{tail}");
    assert!(tail.contains(&format!("REPORT RequestId: {rid}")), "{tail}");
    assert!(!tail.contains(r1), "only this invoke: {tail}");
    h.shutdown().await.unwrap();
}

#[tokio::test]
async fn output_without_a_final_newline_is_a_line_of_its_own_before_end() {
    let h = Harness::start_process(vec![fake_function("f")]).await;
    let a = h.invoke("f", r#"{"action":"partial"}"#, &[]).await;
    assert_eq!(a.status, 200);
    let rid = a.header("x-amzn-requestid").unwrap().to_owned();
    let log = h.wait_log(&format!("END RequestId: {rid}")).await;
    assert!(
        log.contains(&format!("no newline at the end\nEND RequestId: {rid}")),
        "{log}"
    );
    h.shutdown().await.unwrap();
}

/// The platform events of a cold invoke, as data (what the Telemetry API delivers), in the
/// cloud's order: the init's three, then the invoke's three; the two that have no text line
/// (`initRuntimeDone`, a successful `initReport`) carry none.
#[tokio::test]
async fn platform_events_of_a_cold_invoke_come_as_data_in_the_clouds_order() {
    let h = Harness::start_process(vec![fake_function("echo")]).await;
    let a = h.invoke("echo", r#"{"action":"echo"}"#, &[]).await;
    assert_eq!(a.status, 200);
    h.wait_reports(1).await;
    let events: Vec<(String, usize)> = h
        .logs
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            lamina_rie::LogEvent::Platform { record, lines, .. } => {
                let json = serde_json::to_value(record.as_ref()).unwrap();
                Some((json["type"].as_str().unwrap().to_owned(), lines.len()))
            }
            _ => None,
        })
        .collect();
    let expected = [
        ("platform.initStart", 1),
        ("platform.initRuntimeDone", 0),
        ("platform.initReport", 0),
        ("platform.start", 1),
        ("platform.runtimeDone", 1),
        ("platform.report", 1),
    ];
    let expected: Vec<(String, usize)> = expected
        .iter()
        .map(|(t, n)| ((*t).to_owned(), *n))
        .collect();
    assert_eq!(events, expected);
    h.shutdown().await.unwrap();
}
