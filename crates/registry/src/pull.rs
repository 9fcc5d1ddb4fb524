//! Pulling an image into lamina's store: the manifest by tag or digest (an index or Docker
//! manifest list is resolved to its `linux/<arch>` entry), then the config and every layer the
//! store lacks, each streamed to a temp file while its sha256 is computed and committed only
//! when it matches the digest that named it. The manifest's exact bytes are kept, so the image
//! keeps its digest.

use std::io::Write;

use futures_util::StreamExt;
use lamina_image::{Digest, HashingWriter, Reference, Store};
use reqwest::header::{ACCEPT, CONTENT_TYPE};

use crate::client::Client;
use crate::error::{RegistryError, Result};

const ACCEPTED: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";
/// Largest manifest or index accepted.
const MAX_MANIFEST: usize = 4 << 20;
/// Largest image config accepted (the store's own cap for reading one).
const MAX_CONFIG: u64 = 16 << 20;

/// What a pull did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PullReport {
    /// The manifest's digest (of the platform's manifest, when the reference named an index).
    pub digest: Digest,
    /// Blobs fetched.
    pub fetched: usize,
    /// Blobs the store already had.
    pub present: usize,
    /// The index the reference named, if it named one.
    pub index: Option<lamina_image::import::IndexSummary>,
}

/// Pull `source` for `arch` (`amd64`, `arm64`) into `store`.
pub async fn pull(
    client: &Client,
    store: &Store,
    source: &Reference,
    arch: &str,
) -> Result<PullReport> {
    let repo = source.path();
    let wanted = source
        .digest()
        .map(ToString::to_string)
        .or_else(|| source.tag().map(str::to_owned))
        .unwrap_or_else(|| "latest".into());
    let (mut bytes, media_type) = get_manifest(client, repo, &wanted).await?;
    // A digest reference names exactly the bytes it got, index or manifest.
    if let Some(named) = source.digest() {
        verify(client, &wanted, &bytes, named, None)?;
    }
    let from_index = lamina_image::import::is_index(&media_type);
    let mut index_summary = None;
    if from_index {
        let index: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| protocol(client, &wanted, &e.to_string()))?;
        index_summary = Some(lamina_image::import::IndexSummary::of(
            &index,
            Digest::sha256_of(&bytes),
        ));
        let entry = lamina_image::import::platform_entry(&index, arch).ok_or_else(|| {
            protocol(
                client,
                &wanted,
                &format!("the index has no linux/{arch} image"),
            )
        })?;
        let size = index["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["digest"].as_str() == Some(entry.as_str()))
            .and_then(|e| e["size"].as_u64());
        let named: Digest = entry
            .parse()
            .map_err(|e: lamina_image::digest::DigestError| {
                protocol(client, &wanted, &e.to_string())
            })?;
        bytes = get_manifest(client, repo, &entry).await?.0;
        // The index entry names the platform's manifest by digest and size: hold it to both.
        verify(client, &entry, &bytes, &named, size)?;
    }
    let digest = Digest::sha256_of(&bytes);
    let manifest: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| protocol(client, &wanted, &e.to_string()))?;
    let config_size = manifest["config"]["size"].as_u64();
    if config_size.is_some_and(|n| n > MAX_CONFIG) {
        return Err(protocol(
            client,
            &wanted,
            &format!(
                "its config is {} bytes by its descriptor, more than lamina takes ({MAX_CONFIG})",
                config_size.unwrap_or_default()
            ),
        ));
    }
    let mut blobs = vec![(
        manifest["config"]["digest"].as_str().map(str::to_owned),
        // A descriptor without a size still gets the config's cap.
        config_size.or(Some(MAX_CONFIG)),
    )];
    blobs.extend(
        manifest["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| (l["digest"].as_str().map(str::to_owned), l["size"].as_u64())),
    );
    let (mut fetched, mut present) = (0, 0);
    for (blob, size) in blobs {
        let d: Digest = blob
            .ok_or_else(|| protocol(client, &wanted, "a descriptor has no digest"))?
            .parse()
            .map_err(|e: lamina_image::digest::DigestError| {
                protocol(client, &wanted, &e.to_string())
            })?;
        if store.has_blob(&d) {
            present += 1;
            continue;
        }
        fetch_blob(client, store, repo, &d, size).await?;
        crate::known::remember(store, client.registry(), repo, &d);
        fetched += 1;
    }
    store.put_bytes(&bytes)?;
    Ok(PullReport {
        digest,
        fetched,
        present,
        index: index_summary,
    })
}

