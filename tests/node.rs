//! Node.js 24 functions against real Docker, compared with AWS's Node client v4 as
//! `tests/fixtures/node-conformance.json` records it: handler resolution over ES modules,
//! CommonJS, `.mjs`, `.cjs` and nested paths; every resolution error, a syntax error, an
//! init failure, a thrown error, a rejected promise and a callback handler, each with its
//! type, message and log line; `console.*` lines in text and in JSON with a log level; and
//! the two Node examples under plain `docker run` with no lamina on the host.

mod common;

use common::*;
use serde_json::Value;

const TAG: &str = "lamina-node-test/conformance:test";

/// Build the conformance folder with a layer ZIP holding a package under `nodejs/node_modules`
/// (Lambda's layer path for Node.js), into Docker.
fn build_conformance() {
    require_docker();
    let layer = root().join("target/tmp/node-conformance-layer.zip");
    std::fs::create_dir_all(layer.parent().expect("parent")).expect("target/tmp");
    let file = std::fs::File::create(&layer).expect("layer zip");
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file(
        "nodejs/node_modules/lamina-layer-greeting/index.js",
        options,
    )
    .expect("zip entry");
    std::io::Write::write_all(&mut zip, b"exports.greeting = 'hello from a layer';\n")
        .expect("write");
    zip.finish().expect("zip");
    let layer = layer.to_string_lossy().into_owned();
    build_json(&[
        "tests/fixtures/node-conformance",
        "--layer",
        &layer,
        "--tag",
        TAG,
        "--load",
    ]);
}

fn expected() -> Value {
    let text = std::fs::read_to_string(root().join("tests/fixtures/node-conformance.json"))
        .expect("the conformance fixture");
    serde_json::from_str(&text).expect("JSON")
}

/// The image under the embedded emulator with `handler` (its CMD) and `env`: its answer to
/// `event` (with a trace header), and the container's log once it has that invoke's `END`.
fn run_case(handler: &str, env: &[(&str, &str)], event: &str) -> (Answer, String) {
    let served = Served::start(TAG, env, &[handler]);
    let trace = [(
        "X-Amzn-Trace-Id",
        "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1",
    )];
    let answer = post(served.port, INVOKE, &trace, event.as_bytes());
    let id = answer
        .header("x-amzn-requestid")
        .unwrap_or_default()
        .to_owned();
    let logs = served.logs_with(&format!("END RequestId: {id}"));
    (answer, logs)
}

