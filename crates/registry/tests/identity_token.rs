//! Identity tokens: `docker login` to a registry whose token server hands out refresh tokens
//! leaves `auths[host].identitytoken` in `config.json` (credential helpers answer
//! `Username: <token>`). The client trades it at the challenge's realm by `POST` with
//! `grant_type=refresh_token` (distribution docs/spec/auth/oauth.md) and sends the access
//! token it gets back. A fixture plays registry and token server on one loopback port.

use std::sync::{Arc, Mutex};

use lamina_image::Reference;
use lamina_registry::credentials::from_docker_config;
use lamina_registry::Client;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const IDENTITY: &str = "refresh-5f2c9a-identity";
const ACCESS: &str = "access-77b1e0";

/// One request: its request line, headers (lowercased names) and body.
struct Seen {
    line: String,
    authorization: Option<String>,
    body: String,
}

async fn read_request(s: &mut tokio::net::TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(Seen {
        line: head.lines().next().unwrap_or_default().to_owned(),
        authorization: header("authorization"),
        body: String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string(),
    })
}

/// Registry + token server: `/v2/…` wants `Bearer ACCESS`, `/token` gives ACCESS for a
/// refresh-token grant carrying IDENTITY and refuses anything else.
async fn fixture() -> (u16, Arc<Mutex<Vec<Seen>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                while let Some(req) = read_request(&mut s).await {
                    let (status, extra, body) = if req.line.starts_with("POST /token") {
                        let form: Vec<(String, String)> = req
                            .body
                            .split('&')
                            .filter_map(|kv| kv.split_once('='))
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect();
                        let has = |k: &str, v: &str| form.iter().any(|(a, b)| a == k && b == v);
                        if has("grant_type", "refresh_token")
                            && has("refresh_token", IDENTITY)
                            && has("service", "fixture")
                        {
                            (
                                200,
                                String::new(),
                                format!(r#"{{"access_token":"{ACCESS}"}}"#),
                            )
                        } else {
                            (
                                401,
                                String::new(),
                                r#"{"error":"invalid_grant"}"#.to_owned(),
                            )
                        }
                    } else if req.authorization.as_deref() == Some(&format!("Bearer {ACCESS}")) {
                        (
                            200,
                            String::new(),
                            r#"{"name":"calc","tags":["v1"]}"#.to_owned(),
                        )
                    } else {
                        let challenge = format!(
                            "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fixture\",scope=\"repository:calc:pull\"\r\n"
                        );
                        (
                            401,
                            challenge,
                            r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#.to_owned(),
                        )
                    };
                    log.lock().unwrap().push(req);
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if s.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

#[tokio::test]
async fn an_identity_token_from_docker_config_is_traded_for_an_access_token() {
    let (port, seen) = fixture().await;
    let host = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        format!(r#"{{"auths":{{"{host}":{{"auth":"","identitytoken":"{IDENTITY}"}}}}}}"#),
    )
    .unwrap();
    // The only test in this binary that reads DOCKER_CONFIG.
    std::env::set_var("DOCKER_CONFIG", dir.path());
    let credentials = from_docker_config(&host)
        .unwrap()
        .expect("the identity token");
    assert!(credentials.is_identity_token());
    assert!(
        !format!("{credentials:?}").contains(IDENTITY),
        "a token never prints"
    );

    let target: Reference = format!("{host}/calc:v1").parse().unwrap();
    let client = Client::new(&target, Some(credentials), true).unwrap();
    let path = "/v2/calc/tags/list";
    let resp = client
        .send("calc", |http| Ok(http.get(client.url(path))))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let seen = seen.lock().unwrap();
    let token_requests: Vec<&Seen> = seen
        .iter()
        .filter(|r| r.line.starts_with("POST /token"))
        .collect();
    assert_eq!(token_requests.len(), 1, "one trade at the realm");
    assert!(
        token_requests[0].authorization.is_none(),
        "the refresh token goes in the form, not as Basic `<token>:…`"
    );
    let registry_requests: Vec<&Seen> = seen.iter().filter(|r| r.line.contains("/v2/")).collect();
    assert_eq!(registry_requests.len(), 2, "anonymous, then with the token");
    assert_eq!(
        registry_requests[1].authorization.as_deref(),
        Some(format!("Bearer {ACCESS}").as_str())
    );
    assert!(
        seen.iter()
            .all(|r| !r.authorization.as_deref().unwrap_or("").contains(IDENTITY)),
        "the identity token never reaches the registry itself"
    );
}

#[tokio::test]
async fn a_refused_identity_token_is_an_authorization_error_naming_the_registry() {
    let (port, _) = fixture().await;
    let host = format!("127.0.0.1:{port}");
    let target: Reference = format!("{host}/calc:v1").parse().unwrap();
    let stale = lamina_registry::Credentials::identity_token("expired-refresh".into());
    let client = Client::new(&target, Some(stale), true).unwrap();
    let err = client
        .send(
            "calc",
            |http| Ok(http.get(client.url("/v2/calc/tags/list"))),
        )
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&host), "{msg}");
    assert!(!msg.contains("expired-refresh"), "{msg}");
}
