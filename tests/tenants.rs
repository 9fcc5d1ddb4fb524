//! Tenant isolation under `lamina rie` and Docker (`TenantIsolationMode=PER_TENANT`,
//! runtime-api.md §1.3 and §4): each tenant id gets environments of its own, the tenant
//! reaches the handler's context, the platform's start record and the JSON log records; an
//! isolated function requires the tenant id and any other refuses it, both with the cloud's
//! `InvalidParameterValueException`; `lamina invoke --tenant-id` and boto3's `TenantId` work.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

const TAG: &str = "lamina-tenants-test/fn:test";
const PLAIN: &str = "lamina-tenants-test/plain:test";

/// Says which environment ran it (an id made at init) and for which tenant.
const HANDLER: &str = r#"
import logging, uuid

ENVIRONMENT = str(uuid.uuid4())
logging.getLogger().setLevel(logging.INFO)

def handler(event, context):
    logging.getLogger().info("for tenant")
    return {"environment": ENVIRONMENT, "tenant": context.tenant_id}
"#;

/// The message the cloud gives both mistakes (docs, "Troubleshooting tenant isolation").
const MISMATCH: &str = "Tenant ID configuration not specified or passed to a function when tenant isolation is not enabled.";

fn invoke(port: u16, tenant: Option<&str>) -> Answer {
    let headers: Vec<(&str, &str)> = tenant.map(|t| ("X-Amz-Tenant-Id", t)).into_iter().collect();
    post(port, INVOKE, &headers, b"{}")
}

#[test]
fn tenants_never_share_an_environment_and_a_missing_or_unexpected_tenant_id_is_refused() {
    require_docker();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("app.py"), HANDLER).expect("handler");
    std::fs::write(
        dir.path().join("lamina.toml"),
        "name = \"tenants\"\nhandler = \"app.handler\"\ntenant_isolation = true\nlog_format = \"JSON\"\n",
    )
    .expect("lamina.toml");
    run_ok(lamina().arg("build").arg(dir.path()).args(["--tag", TAG]));
    let rie = Rie::start(TAG, &[]);

    let env_of = |tenant: &str| {
        let a = invoke(rie.port, Some(tenant));
        assert_eq!(a.status, 200, "{}", a.text());
        let v = a.json();
        assert_eq!(v["tenant"], tenant, "the context names the tenant");
        v["environment"].as_str().expect("environment").to_owned()
    };
    let blue = env_of("blue");
    let green = env_of("green");
    assert_ne!(blue, green, "two tenants shared an environment");
    assert_eq!(env_of("blue"), blue, "blue's environment is kept for blue");
    assert_eq!(env_of("green"), green);

    // The tenant is in the platform's start record and in the function's JSON records.
    let log = rie.wait_stdout("\"tenantId\":\"green\"", Duration::from_secs(10));
    let records: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        records
            .iter()
            .any(|r| r["type"] == "platform.start" && r["record"]["tenantId"] == "blue"),
        "{log}"
    );
    assert!(
        records
            .iter()
            .any(|r| r["message"] == "for tenant" && r["tenantId"] == "blue"),
        "{log}"
    );

    // No tenant id for an isolated function: refused, as the cloud refuses it.
    let missing = invoke(rie.port, None);
    assert_eq!(missing.status, 400, "{}", missing.text());
    assert_eq!(
        missing.header("X-Amzn-ErrorType"),
        Some("InvalidParameterValueException")
    );
    assert_eq!(missing.json()["Message"], MISMATCH);
    let bad = invoke(rie.port, Some("no|pipes"));
    assert_eq!(bad.status, 400, "{}", bad.text());

    // `lamina invoke --tenant-id` and boto3's `TenantId` reach the tenant's environment.
    let out = run_ok(lamina().args([
        "invoke",
        "tenants",
        "--tenant-id",
        "blue",
        "--endpoint",
        &format!("http://127.0.0.1:{}", rie.port),
    ]));
    let v: Value = serde_json::from_str(out.trim()).expect("lamina invoke JSON");
    assert_eq!(v["environment"], blue.as_str(), "{out}");
    let script = r#"
import json, sys, boto3, botocore
client = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test",
                      config=botocore.config.Config(retries={"max_attempts": 0}))
r = client.invoke(FunctionName="tenants", TenantId="green", Payload=b"{}")
print(r["Payload"].read().decode())
"#;
    let out = Command::new(common::tools::python_with_boto3())
        .args(["-c", script, &rie.port.to_string()])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("boto3 payload");
    assert_eq!(v["environment"], green.as_str());
    drop(rie);

    // Through the HTTP front (a function URL, or a REST API mapping a client value onto the
    // header), the tenant comes from X-Amz-Tenant-Id; without it the integration fails.
    let front = free_port();
    let rie = Rie::start(
        TAG,
        &[
            "--http",
            &front.to_string(),
            "--http-payload",
            "function-url",
        ],
    );
    let a = request(front, "GET", "/", &[("X-Amz-Tenant-Id", "blue")], b"");
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["tenant"], "blue");
    let a = request(front, "GET", "/", &[], b"");
    assert_eq!(a.status, 500, "{}", a.text());
    drop(rie);

    // A function without tenant isolation refuses a tenant id.
    build_handler(
        PLAIN,
        "def handler(event, context):\n    return context.tenant_id\n",
    );
    let rie = Rie::start(PLAIN, &[]);
    let unexpected = invoke(rie.port, Some("blue"));
    assert_eq!(unexpected.status, 400, "{}", unexpected.text());
    assert_eq!(unexpected.json()["Message"], MISMATCH);
    let plain = invoke(rie.port, None);
    assert_eq!(plain.status, 200, "{}", plain.text());
    assert_eq!(plain.text(), "null");
}
