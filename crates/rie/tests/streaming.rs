//! Response streaming end to end on local processes: a runtime's chunked `/response` with
//! `Lambda-Runtime-Function-Response-Mode: streaming` reaches `InvokeWithResponseStream`'s
//! caller chunk by chunk, as AWS event-stream messages, with the invoke's end in
//! `InvokeComplete` (runtime-api.md §1.7, §4.1).

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use common::{fake_function, Harness};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lamina_runtime_api::eventstream::{Decoder, Event, InvokeComplete};
use lamina_runtime_api::paths::stream_invoke_path;

/// What a streaming caller saw: each event with the instant it arrived.
struct Streamed {
    status: u16,
    headers: http::HeaderMap,
    events: Vec<(f64, Event)>,
}

impl Streamed {
    fn chunks(&self) -> Vec<(f64, String)> {
        self.events
            .iter()
            .filter_map(|(at, e)| match e {
                Event::PayloadChunk(b) => Some((*at, String::from_utf8_lossy(b).into_owned())),
                Event::InvokeComplete(_) => None,
            })
            .collect()
    }

    fn complete(&self) -> &InvokeComplete {
        match self.events.last() {
            Some((_, Event::InvokeComplete(c))) => c,
            other => panic!("the stream does not end with InvokeComplete: {other:?}"),
        }
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

async fn invoke_stream(h: &Harness, name: &str, event: serde_json::Value) -> Streamed {
    invoke_stream_with(h, name, event, &[]).await
}

async fn invoke_stream_with(
    h: &Harness,
    name: &str,
    event: serde_json::Value,
    headers: &[(&str, &str)],
) -> Streamed {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = http::Request::post(format!("http://{}{}", h.addr, stream_invoke_path(name)));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(event.to_string()))).unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .expect("the stream's head timed out")
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut body = resp.into_body();
    let mut decoder = Decoder::new();
    let mut events = Vec::new();
    while let Some(frame) = tokio::time::timeout(Duration::from_secs(30), body.frame())
        .await
        .expect("the stream stalled")
    {
        let frame = frame.expect("the stream broke");
        if let Some(data) = frame.data_ref() {
            let at = now();
            if status == 200 {
                for e in decoder.push(data).expect("event-stream frames") {
                    events.push((at, e));
                }
            } else {
                events.push((at, Event::PayloadChunk(data.clone())));
            }
        }
    }
    assert_eq!(decoder.pending(), 0, "a partial message at the end");
    Streamed {
        status,
        headers,
        events,
    }
}

/// The epoch seconds a fake-runtime chunk says it was written at.
fn written_at(chunk: &str) -> f64 {
    chunk
        .split_whitespace()
        .nth(3)
        .and_then(|t| t.trim_end_matches('.').parse().ok())
        .unwrap_or_else(|| panic!("no timestamp in {chunk:?}"))
}

