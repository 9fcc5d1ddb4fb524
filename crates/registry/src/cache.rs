//! A layer cache shared through a registry, for CI fleets (`--cache-to REF`,
//! `--cache-from REF`): lamina's layer-cache index (input key → layer) of one build, kept in
//! the registry as an OCI artifact, so a runner with an empty cache reuses what another
//! built. The registry is the distributed engine; lamina adds no server.
//!
//! The artifact is an OCI image manifest whose config has lamina's own media type
//! ([`CACHE_CONFIG`], `{}`), whose first layer is the index (JSON, [`CACHE_INDEX`]) and whose
//! other layers are the cached layers themselves — so the registry keeps them alive, and a
//! push of the image next to it mounts or skips them. Importing fetches the index, then the
//! layers the store lacks (verified by digest), and records each entry in the local cache.

use std::collections::HashSet;

use lamina_image::{Digest, LayerDescriptor, Reference, Store};
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::{RegistryError, Result};

/// The cache artifact's config media type.
pub const CACHE_CONFIG: &str = "application/vnd.lamina.layer-cache.config.v1+json";
/// The index layer's media type.
pub const CACHE_INDEX: &str = "application/vnd.lamina.layer-cache.index.v1+json";
/// Version of the index format.
const INDEX_VERSION: u32 = 1;

/// One entry of the index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Entry {
    key: Digest,
    layer: LayerDescriptor,
}

#[derive(Debug, Serialize, Deserialize)]
struct Index {
    version: u32,
    entries: Vec<Entry>,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CacheImport {
    /// Entries added to the local cache.
    pub entries: usize,
    /// Layers fetched (the rest were in the store).
    pub fetched: usize,
}

/// Write the cache artifact for the layers of `manifest` into the store; returns its
/// manifest digest, ready for [`crate::push`].
pub fn export(store: &Store, manifest: &Digest) -> Result<Digest> {
    let blobs = lamina_image::image_blobs(store, manifest)?;
    let layers: HashSet<Digest> = blobs.layers.iter().cloned().collect();
    let entries: Vec<Entry> = store
        .cached_layers_for(&layers)?
        .into_iter()
        .map(|(key, layer)| Entry { key, layer })
        .collect();
    let index = serde_json::to_vec(&Index {
        version: INDEX_VERSION,
        entries: entries.clone(),
    })
    .map_err(|e| {
        RegistryError::Image(lamina_image::Error::Json {
            what: "layer cache index".into(),
            source: e,
        })
    })?;
    let index_digest = store.put_bytes(&index)?;
    let config = b"{}";
    let config_digest = store.put_bytes(config)?;
    let mut seen = HashSet::new();
    let mut cached: Vec<serde_json::Value> = Vec::new();
    for e in &entries {
        if seen.insert(e.layer.digest.clone()) {
            cached.push(serde_json::json!({
                "mediaType": lamina_image::manifest::OCI_LAYER_GZIP,
                "digest": e.layer.digest.to_string(),
                "size": e.layer.size,
            }));
        }
    }
    let mut layers_json = vec![serde_json::json!({
        "mediaType": CACHE_INDEX,
        "digest": index_digest.to_string(),
        "size": index.len(),
    })];
    layers_json.extend(cached);
    let manifest_json = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": lamina_image::manifest::OCI_MANIFEST,
        "config": {"mediaType": CACHE_CONFIG, "digest": config_digest.to_string(), "size": config.len()},
        "layers": layers_json,
    });
    let bytes = lamina_image::manifest::canonical_json(&manifest_json, "layer cache manifest")?;
    Ok(store.put_bytes(&bytes)?)
}

/// Bring the cache at `source` into the store: the index, then every layer it names that the
/// store lacks; each entry is then a local cache hit. A missing cache (first run) imports
/// nothing and is not an error.
pub async fn import(client: &Client, store: &Store, source: &Reference) -> Result<CacheImport> {
    let pulled = match crate::pull::pull_manifest_only(client, source).await {
        Ok(Some(m)) => m,
        Ok(None) => return Ok(CacheImport::default()),
        Err(e) => return Err(e),
    };
    let manifest: serde_json::Value =
        serde_json::from_slice(&pulled).map_err(|e| RegistryError::Protocol {
            registry: client.registry().to_owned(),
            what: format!("cache manifest {source}"),
            status: 200,
            body: e.to_string(),
        })?;
    if manifest["config"]["mediaType"] != CACHE_CONFIG {
        return Err(RegistryError::Protocol {
            registry: client.registry().to_owned(),
            what: format!("cache manifest {source}"),
            status: 200,
            body: format!("{source} is not a lamina layer cache (its config is not {CACHE_CONFIG}); name the reference --cache-to wrote"),
        });
    }
    let repo = source.path();
    let index_digest: Digest = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(lamina_image::Error::from)?;
    if !store.has_blob(&index_digest) {
        crate::pull::fetch_blob(
            client,
            store,
            repo,
            &index_digest,
            manifest["layers"][0]["size"].as_u64(),
        )
        .await?;
    }
    let index: Index = serde_json::from_slice(&store.read_small_blob(
        &index_digest,
        64 << 20,
        "layer cache index",
    )?)
    .map_err(|e| {
        RegistryError::Image(lamina_image::Error::Json {
            what: format!("layer cache index of {source}"),
            source: e,
        })
    })?;
    let mut report = CacheImport::default();
    for entry in index.entries {
        if store.blob_len(&entry.layer.digest) != Some(entry.layer.size) {
            crate::pull::fetch_blob(
                client,
                store,
                repo,
                &entry.layer.digest,
                Some(entry.layer.size),
            )
            .await?;
            crate::known::remember(store, client.registry(), repo, &entry.layer.digest);
            report.fetched += 1;
        }
        if store.cached_layer(&entry.key)?.as_ref() != Some(&entry.layer) {
            store.cache_layer(&entry.key, &entry.layer)?;
            report.entries += 1;
        }
    }
    Ok(report)
}
