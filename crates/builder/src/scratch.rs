//! Scratch folders for a build (an installer's output, unpacked ZIPs), under the cache's
//! `tmp/` and removed when dropped, so they sit on the same disk as the store. Named with the
//! builder's pid, so a killed build's are swept by the next ([`lamina_image::sweep`]).

use std::path::Path;

use crate::error::{BuildError, Result};

/// Start of every scratch folder's name (then `<pid>-`).
pub const SCRATCH_PREFIX: &str = "build-";

/// A new scratch folder named `build-<pid>-<kind>…` under `<cache>/tmp`, removed when
/// dropped; folders left by builds that were killed are swept first.
pub(crate) fn scratch_dir(cache_root: &Path, kind: &str) -> Result<tempfile::TempDir> {
    let root = cache_root.join("tmp");
    std::fs::create_dir_all(&root).map_err(|source| BuildError::Io {
        path: root.clone(),
        source,
    })?;
    lamina_image::sweep::sweep_dead(&root, SCRATCH_PREFIX);
    tempfile::Builder::new()
        .prefix(&format!(
            "{}{kind}",
            lamina_image::sweep::own_prefix(SCRATCH_PREFIX)
        ))
        .tempdir_in(&root)
        .map_err(|source| BuildError::Io { path: root, source })
}