#[test]
fn node_handlers_resolve_fail_and_log_as_awss_node_client_v4() {
    build_conformance();
    let want = expected();

    for case in want["success"].as_array().expect("success cases") {
        let handler = case["handler"].as_str().unwrap_or_default();
        let (a, logs) = run_case(handler, &[], r#"{"n": 7}"#);
        assert_eq!(a.status, 200, "{handler}: {}\n{logs}", a.text());
        assert_eq!(a.header("x-amz-function-error"), None, "{handler}");
        let body = a.json();
        assert_eq!(body["ok"], case["ok"], "{handler}: {body}");
        if handler == "esm.handler" {
            // The context and environment v4 gives a handler.
            assert_eq!(body["event"]["n"], 7);
            assert_eq!(
                body["requestId"],
                a.header("x-amzn-requestid").unwrap_or_default()
            );
            assert_eq!(body["functionName"], "function");
            assert_eq!(body["memoryLimitInMB"], "3008", "a string, as v4 gives it");
            let remaining = body["remaining"].as_i64().unwrap_or_default();
            assert!(remaining > 290_000 && remaining <= 300_000, "{body}");
            assert_eq!(body["traceEnv"], body["xRayTraceId"]);
            assert!(body["traceEnv"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Root=1-5bef4de7"));
            assert_eq!(body["handlerEnv"], "esm.handler");
            assert_eq!(body["executionEnv"], "AWS_Lambda_nodejs24.x");
            assert_eq!(body["nodeMajor"], "24");
        }
    }

    for case in want["errors"].as_array().expect("error cases") {
        let handler = case["handler"].as_str().unwrap_or_default();
        let (a, logs) = run_case(handler, &[], "{}");
        assert_eq!(a.status, 200, "{handler}");
        assert_eq!(
            a.header("x-amz-function-error"),
            Some("Unhandled"),
            "{handler}"
        );
        let body = a.json();
        assert_eq!(body["errorType"], case["errorType"], "{handler}: {body}");
        let message = body["errorMessage"].as_str().unwrap_or_default();
        if let Some(exact) = case["errorMessage"].as_str() {
            assert_eq!(message, exact, "{handler}");
        }
        if let Some(prefix) = case["errorMessagePrefix"].as_str() {
            assert!(message.starts_with(prefix), "{handler}: {message}");
        }
        if let Some(suffix) = case["errorMessageSuffix"].as_str() {
            assert!(message.ends_with(suffix), "{handler}: {message}");
        }
        // A process that died: the platform's error, and Node's own report in the log.
        if let Some(crash) = case["crashLog"].as_str() {
            assert!(
                logs.contains(crash),
                "{handler}: no {crash:?} in the log:\n{logs}"
            );
            continue;
        }
        let trace = body["trace"]
            .as_array()
            .expect("v4's `trace`, not `stackTrace`");
        if let Some(prefix) = case["tracePrefix"].as_str() {
            assert!(
                trace[0].as_str().unwrap_or_default().starts_with(prefix),
                "{handler}: {body}"
            );
        }
        // The log line: `<ts>\t<id or ->\tERROR\t<label> \t{…"errorType"…}`.
        let label = case["log"].as_str().unwrap_or_default();
        let line = logs
            .lines()
            .find(|l| l.contains(&format!("\tERROR\t{label} \t{{")))
            .unwrap_or_else(|| panic!("{handler}: no {label} line:\n{logs}"));
        let record: Value = serde_json::from_str(line.split(" \t").nth(1).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{handler}: {e}: {line}"));
        assert_eq!(record["errorType"], case["errorType"], "{line}");
        assert!(record["stack"].is_array(), "{line}");
    }
}

#[test]
fn console_lines_are_v4_text_and_json_records_filtered_by_level() {
    build_conformance();
    let want = expected();

    let (a, logs) = run_case("logs.handler", &[], "{}");
    assert_eq!(a.status, 200, "{}", a.text());
    let id = a.header("x-amzn-requestid").unwrap_or_default().to_owned();
    for pattern in want["logs"]["text"]["lines"].as_array().expect("lines") {
        let pattern = pattern.as_str().unwrap_or_default().replace("{id}", &id);
        let re = regex_lite::Regex::new(&pattern).expect("pattern");
        assert!(
            logs.lines().any(|l| re.is_match(l)),
            "no line matches {pattern}:\n{logs}"
        );
    }

    let json = &want["logs"]["json_warn"];
    let env: Vec<(String, String)> = json["env"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (a, logs) = run_case("logs.handler", &env, "{}");
    assert_eq!(a.status, 200);
    let id = a.header("x-amzn-requestid").unwrap_or_default();
    let records: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r.get("level").is_some())
        .collect();
    for want in json["records"].as_array().expect("records") {
        // This invoke's record (the emulator's readiness probe ran the handler once before).
        let found = records
            .iter()
            .find(|r| r["level"] == want["level"] && r["requestId"] == id)
            .unwrap_or_else(|| panic!("no {} record:\n{logs}", want["level"]));
        assert_eq!(found["message"], want["message"], "{found}");
        assert_eq!(found["requestId"], id, "{found}");
        assert!(found["timestamp"]
            .as_str()
            .unwrap_or_default()
            .ends_with('Z'));
    }
    for absent in json["absent"].as_array().expect("absent") {
        let text = absent.as_str().unwrap_or_default();
        assert!(
            !logs.contains(text),
            "{text} passed the WARN level:\n{logs}"
        );
    }
}

#[test]
fn both_node_examples_answer_under_plain_docker_run() {
    require_docker();
    build_json(&[
        "examples/node-hello",
        "--tag",
        "lamina-node-test/hello:test",
        "--load",
    ]);
    let hello = Served::start("lamina-node-test/hello:test", &[], &[]);
    let event =
        std::fs::read(root().join("examples/node-hello/events/divide.json")).expect("event");
    let a = post(hello.port, INVOKE, &[], &event);
    assert_eq!(a.status, 200);
    let body: Value =
        serde_json::from_str(a.json()["body"].as_str().unwrap_or_default()).expect("body");
    assert_eq!(body["result"], 2);

    build_json(&[
        "examples/node-stream",
        "--tag",
        "lamina-node-test/stream:test",
        "--load",
    ]);
    let stream = Served::start("lamina-node-test/stream:test", &[], &[]);
    let out = std::process::Command::new("curl")
        .args(["-sS", "-N", "--max-time", "30", "-XPOST"])
        .arg(format!(
            "http://127.0.0.1:{}{}",
            stream.port,
            lamina_runtime_api::paths::stream_invoke_path("function")
        ))
        .args(["-d", r#"{"count": 3}"#])
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("data: {\"tick\"").count(), 3, "{text}");
    assert!(text.contains("InvokeComplete"), "{text}");
}

#[test]
fn a_package_json_dependency_is_installed_once_and_a_handler_edit_keeps_it() {
    require_docker();
    let dir = tempfile::tempdir().expect("temp dir");
    copy_tree(&root().join("tests/fixtures/node-deps"), dir.path());
    let folder = dir.path().to_string_lossy().into_owned();
    let tag = "lamina-node-test/deps:test";
    let first = build_json(&[&folder, "--tag", tag, "--load"]);
    let layer = |b: &Value, name: &str| {
        b["layers"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["name"] == name).cloned())
            .unwrap_or_else(|| panic!("no {name} layer: {b}"))
    };
    let deps = layer(&first, "dependencies");

    let a = Served::start(tag, &[], &[]).first.clone();
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(
        a.json(),
        serde_json::json!({"twoHours": 7_200_000, "back": "2h"})
    );

    // A handler edit rebuilds the code layer only: npm does not run again.
    let index = dir.path().join("index.mjs");
    let mut text = std::fs::read_to_string(&index).expect("handler");
    // Unique per run: the test store is shared, and an edit seen before is cached.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    text.push_str(&format!("// edited at {nanos}\n"));
    std::fs::write(&index, text).expect("edit");
    let second = build_json(&[&folder, "--tag", tag]);
    let again = layer(&second, "dependencies");
    assert_eq!(again["cached"], true, "{second}");
    assert_eq!(again["digest"], deps["digest"]);
    assert_eq!(layer(&second, "code")["cached"], false);
}

#[test]
fn a_streaming_node_handler_streams_chunk_by_chunk_and_its_errors_end_in_invoke_complete() {
    use lamina_runtime_api::eventstream::Event;
    build_conformance();
    let want = expected();
    let serve = |handler: &str| Served::start(TAG, &[], &[handler]);

    let ok = &want["streaming"]["ok"];
    let (content_type, events) =
        stream_invoke(serve(ok["handler"].as_str().unwrap_or_default()).port, "{}");
    assert_eq!(content_type.as_deref(), ok["contentType"].as_str());
    let chunks: Vec<(f64, String)> = events
        .iter()
        .filter_map(|(at, e)| match e {
            Event::PayloadChunk(b) => Some((*at, String::from_utf8_lossy(b).into_owned())),
            Event::InvokeComplete(_) => None,
        })
        .collect();
    assert_eq!(
        chunks.len() as u64,
        ok["chunks"].as_u64().unwrap_or_default(),
        "{events:?}"
    );
    for pair in chunks.windows(2) {
        let next_written: f64 = pair[1]
            .1
            .split_whitespace()
            .nth(3)
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no timestamp in {:?}", pair[1].1));
        assert!(pair[0].0 < next_written, "{chunks:?}");
    }
    assert!(matches!(events.last(), Some((_, Event::InvokeComplete(c))) if c.error_code.is_none()));

    for key in ["fails", "late"] {
        let case = &want["streaming"][key];
        let served = serve(case["handler"].as_str().unwrap_or_default());
        let (_, events) = stream_invoke(served.port, "{}");
        let logs = served.logs();
        if let Some(n) = case["chunks"].as_u64() {
            let got = events
                .iter()
                .filter(|(_, e)| matches!(e, Event::PayloadChunk(_)))
                .count();
            assert_eq!(got as u64, n, "{key}: {events:?}");
        }
        let Some((_, Event::InvokeComplete(done))) = events.last() else {
            panic!("{key}: no InvokeComplete: {events:?}\n{logs}");
        };
        assert_eq!(
            done.error_code.as_deref(),
            case["errorCode"].as_str(),
            "{key}: {done:?}"
        );
        let details: Value =
            serde_json::from_str(done.error_details.as_deref().unwrap_or_default())
                .expect("JSON details");
        assert_eq!(details["errorMessage"], case["errorMessage"], "{key}");
        assert!(details["trace"].is_array(), "{key}: {details}");
    }
}
