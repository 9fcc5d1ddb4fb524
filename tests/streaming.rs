//! Response streaming against real Docker: a custom runtime (`tests/fixtures/streamer`) that
//! streams its response, through `lamina rie`'s `InvokeWithResponseStream` route, `lamina
//! invoke --stream`, boto3's `invoke_with_response_stream`, `curl -N` through the HTTP front
//! as a streaming function URL, and the embedded emulator with no lamina on the host.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use lamina_runtime_api::eventstream::{Event, InvokeComplete};

const TAG: &str = "lamina-streaming-test/streamer:test";

fn build() {
    require_docker();
    build_json(&["tests/fixtures/streamer", "--tag", TAG]);
}

/// The epoch seconds a streamer chunk says it was written at (`chunk I at T…`).
fn written_at(chunk: &str) -> f64 {
    chunk
        .split_whitespace()
        .nth(3)
        .and_then(|t| t.trim_end_matches('.').parse().ok())
        .unwrap_or_else(|| panic!("no timestamp in {chunk:?}"))
}

/// The events of an `InvokeWithResponseStream` on `port`, each with when it arrived.
fn stream_invoke(port: u16, event: &str) -> Vec<(f64, Event)> {
    common::stream_invoke(port, event).1
}

fn chunks(events: &[(f64, Event)]) -> Vec<(f64, String)> {
    events
        .iter()
        .filter_map(|(at, e)| match e {
            Event::PayloadChunk(b) => Some((*at, String::from_utf8_lossy(b).into_owned())),
            Event::InvokeComplete(_) => None,
        })
        .collect()
}

fn assert_each_arrives_before_the_next_is_written(chunks: &[(f64, String)]) {
    for pair in chunks.windows(2) {
        assert!(
            pair[0].0 < written_at(&pair[1].1),
            "{:?} arrived at {}, after the next was written: {chunks:?}",
            pair[0].1,
            pair[0].0
        );
    }
}

const BOTO3: &str = r#"
import json, sys, boto3, botocore
client = boto3.client("lambda", endpoint_url="http://127.0.0.1:" + sys.argv[1], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test",
                      config=botocore.config.Config(retries={"max_attempts": 0}))
out = {}
for key, event in [("ok", {"chunks": 3}), ("error", {"chunks": 2, "error": True})]:
    r = client.invoke_with_response_stream(FunctionName="streamer", Payload=json.dumps(event))
    seen = {"status": r["StatusCode"], "content_type": r.get("ResponseStreamContentType"), "chunks": [], "complete": None}
    for ev in r["EventStream"]:
        if "PayloadChunk" in ev:
            seen["chunks"].append(ev["PayloadChunk"]["Payload"].decode())
        if "InvokeComplete" in ev:
            seen["complete"] = ev["InvokeComplete"]
    out[key] = seen
print(json.dumps(out))
"#;

#[test]
fn a_streamed_response_reaches_the_sdk_the_cli_and_curl_chunk_by_chunk() {
    build();
    let http = free_port();
    let rie = Rie::start(TAG, &["--http", &http.to_string()]);

    // The route itself: each chunk before the runtime writes the next (timestamps).
    let events = stream_invoke(rie.port, r#"{"chunks": 3, "interval": 0.3}"#);
    let got = chunks(&events);
    assert_eq!(got.len(), 3, "{events:?}");
    assert_each_arrives_before_the_next_is_written(&got);
    assert!(matches!(
        events.last(),
        Some((_, Event::InvokeComplete(c))) if c == &InvokeComplete::default()
    ));
    // The runtime side: its chunked request was taken whole, trailers and all (202).
    rie.wait_stdout("stream answered: HTTP/1.1 202", Duration::from_secs(10));

    // boto3, as users call it.
    let out = Command::new(common::tools::python_with_boto3())
        .args(["-c", BOTO3, &rie.port.to_string()])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(seen["ok"]["status"], 200);
    assert_eq!(seen["ok"]["content_type"], "application/octet-stream");
    assert_eq!(seen["ok"]["chunks"].as_array().map(Vec::len), Some(3));
    assert_eq!(seen["ok"]["complete"], serde_json::json!({}));
    assert_eq!(seen["error"]["chunks"].as_array().map(Vec::len), Some(2));
    assert_eq!(seen["error"]["complete"]["ErrorCode"], "StreamError");
    assert!(
        seen["error"]["complete"]["ErrorDetails"]
            .as_str()
            .unwrap_or_default()
            .contains("broke mid-stream"),
        "{seen}"
    );

    // lamina invoke --stream: the chunks on stdout, a mid-stream error exits 1.
    let invoke = |event: &str| {
        let mut child = lamina()
            .args(["invoke", "--stream", "--event", "-", "--endpoint"])
            .arg(format!("http://127.0.0.1:{}", rie.port))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lamina invoke");
        std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), event.as_bytes())
            .expect("write the event");
        drop(child.stdin.take());
        child.wait_with_output().expect("lamina invoke")
    };
    let ok = invoke(r#"{"chunks": 2}"#);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout).lines().count(), 2);
    let failed = invoke(r#"{"chunks": 1, "error": true}"#);
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains("StreamError"),
        "{}",
        String::from_utf8_lossy(&failed.stderr)
    );

    // curl -N through the HTTP front, a streaming function URL: the prelude's status and
    // headers, then each chunk as it is written.
    let mut curl = Command::new("curl")
        .args(["-sS", "-N", "-i", "--max-time", "60"])
        .arg(format!(
            "http://127.0.0.1:{http}/events?chunks=3&interval=0.3"
        ))
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl");
    let mut lines = Vec::new();
    for line in BufReader::new(curl.stdout.take().expect("curl stdout")).lines() {
        lines.push((epoch_secs(), line.expect("curl output")));
    }
    assert!(curl.wait().expect("curl").success());
    let text: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    assert!(text[0].starts_with("HTTP/1.1 201"), "{text:?}");
    let has = |h: &str| text.iter().any(|l| l.eq_ignore_ascii_case(h));
    assert!(
        has("content-type: text/plain") && has("x-streamed: yes"),
        "{text:?}"
    );
    assert!(has("set-cookie: a=1") && has("set-cookie: b=2"), "{text:?}");
    let body: Vec<(f64, String)> = lines
        .iter()
        .filter(|(_, l)| l.starts_with("chunk "))
        .cloned()
        .collect();
    assert_eq!(body.len(), 3, "{text:?}");
    assert_each_arrives_before_the_next_is_written(&body);
}

