//! Pushing a stored image: every blob the registry lacks is uploaded (streamed from the
//! store: one monolithic `PUT` — the safe upload for ECR, distribution and GHCR alike,
//! images-and-registries.md §3.3 — and for a big blob that must be sent again, one `PATCH`
//! plus a closing `PUT`, resumed where it stopped when a retry finds the registry kept what
//! it got), at
//! most [`CONCURRENT_BLOBS`] at once, each retried with backoff; blobs the registry has (`HEAD` 200) are skipped, and blobs another repository
//! of the same registry holds are mounted from it ([`crate::known`]). The manifest goes last,
//! and only when every blob is confirmed: a manifest whose blobs are missing is never
//! published.

use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use lamina_image::{image_blobs, manifest_media_type, Digest, Reference, Store};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::StatusCode;

use crate::client::Client;
use crate::error::{RegistryError, Result};

/// Told `(blob, bytes_sent, blob_size)` as uploads go.
pub type Progress = std::sync::Arc<dyn Fn(&str, u64, u64) + Send + Sync>;

/// Blobs uploaded at once (go-containerregistry's default).
pub const CONCURRENT_BLOBS: usize = 4;
/// Blobs at least this big are retried as resumable uploads (`PATCH` with `Content-Range`,
/// resumed where an interrupted attempt stopped when the registry allows); every blob's
/// first attempt, and a small blob's every attempt, is one monolithic `PUT`.
pub const RESUMABLE_FROM: u64 = 16 << 20;
/// Attempts per blob before the push gives up.
pub const ATTEMPTS: u32 = 4;
/// Largest manifest read back from the store.
const MAX_MANIFEST: u64 = 4 << 20;

/// What a push did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PushReport {
    /// The manifest's digest: what Lambda deploys by.
    pub digest: String,
    /// `REPOSITORY@sha256:…`, for the next CI step.
    pub by_digest: String,
    /// Blobs sent, with their sizes.
    pub uploaded: Vec<(String, u64)>,
    /// Blobs the registry already had.
    pub skipped: Vec<String>,
    /// Blobs mounted from another repository of the registry (not sent).
    pub mounted: Vec<String>,
}

/// How a blob came to be in the target repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placed {
    /// It was there.
    Present,
    /// Mounted from another repository.
    Mounted,
    /// Sent.
    Sent,
}

/// Push the stored image `manifest` to `target` (which must carry a tag).
/// `progress(blob, bytes_sent, blob_size)` is told of each upload as it goes.
pub async fn push(
    client: &Client,
    store: &Store,
    manifest: &Digest,
    target: &Reference,
    progress: &Progress,
) -> Result<PushReport> {
    let tag = target
        .tag()
        .ok_or_else(|| RegistryError::NoTag(target.to_string()))?;
    let repo = target.path();
    let blobs = image_blobs(store, manifest)?;
    let mut wanted: Vec<(Digest, u64)> = Vec::new();
    for d in blobs.layers.iter().chain(std::iter::once(&blobs.config)) {
        if !wanted.iter().any(|(w, _)| w == d) {
            let size = blobs.all.get(d).copied().unwrap_or_default();
            wanted.push((d.clone(), size));
        }
    }
    // Largest first: one blob's upload is a single ordered stream, so the push takes at least
    // as long as its largest blob; every other blob then overlaps with it.
    wanted.sort_by_key(|w| std::cmp::Reverse(w.1));
    let results: Vec<(Digest, u64, Placed)> = futures_util::stream::iter(wanted)
        .map(|(d, size)| async move {
            let placed = upload_blob(client, store, repo, &d, size, progress).await?;
            crate::known::remember(store, client.registry(), repo, &d);
            Ok::<_, RegistryError>((d, size, placed))
        })
        .buffer_unordered(CONCURRENT_BLOBS)
        .try_collect()
        .await?;

    let body = store.read_small_blob(manifest, MAX_MANIFEST, "manifest")?;
    let media_type = manifest_media_type(&blobs.manifest);
    let path = format!("/v2/{repo}/manifests/{tag}");
    let resp = client
        .send(repo, |http| {
            Ok(http
                .put(client.url(&path))
                .header(CONTENT_TYPE, media_type.as_str())
                .body(body.clone()))
        })
        .await?;
    expect_success(client, resp, &format!("PUT {path}")).await?;

    let mut report = PushReport {
        digest: manifest.to_string(),
        by_digest: format!("{}@{manifest}", target.familiar_name()),
        uploaded: Vec::new(),
        skipped: Vec::new(),
        mounted: Vec::new(),
    };
    for (d, size, placed) in results {
        match placed {
            Placed::Sent => report.uploaded.push((d.to_string(), size)),
            Placed::Present => report.skipped.push(d.to_string()),
            Placed::Mounted => report.mounted.push(d.to_string()),
        }
    }
    Ok(report)
}

