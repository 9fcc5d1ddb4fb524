//! Where blobs are known to live: the repositories of a registry that lamina saw holding a
//! blob (it pushed it there, found it there, or pulled it from there), kept as small facts
//! in the store. A push to another repository of the same registry then mounts the blob
//! (`POST …/blobs/uploads/?mount=DIGEST&from=REPO`, distribution spec "Mounting a blob from
//! another repository") instead of sending it again.

use lamina_image::{Digest, KeyBuilder, LayerSettings, Store};

/// Kind of the fact in the store.
const FACT: &str = "registry-blob-repos-v1";
/// Repositories remembered per blob (the most recent).
const KEEP: usize = 8;

fn key(registry: &str, digest: &Digest) -> Digest {
    let mut k = KeyBuilder::new(FACT, &LayerSettings::default());
    k.field(registry.as_bytes())
        .field(digest.as_str().as_bytes());
    k.finish()
}

/// Repositories of `registry` known to hold `digest`, most recent first.
pub fn repos_with(store: &Store, registry: &str, digest: &Digest) -> Vec<String> {
    store
        .fact(FACT, &key(registry, digest))
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Remember that `repo` of `registry` holds `digest` (best effort: losing it costs a mount).
pub fn remember(store: &Store, registry: &str, repo: &str, digest: &Digest) {
    let mut repos = repos_with(store, registry, digest);
    if repos.first().map(String::as_str) == Some(repo) {
        return;
    }
    repos.retain(|r| r != repo);
    repos.insert(0, repo.to_owned());
    repos.truncate(KEEP);
    if let Ok(bytes) = serde_json::to_vec(&repos) {
        if let Err(e) = store.set_fact(FACT, &key(registry, digest), &bytes) {
            tracing::debug!(error = %e, "could not remember where a blob lives");
        }
    }
}
