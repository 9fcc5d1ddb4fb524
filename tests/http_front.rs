//! `lamina rie --http`: real HTTP requests through the front in each payload mode, the event
//! the handler received compared with the documented shape (`runtime-api.md` §8) field by
//! field, and the HTTP answer compared with the handler's proxy response.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine as _;
use common::*;
use serde_json::Value;

const ECHO: &str = "lamina-http-test/echo:test";

fn echo_front(payload: &str) -> (Rie, u16) {
    require_docker();
    build_json(&["tests/fixtures/http-echo", "--tag", ECHO]);
    let http = free_port();
    let rie = Rie::start(
        ECHO,
        &["--http", &http.to_string(), "--http-payload", payload],
    );
    (rie, http)
}

/// The event the echo handler saw for this request.
fn event_for(http: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Value {
    let a = request(http, method, path, headers, body);
    assert_eq!(a.status, 200, "{method} {path}: {}", a.text());
    serde_json::from_str(
        &a.json()["body"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| a.text()),
    )
    .unwrap_or_else(|_| a.json())
}

/// Top-level names of a documented shape such as `a, b{c, d{e}}, f[]`, with what is inside
/// each name's braces.
fn shape(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    let mut tokens = Vec::new();
    for (i, c) in doc.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                tokens.push(&doc[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    tokens.push(&doc[start..]);
    for t in tokens {
        let t = t.trim();
        let name: String = t
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue;
        }
        let inner = t[name.len()..]
            .strip_prefix('{')
            .and_then(|r| r.rfind('}').map(|end| r[..end].to_owned()))
            .unwrap_or_default();
        out.push((name, inner));
    }
    out
}

/// The documented event shape of a front: the `- Event:` line under `heading` in §8.
fn documented_event(heading: &str) -> Vec<(String, String)> {
    let reference = std::fs::read_to_string(root().join(WIRE_EXCERPTS)).expect(WIRE_EXCERPTS);
    let section = reference
        .split(heading)
        .nth(1)
        .expect("the front's heading in §8");
    let line = section
        .lines()
        .find_map(|l| l.strip_prefix("- Event: "))
        .expect("an Event line");
    // Payload 2.0 lists its fields in backticks with notes between; 1.0 as one backticked list.
    let fields: Vec<&str> = line.split('`').skip(1).step_by(2).collect();
    shape(&fields.join(", "))
}

fn names(s: &[(String, String)]) -> BTreeSet<String> {
    s.iter().map(|(n, _)| n.clone()).collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn a_function_url_event_has_every_documented_field_and_maps_the_request() {
    let (_rie, http) = echo_front("function-url");
    let e = event_for(
        http,
        "POST",
        "/echo?x=1&x=2&y=%E4%B8%AD",
        &[
            ("Cookie", "a=1; b=2"),
            ("X-Multi", "one"),
            ("X-Multi", "two"),
            ("User-Agent", "lamina-test"),
            ("Content-Type", "text/plain; charset=utf-8"),
        ],
        "中文 ✓".as_bytes(),
    );
    let doc = documented_event("**Function URL / HTTP API payload 2.0**");
    assert_eq!(keys(&e), names(&doc), "top-level fields: {e:#}");
    let rc_doc = doc
        .iter()
        .find(|(n, _)| n == "requestContext")
        .map(|(_, i)| shape(i))
        .unwrap();
    // `authorizer` comes only with IAM auth; everything else is there.
    let mut rc_want = names(&rc_doc);
    rc_want.remove("authorizer");
    assert_eq!(
        keys(&e["requestContext"]),
        rc_want,
        "{:#}",
        e["requestContext"]
    );
    let http_doc = rc_doc
        .iter()
        .find(|(n, _)| n == "http")
        .map(|(_, i)| names(&shape(i)))
        .unwrap();
    assert_eq!(keys(&e["requestContext"]["http"]), http_doc);

    assert_eq!(e["version"], "2.0");
    assert_eq!(e["routeKey"], "$default");
    assert_eq!(e["rawPath"], "/echo");
    assert_eq!(e["rawQueryString"], "x=1&x=2&y=%E4%B8%AD");
    assert_eq!(
        e["queryStringParameters"],
        serde_json::json!({"x": "1,2", "y": "中"})
    );
    assert_eq!(e["cookies"], serde_json::json!(["a=1", "b=2"]));
    assert_eq!(e["headers"]["x-multi"], "one,two");
    assert!(
        e["headers"].get("cookie").is_none(),
        "cookies leave the headers: {e:#}"
    );
    assert_eq!(e["headers"]["user-agent"], "lamina-test");
    assert_eq!(e["body"], "中文 ✓");
    assert_eq!(e["isBase64Encoded"], false);
    assert_eq!(e["pathParameters"], Value::Null);
    assert_eq!(e["stageVariables"], Value::Null);
    let rc = &e["requestContext"];
    assert_eq!(rc["routeKey"], "$default");
    assert_eq!(rc["stage"], "$default");
    assert_eq!(rc["http"]["method"], "POST");
    assert_eq!(rc["http"]["path"], "/echo");
    assert_eq!(rc["http"]["sourceIp"], "127.0.0.1");
    assert_eq!(rc["http"]["userAgent"], "lamina-test");
    assert_eq!(
        rc["apiId"].as_str().map(str::len),
        Some(32),
        "a URL id: {rc:#}"
    );
    let time = rc["time"].as_str().unwrap_or_default();
    assert!(
        time.len() == "12/Mar/2020:19:03:58 +0000".len()
            && time.ends_with(" +0000")
            && &time[2..3] == "/",
        "{time}"
    );
    assert!(rc["timeEpoch"].as_u64().unwrap_or(0) > 1_600_000_000_000);

    // Binary bodies travel base64-encoded and arrive whole.
    let bytes: Vec<u8> = (0..=255u8).collect();
    let e = event_for(
        http,
        "PUT",
        "/echo",
        &[("Content-Type", "application/octet-stream")],
        &bytes,
    );
    assert_eq!(e["isBase64Encoded"], true);
    let got = base64::engine::general_purpose::STANDARD
        .decode(e["body"].as_str().unwrap_or_default())
        .expect("base64 body");
    assert_eq!(got, bytes);
}

#[test]
fn an_http_api_event_carries_its_route_and_path_parameters() {
    let (rie, http) = echo_front("apigw-http");
    let e = event_for(
        http,
        "GET",
        "/items/a%20b?q=1",
        &[("Origin", "http://localhost:3000")],
        b"",
    );
    let doc = names(&documented_event("**Function URL / HTTP API payload 2.0**"));
    // The HTTP API leaves out what it has nothing for (no cookies, no body, no stage variables).
    assert!(
        keys(&e).is_subset(&doc),
        "{:?} not within {doc:?}",
        keys(&e)
    );
    assert_eq!(e["routeKey"], "GET /items/{id}");
    assert_eq!(e["requestContext"]["routeKey"], "GET /items/{id}");
    assert_eq!(e["pathParameters"], serde_json::json!({"id": "a b"}));
    assert!(
        e.get("body").is_none() && e.get("cookies").is_none(),
        "{e:#}"
    );
    assert_eq!(
        e["requestContext"]["apiId"].as_str().map(str::len),
        Some(10)
    );

    let e = event_for(http, "DELETE", "/files/a/b/c.txt", &[], b"");
    assert_eq!(e["routeKey"], "ANY /files/{proxy+}");
    assert_eq!(
        e["pathParameters"],
        serde_json::json!({"proxy": "a/b/c.txt"})
    );

    // No route: the HTTP API's 404, and the function is not invoked. The log reaches this
    // test on a pipe of its own: count once every invoke so far is in it (each START with
    // its REPORT, and the log quiet for 300 ms).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut seen = String::new();
    let starts = loop {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let out = rie.stdout();
        let starts = out.matches("START RequestId").count();
        if out == seen && starts == out.matches("REPORT RequestId").count() {
            break starts;
        }
        assert!(std::time::Instant::now() < deadline, "{out}");
        seen = out;
    };
    let nf = request(http, "GET", "/nowhere", &[], b"");
    assert_eq!(
        (nf.status, nf.text().as_str()),
        (404, r#"{"message":"Not Found"}"#)
    );

    // CORS: the front answers the preflight itself and marks allowed answers.
    let pre = request(
        http,
        "OPTIONS",
        "/items/1",
        &[
            ("Origin", "http://localhost:3000"),
            ("Access-Control-Request-Method", "GET"),
        ],
        b"",
    );
    assert_eq!(pre.status, 204);
    assert_eq!(
        pre.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(pre.header("access-control-allow-methods"), Some("GET"));
    assert_eq!(
        rie.stdout().matches("START RequestId").count(),
        starts,
        "preflight reached the function"
    );
    let ok = request(
        http,
        "GET",
        "/items/1",
        &[("Origin", "http://localhost:3000")],
        b"",
    );
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let other = request(
        http,
        "GET",
        "/items/1",
        &[("Origin", "http://elsewhere.example")],
        b"",
    );
    assert_eq!(other.header("access-control-allow-origin"), None);
}

#[test]
fn proxy_responses_become_http_answers_as_payload_2_maps_them() {
    let (_rie, http) = echo_front("apigw-http");
    let respond = br#"{"statusCode": 201, "headers": {"x-a": "1", "content-type": "image/png"},
        "cookies": ["c=1", "d=2; Path=/"], "body": "AAEC/w==", "isBase64Encoded": true}"#;
    let a = request(
        http,
        "POST",
        "/respond",
        &[("Content-Type", "application/json")],
        respond,
    );
    assert_eq!(a.status, 201, "{}", a.text());
    assert_eq!(a.body, [0, 1, 2, 255]);
    assert_eq!(a.header("x-a"), Some("1"));
    assert_eq!(a.header("content-type"), Some("image/png"));
    let cookies: Vec<&str> = a
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, ["c=1", "d=2; Path=/"]);
    assert!(a.header("apigw-requestid").is_some());

    // JSON without statusCode: a 200 JSON answer of the function's output, UTF-8 intact.
    let plain = request(http, "GET", "/plain", &[], b"");
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-type"), Some("application/json"));
    assert_eq!(
        plain.json(),
        serde_json::json!({"plain": true, "text": "中文"})
    );

    // A function error or a malformed answer: the front's own 502.
    for (path, body) in [
        ("/fail", &b""[..]),
        ("/respond", br#"{"statusCode": "teapot"}"#),
    ] {
        let a = request(
            http,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body,
        );
        assert_eq!(a.status, 502, "{path}: {}", a.text());
        assert_eq!(a.text(), r#"{"message":"Internal Server Error"}"#);
    }
}

#[test]
fn a_rest_api_event_has_the_documented_fields_and_multi_value_maps() {
    let (_rie, http) = echo_front("apigw-rest");
    let e = event_for(
        http,
        "GET",
        "/items/7?x=1&x=2",
        &[
            ("X-Multi", "one"),
            ("X-Multi", "two"),
            ("User-Agent", "lamina-test"),
        ],
        b"",
    );
    let doc = documented_event("**REST API v1 proxy**");
    assert_eq!(keys(&e), names(&doc), "{e:#}");
    let rc_doc = doc
        .iter()
        .find(|(n, _)| n == "requestContext")
        .map(|(_, i)| shape(i))
        .unwrap();
    assert_eq!(
        keys(&e["requestContext"]),
        names(&rc_doc),
        "{:#}",
        e["requestContext"]
    );
    assert_eq!(e["resource"], "/items/{id}");
    assert_eq!(e["path"], "/items/7");
    assert_eq!(e["httpMethod"], "GET");
    assert_eq!(e["pathParameters"], serde_json::json!({"id": "7"}));
    assert_eq!(e["queryStringParameters"], serde_json::json!({"x": "2"}));
    assert_eq!(
        e["multiValueQueryStringParameters"],
        serde_json::json!({"x": ["1", "2"]})
    );
    assert_eq!(e["headers"]["X-Multi"], "two");
    assert_eq!(
        e["multiValueHeaders"]["X-Multi"],
        serde_json::json!(["one", "two"])
    );
    assert_eq!(e["headers"]["User-Agent"], "lamina-test");
    assert_eq!(e["body"], Value::Null);
    assert_eq!(e["stageVariables"], Value::Null);
    assert_eq!(e["requestContext"]["identity"]["sourceIp"], "127.0.0.1");

    // No query string: null, never {} (the seeds' handlers rely on it).
    let e = event_for(http, "GET", "/items/7", &[], b"");
    assert_eq!(e["queryStringParameters"], Value::Null);
    assert_eq!(e["multiValueQueryStringParameters"], Value::Null);

    // Answers: multiValueHeaders merged; a key REST does not know, or a function error, is
    // the REST API's own 502; an unknown route its 403.
    let respond = br#"{"statusCode": 200, "headers": {"X-One": "h"}, "multiValueHeaders": {"X-Two": ["a", "b"]}, "body": "ok"}"#;
    let a = request(
        http,
        "POST",
        "/respond",
        &[("Content-Type", "application/json")],
        respond,
    );
    assert_eq!((a.status, a.text().as_str()), (200, "ok"));
    let two: Vec<&str> = a
        .headers
        .iter()
        .filter(|(k, _)| k == "X-Two" || k == "x-two")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(two, ["a", "b"]);
    for (path, body) in [
        ("/fail", &b""[..]),
        ("/respond", br#"{"statusCode": 200, "cookies": ["a=1"]}"#),
    ] {
        let a = request(
            http,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body,
        );
        assert_eq!(a.status, 502, "{path}: {}", a.text());
        assert_eq!(a.text(), r#"{"message": "Internal server error"}"#);
        assert_eq!(
            a.header("x-amzn-ErrorType"),
            Some("InternalServerErrorException")
        );
    }
    let nf = request(http, "GET", "/nowhere", &[], b"");
    assert_eq!(nf.status, 403);
    assert_eq!(nf.text(), r#"{"message":"Missing Authentication Token"}"#);
}

#[test]
fn the_seed_functions_answer_plain_http_requests() {
    require_docker();
    let tag = "lamina-http-test/calculator:test";
    build_json(&["examples/calculator", "--tag", tag]);
    let http = free_port();
    let _rie = Rie::start(tag, &["--http", &http.to_string()]);
    let a = request(http, "GET", "/?num1=1&num2=2&operator=add", &[], b"");
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json(), serde_json::json!({"result": 3.0}));
    let a = request(http, "GET", "/?num1=1&num2=0&operator=divide", &[], b"");
    assert_eq!(
        (a.status, a.json()),
        (400, serde_json::json!({"error": "Cannot divide by zero"}))
    );
    let a = request(http, "GET", "/", &[], b"");
    assert_eq!(
        (a.status, a.json()),
        (400, serde_json::json!({"error": "Invalid input"}))
    );

    let tag = "lamina-http-test/random-image:test";
    build_json(&["examples/random-image", "--tag", tag]);
    let http = free_port();
    let _rie = Rie::start(tag, &["--http", &http.to_string()]);
    let a = request(http, "GET", "/", &[], b"");
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(
        a.json()["imageUrl"]
            .as_str()
            .is_some_and(|u| u.starts_with("http")),
        "{}",
        a.text()
    );
}

/// One response read off a keep-alive connection, framed by its own `Content-Length`:
/// (status line, headers lowercased, body).
fn read_framed(reader: &mut BufReader<TcpStream>) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut status = String::new();
    reader.read_line(&mut status).expect("status line");
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("{status:?} has no content-length: {headers:?}"));
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).expect("body");
    (status.trim_end().to_owned(), headers, body)
}

#[test]
fn a_handlers_framing_headers_never_reach_the_client_and_keep_alive_stays_in_step() {
    let (_rie, http) = echo_front("apigw-http");
    // Content-Length counted in characters (2) for a body of 12 bytes, and a forged
    // Transfer-Encoding: relayed, either desyncs the connection for the next response.
    let answer = r#"{"statusCode": 200, "headers": {"Content-Length": "2", "Transfer-Encoding": "chunked", "Connection": "close", "content-type": "text/plain"}, "body": "中文中文"}"#;
    let stream = TcpStream::connect(("127.0.0.1", http)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    for round in 0..2 {
        write!(
            writer,
            "POST /respond HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        )
        .expect("write");
        let (status, headers, body) = read_framed(&mut reader);
        assert_eq!(status, "HTTP/1.1 200 OK", "round {round}: {headers:?}");
        assert_eq!(body, "中文中文".as_bytes(), "round {round}");
        let named = |n: &str| headers.iter().filter(|(k, _)| k == n).count();
        assert_eq!(named("content-length"), 1, "{headers:?}");
        assert_eq!(named("transfer-encoding"), 0, "{headers:?}");
        assert_eq!(named("connection"), 0, "{headers:?}");
    }
}

#[test]
fn a_malformed_chunked_request_body_is_the_clients_400() {
    let (_rie, http) = echo_front("apigw-http");
    let mut stream = TcpStream::connect(("127.0.0.1", http)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    stream
        .write_all(
            b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n",
        )
        .expect("write");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
}