/// Make sure the registry has blob `d` in `repo`: there already, mounted, or sent.
async fn upload_blob(
    client: &Client,
    store: &Store,
    repo: &str,
    d: &Digest,
    size: u64,
    progress: &Progress,
) -> Result<Placed> {
    let head = format!("/v2/{repo}/blobs/{d}");
    let resp = client
        .send(repo, |http| Ok(http.head(client.url(&head))))
        .await?;
    if resp.status() == StatusCode::OK {
        return Ok(Placed::Present);
    }
    for from in crate::known::repos_with(store, client.registry(), d) {
        if from != repo && mount(client, repo, d, &from).await {
            return Ok(Placed::Mounted);
        }
    }
    let mut last = String::new();
    let mut session = None;
    for attempt in 1..=ATTEMPTS {
        // The first attempt is one monolithic PUT, the fastest (BENCHMARKS §6b); a big blob
        // that needs another goes up resumably, so a further cut costs only what was lost.
        let tried = if attempt > 1 && size >= RESUMABLE_FROM {
            upload_resumable(client, store, repo, d, size, progress, &mut session).await
        } else {
            upload_once(client, store, repo, d, size, progress).await
        };
        match tried {
            Ok(()) => return Ok(Placed::Sent),
            Err(Failure::Final(e)) => return Err(e),
            Err(Failure::Retry(why)) => {
                tracing::debug!(blob = %d, attempt, reason = %why, "blob upload failed; retrying");
                last = why;
                if attempt < ATTEMPTS {
                    tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
                }
            }
        }
    }
    Err(RegistryError::BlobFailed {
        registry: client.registry().to_owned(),
        repository: repo.to_owned(),
        digest: d.to_string(),
        attempts: ATTEMPTS,
        reason: last,
    })
}

/// Ask the registry to mount `d` into `repo` from `from`; true when it did (201). Any other
/// answer (202 opens an upload instead, which is left to expire) means sending the blob.
async fn mount(client: &Client, repo: &str, d: &Digest, from: &str) -> bool {
    let path = format!("/v2/{repo}/blobs/uploads/?mount={d}&from={from}");
    match client
        .send(repo, |http| {
            Ok(http.post(client.url(&path)).header(CONTENT_LENGTH, 0))
        })
        .await
    {
        Ok(resp) => resp.status() == StatusCode::CREATED,
        Err(e) => {
            tracing::debug!(blob = %d, from, error = %e, "mount refused; uploading");
            false
        }
    }
}

/// Why one upload attempt failed.
enum Failure {
    /// Worth another attempt (connection lost, 5xx, 429).
    Retry(String),
    /// Not (the registry refused the request itself).
    Final(RegistryError),
}

impl From<RegistryError> for Failure {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Unreachable { reason, .. } => Failure::Retry(reason),
            other => Failure::Final(other),
        }
    }
}

/// Open an upload session (`POST …/blobs/uploads/`); its `Location`.
async fn start_upload(client: &Client, repo: &str) -> std::result::Result<String, Failure> {
    let start = format!("/v2/{repo}/blobs/uploads/");
    let resp = client
        .send(repo, |http| {
            Ok(http.post(client.url(&start)).header(CONTENT_LENGTH, 0))
        })
        .await?;
    if !resp.status().is_success() {
        return Err(
            match status_failure(client, resp, &format!("POST {start}")).await {
                // ECR does not create repositories on push (images-and-registries.md §3.3).
                Failure::Final(RegistryError::Protocol {
                    status: 404, body, ..
                }) if body.contains("NAME_UNKNOWN") => {
                    Failure::Final(RegistryError::RepositoryMissing {
                        registry: client.registry().to_owned(),
                        repository: repo.to_owned(),
                    })
                }
                other => other,
            },
        );
    }
    location_of(client, &resp, &format!("POST {start}")).map_err(Failure::Final)
}

