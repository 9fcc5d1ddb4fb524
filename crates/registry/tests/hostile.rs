//! A registry that lies or stalls: pinned digests hold for indexes and the manifests they
//! name, blobs are cut at their descriptor's size, manifests and token answers are capped
//! while they stream, a stalled registry fails in bounded time naming the request, and no
//! credential goes out in cleartext (a plain-HTTP token realm or redirect off this machine).
//! A scripted fake registry on a loopback port plays each part.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lamina_image::{Digest, Reference, Store};
use lamina_registry::{Client, Credentials, RegistryError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the fake answers to a path.
#[derive(Clone)]
enum Reply {
    /// Status, headers, body.
    Fixed(u16, Vec<(String, String)>, Vec<u8>),
    /// 200 with this content type and a body of `len` bytes of `b'x'`, streamed
    /// (chunked when `declared` is false).
    Huge { len: u64, declared: bool },
    /// Headers of a 200, then nothing, forever.
    Stall,
    /// Headers of a 200, then a byte every half second, forever.
    Drip,
}

type Routes = Arc<HashMap<String, Reply>>;

/// A fake registry: answers each request line's path from `routes` (404 otherwise) and
/// records every request head it gets.
async fn fake(routes: HashMap<String, Reply>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let routes: Routes = Arc::new(routes);
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        for _ in 0..64 {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let routes = routes.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                log.lock().expect("log").push(head.clone());
                let path = head
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .split('?')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                match routes.get(&path).cloned() {
                    None => {
                        let _ = s
                            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                            .await;
                    }
                    Some(Reply::Fixed(status, headers, body)) => {
                        let mut out = format!(
                            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                            body.len()
                        );
                        for (k, v) in headers {
                            out.push_str(&format!("{k}: {v}\r\n"));
                        }
                        out.push_str("\r\n");
                        let _ = s.write_all(out.as_bytes()).await;
                        let _ = s.write_all(&body).await;
                    }
                    Some(Reply::Huge { len, declared }) => {
                        let framing = if declared {
                            format!("content-length: {len}")
                        } else {
                            "transfer-encoding: chunked".to_owned()
                        };
                        let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/vnd.oci.image.manifest.v1+json\r\n{framing}\r\nconnection: close\r\n\r\n");
                        if s.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        let block = vec![b'x'; 1 << 20];
                        let mut sent = 0u64;
                        while sent < len {
                            let n = (len - sent).min(block.len() as u64) as usize;
                            let wrote = if declared {
                                s.write_all(&block[..n]).await
                            } else {
                                let mut c = format!("{n:x}\r\n").into_bytes();
                                c.extend_from_slice(&block[..n]);
                                c.extend_from_slice(b"\r\n");
                                s.write_all(&c).await
                            };
                            if wrote.is_err() {
                                return;
                            }
                            sent += n as u64;
                        }
                    }
                    Some(Reply::Drip) => {
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.oci.image.manifest.v1+json\r\ncontent-length: 1000000\r\n\r\n")
                            .await;
                        for _ in 0..1200 {
                            if s.write_all(b" ").await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                    }
                    Some(Reply::Stall) => {
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.oci.image.manifest.v1+json\r\ncontent-length: 100\r\n\r\n")
                            .await;
                        tokio::time::sleep(Duration::from_secs(600)).await;
                    }
                }
            });
        }
    });
    (format!("127.0.0.1:{}", addr.port()), seen)
}

fn json(status: u16, media_type: &str, body: &[u8]) -> Reply {
    Reply::Fixed(
        status,
        vec![("content-type".into(), media_type.into())],
        body.to_vec(),
    )
}

const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn client(host: &str, credentials: Option<Credentials>) -> (Client, Reference) {
    let reference: Reference = format!("{host}/team/base:1").parse().expect("reference");
    (
        Client::new(&reference, credentials, true).expect("client"),
        reference,
    )
}

/// A one-layer manifest whose blobs the fake serves, and its config and layer.
fn image() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let layer = b"not really a tar".to_vec();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}}]}}"#,
        Digest::sha256_of(&config),
        config.len(),
        Digest::sha256_of(&layer),
        layer.len()
    );
    (manifest.into_bytes(), config, layer)
}

