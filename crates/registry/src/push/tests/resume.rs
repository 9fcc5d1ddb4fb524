//! A big blob whose upload is cut mid-stream twice is resumed, the second time, where the
//! registry says it stands
//! (`GET` on the upload answers `Range: 0-<last byte>`, the OCI distribution spec's chunked
//! upload), not sent again from its first byte. The fixture plays a registry that keeps what
//! it received before the cut, as the spec allows; the real registry's restart path (it
//! voids such a session) is `tests/registry.rs`'s cutting-proxy test.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::net::TcpStream;

use super::*;

/// What the fixture saw and holds.
#[derive(Default)]
struct State {
    /// Request lines, with the `Content-Range` of PATCHes.
    lines: Vec<String>,
    /// Upload sessions: id → bytes received.
    uploads: HashMap<u32, Vec<u8>>,
    /// Committed blobs by digest.
    blobs: HashMap<String, usize>,
    /// Body bytes received over all requests.
    received: usize,
    /// Cut the next uploads that carry a body (PATCH or PUT) after these many bytes, in turn.
    cuts: Vec<usize>,
    /// The last upload session id given out.
    next_id: u32,
    /// Bytes a status answer claims beyond what the session holds (a registry that lies).
    misreport: usize,
    manifest: bool,
}

async fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i + 4]).to_string();
            buf.drain(..i + 4);
            return Some(head);
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Read `len` body bytes (some may already be in `buf`), stopping early after `cut` bytes.
async fn read_body(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    len: usize,
    cut: Option<usize>,
) -> Vec<u8> {
    let want = cut.map_or(len, |c| c.min(len));
    let mut chunk = [0u8; 65536];
    while buf.len() < want {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let take = want.min(buf.len());
    buf.drain(..take).collect()
}

async fn serve(mut s: TcpStream, state: Arc<Mutex<State>>) {
    let mut buf = Vec::new();
    while let Some(head) = read_head(&mut s, &mut buf).await {
        let line = head.lines().next().unwrap_or_default().to_owned();
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
        };
        let len: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut parts = line.split(' ');
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let cut = if (method == "PATCH" || method == "PUT") && len > 0 {
            let mut st = state.lock().unwrap();
            // Only a body longer than the cut point is cut (the config goes up whole).
            let due = st.cuts.first().is_some_and(|&c| len > c);
            due.then(|| st.cuts.remove(0))
        } else {
            None
        };
        let body = read_body(&mut s, &mut buf, len, cut).await;
        let Some((status, headers)) = answer(&state, method, path, query, &header, len, &body)
        else {
            return;
        };
        let reply = format!("HTTP/1.1 {status} X\r\n{headers}Content-Length: 0\r\n\r\n");
        if s.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// The fixture's answer to one request, or None to drop the connection (the cut).
fn answer(
    state: &Mutex<State>,
    method: &str,
    path: &str,
    query: &str,
    header: &dyn Fn(&str) -> Option<String>,
    len: usize,
    body: &[u8],
) -> Option<(u16, String)> {
    {
        let mut st = state.lock().unwrap();
        st.received += body.len();
        st.lines.push(match header("content-range") {
            Some(r) => format!("{method} {path} [{r}]"),
            None => format!("{method} {path}"),
        });
        if body.len() < len {
            // The cut: keep what came, drop the connection without an answer.
            if let Some(id) = path.strip_prefix("/upload/").and_then(|i| i.parse().ok()) {
                st.uploads.entry(id).or_default().extend_from_slice(body);
            }
            return None;
        }
        let upload_id = path
            .strip_prefix("/upload/")
            .and_then(|i| i.parse::<u32>().ok());
        let (status, headers) = match (method, upload_id) {
            ("HEAD", _) => (404, String::new()),
            ("POST", _) if path.ends_with("/blobs/uploads/") => {
                st.next_id += 1;
                let id = st.next_id;
                st.uploads.insert(id, Vec::new());
                (202, format!("Location: /upload/{id}\r\nRange: 0-0\r\n"))
            }
            ("PATCH", Some(id)) => {
                let have = st.uploads.get(&id).map_or(0, Vec::len);
                let start: usize = header("content-range")
                    .and_then(|r| r.split('-').next()?.parse().ok())
                    .unwrap_or(usize::MAX);
                if start != have {
                    (416, String::new())
                } else {
                    let data = st.uploads.entry(id).or_default();
                    data.extend_from_slice(body);
                    let end = data.len() - 1;
                    (202, format!("Location: /upload/{id}\r\nRange: 0-{end}\r\n"))
                }
            }
            ("GET", Some(id)) => match st.uploads.get(&id) {
                Some(data) if data.is_empty() => (204, format!("Location: /upload/{id}\r\n")),
                Some(data) => (
                    204,
                    format!(
                        "Location: /upload/{id}\r\nRange: 0-{}\r\n",
                        data.len() - 1 + st.misreport
                    ),
                ),
                None => (404, String::new()),
            },
            ("PUT", Some(id)) => {
                let mut data = st.uploads.remove(&id).unwrap_or_default();
                data.extend_from_slice(body);
                let digest = query.strip_prefix("digest=").unwrap_or_default().to_owned();
                if Digest::sha256_of(&data).to_string() == digest {
                    st.blobs.insert(digest, data.len());
                    (201, String::new())
                } else {
                    (400, String::new())
                }
            }
            ("PUT", None) if path.contains("/manifests/") => {
                st.manifest = true;
                (201, String::new())
            }
            _ => (405, String::new()),
        };
        Some((status, headers))
    }
}

/// The fixture registry on a loopback port, serving `state`.
async fn start(state: Arc<Mutex<State>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve(s, state.clone()));
        }
    });
    port
}