/// The `Location` a registry answered with.
fn location_of(client: &Client, resp: &reqwest::Response, what: &str) -> Result<String> {
    resp.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| RegistryError::Protocol {
            registry: client.registry().to_owned(),
            what: what.to_owned(),
            status: resp.status().as_u16(),
            body: "no Location header".into(),
        })
}

/// `location` with `?digest=` (or `&digest=`) appended: the closing `PUT`'s URL.
fn closing_url(client: &Client, location: &str, d: &Digest) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{}{sep}digest={d}", client.url(location))
}

/// The blob's bytes from `offset` on, as a request body that reports progress.
fn blob_body(
    store: &Store,
    d: &Digest,
    offset: u64,
    size: u64,
    progress: &Progress,
) -> std::io::Result<reqwest::Body> {
    use std::io::{Seek, SeekFrom};
    let mut file = store.open_blob(d).map_err(std::io::Error::other)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut sent = offset;
    let name = d.hex()[..12].to_owned();
    let progress = progress.clone();
    let chunks =
        tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), 1 << 20);
    // A whole blob is hashed on its way out and its last chunk held back until the hash is
    // known: a store blob changed since it was written (a disk fault, an edit through a hard
    // link an older lamina made) fails the upload, named, before the registry has it all.
    let chunks = if offset == 0 {
        verified(chunks, d.clone(), store.blob_path(d)).boxed()
    } else {
        chunks.boxed()
    };
    let stream = chunks.map(move |chunk| {
        if let Ok(c) = &chunk {
            sent += c.len() as u64;
            progress(&name, sent, size);
        }
        chunk
    });
    Ok(reqwest::Body::wrap_stream(stream))
}

/// `chunks` as they come, one behind, the last let out only if all of them hash to `expected`.
fn verified(
    chunks: impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + Unpin + 'static,
    expected: Digest,
    path: std::path::PathBuf,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    struct State<S> {
        chunks: S,
        held: Option<bytes::Bytes>,
        hasher: Option<lamina_image::digest::Hasher>,
    }
    let start = State {
        chunks,
        held: None,
        hasher: Some(lamina_image::digest::Hasher::new()),
    };
    futures_util::stream::unfold(start, move |mut st| {
        let (expected, path) = (expected.clone(), path.clone());
        async move {
            loop {
                let hasher = st.hasher.as_mut()?;
                match st.chunks.next().await {
                    Some(Ok(c)) => {
                        hasher.update(&c);
                        if let Some(prev) = st.held.replace(c) {
                            return Some((Ok(prev), st));
                        }
                    }
                    Some(Err(e)) => {
                        st.hasher = None;
                        return Some((Err(e), st));
                    }
                    None => {
                        let got = st.hasher.take()?.finish();
                        if got != expected {
                            let e = std::io::Error::new(
                                std::io::ErrorKind::InvalidData,
                                format!(
                                    "blob {expected} in lamina's store is corrupt (its bytes hash to {got}): delete {} and build again",
                                    path.display()
                                ),
                            );
                            return Some((Err(e), st));
                        }
                        let last = st.held.take()?;
                        return Some((Ok(last), st));
                    }
                }
            }
        }
    })
}

/// One monolithic upload: `POST`, then the whole blob in one `PUT`.
async fn upload_once(
    client: &Client,
    store: &Store,
    repo: &str,
    d: &Digest,
    size: u64,
    progress: &Progress,
) -> std::result::Result<(), Failure> {
    let location = start_upload(client, repo).await?;
    let put = closing_url(client, &location, d);
    let resp = client
        .send(repo, |http| {
            Ok(http
                .put(put.clone())
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_LENGTH, size)
                .body(blob_body(store, d, 0, size, progress)?))
        })
        .await?;
    // Distribution answers 201; ECR too; accept any 2xx (§3.3).
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(status_failure(client, resp, &format!("PUT blob {d}")).await)
    }
}

/// An upload session and how much of the blob the registry has confirmed.
#[derive(Debug)]
struct Session {
    location: String,
    offset: u64,
}

