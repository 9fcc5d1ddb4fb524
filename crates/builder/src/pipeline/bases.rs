//! The embedded default bases: each runtime's recipe and lock, compiled into lamina so that an
//! installed `lamina` builds on a fresh machine with no checkout of `base-images/`.

use std::path::Path;

use lamina_image::{layer_for_key, KeyBuilder, LayerDescriptor, LayerPlan, LayerSettings, Store};

use super::{Arch, Runtime};
use crate::debian;
use crate::error::Result;

/// Recipe and lock texts of a runtime's base, as committed in `base-images/<name>/`.
pub fn embedded(runtime: Runtime) -> (&'static str, &'static str) {
    match runtime {
        Runtime::Python313 => (
            include_str!("../../../../base-images/python3.13/recipe.toml"),
            include_str!("../../../../base-images/python3.13/lamina.lock"),
        ),
        Runtime::Python314 => (
            include_str!("../../../../base-images/python3.14/recipe.toml"),
            include_str!("../../../../base-images/python3.14/lamina.lock"),
        ),
        Runtime::Nodejs24 => (
            include_str!("../../../../base-images/nodejs24/recipe.toml"),
            include_str!("../../../../base-images/nodejs24/lamina.lock"),
        ),
        Runtime::Provided => (
            include_str!("../../../../base-images/provided/recipe.toml"),
            include_str!("../../../../base-images/provided/lamina.lock"),
        ),
    }
}

/// Kind and version of the base layer's cache key; bump when the unpacking or post-steps
/// change.
const BASE_KEY_VERSION: &str = "lamina-base-layer/v2";

/// The base layer of `runtime` for `arch`: unpacked from the pinned Debian packages on first
/// use, then served from the layer cache by the lock's hash without re-reading the rootfs.
pub fn base_layer(
    store: &Store,
    cache_root: &Path,
    runtime: Runtime,
    arch: Arch,
    settings: &LayerSettings,
    report: &dyn Fn(u64, u64),
) -> Result<(LayerDescriptor, bool)> {
    let (recipe_text, lock_text) = embedded(runtime);
    let recipe = debian::parse_recipe(recipe_text)?;
    let lock = debian::parse_lock(lock_text)?;

    let mut key = KeyBuilder::new(BASE_KEY_VERSION, settings);
    key.field(recipe_text.as_bytes())
        .field(lock_text.as_bytes())
        .field(arch.name().as_bytes());
    // A pin that vanished from the mirror (Debian point releases replace versions) is
    // re-resolved with a warning rather than failing: the embedded lock cannot be edited by a
    // user.
    layer_for_key(store, &key.finish(), settings, report, || {
        let options = debian::UnpackOptions { refresh: true };
        let rootfs = debian::ensure_rootfs(&recipe, &lock, arch.name(), cache_root, &options)?;
        let mut plan = LayerPlan::new();
        plan.add_tree_allow_abs_links(&rootfs.path, "", &|_, _| false)?;
        Ok(plan)
    })
}
