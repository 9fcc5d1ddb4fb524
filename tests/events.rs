//! `lamina event SOURCE`: every trigger's event has the shape AWS documents, carries the
//! values its flags give, refuses flags that do not apply, and goes straight into an invoke.

mod common;

use std::io::Read as _;

use base64::Engine as _;
use common::*;
use serde_json::Value;

fn event(args: &[&str]) -> Value {
    let out = run_ok(lamina().arg("event").args(args));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn every_source_prints_an_event_of_its_documented_shape() {
    let cases: &[(&str, &[&str])] = &[
        (
            "apigw-http",
            &[
                "version",
                "routeKey",
                "rawPath",
                "rawQueryString",
                "headers",
                "requestContext",
                "isBase64Encoded",
            ],
        ),
        (
            "apigw-rest",
            &[
                "resource",
                "path",
                "httpMethod",
                "headers",
                "multiValueHeaders",
                "queryStringParameters",
                "multiValueQueryStringParameters",
                "pathParameters",
                "stageVariables",
                "requestContext",
                "body",
                "isBase64Encoded",
            ],
        ),
        (
            "function-url",
            &[
                "version",
                "routeKey",
                "rawPath",
                "headers",
                "requestContext",
                "pathParameters",
                "stageVariables",
                "isBase64Encoded",
            ],
        ),
        (
            "alb",
            &[
                "requestContext",
                "httpMethod",
                "path",
                "queryStringParameters",
                "headers",
                "body",
                "isBase64Encoded",
            ],
        ),
        (
            "eventbridge",
            &[
                "version",
                "id",
                "detail-type",
                "source",
                "account",
                "time",
                "region",
                "resources",
                "detail",
            ],
        ),
        (
            "schedule",
            &[
                "version",
                "id",
                "detail-type",
                "source",
                "account",
                "time",
                "region",
                "resources",
                "detail",
            ],
        ),
    ];
    for (source, keys) in cases {
        let e = event(&[source]);
        for k in *keys {
            assert!(e.get(k).is_some(), "{source}: no `{k}` in {e:#}");
        }
    }
    let records: &[(&str, &str, &str)] = &[
        ("s3-put", "eventSource", "aws:s3"),
        ("s3-delete", "eventName", "ObjectRemoved:Delete"),
        ("sqs", "eventSource", "aws:sqs"),
        ("sns", "EventSource", "aws:sns"),
        ("dynamodb", "eventSource", "aws:dynamodb"),
        ("kinesis", "eventSource", "aws:kinesis"),
    ];
    for (source, key, want) in records {
        let e = event(&[source]);
        assert_eq!(e["Records"][0][key], *want, "{source}: {e:#}");
    }
}

#[test]
fn flags_set_each_sources_main_fields() {
    let e = event(&[
        "s3-put",
        "--bucket",
        "photos",
        "--key",
        "2024/a b.jpg",
        "--size",
        "7",
    ]);
    let s3 = &e["Records"][0]["s3"];
    assert_eq!(s3["bucket"]["name"], "photos");
    assert_eq!(s3["bucket"]["arn"], "arn:aws:s3:::photos");
    assert_eq!(
        s3["object"]["key"], "2024/a+b.jpg",
        "keys arrive URL-encoded"
    );
    assert_eq!(s3["object"]["size"], 7);
    assert_eq!(e["Records"][0]["eventName"], "ObjectCreated:Put");

    let e = event(&[
        "sqs",
        "--body",
        "hello",
        "--resource",
        "orders",
        "--region",
        "eu-west-1",
    ]);
    let r = &e["Records"][0];
    assert_eq!(r["body"], "hello");
    assert_eq!(
        r["md5OfBody"], "5d41402abc4b2a76b9719d911017c592",
        "md5 of `hello`"
    );
    assert_eq!(
        r["eventSourceARN"],
        "arn:aws:sqs:eu-west-1:000000000000:orders"
    );

    let e = event(&[
        "sns",
        "--body",
        "m",
        "--subject",
        "s",
        "--resource",
        "alerts",
    ]);
    assert_eq!(e["Records"][0]["Sns"]["Message"], "m");
    assert_eq!(e["Records"][0]["Sns"]["Subject"], "s");
    assert!(e["Records"][0]["Sns"]["TopicArn"]
        .as_str()
        .is_some_and(|a| a.ends_with(":alerts")));

    let e = event(&["kinesis", "--body", "data!"]);
    let data = e["Records"][0]["kinesis"]["data"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap(),
        b"data!"
    );

    let e = event(&[
        "eventbridge",
        "--source",
        "com.shop",
        "--detail-type",
        "Order Placed",
        "--body",
        r#"{"id": 1}"#,
    ]);
    assert_eq!(
        (e["source"].as_str(), e["detail-type"].as_str()),
        (Some("com.shop"), Some("Order Placed"))
    );
    assert_eq!(e["detail"]["id"], 1);

    let e = event(&["schedule", "--resource", "nightly"]);
    assert_eq!(e["detail-type"], "Scheduled Event");
    assert!(e["resources"][0]
        .as_str()
        .is_some_and(|r| r.ends_with(":rule/nightly")));

    // CloudWatch Logs: base64 of gzip of the batch, one log event per line.
    let e = event(&[
        "cloudwatch-logs",
        "--resource",
        "/aws/lambda/x",
        "--body",
        "one\ntwo",
    ]);
    let data = base64::engine::general_purpose::STANDARD
        .decode(e["awslogs"]["data"].as_str().unwrap_or_default())
        .expect("base64");
    let mut json = String::new();
    flate2::read::GzDecoder::new(&data[..])
        .read_to_string(&mut json)
        .expect("gzip");
    let batch: Value = serde_json::from_str(&json).expect("batch JSON");
    assert_eq!(batch["messageType"], "DATA_MESSAGE");
    assert_eq!(batch["logGroup"], "/aws/lambda/x");
    let messages: Vec<&str> = batch["logEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["message"].as_str())
        .collect();
    assert_eq!(messages, ["one", "two"]);

    let e = event(&[
        "apigw-http",
        "--method",
        "post",
        "--path",
        "/items/1?a=1&a=2",
        "--header",
        "Cookie: c=1",
        "--body",
        "hi",
    ]);
    assert_eq!(e["requestContext"]["http"]["method"], "POST");
    assert_eq!(e["rawPath"], "/items/1");
    assert_eq!(e["queryStringParameters"]["a"], "1,2");
    assert_eq!(e["cookies"][0], "c=1");
    assert_eq!(e["body"], "hi");
    let e = event(&["apigw-rest"]);
    assert_eq!(e["queryStringParameters"], Value::Null, "no query: null");
}

#[test]
fn a_flag_that_does_not_apply_is_refused_by_name() {
    let out = run(lamina().args(["event", "sqs", "--bucket", "x"]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--bucket does not apply to `sqs`") && err.contains("--body"),
        "{err}"
    );
    let out = run(lamina().args(["event", "eventbridge", "--body", "not json"]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not JSON"));
    let out = run(lamina().args(["event", "apigw-http", "--path", "items"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must start with `/`"));
}

#[test]
fn an_event_goes_straight_into_lamina_invoke() {
    require_docker();
    let tag = "lamina-event-test/calculator:test";
    build_json(&["examples/calculator", "--tag", tag]);
    let rie = Rie::start(tag, &[]);
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let e = event(&["apigw-rest", "--path", "/?num1=6&num2=3&operator=divide"]);
    std::fs::write(file.path(), e.to_string()).expect("write event");
    let out = run_ok(
        lamina()
            .args(["invoke", "--event"])
            .arg(file.path())
            .args(["--endpoint", &format!("http://127.0.0.1:{}", rie.port)]),
    );
    let answer: Value = serde_json::from_str(&out).expect("payload JSON");
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let body: Value =
        serde_json::from_str(answer["body"].as_str().unwrap_or_default()).expect("body");
    assert_eq!(body["result"], 2.0);
}
