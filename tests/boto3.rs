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

const TWO: &str = r#"
import json, sys, boto3, botocore
port = sys.argv[1]
client = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test",
                      config=botocore.config.Config(retries={"max_attempts": 0}))
event = json.dumps({"queryStringParameters": {"num1": "6", "num2": "3", "operator": "divide"}})
out = {}
for name in ["adder", "adder:$LATEST", "arn:aws:lambda:us-east-1:000000000000:function:adder",
             "pictures", "pictures:$LATEST", "arn:aws:lambda:us-east-1:000000000000:function:pictures",
             "function"]:
    try:
        r = client.invoke(FunctionName=name, Payload=event)
        out[name] = {"status": r["StatusCode"], "payload": json.loads(r["Payload"].read())}
    except botocore.exceptions.ClientError as e:
        out[name] = {"error": e.response["Error"]["Code"]}
print(json.dumps(out))
"#;

/// A copy of an example folder under `dir/sub`, renamed and given its own HTTP routes.
fn renamed_example(example: &str, dir: &std::path::Path, sub: &str, name: &str, route: &str) {
    let to = dir.join(sub);
    copy_tree(&root().join("examples").join(example), &to);
    let toml = to.join("lamina.toml");
    let text = std::fs::read_to_string(&toml).expect("lamina.toml");
    let mut text: String = text
        .lines()
        .filter(|l| !l.starts_with("name ="))
        .map(|l| format!("{l}\n"))
        .collect();
    text = format!("name = \"{name}\"\n{text}\n[http]\nroutes = [\"{route}\"]\n");
    std::fs::write(&toml, text).expect("write lamina.toml");
}

#[test]
fn two_functions_are_served_at_once_each_reached_by_name_arn_and_latest() {
    require_docker();
    let project = tempfile::tempdir().expect("temp dir");
    renamed_example("calculator", project.path(), "calc", "adder", "GET /calc");
    renamed_example(
        "random-image",
        project.path(),
        "images",
        "pictures",
        "GET /image",
    );
    std::fs::write(
        project.path().join("lamina.toml"),
        "functions = [\"calc\", \"images\"]\n",
    )
    .expect("project lamina.toml");
    let http = free_port();
    let rie = Rie::start(
        &project.path().to_string_lossy(),
        &["--http", &http.to_string()],
    );
    let out = Command::new(common::tools::python_with_boto3())
        .args(["-c", TWO, &rie.port.to_string()])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    for name in [
        "adder",
        "adder:$LATEST",
        "arn:aws:lambda:us-east-1:000000000000:function:adder",
    ] {
        assert_eq!(v[name]["status"], 200, "{name}: {v}");
        assert_eq!(
            v[name]["payload"]["body"], "{\n    \"result\": 2.0\n}",
            "{name}: {v}"
        );
    }
    for name in [
        "pictures",
        "pictures:$LATEST",
        "arn:aws:lambda:us-east-1:000000000000:function:pictures",
    ] {
        assert_eq!(v[name]["status"], 200, "{name}: {v}");
        assert!(
            v[name]["payload"]["body"]
                .as_str()
                .is_some_and(|b| b.contains("imageUrl")),
            "{name}: {v}"
        );
    }
    // With two functions, `function` names neither.
    assert_eq!(v["function"]["error"], "ResourceNotFoundException", "{v}");

    // The HTTP front routes each path to its function.
    let a = request(http, "GET", "/calc?num1=1&num2=2&operator=add", &[], b"");
    assert_eq!(
        a.json(),
        serde_json::json!({"result": 3.0}),
        "{}",
        rie.stderr()
    );
    let a = request(http, "GET", "/image", &[], b"");
    assert!(a.json()["imageUrl"].is_string(), "{}", a.text());
    assert_eq!(request(http, "GET", "/", &[], b"").status, 404);
}

#[test]
fn two_functions_that_both_take_every_path_are_refused_with_a_fix() {
    require_docker();
    let project = tempfile::tempdir().expect("temp dir");
    renamed_example("calculator", project.path(), "a", "first", "$default");
    renamed_example("random-image", project.path(), "b", "second", "$default");
    let out = run(lamina()
        .args([
            "rie",
            "--port",
            &free_port().to_string(),
            "--http",
            &free_port().to_string(),
        ])
        .arg(project.path().join("a"))
        .arg(project.path().join("b")));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`first` and `second` both claim the HTTP route `$default`")
            && err.contains("[http]"),
        "{err}"
    );
}
