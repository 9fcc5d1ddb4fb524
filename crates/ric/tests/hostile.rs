//! The real `lamina-ric` against a Runtime API that hands out hostile values: request ids
//! with spaces, `../`, non-ASCII text and 10 KB of characters, missing and non-numeric
//! deadlines, missing headers, invalid JSON events. None may panic the client: each event is
//! answered (its id percent-encoded into one path segment), an undecodable event is reported
//! as the Python RIC reports it (`Runtime.UnmarshalError`), and a `/next` reply the client
//! cannot answer at all ends it with an error and exit 1, as lambda_runtime returns an error
//! there (issue 5, item 8). Needs `python3` on PATH.

mod common;

use common::*;
use lamina_runtime_api::headers as h;

const APP: &str = r#"
def handler(event, context):
    return {"id": context.aws_request_id, "event": event,
            "remaining_positive": context.get_remaining_time_in_millis() > 0,
            "arn": context.invoked_function_arn}
"#;

fn task_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.py"), APP).unwrap();
    dir
}

/// `/next` headers: the request id plus whatever else is given, all raw.
fn headers(id: &[u8], rest: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
    std::iter::once((h::REQUEST_ID.to_owned(), id.to_vec()))
        .chain(rest.iter().map(|(k, v)| ((*k).to_owned(), v.to_vec())))
        .collect()
}

const DEADLINE_FAR: &[u8] = b"99999999999999";

#[test]
fn hostile_request_ids_and_headers_are_answered_not_panicked_on() {
    let api = FakeApi::start();
    let root = task_root();
    let mut ric = spawn_ric(&api, root.path(), "app.handler", &[]);
    let long = "x".repeat(10 * 1024);
    let ids: [&str; 4] = ["a b", "../../etc/passwd", "ünïcødé-id", &long];
    for id in ids {
        api.push_raw(
            headers(id.as_bytes(), &[(h::DEADLINE_MS, DEADLINE_FAR)]),
            b"{\"n\":1}",
        );
    }
    // No deadline, a deadline that is not a number, no ARN, a content type with no value.
    api.push_raw(headers(b"no-deadline", &[]), b"1");
    api.push_raw(headers(b"bad-deadline", &[(h::DEADLINE_MS, b"soon")]), b"2");
    api.push_raw(
        headers(
            b"empty-type",
            &[(h::DEADLINE_MS, DEADLINE_FAR), ("content-type", b"")],
        ),
        b"3",
    );
    // An event that is not JSON.
    api.push_raw(
        headers(b"not-json", &[(h::DEADLINE_MS, DEADLINE_FAR)]),
        b"{not json",
    );
    // Last: a reply without a request id, which nothing can be posted for.
    api.push_raw(
        vec![(h::DEADLINE_MS.to_owned(), DEADLINE_FAR.to_vec())],
        b"{}",
    );

    let posts = api.wait_posts(8);
    let (status, output) = wait_exit(&mut ric);
    assert!(!output.contains("panicked"), "{output}");
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("LAMBDA_RUNTIME Failed to get next invocation: missing required header `lambda-runtime-aws-request-id`"),
        "{output}"
    );

    let prefix = lamina_runtime_api::paths::INVOCATION_PREFIX;
    let encoded = [
        "a%20b".to_owned(),
        "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd".to_owned(),
        "%C3%BCn%C3%AFc%C3%B8d%C3%A9-id".to_owned(),
        long.clone(),
    ];
    for (i, (id, path_id)) in ids.iter().zip(&encoded).enumerate() {
        let post = &posts[i];
        assert_eq!(post.path, format!("{prefix}{path_id}/response"));
        assert_eq!(post.json()["id"], *id, "the handler saw the id as sent");
        assert_eq!(post.json()["remaining_positive"], true);
    }
    for (post, id, event) in [
        (&posts[4], "no-deadline", 1),
        (&posts[5], "bad-deadline", 2),
        (&posts[6], "empty-type", 3),
    ] {
        assert_eq!(post.path, format!("{prefix}{id}/response"));
        assert_eq!(post.json()["event"], event);
        assert_eq!(
            post.json()["remaining_positive"],
            true,
            "no deadline is no deadline"
        );
        assert_eq!(post.json()["arn"], "");
    }
    let unmarshal = &posts[7];
    assert_eq!(unmarshal.path, format!("{prefix}not-json/error"));
    let body = unmarshal.json();
    assert_eq!(body["errorType"], "Runtime.UnmarshalError");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("Unable to unmarshal input: "),
        "{body}"
    );
}

#[test]
fn a_request_id_that_is_not_utf8_ends_the_client_with_an_error() {
    let api = FakeApi::start();
    let root = task_root();
    let mut ric = spawn_ric(&api, root.path(), "app.handler", &[]);
    api.push_raw(
        headers(b"\xff\xfe", &[(h::DEADLINE_MS, DEADLINE_FAR)]),
        b"{}",
    );
    let (status, output) = wait_exit(&mut ric);
    assert!(!output.contains("panicked"), "{output}");
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("LAMBDA_RUNTIME Failed to get next invocation: invalid value for header `lambda-runtime-aws-request-id`"),
        "{output}"
    );
    assert!(api.posts().is_empty());
}

#[test]
fn a_request_id_too_long_for_any_uri_is_an_error_not_a_panic() {
    let api = FakeApi::start();
    let root = task_root();
    let mut ric = spawn_ric(&api, root.path(), "app.handler", &[]);
    // 40,000 non-ASCII characters: 240,000 bytes once percent-encoded, past http's URI limit.
    let id = "é".repeat(40_000);
    api.push_raw(
        headers(id.as_bytes(), &[(h::DEADLINE_MS, DEADLINE_FAR)]),
        b"{}",
    );
    let (status, output) = wait_exit(&mut ric);
    assert!(!output.contains("panicked"), "{output}");
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("Runtime.LambdaRuntimeClientError: cannot call the Lambda Runtime"),
        "{output}"
    );
}
