//! Base runtimes assembled from Debian packages, with no daemon and no dpkg.
//!
//! A recipe (`base-images/<name>/recipe.toml`, [`Recipe`]) lists packages; [`lock`]
//! resolves their dependency closure against the mirror's index and pins every `.deb`
//! by sha256 ([`Lock`], written to `lamina.lock` by [`write_lock`]); [`ensure_rootfs`]
//! downloads the pinned packages into the cache, unpacks them into a root filesystem
//! and applies the recipe's post-steps (what maintainer scripts would have done).
//!
//! Module map: `recipe` (schema, hashes), `index` (InRelease and Packages parsing),
//! `resolve` (closure), `lock` (lock file and locking), `fetch` (verified downloads and
//! cache), `unpack` (`.deb` → directory, path safety), `post` (post-steps), `rootfs`
//! (cache layout and assembly). The cache root is a parameter (the CLI passes
//! `~/.cache/lamina`); everything goes under `<cache>/debian/` and `<cache>/bases/`.

mod error;
mod fetch;
pub mod index;
mod lock;
mod pin;
mod post;
mod recipe;
mod resolve;
mod rootfs;
mod unpack;

pub use error::{Error, Result};
pub use lock::{
    load_lock, parse_lock, render_lock, write_lock, ArchLock, Lock, LockedPackage, LOCK_VERSION,
};
pub use pin::lock;
pub use recipe::{load_recipe, parse_recipe, PostStep, Recipe, ARCHITECTURES};
pub use resolve::resolve;
pub use rootfs::{ensure_rootfs, RootfsInfo, UnpackOptions};
