//! `Event` invokes that are never lost: accepted durably before the 202, delivered after a
//! `kill -9` and restart of `lamina rie`, each once per attempt; retried on a function error
//! on a compressed schedule, then recorded in the on-failure folder with the cloud's fields.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const TAG: &str = "lamina-async-test/async-sink:test";

/// The async-sink function, built (these tests need Docker).
fn build_sink() {
    require_docker();
    build_json(&["tests/fixtures/async-sink", "--tag", TAG]);
}

fn event(port: u16, body: &str) -> String {
    let a = post(
        port,
        INVOKE,
        &[("X-Amz-Invocation-Type", "Event")],
        body.as_bytes(),
    );
    assert_eq!(a.status, 202, "{}", a.text());
    a.header("x-amzn-RequestId")
        .expect("a request id")
        .to_owned()
}

/// `delivered <id>` (or `done <id>`) lines of a run's output, counted by id.
fn count(out: &str, word: &str) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for l in out.lines() {
        if let Some(rest) = l.strip_prefix(&format!("{word} ")) {
            let id = rest.split(' ').next().unwrap_or_default().to_owned();
            *m.entry(id).or_default() += 1;
        }
    }
    m
}

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

#[test]
fn events_accepted_before_a_kill_9_are_all_delivered_after_a_restart() {
    build_sink();
    let queue = tempfile::tempdir().expect("temp dir");
    let q = queue.path().to_string_lossy().into_owned();
    let port = free_port();
    let mut first = Rie::start_on(port, TAG, &["--events-dir", &q]);
    let accepted: Vec<String> = (0..8)
        .map(|n| event(port, &format!(r#"{{"sleep": 0.4, "n": {n}}}"#)))
        .collect();
    first.wait_stdout("done ", Duration::from_secs(20));
    first.signal("KILL");
    let before = first.stdout();
    let done_before = count(&before, "done");
    assert!(
        done_before.len() < accepted.len(),
        "all done before the kill: {before}"
    );

    let second = Rie::start_on(port, TAG, &["--events-dir", &q]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = count(&second.stdout(), "done");
        let all = accepted
            .iter()
            .all(|id| done.contains_key(id) || done_before.contains_key(id));
        if all {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not all delivered:\n{}\n{}",
            second.stdout(),
            second.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = second.stdout();
    let delivered_before = count(&before, "delivered");
    let delivered_after = count(&after, "delivered");
    let total: usize =
        delivered_before.values().sum::<usize>() + delivered_after.values().sum::<usize>();
    // At least once, and only the one delivery the kill cut short (concurrency 1) twice.
    assert!(
        total <= accepted.len() + 1,
        "{total} deliveries of {}:\n{before}\n{after}",
        accepted.len()
    );
    for id in &accepted {
        assert!(
            delivered_before.contains_key(id) || delivered_after.contains_key(id),
            "{id} never delivered"
        );
    }
    for id in done_before.keys() {
        assert!(
            delivered_after.get(id).copied().unwrap_or(0) <= 1,
            "{id} finished before the kill and was delivered again more than once"
        );
    }
    // Nothing is left in the queue.
    let deadline = Instant::now() + Duration::from_secs(5);
    while files(&queue.path().join("async-sink"))
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "json"))
    {
        assert!(Instant::now() < deadline, "events left in the queue");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_failing_event_is_retried_on_a_compressed_schedule_then_recorded_as_the_cloud_does() {
    build_sink();
    let failed = tempfile::tempdir().expect("temp dir");
    let succeeded = tempfile::tempdir().expect("temp dir");
    let queue = tempfile::tempdir().expect("temp dir");
    let rie = Rie::start(
        TAG,
        &[
            "--events-dir",
            &queue.path().to_string_lossy(),
            "--event-retry-delay",
            "1",
            "--on-failure",
            &failed.path().to_string_lossy(),
            "--on-success",
            &succeeded.path().to_string_lossy(),
        ],
    );
    let bad = event(rie.port, r#"{"fail": true}"#);
    let good = event(rie.port, r#"{"n": 7}"#);
    let deadline = Instant::now() + Duration::from_secs(30);
    // A record is a `.json` file (it is written under a temporary name, then renamed).
    let records = |dir: &Path| -> Vec<std::path::PathBuf> {
        files(dir)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect()
    };
    while records(failed.path()).is_empty() || records(succeeded.path()).is_empty() {
        assert!(Instant::now() < deadline, "no records:\n{}", rie.stdout());
        std::thread::sleep(Duration::from_millis(100));
    }
    let read = |dir: &Path| -> Value {
        let f = records(dir).into_iter().next().expect("a record");
        serde_json::from_slice(&std::fs::read(f).expect("read")).expect("record JSON")
    };
    let r = read(failed.path());
    assert_eq!(r["version"], "1.0");
    assert!(
        r["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{r}"
    );
    assert_eq!(r["requestContext"]["requestId"], bad.as_str());
    assert_eq!(r["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(r["requestContext"]["approximateInvokeCount"], 3);
    assert_eq!(
        r["requestContext"]["functionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:async-sink:$LATEST"
    );
    assert_eq!(r["requestPayload"], serde_json::json!({"fail": true}));
    assert_eq!(r["responseContext"]["functionError"], "Unhandled");
    assert_eq!(r["responseContext"]["statusCode"], 200);
    assert_eq!(r["responsePayload"]["errorType"], "RuntimeError");

    let s = read(succeeded.path());
    assert_eq!(s["requestContext"]["requestId"], good.as_str());
    assert_eq!(s["requestContext"]["condition"], "Success");
    assert_eq!(s["requestContext"]["approximateInvokeCount"], 1);
    assert_eq!(s["responsePayload"], serde_json::json!({"n": 7}));
    assert!(s["responseContext"].get("functionError").is_none(), "{s}");

    // Three attempts with the same request id, 1 s then 2 s apart. The
    // record is written when the third attempt's answer is in; that
    // attempt's own log line travels apart (the container's output pump), so
    // it may land a moment later: wait for it, bounded.
    let attempts = || -> Vec<f64> {
        rie.stdout()
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("delivered {bad} at ")))
            .filter_map(|t| t.trim().parse().ok())
            .collect()
    };
    let lines_by = Instant::now() + Duration::from_secs(5);
    while attempts().len() < 3 && Instant::now() < lines_by {
        std::thread::sleep(Duration::from_millis(50));
    }
    let times = attempts();
    assert_eq!(times.len(), 3, "{}", rie.stdout());
    assert!(times[1] - times[0] >= 0.95, "{times:?}");
    assert!(times[2] - times[1] >= 1.95, "{times:?}");
}

#[test]
fn a_record_that_cannot_be_written_backs_off_and_never_invokes_the_event_again() {
    build_sink();
    let top = tempfile::tempdir().expect("temp dir");
    let failed = top.path().join("failed");
    std::fs::create_dir(&failed).expect("mkdir");
    let queue = tempfile::tempdir().expect("temp dir");
    let rie = Rie::start(
        TAG,
        &[
            "--events-dir",
            &queue.path().to_string_lossy(),
            "--max-retry-attempts",
            "0",
            "--on-failure",
            &failed.to_string_lossy(),
        ],
    );
    // The destination turns into a file after start (a full disk, a removed mount: the
    // record cannot be written; as root no permission bit would stop it).
    std::fs::remove_dir(&failed).expect("rmdir");
    std::fs::write(&failed, b"").expect("a file in its place");
    let bad = event(rie.port, r#"{"fail": true}"#);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        count(&rie.stdout(), "delivered").get(&bad).copied(),
        Some(1),
        "the event ran again while its record could not be written:\n{}",
        rie.stdout()
    );
    assert!(
        rie.stderr().contains("cannot write the record of event"),
        "{}",
        rie.stderr()
    );
    // The folder comes back: the record lands on a later try, the event still ran once.
    std::fs::remove_file(&failed).expect("rm");
    std::fs::create_dir(&failed).expect("mkdir");
    let deadline = Instant::now() + Duration::from_secs(30);
    let record = loop {
        let found: Vec<_> = files(&failed)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        if let Some(f) = found.into_iter().next() {
            break f;
        }
        assert!(Instant::now() < deadline, "no record:\n{}", rie.stderr());
        std::thread::sleep(Duration::from_millis(100));
    };
    let r: Value = serde_json::from_slice(&std::fs::read(record).expect("read")).expect("json");
    assert_eq!(r["requestContext"]["requestId"], bad.as_str());
    assert_eq!(r["requestContext"]["approximateInvokeCount"], 1);
    assert_eq!(
        count(&rie.stdout(), "delivered").get(&bad).copied(),
        Some(1)
    );
    let tmp: Vec<_> = files(queue.path())
        .into_iter()
        .chain(files(&failed))
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(tmp.is_empty(), "temporary files left: {tmp:?}");
}

#[test]
fn a_destination_that_cannot_take_records_is_refused_at_start_with_the_flag_named() {
    build_sink();
    let top = tempfile::tempdir().expect("temp dir");
    let file = top.path().join("a-file");
    std::fs::write(&file, b"").expect("file");
    let out = run(lamina().args([
        "rie",
        TAG,
        "--port",
        &free_port().to_string(),
        "--events-dir",
        &top.path().join("queue").to_string_lossy(),
        "--on-success",
        &file.to_string_lossy(),
    ]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--on-success") && err.contains("a-file"),
        "{err}"
    );
    assert!(!err.contains("serving "), "{err}");
}

#[test]
fn a_queue_file_that_claims_the_last_sequence_number_is_refused_not_wrapped() {
    build_sink();
    let queue = tempfile::tempdir().expect("temp dir");
    let dir = queue.path().join("async-sink");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let last = u64::MAX;
    std::fs::write(
        dir.join(format!("{last:020}.json")),
        format!(
            r#"{{"seq":{last},"requestId":"crafted","payload":"{{}}","traceId":"","clientContext":null,"acceptedMs":1,"attempts":0,"notBeforeMs":0}}"#
        ),
    )
    .expect("write");
    let out = run(lamina().args([
        "rie",
        TAG,
        "--port",
        &free_port().to_string(),
        "--events-dir",
        &queue.path().to_string_lossy(),
    ]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sequence number") && err.contains("crafted"),
        "{err}"
    );
}
