//! The emulator end to end, with a fake Python runtime run by `ProcessSandbox`.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::{fake_function, Harness};
use lamina_runtime_api::function::{Concurrency, Timeout};
use serde_json::json;

fn pid(a: &common::Answer) -> u64 {
    a.json()["pid"].as_u64().unwrap()
}

#[tokio::test]
async fn success_carries_the_runtime_body_and_cloud_headers() {
    let mut f = fake_function("echo");
    f.config.env = vec![
        ("MY_VAR".into(), "mine".into()),
        ("AWS_REGION".into(), "nope".into()),
    ]
    .try_into()
    .unwrap();
    let h = Harness::start_process(vec![f]).await;
    let a = h.invoke("echo", r#"{"action":"echo","n":1}"#, &[]).await;
    assert_eq!(a.status, 200);
    assert_eq!(&a.body[..], br#"{"action":"echo","n":1}"#);
    assert_eq!(a.header("x-amz-executed-version"), Some("$LATEST"));
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert!(a.header("x-amz-function-error").is_none());
    assert!(a.header("x-amzn-requestid").is_some());

    // `function` is an alias of the single function; the runtime sees the cloud's headers/env.
    let ctx = base64::engine::general_purpose::STANDARD.encode(r#"{"custom":{"k":"v"}}"#);
    let a = h
        .invoke(
            "function",
            r#"{"action":"headers"}"#,
            &[
                ("X-Amz-Client-Context", &ctx),
                (
                    "X-Amzn-Trace-Id",
                    "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
                ),
            ],
        )
        .await;
    assert_eq!(a.status, 200);
    let v = a.json();
    let hd = &v["headers"];
    assert_eq!(
        hd["lambda-runtime-client-context"],
        r#"{"custom":{"k":"v"}}"#
    );
    assert_eq!(
        hd["lambda-runtime-trace-id"],
        "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
    );
    assert_eq!(
        hd["lambda-runtime-invoked-function-arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:echo"
    );
    let deadline: u64 = hd["lambda-runtime-deadline-ms"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        deadline > now && deadline <= now + 3_100,
        "deadline {deadline} now {now}"
    );
    let env = &v["env"];
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "echo");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
    assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/echo");
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert_eq!(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");
    assert_eq!(env["MY_VAR"], "mine");
    assert!(env["AWS_LAMBDA_LOG_STREAM_NAME"]
        .as_str()
        .unwrap()
        .contains("/[$LATEST]"));

    // A fresh trace header is generated when the caller sends none.
    let a = h.invoke("echo", r#"{"action":"headers"}"#, &[]).await;
    assert!(a.json()["headers"]["lambda-runtime-trace-id"]
        .as_str()
        .unwrap()
        .starts_with("Root=1-"));

    // The runtime's content type is passed through.
    let a = h.invoke("echo", r#"{"action":"text"}"#, &[]).await;
    assert_eq!(a.header("content-type"), Some("text/plain"));
    assert_eq!(&a.body[..], b"plain text");
    h.shutdown().await.unwrap();
}

#[tokio::test]
async fn function_error_is_200_unhandled_with_the_body_verbatim() {
    let h = Harness::start_process(vec![fake_function("f")]).await;
    let a = h.invoke("f", r#"{"action":"error"}"#, &[]).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(
        &a.body[..],
        br#"{"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []}"#
    );
    let log = h.wait_reports(1).await;
    assert!(
        !log.contains("Status:"),
        "a handled error has no Status: {log}"
    );
    h.shutdown().await.unwrap();
}

#[tokio::test]
async fn warm_environment_is_reused_and_a_crash_gets_a_fresh_one() {
    let h = Harness::start_process(vec![fake_function("f")]).await;
    let first = pid(&h.invoke("f", r#"{"action":"pid"}"#, &[]).await);
    let second = pid(&h.invoke("f", r#"{"action":"pid"}"#, &[]).await);
    assert_eq!(first, second, "warm environment reused");

    let a = h.invoke("f", r#"{"action":"exit","code":42}"#, &[]).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("x-amz-function-error"), Some("Unhandled"));
    let rid = a.header("x-amzn-requestid").unwrap().to_owned();
    assert_eq!(
        a.json(),
        json!({"errorType":"Runtime.ExitError","errorMessage":format!("RequestId: {rid} Error: Runtime exited with error: exit status 42")})
    );
    let third = pid(&h.invoke("f", r#"{"action":"pid"}"#, &[]).await);
    assert_ne!(first, third, "a fresh environment after the crash");
    let log = h.wait_reports(4).await;
    let exit_report = log
        .lines()
        .find(|l| l.starts_with(&format!("REPORT RequestId: {rid}")))
        .unwrap();
    assert!(exit_report.ends_with("Status: error\t"), "{exit_report}");
    assert_eq!(
        log.matches("Init Duration").count(),
        2,
        "one per environment:\n{log}"
    );
    h.shutdown().await.unwrap();
}

#[tokio::test]
async fn timeout_kills_the_environment_with_the_cloud_body() {
    let mut f = fake_function("slow");
    f.config.timeout = Timeout::from_secs(1).unwrap();
    let h = Harness::start_process(vec![f]).await;
    let before = pid(&h.invoke("slow", r#"{"action":"pid"}"#, &[]).await);
    let t0 = std::time::Instant::now();
    let a = h
        .invoke("slow", r#"{"action":"sleep","seconds":30}"#, &[])
        .await;
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "{took:?} {:?} {}",
        a.body,
        h.log_text()
    );
    assert_eq!(a.status, 200);
    assert_eq!(a.header("x-amz-function-error"), Some("Unhandled"));
    let rid = a.header("x-amzn-requestid").unwrap().to_owned();
    assert_eq!(
        a.json(),
        json!({"errorType":"Sandbox.Timedout","errorMessage":format!("RequestId: {rid} Error: Task timed out after 1.00 seconds")})
    );
    let after = pid(&h.invoke("slow", r#"{"action":"pid"}"#, &[]).await);
    assert_ne!(before, after);
    let log = h.wait_reports(3).await;
    let report = log
        .lines()
        .find(|l| l.starts_with(&format!("REPORT RequestId: {rid}")))
        .unwrap();
    assert!(report.ends_with("Status: timeout\t"), "{report}");
    assert!(
        log.contains(&format!("{rid} Task timed out after 1.00 seconds")),
        "{log}"
    );
    h.shutdown().await.unwrap();
}

#[tokio::test]
async fn runtime_api_refuses_wrong_ids_second_responses_and_large_bodies() {
    let h = Harness::start_process(vec![fake_function("f")]).await;
    let a = h.invoke("f", r#"{"action":"probe"}"#, &[]).await;
    assert_eq!(a.json(), json!({"wrong_id": 400}));
    let a = h.invoke("f", r#"{"action":"big"}"#, &[]).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(
        a.json(),
        json!({"errorType":"Function.ResponseSizeTooLarge","errorMessage":"Response payload size (6291566 bytes) exceeded maximum allowed payload size (6291556 bytes)."})
    );
    h.wait_reports(2).await;
    // The fake runtime prints these after it answered, so they may follow the invoke's END.
    h.wait_log(r#"big=413 {"#).await;
    let log = h
        .wait_log(r#"first=202 second=403 {"errorMessage":"State transition from"#)
        .await;
    assert!(
        log.contains(r#""errorType":"InvalidStateTransition"}"#),
        "{log}"
    );
    assert!(log.contains(r#"big=413 {"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}"#), "{log}");
    // The environment that was refused its answer is not used again: the next invoke runs in
    // a fresh one (another runtime process).
    let before = h.invoke("f", r#"{"action":"pid"}"#, &[]).await;
    assert_eq!(before.status, 200);
    let a = h.invoke("f", r#"{"action":"big"}"#, &[]).await;
    assert_eq!(a.header("x-amz-function-error"), Some("Unhandled"));
    let after = h.invoke("f", r#"{"action":"pid"}"#, &[]).await;
    assert_eq!(after.status, 200);
    assert_ne!(
        before.json()["pid"],
        after.json()["pid"],
        "a fresh environment"
    );
    h.shutdown().await.unwrap();
}

#[tokio::test]
async fn invoke_api_validates_like_the_cloud() {
    let h = Harness::start_process(vec![fake_function("f"), fake_function("g")]).await;
    let a = h.invoke("nope", "{}", &[]).await;
    assert_eq!(a.status, 404);
    assert_eq!(
        a.header("x-amzn-errortype"),
        Some("ResourceNotFoundException")
    );
    // Two functions: `function` is no alias.
    assert_eq!(h.invoke("function", "{}", &[]).await.status, 404);

    let big = vec![b' '; 6_291_457];
    let a = h.invoke("f", big, &[]).await;
    assert_eq!(a.status, 413);
    assert_eq!(
        a.header("x-amzn-errortype"),
        Some("RequestTooLargeException")
    );
    assert_eq!(
        a.json()["Message"],
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    );

    let a = h
        .invoke("f", "{}", &[("X-Amz-Invocation-Type", "DryRun")])
        .await;
    assert_eq!(a.status, 204);
    let a = h
        .invoke("f", "{}", &[("X-Amz-Invocation-Type", "Sometimes")])
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.header("x-amzn-errortype"),
        Some("InvalidParameterValueException")
    );
    let a = h
        .invoke("f", "{}", &[("X-Amz-Client-Context", "!!not base64!!")])
        .await;
    assert_eq!(a.status, 400);
    let long = "A".repeat(3584);
    assert_eq!(
        h.invoke("f", "{}", &[("X-Amz-Client-Context", &long)])
            .await
            .status,
        400
    );
    let a = h.invoke("f", "not json", &[]).await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.header("x-amzn-errortype"),
        Some("InvalidRequestContentException")
    );
    // Invalid UTF-8 inside a JSON string is refused too, never handed to the function.
    let a = h.invoke("f", b"{\"s\": \"\xff\xfe\"}".to_vec(), &[]).await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.header("x-amzn-errortype"),
        Some("InvalidRequestContentException")
    );

    let a = h
        .invoke(
            "g",
            r#"{"action":"print","lines":1}"#,
            &[("X-Amz-Invocation-Type", "Event")],
        )
        .await;
    assert_eq!(a.status, 202);
    assert!(a.body.is_empty());
    h.wait_reports(1).await;
    // Empty payloads reach the handler as `{}`.
    assert_eq!(&h.invoke("g", "", &[]).await.body[..], b"{}");
    h.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_full_queue_answers_429() {
    let mut f = fake_function("busy");
    f.config.concurrency = Concurrency::new(1).unwrap();
    f.max_queued = 0;
    let h = std::sync::Arc::new(Harness::start_process(vec![f]).await);
    let slow = {
        let h = h.clone();
        tokio::spawn(async move {
            h.invoke("busy", r#"{"action":"sleep","seconds":1.5}"#, &[])
                .await
                .status
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let a = h.invoke("busy", "{}", &[]).await;
    assert_eq!(a.status, 429);
    assert_eq!(
        a.header("x-amzn-errortype"),
        Some("TooManyRequestsException")
    );
    assert_eq!(slow.await.unwrap(), 200);
    assert_eq!(h.invoke("busy", "{}", &[]).await.status, 200);
}

#[tokio::test]
async fn queued_invokes_wait_for_the_environment() {
    let mut f = fake_function("q");
    f.config.concurrency = Concurrency::new(1).unwrap();
    let h = std::sync::Arc::new(Harness::start_process(vec![f]).await);
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            pid(&h.invoke("q", r#"{"action":"pid"}"#, &[]).await)
        }));
    }
    let mut pids = Vec::new();
    for t in tasks {
        pids.push(t.await.unwrap());
    }
    pids.dedup();
    assert_eq!(pids.len(), 1, "one environment served all: {pids:?}");
    let log = h.wait_reports(6).await;
    assert_eq!(log.matches("Init Duration").count(), 1);
}

#[tokio::test]
async fn init_error_is_reported_to_the_invoker() {
    let mut f = fake_function("broken");
    f.config.env = vec![("FAKE_INIT_ERROR".into(), "1".into())]
        .try_into()
        .unwrap();
    let h = Harness::start_process(vec![f]).await;
    let a = h.invoke("broken", "{}", &[]).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(
        a.json(),
        json!({"errorMessage": "bad init", "errorType": "Runtime.ImportModuleError"})
    );
    let log = h.wait_reports(1).await;
    assert!(log.contains("Status: error"), "{log}");
    h.shutdown().await.unwrap();
}

#[tokio::test]
async fn port_in_use_is_named_and_shutdown_stops_runtimes() {
    let h = Harness::start_process(vec![fake_function("f")]).await;
    let err = lamina_rie::Emulator::bind(h.addr).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "port {} on 127.0.0.1 is already in use: stop the other server or pass --port",
            h.addr.port()
        )
    );
    let p = pid(&h.invoke("f", r#"{"action":"pid"}"#, &[]).await);
    assert!(std::path::Path::new(&format!("/proc/{p}")).exists());
    h.shutdown().await.unwrap();
    // The runtime was killed (and reaped).
    for _ in 0..50 {
        if !std::path::Path::new(&format!("/proc/{p}")).exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("runtime {p} still alive after shutdown");
}

/// A second answer for an invoke, arriving after the next event is already queued for the
/// environment, is still the platform's 403 state transition, not a 400 unknown id (the race
/// CI hit under load).
#[tokio::test]
async fn a_late_second_answer_is_refused_as_a_state_transition_even_with_the_next_event_queued() {
    let h = Harness::start_process(vec![fake_function("f")]).await;
    let a = h
        .invoke("f", r#"{"action":"late","seconds":0.5}"#, &[])
        .await;
    assert_eq!(a.status, 200);
    // Queued while the runtime still sleeps before its second answer.
    let b = h.invoke("f", r#"{"action":"echo","n":2}"#, &[]).await;
    assert_eq!(b.status, 200);
    let log = h.wait_log("late second=").await;
    assert!(
        log.contains(r#"late second=403 {"errorMessage":"State transition from"#),
        "{log}"
    );
}
