//! OCI image model, deterministic layer writer, local store, OCI layout / docker-archive I/O.
//!
//! The pieces, in the order a build uses them:
//! - [`plan`]: [`LayerPlan`], what goes into a layer, with path and symlink safety checks;
//! - [`layer`]: [`write_layer`], the one-pass tar → diffID → gzip → digest → store writer,
//!   with its input-key cache ([`layer_for_key`] for keys computed from other inputs);
//! - [`key`]: [`KeyBuilder`], the one way a cache key is computed;
//! - [`settings`]: what changes a layer's bytes, and [`LayerDescriptor`];
//! - [`store`]: [`Store`], the content-addressed blob store, layer cache and refs;
//! - [`reference`]: [`Reference`], image names parsed once;
//! - [`config`] and [`manifest`]: [`ImageSpec`] → config and manifest blobs via [`write_image`];
//! - [`oci_layout`] and [`docker_archive`]: exports of a stored image.
//!
//! Everything streams: no layer or blob is ever held whole in memory.

#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

pub mod config;
pub mod digest;
pub mod docker_archive;
pub mod error;
pub mod filehash;
pub mod gc;
pub mod import;
pub mod key;
pub mod layer;
pub mod lock;
pub mod manifest;
pub mod oci_layout;
pub mod pgzip;
pub mod plan;
pub mod reference;
pub mod settings;
pub mod store;
pub mod sweep;
mod tarball;

pub use config::{created_from_epoch, ImageSpec, MAX_UNCOMPRESSED_SIZE};
pub use digest::{Digest, HashingReader, HashingWriter};
pub use docker_archive::{write_docker_archive, write_docker_load_archive, LoadArchive};
pub use error::{Error, Result};
pub use key::{plan_key, KeyBuilder};
pub use layer::{layer_for_key, write_layer, write_layer_reporting};
pub use manifest::{
    manifest_media_type, read_config, read_manifest, write_image, BuiltImage, ManifestFormat,
};
pub use oci_layout::{image_blobs, write_oci_layout, ImageBlobs};
pub use plan::{EntryKind, LayerPlan};
pub use reference::Reference;
pub use settings::{LayerDescriptor, LayerSettings, DEFAULT_GZIP_LEVEL, WRITER_VERSION};
pub use store::Store;