/// Where an interrupted upload stands: `GET` on its location answers 204 with
/// `Range: 0-<last byte received>` (OCI distribution spec, "Chunked upload", §4 end-13).
/// `None` when the registry no longer knows the session — distribution, for one, voids a
/// session whose data outran its signed state, so the upload restarts there.
async fn upload_status(client: &Client, repo: &str, location: &str) -> Option<Session> {
    let resp = client
        .send(repo, |http| Ok(http.get(client.url(location))))
        .await
        .ok()?;
    if resp.status() != StatusCode::NO_CONTENT {
        return None;
    }
    let offset = match resp.headers().get(reqwest::header::RANGE) {
        None => 0,
        Some(range) => {
            let (start, end) = range.to_str().ok()?.trim().split_once('-')?;
            let end: u64 = end.trim().parse().ok()?;
            // Distribution says `0-0` for an empty session too (its end is size − 1, floored
            // at 0): read it as nothing received; a registry that had one byte refuses the
            // resume with 416 and the upload starts over.
            (start.trim() == "0").then_some(if end == 0 { 0 } else { end + 1 })?
        }
    };
    let location =
        location_of(client, &resp, "GET upload status").unwrap_or_else(|_| location.to_owned());
    Some(Session { location, offset })
}

/// One attempt at a resumable upload: the rest of the blob in one `PATCH` with its
/// `Content-Range` (docker and skopeo send big blobs so too), then the closing `PUT`. A
/// session left by an interrupted attempt (`session`) is asked where it stands and resumed
/// from there; one the registry forgot is replaced by a new one.
async fn upload_resumable(
    client: &Client,
    store: &Store,
    repo: &str,
    d: &Digest,
    size: u64,
    progress: &Progress,
    session: &mut Option<Session>,
) -> std::result::Result<(), Failure> {
    let resumed = match session.take() {
        Some(left) => upload_status(client, repo, &left.location).await,
        None => None,
    };
    let mut s = match resumed {
        Some(s) if s.offset <= size => {
            if s.offset > 0 {
                tracing::debug!(blob = %d, offset = s.offset, "resuming the upload");
            }
            s
        }
        _ => Session {
            location: start_upload(client, repo).await?,
            offset: 0,
        },
    };
    if s.offset < size {
        let (offset, url) = (s.offset, client.url(&s.location));
        let sent = client
            .send(repo, |http| {
                Ok(http
                    .patch(url.clone())
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_LENGTH, size - offset)
                    .header("Content-Range", format!("{offset}-{}", size - 1))
                    .body(blob_body(store, d, offset, size, progress)?))
            })
            .await;
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) => {
                *session = Some(s);
                return Err(e.into());
            }
        };
        // 202 in the spec, 201 from ECR (§3.3): any 2xx.
        if resp.status() == StatusCode::RANGE_NOT_SATISFIABLE {
            // The registry holds another offset than it said: start a new session.
            return Err(Failure::Retry(format!(
                "416 to PATCH blob {d} at byte {offset}"
            )));
        }
        if !resp.status().is_success() {
            let failure = status_failure(client, resp, &format!("PATCH blob {d}")).await;
            *session = Some(s);
            return Err(failure);
        }
        if let Ok(next) = location_of(client, &resp, "PATCH") {
            s.location = next;
        }
        s.offset = size;
    }
    let put = closing_url(client, &s.location, d);
    let resp = client
        .send(repo, |http| {
            Ok(http.put(put.clone()).header(CONTENT_LENGTH, 0))
        })
        .await;
    match resp {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => {
            let failure = status_failure(client, resp, &format!("PUT blob {d}")).await;
            *session = Some(s);
            Err(failure)
        }
        Err(e) => {
            *session = Some(s);
            Err(e.into())
        }
    }
}

async fn status_failure(client: &Client, resp: reqwest::Response, what: &str) -> Failure {
    let status = resp.status();
    let body = crate::transport::body_excerpt(resp).await;
    let retry = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
    if retry {
        Failure::Retry(format!("{status} to {what}: {body}"))
    } else {
        Failure::Final(RegistryError::Protocol {
            registry: client.registry().to_owned(),
            what: what.to_owned(),
            status: status.as_u16(),
            body,
        })
    }
}

async fn expect_success(client: &Client, resp: reqwest::Response, what: &str) -> Result<()> {
    if resp.status().is_success() {
        return Ok(());
    }
    match status_failure(client, resp, what).await {
        Failure::Final(e) => Err(e),
        Failure::Retry(reason) => Err(RegistryError::Unreachable {
            registry: client.registry().to_owned(),
            reason,
        }),
    }
}

#[cfg(test)]
mod tests;