fn index_of(manifest: &[u8]) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{INDEX}","manifests":[{{"mediaType":"{MANIFEST}","digest":"{}","size":{},"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#,
        Digest::sha256_of(manifest),
        manifest.len()
    )
    .into_bytes()
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("store");
    (dir, store)
}

async fn pull(host: &str, reference: &str, store: &Store) -> Result<Digest, RegistryError> {
    let (client, _) = client(host, None);
    let reference: Reference = format!("{host}/{reference}").parse().expect("reference");
    lamina_registry::pull(&client, store, &reference, "amd64")
        .await
        .map(|r| r.digest)
}

/// Routes serving `index` at its pin, `served` under the digest of `entry` (the manifest the
/// index names), and the image's config and layer. Returns the routes and the pin.
fn pinned_routes(
    index: &[u8],
    entry: &[u8],
    served: &[u8],
    config: &[u8],
    layer: &[u8],
) -> (HashMap<String, Reply>, Digest) {
    let pinned = Digest::sha256_of(index);
    let routes = HashMap::from([
        (
            format!("/v2/team/base/manifests/{pinned}"),
            json(200, INDEX, index),
        ),
        (
            format!("/v2/team/base/manifests/{}", Digest::sha256_of(entry)),
            json(200, MANIFEST, served),
        ),
        (
            format!("/v2/team/base/blobs/{}", Digest::sha256_of(config)),
            json(200, "application/octet-stream", config),
        ),
        (
            format!("/v2/team/base/blobs/{}", Digest::sha256_of(layer)),
            json(200, "application/octet-stream", layer),
        ),
    ]);
    (routes, pinned)
}

#[tokio::test]
async fn an_index_pinned_by_digest_is_refused_when_the_registry_serves_another() {
    let (manifest, config, layer) = image();
    let honest = index_of(&manifest);
    let pinned = Digest::sha256_of(&honest);
    // The attacker's index lists its own manifest.
    let (evil_manifest, _, _) = {
        let config = br#"{"architecture":"amd64","os":"linux","evil":true}"#.to_vec();
        let m = format!(
            r#"{{"schemaVersion":2,"config":{{"digest":"{}","size":{}}},"layers":[]}}"#,
            Digest::sha256_of(&config),
            config.len()
        );
        (m.into_bytes(), config, Vec::<u8>::new())
    };
    // Served under the pin of the honest index.
    let (mut routes, evil_pin) = pinned_routes(
        &index_of(&evil_manifest),
        &evil_manifest,
        &evil_manifest,
        &config,
        &layer,
    );
    let evil = routes
        .remove(&format!("/v2/team/base/manifests/{evil_pin}"))
        .expect("the evil index's route");
    routes.insert(format!("/v2/team/base/manifests/{pinned}"), evil);
    let (host, _) = fake(routes).await;
    let (_dir, store) = store();
    let err = pull(&host, &format!("team/base@{pinned}"), &store)
        .await
        .expect_err("a pinned index that hashes otherwise is refused");
    let message = err.to_string();
    assert!(message.contains("not the pinned"), "{message}");
    assert!(message.contains(&pinned.to_string()), "{message}");
}

#[tokio::test]
async fn the_platform_manifest_must_be_what_its_index_entry_names() {
    let (manifest, config, layer) = image();
    let mut other = manifest.clone();
    other.extend_from_slice(b" ");
    // The entry's digest is served other bytes.
    let (routes, pinned) = pinned_routes(&index_of(&manifest), &manifest, &other, &config, &layer);
    let (host, _) = fake(routes).await;
    let (_dir, store) = store();
    let err = pull(&host, &format!("team/base@{pinned}"), &store)
        .await
        .expect_err("a manifest that is not its entry's is refused");
    assert!(err.to_string().contains("not the pinned"), "{err}");
}

#[tokio::test]
async fn an_honest_pinned_index_pulls() {
    let (manifest, config, layer) = image();
    let (routes, pinned) =
        pinned_routes(&index_of(&manifest), &manifest, &manifest, &config, &layer);
    let (host, _) = fake(routes).await;
    let (_dir, store) = store();
    let digest = pull(&host, &format!("team/base@{pinned}"), &store)
        .await
        .expect("pull");
    assert_eq!(digest, Digest::sha256_of(&manifest));
}