/// The manifest bytes `source` names, or `None` when the registry has no such manifest
/// (404; also ECR's repository-missing 404, for a cache that was never written).
pub(crate) async fn pull_manifest_only(
    client: &Client,
    source: &Reference,
) -> Result<Option<Vec<u8>>> {
    let wanted = source
        .digest()
        .map(ToString::to_string)
        .or_else(|| source.tag().map(str::to_owned))
        .unwrap_or_else(|| "latest".into());
    match get_manifest(client, source.path(), &wanted).await {
        Ok((bytes, _)) => Ok(Some(bytes)),
        Err(RegistryError::Protocol { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `bytes` are what `named` (and `size`, when the descriptor gave one) say they are.
fn verify(
    client: &Client,
    what: &str,
    bytes: &[u8],
    named: &Digest,
    size: Option<u64>,
) -> Result<()> {
    let got = Digest::sha256_of(bytes);
    if &got != named {
        return Err(protocol(
            client,
            what,
            &format!("its bytes hash to {got}, not the pinned {named}: the registry served something else"),
        ));
    }
    if let Some(size) = size.filter(|s| *s != bytes.len() as u64) {
        return Err(protocol(
            client,
            what,
            &format!(
                "it is {} bytes, not the {size} its index entry says",
                bytes.len()
            ),
        ));
    }
    Ok(())
}

fn protocol(client: &Client, what: &str, why: &str) -> RegistryError {
    RegistryError::Protocol {
        registry: client.registry().to_owned(),
        what: format!("GET manifest {what}"),
        status: 200,
        body: why.chars().take(300).collect(),
    }
}

async fn get_manifest(client: &Client, repo: &str, reference: &str) -> Result<(Vec<u8>, String)> {
    let path = format!("/v2/{repo}/manifests/{reference}");
    let resp = client
        .send(repo, |http| {
            Ok(http
                .get(client.url(&path))
                .header(ACCEPT, ACCEPTED)
                .timeout(crate::transport::small_body_deadline()))
        })
        .await?;
    if !resp.status().is_success() {
        let status = resp.status().as_u16();
        let body = crate::transport::body_excerpt(resp).await;
        return Err(RegistryError::Protocol {
            registry: client.registry().to_owned(),
            what: format!("GET {path}"),
            status,
            body,
        });
    }
    let media_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let bytes = crate::transport::read_capped(
        client.registry(),
        resp,
        MAX_MANIFEST,
        &format!("manifest {repo}:{reference}"),
    )
    .await?;
    Ok((bytes, media_type))
}

/// Stream blob `d` into the store, checking its digest before it is committed. A blob longer
/// than `size` (its descriptor's) is cut off as soon as it passes it: a registry cannot fill
/// the disk by serving more than was asked for.
pub(crate) async fn fetch_blob(
    client: &Client,
    store: &Store,
    repo: &str,
    d: &Digest,
    size: Option<u64>,
) -> Result<()> {
    let path = format!("/v2/{repo}/blobs/{d}");
    let resp = client
        .send(repo, |http| Ok(http.get(client.url(&path))))
        .await?;
    if !resp.status().is_success() {
        let status = resp.status().as_u16();
        return Err(RegistryError::Protocol {
            registry: client.registry().to_owned(),
            what: format!("GET {path}"),
            status,
            body: String::new(),
        });
    }
    let tmp = store.temp_file()?;
    let mut writer = HashingWriter::new(std::io::BufWriter::with_capacity(1 << 20, tmp.as_file()));
    let mut body = resp.bytes_stream();
    let lost = |e: String| RegistryError::Unreachable {
        registry: client.registry().to_owned(),
        reason: e,
    };
    let mut received = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| lost(e.to_string()))?;
        received += chunk.len() as u64;
        if let Some(size) = size.filter(|s| received > *s) {
            return Err(RegistryError::Protocol {
                registry: client.registry().to_owned(),
                what: format!("GET {path}"),
                status: 200,
                body: format!(
                    "the registry sent more than the blob's {size} bytes; nothing was kept"
                ),
            });
        }
        writer.write_all(&chunk).map_err(|e| lost(e.to_string()))?;
    }
    let (buffered, got, _) = writer.finish();
    buffered
        .into_inner()
        .map_err(|e| lost(e.error().to_string()))?;
    if &got != d {
        return Err(RegistryError::Protocol {
            registry: client.registry().to_owned(),
            what: format!("GET {path}"),
            status: 200,
            body: format!("the blob's content hashes to {got}, not {d}"),
        });
    }
    tmp.as_file().sync_all().map_err(|e| lost(e.to_string()))?;
    store.commit_temp(tmp, d)?;
    Ok(())
}