#[tokio::test]
async fn each_chunk_reaches_the_caller_before_the_runtime_writes_the_next() {
    let h = Harness::start_process(vec![fake_function("streamer")]).await;
    let event = serde_json::json!({"action": "stream", "chunks": 3, "interval": 0.3});
    let s = invoke_stream(&h, "streamer", event).await;
    assert_eq!(s.status, 200);
    assert_eq!(
        s.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/octet-stream"),
        "the function's stream content type (ResponseStreamContentType)"
    );
    assert_eq!(
        s.headers
            .get("x-amz-executed-version")
            .and_then(|v| v.to_str().ok()),
        Some("$LATEST")
    );
    let chunks = s.chunks();
    assert_eq!(chunks.len(), 3, "{chunks:?}");
    for pair in chunks.windows(2) {
        let (arrived, _) = pair[0];
        let next_written = written_at(&pair[1].1);
        assert!(
            arrived < next_written,
            "chunk {:?} arrived at {arrived}, after the next was written at {next_written}",
            pair[0].1
        );
    }
    assert_eq!(s.complete(), &InvokeComplete::default());
    let log = h.wait_reports(1).await;
    assert!(log.contains("stream answered: HTTP/1.1 202"), "{log}");
    // END comes after the stream, and REPORT's duration covers it (3 chunks 0.3 s apart).
    let duration: f64 = log
        .split("Duration: ")
        .nth(1)
        .and_then(|d| d.split(' ').next())
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no duration: {log}"));
    assert!(
        duration >= 600.0,
        "REPORT's duration {duration} ms ends before the stream"
    );
    h.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_error_in_the_trailers_ends_the_stream_in_invoke_complete() {
    let h = Harness::start_process(vec![fake_function("streamer")]).await;
    let event = serde_json::json!({"action": "stream", "chunks": 2, "error": true});
    let s = invoke_stream(&h, "streamer", event).await;
    assert_eq!(s.status, 200);
    assert_eq!(s.chunks().len(), 2);
    let done = s.complete();
    assert_eq!(done.error_code.as_deref(), Some("StreamError"));
    let details: serde_json::Value =
        serde_json::from_str(done.error_details.as_deref().unwrap_or_default()).unwrap();
    assert_eq!(details["errorMessage"], "broke mid-stream");
    // The runtime's request was taken (202), and the environment serves the next invoke.
    h.wait_log("stream answered: HTTP/1.1 202").await;
    let next = h.invoke("streamer", r#"{"action":"echo"}"#, &[]).await;
    assert_eq!(next.status, 200);
    h.shutdown().await.unwrap();
}

#[tokio::test]
async fn invoke_buffers_a_streamed_response_and_reports_its_error_as_a_function_error() {
    let h = Harness::start_process(vec![fake_function("streamer")]).await;
    let ok = h
        .invoke("streamer", r#"{"action":"stream","chunks":3}"#, &[])
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("x-amz-function-error"), None);
    let text = String::from_utf8_lossy(&ok.body).into_owned();
    assert_eq!(text.matches("chunk ").count(), 3, "{text}");
    let failed = h
        .invoke("streamer", r#"{"action":"stream","error":true}"#, &[])
        .await;
    assert_eq!(failed.status, 200);
    assert_eq!(failed.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(failed.json()["errorType"], "StreamError");
    h.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_buffered_function_answers_the_streaming_route_in_one_chunk() {
    let h = Harness::start_process(vec![fake_function("plain")]).await;
    let s = invoke_stream(&h, "plain", serde_json::json!({"action": "echo", "n": 1})).await;
    assert_eq!(s.status, 200);
    let chunks = s.chunks();
    assert_eq!(chunks.len(), 1);
    let echoed: serde_json::Value = serde_json::from_str(&chunks[0].1).unwrap();
    assert_eq!(echoed["n"], 1);
    assert_eq!(s.complete(), &InvokeComplete::default());

    let s = invoke_stream(&h, "plain", serde_json::json!({"action": "error"})).await;
    assert!(s.chunks().is_empty());
    assert_eq!(s.complete().error_code.as_deref(), Some("ValueError"));
    h.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_stream_past_the_timeout_ends_in_sandbox_timedout_and_a_fresh_environment_follows() {
    let mut f = fake_function("slow");
    f.config.timeout = lamina_runtime_api::function::Timeout::from_secs(1).unwrap();
    let h = Harness::start_process(vec![f]).await;
    let event = serde_json::json!({"action": "stream", "chunks": 10, "interval": 0.3});
    let s = invoke_stream(&h, "slow", event).await;
    assert!(!s.chunks().is_empty(), "chunks before the timeout arrive");
    assert!(s.chunks().len() < 10);
    assert_eq!(s.complete().error_code.as_deref(), Some("Sandbox.Timedout"));
    let log = h.wait_reports(1).await;
    assert!(log.contains("Status: timeout"), "{log}");
    let next = h.invoke("slow", r#"{"action":"echo"}"#, &[]).await;
    assert_eq!(next.status, 200, "{:?}", next.body);
    h.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_runtime_that_dies_mid_stream_ends_it_with_its_exit() {
    let h = Harness::start_process(vec![fake_function("crash")]).await;
    let event = serde_json::json!({"action": "stream", "chunks": 3, "exit_after": 1});
    let s = invoke_stream(&h, "crash", event).await;
    assert_eq!(s.chunks().len(), 1);
    let done = s.complete();
    assert_eq!(done.error_code.as_deref(), Some("Runtime.ExitError"));
    assert!(
        done.error_details
            .as_deref()
            .unwrap_or_default()
            .contains("exit status 3"),
        "{done:?}"
    );
    h.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_streaming_route_refuses_event_invokes_and_takes_tail() {
    let h = Harness::start_process(vec![fake_function("streamer")]).await;
    let refused = invoke_stream_with(
        &h,
        "streamer",
        serde_json::json!({}),
        &[("X-Amz-Invocation-Type", "Event")],
    )
    .await;
    assert_eq!(refused.status, 400);
    let tailed = invoke_stream_with(
        &h,
        "streamer",
        serde_json::json!({"action": "stream", "chunks": 1}),
        &[("X-Amz-Log-Type", "Tail")],
    )
    .await;
    let log = tailed
        .complete()
        .log_result
        .as_deref()
        .map(|b| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let log = String::from_utf8_lossy(&log);
    assert!(log.contains("REPORT RequestId:"), "{log}");
    h.shutdown().await.unwrap();
}

fn streaming_url_function(name: &str) -> lamina_rie::FunctionConfig {
    let mut f = fake_function(name);
    f.config.http.payload = Some(lamina_runtime_api::front::Payload::FunctionUrl);
    f.config.http.invoke_mode = Some(lamina_runtime_api::front::InvokeMode::ResponseStream);
    f
}

/// A plain HTTP POST to the front; each body frame with the instant it arrived.
async fn front_post(
    h: &Harness,
    body: serde_json::Value,
) -> (u16, http::HeaderMap, Vec<(f64, Bytes)>) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let addr = h.http.expect("started with the HTTP front");
    let req = http::Request::post(format!("http://{addr}/stream"))
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .expect("the head timed out")
        .unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    let mut body = resp.into_body();
    let mut frames = Vec::new();
    while let Some(f) = body.frame().await {
        if let Some(d) = f.expect("the body broke").data_ref() {
            frames.push((now(), d.clone()));
        }
    }
    (status, headers, frames)
}

#[tokio::test]
async fn a_streaming_function_url_takes_its_status_and_headers_from_the_prelude_and_streams() {
    let h = Harness::start_process_http(vec![streaming_url_function("url")]).await;
    let event = serde_json::json!({
        "action": "stream", "chunks": 3, "interval": 0.3,
        "content_type": "application/vnd.awslambda.http-integration-response",
        "prelude": {"statusCode": 201, "headers": {"content-type": "text/event-stream"},
                    "cookies": ["a=1", "b=2"]}
    });
    let (status, headers, frames) = front_post(&h, event).await;
    assert_eq!(status, 201);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let cookies: Vec<&str> = headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert!(headers.contains_key("x-amzn-requestid"));
    let body: Vec<u8> = frames.iter().flat_map(|(_, b)| b.to_vec()).collect();
    let text = String::from_utf8_lossy(&body);
    assert!(
        !text.contains('\0'),
        "the prelude is not part of the body: {text:?}"
    );
    let chunks: Vec<&str> = text.lines().collect();
    assert_eq!(chunks.len(), 3, "{text}");
    // The first chunk reached the client before the runtime wrote the second.
    let first_arrived = frames
        .iter()
        .find(|(_, b)| String::from_utf8_lossy(b).contains("chunk 0"))
        .map(|(at, _)| *at)
        .expect("chunk 0 arrived");
    assert!(first_arrived < written_at(chunks[1]), "{frames:?}");
    h.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_streaming_function_url_without_a_prelude_answers_200_with_the_stream_as_written() {
    let h = Harness::start_process_http(vec![streaming_url_function("url")]).await;
    let (status, headers, frames) =
        front_post(&h, serde_json::json!({"action": "stream", "chunks": 2})).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/octet-stream")
    );
    let body: Vec<u8> = frames.iter().flat_map(|(_, b)| b.to_vec()).collect();
    assert_eq!(String::from_utf8_lossy(&body).lines().count(), 2);
    h.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_http_api_front_cannot_stream_and_says_which_payloads_can() {
    let mut f = streaming_url_function("api");
    f.config.http.payload = Some(lamina_runtime_api::front::Payload::ApigwHttp);
    let bound = lamina_rie::Emulator::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .with_http("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let sandbox = std::sync::Arc::new(lamina_rie::ProcessSandbox::default());
    let err = bound
        .serve(vec![f], sandbox, lamina_rie::LogSink::discard(), async {})
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("function-url") && text.contains("apigw-rest"),
        "{text}"
    );
}
