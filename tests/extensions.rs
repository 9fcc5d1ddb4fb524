//! Lambda extensions under `lamina rie`, on real Docker: `examples/extension-secrets`, whose
//! external extension (in `/opt/extensions/`, from a layer ZIP) fetches a secret before the
//! first invoke, serves it to the handler on a local port, and logs every event it gets as
//! `[secrets-cache] EVENT {json}` — so the events' fields are read from the function's log.

mod common;

use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{post, require_docker, root, Rie, INVOKE};
use serde_json::Value;

/// Make the example's layer ZIP once per test binary.
fn example() -> &'static str {
    static MADE: Once = Once::new();
    MADE.call_once(|| common::run_python("examples/extension-secrets/make_layer.py"));
    "examples/extension-secrets"
}

/// The events the extension logged, in order.
fn events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("[secrets-cache] EVENT "))
        .map(|j| serde_json::from_str(j).unwrap_or_else(|e| panic!("{e}: {j}")))
        .collect()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[test]
fn an_extension_gets_each_invoke_with_every_documented_field_and_spindown_on_ctrl_c() {
    require_docker();
    let mut rie = Rie::start(example(), &[]);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let a = post(rie.port, INVOKE, &[], b"{}");
        let answer = a.json();
        assert_eq!(
            answer,
            serde_json::json!({"secret": "correct horse battery staple", "fetched_before_first_invoke": true}),
            "{}",
            rie.stdout()
        );
        ids.push(a.header("x-amzn-requestid").expect("request id").to_owned());
    }
    rie.wait_stdout(
        &format!("REPORT RequestId: {}", ids[1]),
        Duration::from_secs(10),
    );
    // The extension's own output is not framed by the runtime's output marks: under load its
    // line can reach the log after its invoke's END (lamina's init does not mark it yet).
    let out = rie.wait_stdout(
        &format!("\"requestId\": \"{}\"", ids[1]),
        Duration::from_secs(10),
    );
    let registered: Value = out
        .lines()
        .find_map(|l| l.strip_prefix("[secrets-cache] REGISTERED "))
        .map(|j| serde_json::from_str(j).unwrap())
        .unwrap_or_else(|| panic!("no registration in {out}"));
    assert_eq!(
        registered,
        serde_json::json!({"functionName": "extension-secrets", "functionVersion": "$LATEST", "handler": "app.handler"})
    );
    let seen = events(&out);
    assert_eq!(seen.len(), 2, "{out}");
    for (event, id) in seen.iter().zip(&ids) {
        let keys: Vec<&str> = event
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "deadlineMs",
                "eventType",
                "invokedFunctionArn",
                "requestId",
                "tracing"
            ],
            "{event}"
        );
        assert_eq!(event["eventType"], "INVOKE");
        assert_eq!(event["requestId"], id.as_str());
        assert!(
            event["deadlineMs"].as_u64().unwrap() > now_ms() - 60_000,
            "{event}"
        );
        let arn = event["invokedFunctionArn"].as_str().unwrap();
        assert!(
            arn.starts_with("arn:aws:lambda:") && arn.ends_with(":function:extension-secrets"),
            "{arn}"
        );
        assert_eq!(event["tracing"]["type"], "X-Amzn-Trace-Id");
        assert!(
            event["tracing"]["value"]
                .as_str()
                .unwrap()
                .starts_with("Root=1-"),
            "{event}"
        );
        // The event reaches the extension once its invoke has begun.
        let start = out.find(&format!("START RequestId: {id}")).unwrap();
        let at = out.find(&format!("\"requestId\": \"{id}\"")).unwrap();
        assert!(start < at, "{out}");
    }
    rie.interrupt();
    let out = rie.stdout();
    let last = events(&out).pop().expect("a SHUTDOWN");
    assert_eq!(last["eventType"], "SHUTDOWN", "{out}");
    assert_eq!(last["shutdownReason"], "SPINDOWN");
    let deadline = last["deadlineMs"].as_u64().unwrap();
    assert!(
        deadline > now_ms() - 30_000 && deadline < now_ms() + 5_000,
        "{last}"
    );
}