/// A stored image whose one layer is `size` bytes of incompressible data.
fn big_image(store: &Store, size: usize) -> (Digest, Digest, u64) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let (manifest, layer) = image_with(store, data);
    (manifest, layer.digest, layer.size)
}

/// Push a big image to the fixture with `cuts` and `misreport`; the fixture's state after,
/// the layer's digest and size.
async fn push_through(cuts: &[f64], misreport: usize) -> (Arc<Mutex<State>>, Digest, u64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (manifest, layer, size) = big_image(&store, (RESUMABLE_FROM + (4 << 20)) as usize);
    assert!(
        size >= RESUMABLE_FROM,
        "the layer must take the resumable path"
    );
    let state = Arc::new(Mutex::new(State {
        cuts: cuts.iter().map(|f| (size as f64 * f) as usize).collect(),
        misreport,
        ..Default::default()
    }));
    let port = start(state.clone()).await;
    let target: Reference = format!("127.0.0.1:{port}/big:v1").parse().unwrap();
    let client = Client::new(&target, None, true).unwrap();
    let progress: Progress = Arc::new(|_: &str, _: u64, _: u64| {});
    let report = push(&client, &store, &manifest, &target, &progress)
        .await
        .expect("the push completes after the cuts");
    assert_eq!(report.digest, manifest.to_string());
    {
        let st = state.lock().unwrap();
        assert_eq!(
            st.blobs.get(&layer.to_string()).copied(),
            Some(size as usize),
            "the layer arrived whole and matched its digest: {:?}",
            st.lines
        );
        assert!(st.manifest, "the manifest went up last");
    }
    (state, layer, size)
}

#[tokio::test]
async fn a_big_blob_cut_mid_upload_resumes_from_where_the_registry_stands() {
    // The first attempt (one monolithic PUT) is cut at a third, the second (a PATCH from the
    // start) at a half; the third resumes there.
    let (state, _, size) = push_through(&[1.0 / 3.0, 0.5], 0).await;
    let cut = (size as f64 * 0.5) as usize;
    let st = state.lock().unwrap();
    let resumed = format!("[{cut}-{}]", size - 1);
    assert!(
        st.lines
            .iter()
            .any(|l| l.starts_with("PATCH") && l.ends_with(&resumed)),
        "a PATCH resumed at byte {cut}: {:?}",
        st.lines
    );
    let posts = st.lines.iter().filter(|l| l.starts_with("POST")).count();
    assert_eq!(
        posts, 3,
        "the cut PUT's session, the resumed session, the config's: {:?}",
        st.lines
    );
    // After the first cut: the PATCH's half, then only the other half again.
    let after_first_cut = st.received - (size as f64 / 3.0) as usize;
    assert!(
        after_first_cut < (size as usize) + (1 << 20),
        "{after_first_cut} body bytes after the first cut for a {size}-byte layer: sent again from the start",
    );
}

#[tokio::test]
async fn a_resume_the_registry_refuses_with_416_starts_a_new_session() {
    // The status answer claims 1000 bytes more than the session holds: the resumed PATCH is
    // refused as out of range, and the blob goes up whole in a new session.
    let (state, _, _) = push_through(&[1.0 / 3.0, 0.5], 1000).await;
    let st = state.lock().unwrap();
    let posts = st.lines.iter().filter(|l| l.starts_with("POST")).count();
    assert_eq!(
        posts, 4,
        "cut PUT, cut PATCH, refused resume, new session, config: {:?}",
        st.lines
    );
    assert!(
        st.lines.iter().filter(|l| l.starts_with("PATCH")).count() >= 3,
        "{:?}",
        st.lines
    );
}

#[tokio::test]
async fn a_store_blob_that_no_longer_matches_its_digest_is_not_pushed_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (manifest, layer) = image_with(&store, b"print('hello')\n".to_vec());
    // The blob changes under the store (as an edit through a hard-linked export did).
    let path = store.blob_path(&layer.digest);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let state = Arc::new(Mutex::new(State::default()));
    let port = start(state.clone()).await;
    let target: Reference = format!("127.0.0.1:{port}/corrupt:v1").parse().unwrap();
    let client = Client::new(&target, None, true).unwrap();
    let progress: Progress = Arc::new(|_: &str, _: u64, _: u64| {});
    let err = push(&client, &store, &manifest, &target, &progress)
        .await
        .expect_err("a corrupt blob is not pushed");
    let message = err.to_string();
    assert!(message.contains("is corrupt"), "{message}");
    assert!(message.contains(&layer.digest.to_string()), "{message}");
    let st = state.lock().unwrap();
    assert!(
        !st.blobs.contains_key(&layer.digest.to_string()),
        "{:?}",
        st.lines
    );
    assert!(!st.manifest, "no manifest after a failed blob");
}