#[tokio::test]
async fn a_blob_longer_than_its_descriptor_is_cut_off_and_nothing_is_kept() {
    let (manifest, config, layer) = image();
    let routes = HashMap::from([
        (
            "/v2/team/base/manifests/1".to_owned(),
            json(200, MANIFEST, &manifest),
        ),
        (
            format!("/v2/team/base/blobs/{}", Digest::sha256_of(&config)),
            json(200, "application/octet-stream", &config),
        ),
        // 64 MiB, chunked, for a 16-byte layer.
        (
            format!("/v2/team/base/blobs/{}", Digest::sha256_of(&layer)),
            Reply::Huge {
                len: 64 << 20,
                declared: false,
            },
        ),
    ]);
    let (host, _) = fake(routes).await;
    let (dir, store) = store();
    let err = pull(&host, "team/base:1", &store)
        .await
        .expect_err("cut off");
    assert!(
        err.to_string().contains("more than the blob's 16 bytes"),
        "{err}"
    );
    let kept: u64 = walk(dir.path());
    assert!(kept < 1 << 20, "{kept} bytes left in the store");
}

fn walk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => walk(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn a_manifest_past_the_cap_is_refused_while_it_streams_declared_or_not() {
    for declared in [true, false] {
        let routes = HashMap::from([(
            "/v2/team/base/manifests/1".to_owned(),
            Reply::Huge {
                len: 64 << 20,
                declared,
            },
        )]);
        let (host, _) = fake(routes).await;
        let (_dir, store) = store();
        let err = pull(&host, "team/base:1", &store)
            .await
            .expect_err("too large");
        let message = err.to_string();
        assert!(message.contains("manifest team/base:1"), "{message}");
        assert!(message.contains("larger than 4096 KiB"), "{message}");
    }
}

#[tokio::test]
async fn a_registry_that_stalls_or_drips_fails_in_bounded_time_naming_the_request() {
    std::env::set_var("LAMINA_REGISTRY_TIMEOUT", "1");
    for (reply, says) in [(Reply::Stall, "timed out"), (Reply::Drip, "timed out")] {
        let routes = HashMap::from([("/v2/team/base/manifests/1".to_owned(), reply)]);
        let (host, _) = fake(routes).await;
        let (_dir, store) = store();
        let started = Instant::now();
        let err = pull(&host, "team/base:1", &store)
            .await
            .expect_err("stalled");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
        let message = err.to_string();
        assert!(message.contains(&host), "{message}");
        assert!(
            message.contains("reading manifest team/base:1"),
            "{message}"
        );
        assert!(message.contains(says), "{message}");
    }
    std::env::remove_var("LAMINA_REGISTRY_TIMEOUT");
}

#[tokio::test]
async fn a_token_realm_in_cleartext_off_this_machine_gets_no_credentials() {
    let challenge = r#"Bearer realm="http://203.0.113.9/token",service="registry""#;
    let routes = HashMap::from([(
        "/v2/".to_owned(),
        Reply::Fixed(
            401,
            vec![("www-authenticate".into(), challenge.into())],
            Vec::new(),
        ),
    )]);
    let (host, _) = fake(routes).await;
    let (client, _) = client(
        &host,
        Some(Credentials {
            username: "user".into(),
            password: "secret-never-sent".into(),
        }),
    );
    let url = client.url("/v2/");
    let err = client
        .send("team/base", |http| Ok(http.get(&url)))
        .await
        .expect_err("refused");
    assert!(matches!(err, RegistryError::InsecureRealm { .. }), "{err}");
    assert!(
        err.to_string().contains("http://203.0.113.9/token"),
        "{err}"
    );
}

#[tokio::test]
async fn a_redirect_to_plain_http_off_this_machine_is_not_followed() {
    let routes = HashMap::from([(
        "/v2/team/base/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000".to_owned(),
        Reply::Fixed(307, vec![("location".into(), "http://203.0.113.9/blob".into())], Vec::new()),
    )]);
    let (host, _) = fake(routes).await;
    let (client, _) = client(&host, None);
    let url = client.url(
        "/v2/team/base/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000",
    );
    let started = Instant::now();
    let err = client
        .send("team/base", |http| Ok(http.get(&url)))
        .await
        .expect_err("refused");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        err.to_string()
            .contains("refused a redirect to http://203.0.113.9/blob"),
        "{err}"
    );
}
