//! ECR's password goes only to ECR: `lamina push` to a registry on loopback whose Basic
//! challenge names an ECR realm (as a hostile registry can) with AWS credentials in the
//! environment must not call ECR's API and must send that registry no credentials. The
//! password flow itself, for a registry whose host is ECR's, is tested in
//! `crates/registry/tests/ecr.rs`.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::registry::Registry;
use common::*;

const REALM: &str = "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/";

/// A stand-in for ECR's API on a loopback port that counts the requests it gets.
fn counting_aws_api() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(stream) = stream else { continue };
            seen.fetch_add(1, Ordering::SeqCst);
            let mut line = String::new();
            let _ = BufReader::new(stream).read_line(&mut line);
        }
    });
    (port, count)
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
fn a_registry_whose_challenge_names_ecr_gets_no_ecr_password_from_a_push() {
    build_source();
    let registry = Registry::start_with_realm(Some(("AWS", "ecr-password-7f3a")), REALM);
    let (port, asked) = counting_aws_api();
    let out = push(
        &registry.reference("team/ecr:v1"),
        &[
            ("AWS_ACCESS_KEY_ID", "AKIATESTKEY".into()),
            ("AWS_SECRET_ACCESS_KEY", "test-secret-never-printed".into()),
            ("AWS_ENDPOINT_URL_ECR", format!("http://127.0.0.1:{port}")),
            ("AWS_ENDPOINT_URL_STS", format!("http://127.0.0.1:{port}")),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the push was let in: {err}");
    assert!(err.contains("refused access"), "{err}");
    assert_eq!(
        asked.load(Ordering::SeqCst),
        0,
        "ECR's API was asked for a password for a registry that is not ECR"
    );
}
