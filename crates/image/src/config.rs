//! The image configuration: [`ImageSpec`] (what the builder decides) → OCI config JSON.
//!
//! Lambda honours only `Entrypoint`, `Cmd`, `WorkingDir` and `Env` (reference §1); the rest is
//! for people and tools. The config is deterministic: `created` is fixed by the caller
//! (`SOURCE_DATE_EPOCH` or the Unix epoch), history has one entry per layer, and
//! `rootfs.diff_ids` lists the layers in order.

use std::collections::{BTreeMap, HashMap};

use oci_spec::image::{
    Arch, ConfigBuilder, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder, Os,
    RootFsBuilder,
};

use crate::error::{Error, Result};
use crate::settings::LayerDescriptor;

/// Everything needed to write an image's config and manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSpec {
    /// `amd64` or `arm64` (the only architectures Lambda runs).
    pub architecture: String,
    /// Must be `linux`.
    pub os: String,
    /// `ENTRYPOINT`; omitted from the config when empty.
    pub entrypoint: Vec<String>,
    /// `CMD`; omitted from the config when empty.
    pub cmd: Vec<String>,
    /// `WORKDIR`; must be absolute when set (Lambda: `Runtime.InvalidWorkingDir`).
    pub working_dir: String,
    /// `KEY=value` entries, in order.
    pub env: Vec<String>,
    /// Labels (sorted by key in the JSON).
    pub labels: BTreeMap<String, String>,
    /// RFC 3339 creation time, e.g. from [`created_from_epoch`].
    pub created: String,
    /// Layers bottom-up, each with the history `created_by` text.
    pub layers: Vec<(LayerDescriptor, String)>,
    /// The media types of the manifest written for it.
    pub format: crate::settings::ManifestFormat,
}

/// Lambda's limit on an image's uncompressed size: 10 GiB.
pub const MAX_UNCOMPRESSED_SIZE: u64 = 10 << 30;

impl ImageSpec {
    /// Sum of the layers' uncompressed sizes.
    pub fn uncompressed_size(&self) -> u64 {
        self.layers
            .iter()
            .fold(0u64, |sum, (l, _)| sum.saturating_add(l.uncompressed_size))
    }

    /// Refuse what Lambda would refuse: other architectures/OSes, relative paths, ≥ 10 GiB.
    pub fn validate(&self) -> Result<()> {
        if !matches!(self.architecture.as_str(), "amd64" | "arm64") {
            return Err(Error::InvalidSpec(format!(
                "architecture {:?} is not one Lambda runs; use \"amd64\" or \"arm64\"",
                self.architecture
            )));
        }
        if self.os != "linux" {
            return Err(Error::InvalidSpec(format!(
                "os {:?} is not supported; Lambda runs \"linux\"",
                self.os
            )));
        }
        if !self.working_dir.is_empty() && !self.working_dir.starts_with('/') {
            return Err(Error::InvalidSpec(format!(
                "working dir {:?} must be an absolute path",
                self.working_dir
            )));
        }
        if let Some(first) = self.entrypoint.first().filter(|e| !e.starts_with('/')) {
            return Err(Error::InvalidSpec(format!(
                "entrypoint {first:?} must be an absolute path"
            )));
        }
        if let Some(bad) = self
            .env
            .iter()
            .find(|e| !e.contains('=') || e.starts_with('='))
        {
            return Err(Error::InvalidSpec(format!(
                "env entry {bad:?} is not KEY=value"
            )));
        }
        let size = self.uncompressed_size();
        if size >= MAX_UNCOMPRESSED_SIZE {
            return Err(Error::ImageTooLarge {
                size,
                limit: MAX_UNCOMPRESSED_SIZE,
            });
        }
        Ok(())
    }

    /// The OCI image configuration for this spec.
    pub fn to_config(&self) -> Result<ImageConfiguration> {
        let mut config = ConfigBuilder::default();
        if !self.entrypoint.is_empty() {
            config = config.entrypoint(self.entrypoint.clone());
        }
        if !self.cmd.is_empty() {
            config = config.cmd(self.cmd.clone());
        }
        if !self.working_dir.is_empty() {
            config = config.working_dir(self.working_dir.clone());
        }
        if !self.env.is_empty() {
            config = config.env(self.env.clone());
        }
        if !self.labels.is_empty() {
            config = config.labels(
                self.labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<HashMap<_, _>>(),
            );
        }
        let rootfs = RootFsBuilder::default()
            .typ("layers")
            .diff_ids(
                self.layers
                    .iter()
                    .map(|(l, _)| l.diff_id.to_string())
                    .collect::<Vec<_>>(),
            )
            .build()?;
        let history = self
            .layers
            .iter()
            .map(|(_, created_by)| {
                HistoryBuilder::default()
                    .created(self.created.clone())
                    .created_by(created_by.clone())
                    .build()
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(ImageConfigurationBuilder::default()
            .created(self.created.clone())
            .architecture(Arch::from(self.architecture.as_str()))
            .os(Os::from(self.os.as_str()))
            .config(config.build()?)
            .rootfs(rootfs)
            .history(history)
            .build()?)
    }
}

/// RFC 3339 UTC timestamp (`1970-01-01T00:00:00Z` style) for seconds since the Unix epoch.
pub fn created_from_epoch(secs: u64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_formatting() {
        assert_eq!(created_from_epoch(0), "1970-01-01T00:00:00Z");
        assert_eq!(created_from_epoch(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(created_from_epoch(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
