//! Pushing to ECR with AWS credentials and no `docker login`: a real registry whose Basic
//! challenge names an ECR registry (as ECR's does), and a fixture of ECR's and STS's APIs on
//! loopback (`AWS_ENDPOINT_URL_ECR` / `_STS`, the SDKs' overrides) that checks the SigV4
//! request and answers `GetAuthorizationToken` / `AssumeRoleWithWebIdentity` as AWS does.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use common::registry::Registry;
use common::*;
use serde_json::Value;

const REALM: &str = "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/";
const PASSWORD: &str = "ecr-password-7f3a";

/// What the fixture saw: (path or action, headers lowercased, body).
type Seen = Arc<Mutex<Vec<(String, Vec<(String, String)>, String)>>>;

/// ECR's and STS's APIs on a loopback port, for at most `max` requests.
fn aws_fixture(max: usize) -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen: Seen = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
            let len = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; len];
            let _ = reader.read_exact(&mut body);
            let body = String::from_utf8_lossy(&body).into_owned();
            let target = headers
                .iter()
                .find(|(k, _)| k == "x-amz-target")
                .map(|(_, v)| v.clone());
            let (status, answer) = if body.contains("Action=AssumeRoleWithWebIdentity") {
                (
                    "200 OK",
                    "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAFROMOIDC</AccessKeyId><SecretAccessKey>oidc-secret</SecretAccessKey><SessionToken>oidc-session</SessionToken></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>".to_owned(),
                )
            } else if target.as_deref()
                == Some("AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken")
            {
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("AWS:{PASSWORD}"));
                (
                    "200 OK",
                    format!(
                        r#"{{"authorizationData":[{{"authorizationToken":"{token}","expiresAt":1.7E9,"proxyEndpoint":"{REALM}"}}]}}"#
                    ),
                )
            } else {
                (
                    "400 Bad Request",
                    r#"{"__type":"UnknownOperationException"}"#.to_owned(),
                )
            };
            log.lock()
                .expect("log")
                .push((target.unwrap_or_else(|| "sts".into()), headers, body));
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (port, seen)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn build_source() {
    build_json(&["examples/calculator", "--tag", "lamina-e2e/ecr-calc:test"]);
}

/// `lamina push` with only the given AWS environment (no Docker config, no AWS files).
fn push(target: &str, aws: &[(&str, String)]) -> std::process::Output {
    let home = tempfile::tempdir().expect("home");
    let mut cmd = lamina();
    cmd.args([
        "push",
        "lamina-e2e/ecr-calc:test",
        target,
        "--insecure",
        "--json",
    ])
    .env("HOME", home.path())
    .env("DOCKER_CONFIG", home.path().join(".docker"));
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ENDPOINT_URL",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in aws {
        cmd.env(k, v);
    }
    let out = run(&mut cmd);
    drop(home);
    out
}

#[test]
fn access_keys_in_the_environment_get_the_ecr_password_and_the_push_lands() {
    build_source();
    let registry = Registry::start_with_realm(Some(("AWS", PASSWORD)), REALM);
    let (port, seen) = aws_fixture(4);
    let target = registry.reference("team/ecr:v1");
    let out = push(
        &target,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIATESTKEY".into()),
            ("AWS_SECRET_ACCESS_KEY", "test-secret-never-printed".into()),
            ("AWS_ENDPOINT_URL_ECR", format!("http://127.0.0.1:{port}")),
        ],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    let pushed: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(pushed["digest"]
        .as_str()
        .is_some_and(|d| d.starts_with("sha256:")));
    for secret in ["test-secret-never-printed", PASSWORD] {
        assert!(!text.contains(secret), "a secret was printed: {text}");
    }

    let seen = seen.lock().expect("seen");
    assert_eq!(
        seen.len(),
        1,
        "one GetAuthorizationToken per push: {seen:?}"
    );
    let (_, headers, body) = &seen[0];
    assert_eq!(body, r#"{"registryIds":["123456789012"]}"#);
    let auth = header(headers, "authorization");
    let date = header(headers, "x-amz-date");
    assert!(
        auth.starts_with(&format!(
            "AWS4-HMAC-SHA256 Credential=AKIATESTKEY/{}/us-east-1/ecr/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=",
            &date[..8]
        )),
        "{auth}"
    );
    let signature = auth.rsplit('=').next().unwrap_or("");
    assert_eq!(signature.len(), 64, "{auth}");
    assert!(!auth.contains("test-secret"));
}

#[test]
fn a_ci_oidc_token_is_exchanged_at_sts_and_its_session_signs_the_ecr_request() {
    build_source();
    let registry = Registry::start_with_realm(Some(("AWS", PASSWORD)), REALM);
    let (port, seen) = aws_fixture(4);
    let dir = tempfile::tempdir().expect("tmp");
    let token_file = dir.path().join("oidc-token");
    std::fs::write(&token_file, "eyJ.oidc.token\n").expect("token");
    let out = push(
        &registry.reference("team/ecr:oidc"),
        &[
            (
                "AWS_ROLE_ARN",
                "arn:aws:iam::123456789012:role/ci-push".into(),
            ),
            (
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                token_file.display().to_string(),
            ),
            ("AWS_ENDPOINT_URL_ECR", format!("http://127.0.0.1:{port}")),
            ("AWS_ENDPOINT_URL_STS", format!("http://127.0.0.1:{port}")),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = seen.lock().expect("seen");
    assert_eq!(seen.len(), 2, "{seen:?}");
    let (_, _, sts_body) = &seen[0];
    assert!(
        sts_body.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fci-push"),
        "{sts_body}"
    );
    assert!(
        sts_body.contains("WebIdentityToken=eyJ.oidc.token"),
        "{sts_body}"
    );
    let (_, ecr_headers, _) = &seen[1];
    assert!(header(ecr_headers, "authorization").contains("Credential=ASIAFROMOIDC/"));
    assert_eq!(header(ecr_headers, "x-amz-security-token"), "oidc-session");
}

#[test]
fn with_no_aws_credentials_anywhere_the_error_says_where_they_are_looked_for() {
    build_source();
    let registry = Registry::start_with_realm(Some(("AWS", PASSWORD)), REALM);
    let out = push(&registry.reference("team/ecr:none"), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is Amazon ECR and no AWS credentials were found"),
        "{err}"
    );
    assert!(err.contains("AWS_WEB_IDENTITY_TOKEN_FILE"), "{err}");
}