#[test]
fn a_function_timeout_tells_the_extension_timeout_and_the_next_invoke_starts_afresh() {
    require_docker();
    // 2 s, not 1: the fresh environment's first invoke (the extension's secret included)
    // must fit in it on a loaded CI machine under Podman too.
    let rie = Rie::start(example(), &["--timeout", "2"]);
    let a = post(rie.port, INVOKE, &[], br#"{"sleep": 4}"#);
    assert_eq!(
        a.json()["errorType"],
        "Sandbox.Timedout",
        "{}",
        rie.stdout()
    );
    rie.wait_stdout("[secrets-cache] SHUTDOWN TIMEOUT", Duration::from_secs(10));
    rie.wait_stdout("Status: timeout", Duration::from_secs(10));
    let again = post(rie.port, INVOKE, &[], b"{}");
    assert_eq!(
        again.json()["secret"],
        "correct horse battery staple",
        "{}\n{}",
        again.text(),
        rie.stdout()
    );
}

#[test]
fn a_runtime_crash_tells_the_extension_failure() {
    require_docker();
    let rie = Rie::start(example(), &[]);
    let a = post(rie.port, INVOKE, &[], br#"{"crash": true}"#);
    let answer = a.json();
    assert_eq!(answer["errorType"], "Runtime.ExitError", "{answer}");
    assert!(
        answer["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("exit status 3"),
        "{answer}"
    );
    rie.wait_stdout("[secrets-cache] SHUTDOWN FAILURE", Duration::from_secs(10));
    let again = post(rie.port, INVOKE, &[], b"{}");
    assert_eq!(
        again.json()["secret"],
        "correct horse battery staple",
        "{}\n{}",
        again.text(),
        rie.stdout()
    );
}

#[test]
fn an_extension_that_exits_during_init_fails_it_with_extension_crash() {
    require_docker();
    let rie = Rie::start(example(), &["--env", "SECRETS_CACHE_CRASH_AT_INIT=1"]);
    let a = post(rie.port, INVOKE, &[], b"{}");
    assert_eq!(a.header("x-amz-function-error"), Some("Unhandled"));
    let answer = a.json();
    assert_eq!(
        answer["errorType"],
        "Extension.Crash",
        "{answer}\n{}",
        rie.stdout()
    );
    let message = answer["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("secrets-cache") && message.contains("exit status 7"),
        "{message}"
    );
    // The init failed, then its re-run inside the invoke (the cloud's suppressed init); the
    // log arrives on its own pipe, so it is waited for.
    let out = rie.wait_stdout("Phase: invoke\tStatus: error", Duration::from_secs(10));
    assert!(out.contains("Phase: init\tStatus: error"), "{out}");
}

/// A runtime no one here wrote: the Runtime API loop in plain Python, as the image's own
/// ENTRYPOINT (no lamina-ric in the way), answering which process is PID 1.
const FOREIGN_RUNTIME: &str = r#"
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation"
while True:
    with urllib.request.urlopen(api + "/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        json.load(r)
    with urllib.request.urlopen("http://127.0.0.1:2773/secret") as s:
        secret = json.load(s)["value"]
    init = open("/proc/1/cmdline", "rb").read().split(b"\0")[1].decode()
    body = json.dumps({"runtime": "foreign", "secret": secret, "pid1": init}).encode()
    req = urllib.request.Request(api + "/" + rid + "/response", data=body, method="POST")
    urllib.request.urlopen(req).read()
"#;

#[test]
fn a_foreign_image_whose_entrypoint_is_not_lamina_ric_gets_its_extensions_too() {
    require_docker();
    common::run_ok(
        common::lamina()
            .args(["build", example(), "--load"])
            .current_dir(root()),
    );
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("runtime.py"), FOREIGN_RUNTIME).unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM extension-secrets:latest\nCOPY runtime.py /var/task/runtime.py\n\
         ENTRYPOINT [\"python3\", \"/var/task/runtime.py\"]\nCMD []\n",
    )
    .unwrap();
    let tag = "lamina-test-foreign-extension:latest";
    common::docker(&["build", "-q", "-t", tag, ctx.path().to_str().unwrap()]);
    let mut rie = Rie::start(tag, &[]);
    let a = post(rie.port, INVOKE, &[], b"{}");
    assert_eq!(
        a.json(),
        serde_json::json!({"runtime": "foreign", "secret": "correct horse battery staple", "pid1": "init"}),
        "{}",
        rie.stdout()
    );
    let id = a.header("x-amzn-requestid").unwrap().to_owned();
    let out = rie.wait_stdout(&format!("REPORT RequestId: {id}"), Duration::from_secs(10));
    assert_eq!(events(&out).len(), 1, "{out}");
    rie.interrupt();
    let last = events(&rie.stdout()).pop().unwrap();
    assert_eq!(last["shutdownReason"], "SPINDOWN");
    common::docker(&["rmi", "-f", tag]);
}

/// `tests/fixtures/rust-extension` (the `lambda-extension` crate's basic and logs examples), built
/// once into lamina's cache (`common::tools::rust_fixture`) and packed as a layer ZIP holding
/// `extensions/rust-ext`.
fn rust_extension_layer(dir: &std::path::Path) -> std::path::PathBuf {
    let binary = std::fs::read(common::tools::rust_fixture("rust-extension", "rust-ext"))
        .expect("the built extension");
    let zip = dir.join("rust-ext.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&zip).unwrap());
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    w.start_file("extensions/rust-ext", options).unwrap();
    std::io::Write::write_all(&mut w, &binary).unwrap();
    w.finish().unwrap();
    zip
}

#[test]
fn the_lambda_extension_crates_example_registers_gets_every_event_and_reads_the_logs_api() {
    require_docker();
    let work = tempfile::tempdir().unwrap();
    let layer = rust_extension_layer(work.path());
    let function = work.path().join("fn");
    common::copy_tree(&root().join("examples/calculator"), &function);
    std::fs::write(
        function.join("lamina.toml"),
        format!(
            "name = \"rust-ext-calc\"\nruntime = \"python3.13\"\nhandler = \"app.handler\"\nlayers = [\"{}\"]\n",
            layer.display()
        ),
    )
    .unwrap();
    let mut rie = Rie::start(function.to_str().unwrap(), &[]);
    let a = post(
        rie.port,
        INVOKE,
        &[],
        br#"{"queryStringParameters":{"num1":"6","num2":"3","operator":"divide"}}"#,
    );
    assert_eq!(a.json()["statusCode"], 200, "{}", rie.stdout());
    let id = a.header("x-amzn-requestid").unwrap().to_owned();
    rie.wait_stdout(&format!("rust-ext INVOKE {id}"), Duration::from_secs(10));
    // Its Logs API subscription (buffered up to the crate's default 1 s) gets the invoke in
    // the Logs API's shapes, which the crate parses or refuses whole.
    let out = rie.wait_stdout(
        &format!("rust-ext LOG platform.report {id} billed"),
        Duration::from_secs(10),
    );
    let logged: Vec<&str> = out
        .lines()
        .filter(|l| {
            l.starts_with("rust-ext LOG platform.")
                && (l.contains(&id) || !l.contains("platform.start"))
        })
        .collect();
    let expected = [
        "rust-ext LOG platform.extension rust-ext Ready INVOKE,SHUTDOWN".to_owned(),
        "rust-ext LOG platform.logsSubscription rust-ext Subscribed".to_owned(),
        format!("rust-ext LOG platform.start {id}"),
        format!("rust-ext LOG platform.runtimeDone {id} success"),
        format!("rust-ext LOG platform.end {id}"),
        format!("rust-ext LOG platform.report {id} billed"),
    ];
    assert_eq!(logged.len(), expected.len(), "{out}");
    for (line, want) in logged.iter().zip(&expected) {
        assert!(
            line.starts_with(want.as_str()),
            "{line:?} is not {want:?}:\n{out}"
        );
    }
    // Its own lines are `extension` records, never `function` ones: none comes back to it.
    assert!(!out.contains("rust-ext LOG function rust-ext"), "{out}");
    assert!(!out.contains("rust-ext LOG other"), "{out}");
    rie.interrupt();
    let out = rie.stdout();
    assert!(out.contains("rust-ext SHUTDOWN SPINDOWN"), "{out}");
}

#[test]
fn a_plain_docker_run_starts_the_images_extensions_before_its_runtime() {
    require_docker();
    let tag = "lamina-ext-test/secrets:embedded";
    common::run_ok(
        common::lamina()
            .args(["build", example(), "--tag", tag, "--load"])
            .current_dir(root()),
    );
    // No lamina on the path: the image's own lamina-ric serves the invoke API on 8080 and
    // starts the extension under its init.
    let served = common::Served::start(tag, &[], &[]);
    let answer = served.first.clone();
    // `docker stop`: the extension hears SHUTDOWN with SPINDOWN before it is stopped.
    let _ = common::engine_cli()
        .args(["stop", "-t", "5", &served.name])
        .output();
    let logs = served.logs();
    drop(served);
    let _ = common::engine_cli().args(["rmi", "-f", tag]).output();
    assert_eq!(
        answer.json(),
        serde_json::json!({"secret": "correct horse battery staple", "fetched_before_first_invoke": true}),
        "{logs}"
    );
    assert!(logs.contains("[secrets-cache] REGISTERED"), "{logs}");
    assert!(logs.contains("[secrets-cache] SHUTDOWN SPINDOWN"), "{logs}");
}
