//! boto3 against `lamina rie`, as users call Lambda: `FunctionName` as a name, `name:$LATEST`,
//! a full ARN (boto3 percent-encodes `:` and `$` in the path), a `Qualifier`; an unknown
//! qualifier is the cloud's 404, never dropped. boto3 comes with SAM CLI's venv
//! (`common::tools`).

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

const SCRIPT: &str = r#"
import json, sys, boto3, botocore
port = sys.argv[1]
client = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test",
                      config=botocore.config.Config(retries={"max_attempts": 0}))
event = json.dumps({"queryStringParameters": {"num1": "6", "num2": "3", "operator": "divide"}})
out = {}
for name, kwargs in [
    ("calculator", {}),
    ("function", {}),
    ("calculator:$LATEST", {}),
    ("arn:aws:lambda:us-east-1:123456789012:function:calculator", {}),
    ("arn:aws:lambda:us-east-1:123456789012:function:calculator:$LATEST", {}),
    ("calculator", {"Qualifier": "$LATEST"}),
    ("calculator:v2", {}),
    ("calculator", {"Qualifier": "live"}),
    ("calculator:$LATEST", {"Qualifier": "live"}),
]:
    key = name + (" ?Qualifier=" + kwargs["Qualifier"] if kwargs else "")
    try:
        r = client.invoke(FunctionName=name, Payload=event, **kwargs)
        out[key] = {"status": r["StatusCode"], "payload": json.loads(r["Payload"].read())}
    except botocore.exceptions.ClientError as e:
        out[key] = {"error": e.response["Error"]["Code"], "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
print(json.dumps(out))
"#;

#[test]
fn boto3_reaches_the_function_by_name_qualifier_and_arn_and_unknown_qualifiers_are_404() {
    require_docker();
    let tag = "lamina-boto3-test/calculator:test";
    build_json(&["examples/calculator", "--tag", tag]);
    let rie = Rie::start(tag, &[]);
    let out = Command::new(common::tools::python_with_boto3())
        .args(["-c", SCRIPT, &rie.port.to_string()])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let ok = serde_json::json!({"status": 200, "payload": {"statusCode": 200, "body": "{\n    \"result\": 2.0\n}"}});
    for key in [
        "calculator",
        "function",
        "calculator:$LATEST",
        "arn:aws:lambda:us-east-1:123456789012:function:calculator",
        "arn:aws:lambda:us-east-1:123456789012:function:calculator:$LATEST",
        "calculator ?Qualifier=$LATEST",
    ] {
        assert_eq!(v[key], ok, "{key}: {v}");
    }
    for key in ["calculator:v2", "calculator ?Qualifier=live"] {
        assert_eq!(
            v[key],
            serde_json::json!({"error": "ResourceNotFoundException", "status": 404}),
            "{key}: {v}"
        );
    }
    assert_eq!(
        v["calculator:$LATEST ?Qualifier=live"]["error"], "InvalidParameterValueException",
        "{v}"
    );
}
