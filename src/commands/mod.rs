//! One module per command; each takes its parsed arguments and the global options.

pub mod base;
pub mod base_source;
pub mod build;
pub mod check;
pub mod credentials;
pub mod event;
pub mod init;
pub mod invoke;
pub mod keep;
pub mod push;
pub mod rie;
pub mod serving;
pub mod watch;

use std::path::PathBuf;

use anyhow::{Context, Result};

/// Options every command shares.
pub struct Globals {
    /// `--json`.
    pub json: bool,
    /// The cache root (`~/.cache/lamina`).
    pub cache: PathBuf,
    /// The image store (`CACHE/store` unless `--store`).
    pub store: PathBuf,
}

impl Globals {
    /// The local image store inside the cache.
    pub fn store(&self) -> Result<lamina_image::Store> {
        lamina_image::Store::open(&self.store)
            .with_context(|| format!("cannot open lamina's store in {}", self.store.display()))
    }
}

impl Globals {
    /// The store, shared with other users while the returned lock lives: what a build, a
    /// push, a pull or an image load holds, so that `lamina prune` waits for it
    /// (`lamina_image::lock`).
    pub fn store_in_use(&self) -> Result<(lamina_image::Store, lamina_image::lock::StoreLock)> {
        let store = self.store()?;
        let lock = lamina_image::lock::StoreLock::shared(&store)
            .with_context(|| format!("cannot lock lamina's store in {}", self.store.display()))?;
        Ok((store, lock))
    }
}

/// `~/.cache/lamina`, or `$XDG_CACHE_HOME/lamina`.
pub fn default_cache() -> Result<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("lamina"));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .context("HOME is not set: pass --cache DIR or set LAMINA_CACHE")?;
    Ok(PathBuf::from(home).join(".cache").join("lamina"))
}
