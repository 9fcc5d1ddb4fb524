//! The real `lamina-ric` binary in `exec` mode: one process per invoke.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use lamina_runtime_api::{headers as h, paths};

const SCRIPT: &str = r#"#!/bin/sh
input=$(cat)
if [ "$input" = '"fail"' ]; then
  echo "something broke" >&2
  exit 3
fi
printf '{"input": %s, "trace": "%s", "id": "%s"}' "$input" "$_X_AMZN_TRACE_ID" "$LAMINA_REQUEST_ID"
"#;

#[test]
fn exec_handler_success_and_failure() {
    let root = tempfile::tempdir().unwrap();
    let script = root.path().join("handler.sh");
    std::fs::write(&script, SCRIPT).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

    let api = FakeApi::start();
    api.push(invocation("ok-1"), br#"{"a":1}"#);
    api.push(invocation("bad-1"), br#""fail""#);
    let mut ric = spawn_ric(&api, root.path(), "handler.sh", &[]);
    let posts = api.wait_posts(2);
    let out = stop(&mut ric);

    assert_eq!(posts[0].path, paths::response("ok-1"), "{out}");
    assert_eq!(posts[0].headers["content-type"], "application/json");
    let body = posts[0].json();
    assert_eq!(body["input"], serde_json::json!({"a": 1}));
    assert_eq!(body["id"], "ok-1");
    assert!(body["trace"].as_str().unwrap().starts_with("Root=1-"));

    assert_eq!(posts[1].path, paths::error("bad-1"));
    assert!(!posts[1].headers.contains_key(ERROR_TYPE_HEADER));
    let err = posts[1].json();
    assert_eq!(err["errorType"], "Runtime.ExitError");
    assert_eq!(err["errorMessage"], "something broke");
    assert_eq!(err["requestId"], "bad-1");
    assert!(
        out.contains("something broke"),
        "stderr passed through: {out}"
    );
}

#[test]
fn every_answer_echoes_its_invocation_id_and_a_410_refusal_is_survived() {
    let root = tempfile::tempdir().unwrap();
    let script = root.path().join("handler.sh");
    std::fs::write(&script, SCRIPT).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

    let api = FakeApi::start();
    let with_nonce = |id: &str, nonce: &str| lamina_runtime_api::Invocation {
        invocation_id: Some(nonce.into()),
        ..invocation(id)
    };
    // The first answer is refused as the cloud refuses a stale one (runtime-api.md §1.6).
    api.refuse_next_post(
        410,
        r#"{"errorMessage":"Invoke timeout","errorType":"InvokeTimeout"}"#,
    );
    api.push(with_nonce("late-1", "nonce-a"), br#"{"a":1}"#);
    api.push(with_nonce("bad-2", "nonce-b"), br#""fail""#);
    api.push(invocation("old-3"), br#"{"c":3}"#);
    let mut ric = spawn_ric(&api, root.path(), "handler.sh", &[]);
    let posts = api.wait_posts(3);
    let out = stop(&mut ric);

    let echo = |i: usize| posts[i].headers.get(h::INVOCATION_ID).cloned();
    assert_eq!(posts[0].path, paths::response("late-1"), "{out}");
    assert_eq!(echo(0).as_deref(), Some("nonce-a"));
    assert_eq!(
        posts[1].path,
        paths::error("bad-2"),
        "went on after the 410: {out}"
    );
    assert_eq!(echo(1).as_deref(), Some("nonce-b"));
    assert_eq!(posts[2].path, paths::response("old-3"));
    assert_eq!(echo(2), None, "no nonce on /next, none echoed");
    assert!(
        out.contains("InvokeTimeout"),
        "the refusal is logged: {out}"
    );
}
