//! OCI image model, deterministic layer writer, local store, OCI layout / docker-archive I/O.
//!
//! The pieces, in the order a build uses them:
//! - [`plan`]: [`LayerPlan`], what goes into a layer, with path and symlink safety checks;
//! - [`layer`]: [`write_layer`], the one-pass tar → diffID → gzip → digest → store writer,
//!   with its input-key cache ([`key`] computes the key);
//! - [`store`]: [`Store`], the content-addressed blob store, layer cache and refs;
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
pub mod key;
pub mod layer;
pub mod manifest;
pub mod oci_layout;
pub mod plan;
pub mod reference;
pub mod store;
mod tarball;

pub use config::{created_from_env, created_from_epoch, ImageSpec, MAX_UNCOMPRESSED_SIZE};
pub use digest::{Digest, HashingReader, HashingWriter};
pub use docker_archive::write_docker_archive;
pub use error::{Error, Result};
pub use layer::{write_layer, LayerDescriptor, LayerSettings, DEFAULT_GZIP_LEVEL, WRITER_VERSION};
pub use manifest::{read_config, read_manifest, write_image, BuiltImage};
pub use oci_layout::write_oci_layout;
pub use plan::{EntryKind, LayerPlan};
pub use reference::Reference;
pub use store::Store;
