//! Scratch folders for a build (an installer's output, unpacked ZIPs), under the cache's
//! `tmp/` and removed when dropped, so they sit on the same disk as the store.

use std::path::Path;

use crate::error::{BuildError, Result};

/// A new scratch folder named `<prefix>…` under `<cache>/tmp`, removed when dropped.
pub(crate) fn scratch_dir(cache_root: &Path, prefix: &str) -> Result<tempfile::TempDir> {
    let root = cache_root.join("tmp");
    std::fs::create_dir_all(&root).map_err(|source| BuildError::Io {
        path: root.clone(),
        source,
    })?;
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&root)
        .map_err(|source| BuildError::Io { path: root, source })
}