/// Peak resident memory of a process, in KiB (`VmHWM`).
fn peak_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn a_50_mib_stream_passes_with_lamina_rie_s_memory_flat() {
    build();
    let rie = Rie::start(TAG, &[]);
    // Warm: the environment is up and the peak so far is the emulator's own.
    let warm = stream_invoke(rie.port, r#"{"chunks": 1}"#);
    assert_eq!(chunks(&warm).len(), 1);
    let before = peak_kib(rie.child.id());
    // 200 chunks of 256 KiB: past the 6 MiB burst the cloud's 2 MiB/s applies (~22 s).
    let events = stream_invoke(rie.port, r#"{"chunks": 200, "size": 262144}"#);
    let got = chunks(&events);
    let total: usize = got.iter().map(|(_, c)| c.len()).sum();
    assert_eq!(total, 200 * 262_144);
    assert!(matches!(events.last(), Some((_, Event::InvokeComplete(_)))));
    let grew = peak_kib(rie.child.id()).saturating_sub(before);
    eprintln!("lamina rie's peak: {before} KiB before the 50 MiB stream, +{grew} KiB after");
    assert!(
        before > 0 && grew < 16 * 1024,
        "lamina rie's peak memory grew by {grew} KiB over a 50 MiB stream (from {before} KiB)"
    );
}

#[test]
fn the_embedded_emulator_streams_with_no_lamina_on_the_host() {
    build();
    let served = Served::start(TAG, &[], &[]);
    let events = stream_invoke(served.port, r#"{"chunks": 3, "interval": 0.3}"#);
    let got = chunks(&events);
    assert_eq!(got.len(), 3, "{events:?}\n{}", served.logs());
    assert_each_arrives_before_the_next_is_written(&got);
}

#[test]
fn a_plain_executables_stdout_streams_and_its_failure_ends_the_stream() {
    require_docker();
    let tag = "lamina-streaming-test/exec:test";
    build_json(&["tests/fixtures/exec-stream", "--tag", tag, "--load"]);
    let served = Served::start(tag, &[], &[]);
    let events = stream_invoke(served.port, "{}");
    let got = chunks(&events);
    assert_eq!(got.len(), 3, "{events:?}\n{}", served.logs());
    assert_each_arrives_before_the_next_is_written(&got);
    assert!(matches!(
        events.last(),
        Some((_, Event::InvokeComplete(c))) if c == &InvokeComplete::default()
    ));

    let events = stream_invoke(served.port, r#"{"fail": true}"#);
    assert_eq!(chunks(&events).len(), 1, "{events:?}");
    let Some((_, Event::InvokeComplete(done))) = events.last() else {
        panic!("no InvokeComplete: {events:?}");
    };
    assert_eq!(done.error_code.as_deref(), Some("Runtime.ExitError"));
    assert!(
        done.error_details
            .as_deref()
            .unwrap_or_default()
            .contains("gave up after one chunk"),
        "{done:?}"
    );
}
