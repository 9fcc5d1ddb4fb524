//! ECR's password from the AWS credential chain, and to whom it goes.
//!
//! A registry whose host is ECR's gets `AWS:<token>` from `GetAuthorizationToken`, signed
//! with the user's credentials (access keys, or a CI's OIDC token traded at STS); a registry
//! whose host is not ECR's never causes that call, whatever realm its challenge names
//! (images-and-registries.md §3.1: ECR's Basic challenge names its registry as the realm —
//! which any registry can copy). One loopback fixture plays the registry (through
//! [`Client::with_endpoint`], standing in for `ACCOUNT.dkr.ecr.REGION.amazonaws.com` as a
//! mirror would), ECR's API and STS, and records every request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use lamina_image::Reference;
use lamina_registry::{Client, RegistryError};

const ECR_HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const REALM: &str = "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/";
const PASSWORD: &str = "ecr-password-7f3a";

/// One request the fixture saw: what it was for, its headers (names lowercased) and body.
#[derive(Debug, Clone)]
struct Seen {
    what: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Registry, ECR API and STS on one loopback port, for at most `max` requests.
fn fixture(max: usize) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
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
            let seen = Seen {
                what: String::new(),
                headers,
                body,
            };
            let target = seen.header("x-amz-target").to_owned();
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("AWS:{PASSWORD}"))
            );
            let (what, status, extra, answer) = if line.starts_with("GET /v2/") {
                if seen.header("authorization") == expected {
                    ("registry", "200 OK", String::new(), "{}".to_owned())
                } else {
                    (
                        "registry",
                        "401 Unauthorized",
                        format!("www-authenticate: Basic realm=\"{REALM}\",service=\"ecr.amazonaws.com\"\r\n"),
                        "{}".to_owned(),
                    )
                }
            } else if seen.body.contains("Action=AssumeRoleWithWebIdentity") {
                (
                    "sts",
                    "200 OK",
                    String::new(),
                    "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAFROMOIDC</AccessKeyId><SecretAccessKey>oidc-secret</SecretAccessKey><SessionToken>oidc-session</SessionToken></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>".to_owned(),
                )
            } else if target == "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken" {
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("AWS:{PASSWORD}"));
                (
                    "ecr",
                    "200 OK",
                    String::new(),
                    format!(
                        r#"{{"authorizationData":[{{"authorizationToken":"{token}","expiresAt":1.7E9,"proxyEndpoint":"{REALM}"}}]}}"#
                    ),
                )
            } else {
                (
                    "other",
                    "400 Bad Request",
                    String::new(),
                    r#"{"__type":"UnknownOperationException"}"#.to_owned(),
                )
            };
            log.lock().expect("log").push(Seen {
                what: what.to_owned(),
                ..seen
            });
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\n{extra}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (format!("http://127.0.0.1:{port}"), seen)
}

/// The AWS environment is process-wide: tests that set it take turns.
static AWS_ENV: Mutex<()> = Mutex::new(());

const AWS_VARS: [&str; 11] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_ECR",
    "AWS_ENDPOINT_URL_STS",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
];

/// GET `/v2/` of `reference` at `endpoint` with only `aws` in the AWS environment.
fn check_with(
    reference: &str,
    endpoint: &str,
    aws: &[(&str, String)],
) -> Result<u16, RegistryError> {
    let _turn = AWS_ENV.lock().unwrap_or_else(|e| e.into_inner());
    let home = tempfile::tempdir().expect("home");
    for var in AWS_VARS {
        std::env::remove_var(var);
    }
    std::env::set_var("AWS_CONFIG_FILE", home.path().join("config"));
    std::env::set_var(
        "AWS_SHARED_CREDENTIALS_FILE",
        home.path().join("credentials"),
    );
    for (k, v) in aws {
        std::env::set_var(k, v);
    }
    let reference: Reference = reference.parse().expect("reference");
    let client = Client::with_endpoint(&reference, endpoint, None).expect("client");
    let url = client.url("/v2/");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let result = runtime.block_on(async {
        let resp = client.send("team/app", |http| Ok(http.get(&url))).await?;
        Ok(resp.status().as_u16())
    });
    for var in AWS_VARS {
        std::env::remove_var(var);
    }
    result
}

