//! Image manifests: writing one single-platform manifest (never an index; OCI- or
//! Docker-typed, [`ManifestFormat`]) and reading
//! manifests and configs back from the store.
//!
//! JSON documents are written canonically (object keys sorted, no whitespace) so the same
//! [`ImageSpec`] always yields the same config and manifest digests.

use oci_spec::image::{
    Descriptor, DescriptorBuilder, ImageConfiguration, ImageManifest, ImageManifestBuilder,
    MediaType,
};
use serde::Serialize;
use serde_json::Value;

use crate::config::ImageSpec;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::store::Store;

pub use crate::settings::{
    ManifestFormat, DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP,
    OCI_MANIFEST,
};

/// Registries refuse manifests over 4 MiB; so do we.
pub(crate) const MAX_MANIFEST_LEN: u64 = 4 << 20;
/// Generous cap for a config blob (long histories, many labels).
pub(crate) const MAX_CONFIG_LEN: u64 = 16 << 20;

/// The result of [`write_image`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltImage {
    /// Digest of the manifest (the image's identity in a registry).
    pub manifest_digest: Digest,
    /// Digest of the config (Docker's image ID).
    pub config_digest: Digest,
    /// Manifest size in bytes.
    pub manifest_size: u64,
    /// Sum of uncompressed layer sizes.
    pub uncompressed_size: u64,
}

/// Write the config blob, then the manifest blob, into the store.
///
/// Refuses, writing nothing, a spec Lambda would reject (see [`ImageSpec::validate`]), including
/// one whose layers add up to 10 GiB uncompressed or more. All layer blobs must already be stored.
pub fn write_image(store: &Store, spec: &ImageSpec) -> Result<BuiltImage> {
    spec.validate()?;
    for (layer, _) in &spec.layers {
        if store.blob_len(&layer.digest) != Some(layer.size) {
            return Err(Error::BlobMissing {
                digest: layer.digest.clone(),
                path: store.blob_path(&layer.digest),
            });
        }
    }
    let config_json = canonical_json(&spec.to_config()?, "image config")?;
    let layers: Vec<(Digest, u64)> = spec
        .layers
        .iter()
        .map(|(l, _)| (l.digest.clone(), l.size))
        .collect();
    let config_digest = store.put_bytes(&config_json)?;
    let (manifest_digest, manifest_size) = put_manifest(
        store,
        spec.format,
        &(config_digest.clone(), config_json.len() as u64),
        &layers,
    )?;
    Ok(BuiltImage {
        manifest_digest,
        config_digest,
        manifest_size,
        uncompressed_size: spec.uncompressed_size(),
    })
}

/// Write the manifest of `format` for a stored config and gzip layers (`(digest, size)`);
/// returns its digest and size.
pub fn put_manifest(
    store: &Store,
    format: ManifestFormat,
    config: &(Digest, u64),
    layers: &[(Digest, u64)],
) -> Result<(Digest, u64)> {
    let (manifest_type, config_type, layer_type) = format.media_types();
    let layers = layers
        .iter()
        .map(|(d, size)| descriptor(layer_type, d, *size))
        .collect::<Result<Vec<_>>>()?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::from(manifest_type))
        .config(descriptor(config_type, &config.0, config.1)?)
        .layers(layers)
        .build()?;
    let manifest_json = canonical_json(&manifest, "image manifest")?;
    let digest = store.put_bytes(&manifest_json)?;
    Ok((digest, manifest_json.len() as u64))
}

/// Read and verify a single-platform image manifest (OCI, or Docker v2 schema 2) from the store.
pub fn read_manifest(store: &Store, d: &Digest) -> Result<ImageManifest> {
    let data = store.read_small_blob(d, MAX_MANIFEST_LEN, "manifest")?;
    let manifest: ImageManifest = serde_json::from_slice(&data).map_err(|e| Error::Json {
        what: format!("manifest {d}"),
        source: e,
    })?;
    let media_type = manifest.media_type().as_ref().map(ToString::to_string);
    match media_type.as_deref() {
        None | Some(OCI_MANIFEST) | Some(DOCKER_MANIFEST) => Ok(manifest),
        Some(other) => Err(Error::UnsupportedManifest {
            digest: d.clone(),
            reason: format!("media type {other} is not a single-platform image manifest"),
        }),
    }
}

/// Read and verify the config a manifest points at.
pub fn read_config(store: &Store, manifest: &ImageManifest) -> Result<ImageConfiguration> {
    let d = Digest::from_oci(manifest.config().digest())?;
    let data = store.read_small_blob(&d, MAX_CONFIG_LEN, "config")?;
    serde_json::from_slice(&data).map_err(|e| Error::Json {
        what: format!("config {d}"),
        source: e,
    })
}

/// The media type the index entry for this manifest should carry.
pub fn manifest_media_type(manifest: &ImageManifest) -> String {
    manifest
        .media_type()
        .as_ref()
        .map_or_else(|| OCI_MANIFEST.to_string(), ToString::to_string)
}

/// Build a descriptor.
pub(crate) fn descriptor(media_type: &str, digest: &Digest, size: u64) -> Result<Descriptor> {
    Ok(DescriptorBuilder::default()
        .media_type(MediaType::from(media_type))
        .digest(digest.to_oci()?)
        .size(size)
        .build()?)
}

/// Serialise with object keys sorted at every level and no whitespace.
///
/// oci-spec keeps labels and annotations in `HashMap`s, whose order varies between runs; going
/// through `Value` and re-inserting keys in sorted order makes the bytes stable whether or not
/// serde_json's `preserve_order` feature is enabled somewhere in the build.
pub fn canonical_json<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>> {
    let value = serde_json::to_value(value).map_err(|e| Error::Json {
        what: what.to_string(),
        source: e,
    })?;
    serde_json::to_vec(&sorted(value)).map_err(|e| Error::Json {
        what: what.to_string(),
        source: e,
    })
}

fn sorted(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
