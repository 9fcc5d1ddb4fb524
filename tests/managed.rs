//! Lambda Managed Instances under `lamina rie` and Docker (runtime-api.md §1.9): one
//! environment with `max_concurrency = 8` runs eight invokes at once in one container,
//! refuses a ninth with the cloud's throttle, survives a crashed worker, keeps each log
//! record attributed to its invoke, and answers a late response with 410 while the next
//! invoke goes on.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const TAG: &str = "lamina-managed-test/fn:test";

/// Records when it ran, in which process and container; logs one JSON record per invoke.
const HANDLER: &str = r#"
import logging, os, socket, time

log = logging.getLogger()

def handler(event, context):
    if event.get("crash"):
        os._exit(3)
    n = event.get("n")
    log.info("working on %s", n)
    # A print longer than a pipe keeps whole (PIPE_BUF), written as text then newline.
    print(f"long {n} " + "x" * 6000 + f" end {n}")
    started = time.time()
    time.sleep(event.get("sleep", 0))
    return {"n": n, "pid": os.getpid(), "host": socket.gethostname(),
            "started": started, "ended": time.time(),
            "max": os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY"),
            "init": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
            "format": os.environ.get("AWS_LAMBDA_LOG_FORMAT")}
"#;

fn build() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("app.py"), HANDLER).expect("handler");
    std::fs::write(
        dir.path().join("lamina.toml"),
        "name = \"managed\"\nhandler = \"app.handler\"\nmax_concurrency = 8\nmemory = 1024\ntimeout = 3\n",
    )
    .expect("lamina.toml");
    run_ok(lamina().arg("build").arg(dir.path()).args(["--tag", TAG]));
}

/// Invoke with `event` on a thread of its own.
fn invoke_on_thread(port: u16, event: Value) -> std::thread::JoinHandle<Answer> {
    std::thread::spawn(move || post(port, INVOKE, &[], event.to_string().as_bytes()))
}