#[test]
fn access_keys_get_an_ecr_registry_its_password_with_one_signed_call() {
    let (endpoint, seen) = fixture(8);
    let status = check_with(
        &format!("{ECR_HOST}/team/app:v1"),
        &endpoint,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIATESTKEY".into()),
            ("AWS_SECRET_ACCESS_KEY", "test-secret-never-sent".into()),
            ("AWS_ENDPOINT_URL_ECR", endpoint.clone()),
        ],
    )
    .expect("the registry let us in");
    assert_eq!(status, 200);
    let seen = seen.lock().expect("seen").clone();
    let whats: Vec<&str> = seen.iter().map(|s| s.what.as_str()).collect();
    assert_eq!(whats, ["registry", "ecr", "registry"], "{seen:?}");
    let ecr = &seen[1];
    assert_eq!(ecr.body, r#"{"registryIds":["123456789012"]}"#);
    let auth = ecr.header("authorization");
    let date = ecr.header("x-amz-date");
    assert!(
        auth.starts_with(&format!(
            "AWS4-HMAC-SHA256 Credential=AKIATESTKEY/{}/us-east-1/ecr/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=",
            date.get(..8).unwrap_or("no date")
        )),
        "{auth}"
    );
    assert_eq!(auth.rsplit('=').next().map(str::len), Some(64), "{auth}");
    assert!(seen
        .iter()
        .all(|s| !format!("{s:?}").contains("test-secret")));
}

#[test]
fn a_ci_oidc_token_is_exchanged_at_sts_and_its_session_signs_the_ecr_request() {
    let (endpoint, seen) = fixture(8);
    let dir = tempfile::tempdir().expect("tmp");
    let token_file = dir.path().join("oidc-token");
    std::fs::write(&token_file, "eyJ.oidc.token\n").expect("token");
    let status = check_with(
        &format!("{ECR_HOST}/team/app:oidc"),
        &endpoint,
        &[
            (
                "AWS_ROLE_ARN",
                "arn:aws:iam::123456789012:role/ci-push".into(),
            ),
            (
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                token_file.display().to_string(),
            ),
            ("AWS_ENDPOINT_URL_ECR", endpoint.clone()),
            ("AWS_ENDPOINT_URL_STS", endpoint.clone()),
        ],
    )
    .expect("the registry let us in");
    assert_eq!(status, 200);
    let seen = seen.lock().expect("seen").clone();
    let sts = seen
        .iter()
        .find(|s| s.what == "sts")
        .expect("STS was asked");
    assert!(
        sts.body
            .contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fci-push"),
        "{}",
        sts.body
    );
    assert!(
        sts.body.contains("WebIdentityToken=eyJ.oidc.token"),
        "{}",
        sts.body
    );
    let ecr = seen
        .iter()
        .find(|s| s.what == "ecr")
        .expect("ECR was asked");
    assert!(ecr
        .header("authorization")
        .contains("Credential=ASIAFROMOIDC/"));
    assert_eq!(ecr.header("x-amz-security-token"), "oidc-session");
}

#[test]
fn a_registry_that_is_not_ecr_never_causes_an_ecr_password_whatever_realm_it_names() {
    let (endpoint, seen) = fixture(8);
    // The fixture's challenge names ECR's realm; the registry is a stranger's.
    let err = check_with(
        "registry.example.com/team/app:v1",
        &endpoint,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIATESTKEY".into()),
            ("AWS_SECRET_ACCESS_KEY", "test-secret-never-sent".into()),
            ("AWS_ENDPOINT_URL_ECR", endpoint.clone()),
        ],
    )
    .expect_err("a stranger's registry is not let in with ECR's password");
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");
    let seen = seen.lock().expect("seen").clone();
    assert!(
        seen.iter().all(|s| s.what == "registry"),
        "ECR's API was called: {seen:?}"
    );
    assert!(
        seen.iter().all(|s| s.header("authorization").is_empty()),
        "credentials reached a registry that is not ECR: {seen:?}"
    );
}

#[test]
fn with_no_aws_credentials_anywhere_the_error_says_where_they_are_looked_for() {
    let (endpoint, _seen) = fixture(4);
    let err = check_with(&format!("{ECR_HOST}/team/app:none"), &endpoint, &[])
        .expect_err("no credentials");
    let message = err.to_string();
    assert!(
        message.contains("is Amazon ECR and no AWS credentials were found"),
        "{message}"
    );
    assert!(message.contains("AWS_WEB_IDENTITY_TOKEN_FILE"), "{message}");
}
