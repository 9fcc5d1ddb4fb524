//! The embedded default bases: each runtime's recipe and lock, compiled into lamina so that an
//! installed `lamina` builds on a fresh machine with no checkout of `base-images/`.

use std::path::Path;

use lamina_image::{write_layer, LayerDescriptor, LayerPlan, LayerSettings, Store};
use sha2::{Digest as _, Sha256};

use super::error::Result;
use super::{Arch, Runtime};
use crate::debian;

/// Recipe and lock texts of a runtime's base, as committed in `base-images/<name>/`.
pub fn embedded(runtime: Runtime) -> (&'static str, &'static str) {
    match runtime {
        Runtime::Python313 => (
            include_str!("../../../../base-images/python3.13/recipe.toml"),
            include_str!("../../../../base-images/python3.13/lamina.lock"),
        ),
        Runtime::Provided => (
            include_str!("../../../../base-images/provided/recipe.toml"),
            include_str!("../../../../base-images/provided/lamina.lock"),
        ),
    }
}

/// Version of the base layer's cache key; bump when the unpacking or post-steps change.
const BASE_KEY_VERSION: &str = "lamina-base-layer/v1";

/// The base layer of `runtime` for `arch`: unpacked from the pinned Debian packages on first
/// use, then served from the layer cache by the lock's hash without re-reading the rootfs.
pub fn base_layer(
    store: &Store,
    cache_root: &Path,
    runtime: Runtime,
    arch: Arch,
    settings: &LayerSettings,
) -> Result<(LayerDescriptor, bool)> {
    let (recipe_text, lock_text) = embedded(runtime);
    let recipe = debian::parse_recipe(recipe_text)?;
    let lock = debian::parse_lock(lock_text)?;

    let mut h = Sha256::new();
    for part in [BASE_KEY_VERSION, recipe_text, lock_text, arch.name()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(settings.mtime.to_be_bytes());
    h.update(settings.gzip_level.to_be_bytes());
    h.update(lamina_image::WRITER_VERSION.as_bytes());
    let key: lamina_image::Digest = format!("sha256:{}", hex::encode(h.finalize())).parse()?;
    if let Some(hit) = store.cached_layer(&key)? {
        if store.has_blob(&hit.digest) {
            return Ok((hit, true));
        }
    }

    // A pin that vanished from the mirror (Debian point releases replace versions) is re-resolved
    // with a warning rather than failing: the embedded lock cannot be edited by a user.
    let options = debian::UnpackOptions { refresh: true };
    let rootfs = debian::ensure_rootfs(&recipe, &lock, arch.name(), cache_root, &options)?;
    let mut plan = LayerPlan::new();
    plan.add_tree_allow_abs_links(&rootfs.path, "", &|_, _| false)?;
    let (descriptor, _) = write_layer(store, &plan, settings)?;
    store.cache_layer(&key, &descriptor)?;
    Ok((descriptor, false))
}