/// The JSON records of the log (platform records and the function's own).
fn records(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

fn count_type(log: &str, kind: &str) -> usize {
    records(log).iter().filter(|r| r["type"] == kind).count()
}

#[test]
fn one_environment_serves_eight_invokes_at_once_refuses_a_ninth_and_survives_a_crashed_worker() {
    require_docker();
    build();
    let rie = Rie::start(TAG, &[]);
    // The environment's first invoke starts it (its other workers start once it is ready).
    let first = post(rie.port, INVOKE, &[], br#"{"n": 0}"#);
    assert_eq!(first.status, 200, "{}\n{}", first.text(), rie.stdout());
    let v = first.json();
    assert_eq!(v["max"], "8");
    assert_eq!(v["init"], "lambda-managed-instances");
    assert_eq!(v["format"], "JSON", "Managed Instances log JSON");
    let host = v["host"].clone();

    // The other seven workers start once the first is ready: a first overlapping round lets
    // them all come up (a slow machine's inits would otherwise eat into the round measured).
    let warm: Vec<_> = (0..8)
        .map(|_| invoke_on_thread(rie.port, serde_json::json!({"n": -1, "sleep": 0.5})))
        .collect();
    for w in warm {
        let a = w.join().expect("warm-up invoke");
        assert_eq!(a.status, 200, "{}", a.text());
    }

    // Eight overlapping invokes: all running at once, in one container, in eight processes.
    // The first invoke and the warm-up round's eight started before.
    let starts_before = 1 + 8;
    let calls: Vec<_> = (1..=8)
        .map(|n| invoke_on_thread(rie.port, serde_json::json!({"n": n, "sleep": 1.5})))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while count_type(&rie.stdout(), "platform.start") < starts_before + 8 {
        assert!(
            Instant::now() < deadline,
            "8 invokes did not start:\n{}",
            rie.stdout()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The ninth finds every slot busy: the cloud throttles it at once (429), no queue.
    let ninth = post(rie.port, INVOKE, &[], br#"{"n": 9}"#);
    assert_eq!(ninth.status, 429, "{}", ninth.text());
    assert_eq!(ninth.json()["Type"], "User", "{}", ninth.text());
    assert_eq!(
        ninth.header("X-Amzn-ErrorType"),
        Some("TooManyRequestsException")
    );
    let answers: Vec<(Answer, Value)> = calls
        .into_iter()
        .map(|c| {
            let a = c.join().expect("invoke thread");
            assert_eq!(a.status, 200, "{}", a.text());
            assert!(a.header("X-Amz-Function-Error").is_none(), "{}", a.text());
            let v = a.json();
            (a, v)
        })
        .collect();
    let latest_start = answers
        .iter()
        .map(|(_, v)| v["started"].as_f64().expect("started"))
        .fold(f64::MIN, f64::max);
    let earliest_end = answers
        .iter()
        .map(|(_, v)| v["ended"].as_f64().expect("ended"))
        .fold(f64::MAX, f64::min);
    assert!(
        latest_start < earliest_end,
        "the eight did not all run at once: last start {latest_start}, first end {earliest_end}"
    );
    let pids: HashSet<i64> = answers
        .iter()
        .filter_map(|(_, v)| v["pid"].as_i64())
        .collect();
    assert_eq!(pids.len(), 8, "a worker process per slot: {pids:?}");
    assert!(
        answers.iter().all(|(_, v)| v["host"] == host),
        "one container"
    );

    // Every invoke's record carries its own request id, and its START/REPORT are its own.
    let log = rie.wait_stdout("platform.report", Duration::from_secs(5));
    let deadline = Instant::now() + Duration::from_secs(10);
    for (a, v) in &answers {
        let id = a.header("X-Amzn-RequestId").expect("request id").to_owned();
        let n = v["n"].as_i64().expect("n");
        loop {
            let log = rie.stdout();
            let all = records(&log);
            let mine = |kind: &str| {
                all.iter()
                    .filter(|r| r["type"] == kind && r["record"]["requestId"] == id.as_str())
                    .count()
            };
            let said = all.iter().any(|r| {
                r["requestId"] == id.as_str()
                    && r["level"] == "INFO"
                    && r["message"] == format!("working on {n}").as_str()
            });
            if said && mine("platform.start") == 1 && mine("platform.report") == 1 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "invoke {n} ({id}) has no record of its own, or not one START and REPORT:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    assert!(
        !log.contains("START RequestId"),
        "no text lines in JSON: {log}"
    );
    // Each invoke's long print is one whole line, never cut by another worker's output.
    let deadline = Instant::now() + Duration::from_secs(10);
    for n in 1..=8 {
        let whole = format!("long {n} {} end {n}", "x".repeat(6000));
        while !rie.stdout().lines().any(|l| l == whole) {
            assert!(
                Instant::now() < deadline,
                "invoke {n}'s long line is not whole in the log"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    // A worker that dies fails its own invoke; the environment serves on, in the same
    // container, with a fresh worker in the slot.
    let crash = post(rie.port, INVOKE, &[], br#"{"crash": true}"#);
    assert_eq!(crash.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(
        crash.json()["errorType"],
        "Runtime.ExitError",
        "{}",
        crash.text()
    );
    let after: Vec<_> = (10..18)
        .map(|n| invoke_on_thread(rie.port, serde_json::json!({"n": n, "sleep": 0.2})))
        .collect();
    for c in after {
        let a = c.join().expect("invoke thread");
        assert_eq!(a.status, 200, "{}", a.text());
        assert_eq!(a.json()["host"], host, "the same environment");
    }
}

#[test]
fn an_answer_after_its_invoke_timed_out_gets_410_and_the_next_invoke_is_unaffected() {
    require_docker();
    build();
    let rie = Rie::start(TAG, &[]);
    // The function's timeout is 3 s: this invoke fails then, and its worker keeps running.
    let late = post(rie.port, INVOKE, &[], br#"{"n": 1, "sleep": 4}"#);
    assert_eq!(
        late.json()["errorType"],
        "Sandbox.Timedout",
        "{}",
        late.text()
    );
    let host = {
        let a = post(rie.port, INVOKE, &[], br#"{"n": 2}"#);
        assert_eq!(a.status, 200, "{}", a.text());
        a.json()["host"].clone()
    };
    // The late answer is refused with 410 InvokeTimeout; lamina-ric logs it and goes on.
    rie.wait_stdout("InvokeTimeout", Duration::from_secs(10));
    let next = post(rie.port, INVOKE, &[], br#"{"n": 3}"#);
    assert_eq!(next.status, 200, "{}", next.text());
    assert_eq!(next.json()["n"], 3);
    assert_eq!(next.json()["host"], host, "the environment lived on");
    let report = records(&rie.stdout())
        .into_iter()
        .find(|r| r["type"] == "platform.report" && r["record"]["status"] == "timeout");
    assert!(
        report.is_some(),
        "the timed-out invoke's report:\n{}",
        rie.stdout()
    );
}

/// AWS's Python client in its own Managed-Instances mode: N processes polling one Runtime
/// API, started as an AWS-style image starts it (a `bootstrap` running `python3 -m
/// awslambdaric`), its package installed by `lamina build` from PyPI.
const AWSRIC_HANDLER: &str = r#"
import os, sys, time

def handler(event, context):
    started = time.time()
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid(), "started": started, "ended": time.time(),
            "max": os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY"),
            "aws_client": "awslambdaric" in sys.modules}
"#;

#[test]
fn aws_python_client_in_its_managed_instances_mode_works_unchanged() {
    require_docker();
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::write(root.join("app.py"), AWSRIC_HANDLER).expect("handler");
    std::fs::write(root.join("requirements.txt"), "awslambdaric==4.2.2\n").expect("reqs");
    let bootstrap = root.join("bootstrap");
    std::fs::write(
        &bootstrap,
        "#!/bin/sh\nexec python3 -m awslambdaric \"$_HANDLER\"\n",
    )
    .expect("bootstrap");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::create_dir(root.join("lib")).expect("lib");
    std::fs::copy(common::tools::libstdcxx(), root.join("lib/libstdc++.so.6")).expect("lib");
    std::fs::write(
        root.join("lamina.toml"),
        "name = \"awsric-managed\"\nhandler = \"app.handler\"\nmax_concurrency = 4\nmemory = 1024\ntimeout = 10\n[env]\nLAMINA_RUNTIME = \"bootstrap\"\n",
    )
    .expect("lamina.toml");
    let tag = "lamina-managed-test/awsric:test";
    run_ok(lamina().arg("build").arg(root).args(["--tag", tag]));
    let rie = Rie::start(tag, &[]);
    let first = post(rie.port, INVOKE, &[], b"{}");
    assert_eq!(first.status, 200, "{}\n{}", first.text(), rie.stdout());
    assert_eq!(first.json()["max"], "4");
    assert_eq!(first.json()["aws_client"], true, "AWS's client ran it");
    let answers = four_at_once(&rie);
    let pids: HashSet<i64> = answers.iter().filter_map(|v| v["pid"].as_i64()).collect();
    assert_eq!(
        pids.len(),
        4,
        "a process per slot, as AWS's client runs them: {pids:?}"
    );
}

/// Four overlapping invokes of two-second sleeps: their answers, after checking that all
/// four ran at once.
fn four_at_once(rie: &Rie) -> Vec<Value> {
    let calls: Vec<_> = (0..4)
        .map(|_| invoke_on_thread(rie.port, serde_json::json!({"sleep": 2.0})))
        .collect();
    let answers: Vec<Value> = calls
        .into_iter()
        .map(|c| {
            let a = c.join().expect("invoke thread");
            assert_eq!(a.status, 200, "{}\n{}", a.text(), rie.stdout());
            a.json()
        })
        .collect();
    let latest_start = answers
        .iter()
        .filter_map(|v| v["started"].as_f64())
        .fold(f64::MIN, f64::max);
    let earliest_end = answers
        .iter()
        .filter_map(|v| v["ended"].as_f64())
        .fold(f64::MAX, f64::min);
    assert!(
        latest_start < earliest_end,
        "the client did not run the four at once:\n{answers:?}"
    );
    answers
}

#[test]
fn the_lambda_runtime_crates_run_concurrent_works_unchanged() {
    require_docker();
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let bootstrap = root.join("bootstrap");
    std::fs::copy(
        common::tools::rust_fixture("rust-concurrent", "rust-concurrent"),
        &bootstrap,
    )
    .expect("bootstrap");
    std::fs::write(
        root.join("lamina.toml"),
        "name = \"rust-managed\"\nruntime = \"provided\"\nhandler = \"bootstrap\"\nmax_concurrency = 4\nmemory = 512\ntimeout = 10\n",
    )
    .expect("lamina.toml");
    let tag = "lamina-managed-test/rust:test";
    run_ok(lamina().arg("build").arg(root).args(["--tag", tag]));
    let rie = Rie::start(tag, &[]);
    let first = post(rie.port, INVOKE, &[], b"{}");
    assert_eq!(first.status, 200, "{}\n{}", first.text(), rie.stdout());
    assert_eq!(first.json()["max"], "4");
    let answers = four_at_once(&rie);
    let pids: HashSet<i64> = answers.iter().filter_map(|v| v["pid"].as_i64()).collect();
    assert_eq!(pids.len(), 1, "one process, four tokio tasks: {pids:?}");
}
