//! lamina's client for OCI distribution registries (ECR, any `/v2` registry).
//!
//! - [`client`]: one registry endpoint, its auth (anonymous, Basic, bearer tokens from a
//!   `WWW-Authenticate` challenge) and requests that retry with backoff;
//! - [`ecr`], [`aws`], [`sigv4`]: ECR's password from the AWS credential chain;
//! - [`cache`]: the layer cache shared through a registry (`--cache-to`, `--cache-from`);
//! - [`known`]: where blobs live, for cross-repository mounts;
//! - [`transport`]: what talking to an untrusted registry is allowed (HTTPS for secrets,
//!   timeouts, capped bodies);
//! - [`pull`]: an image into the store, blobs verified by digest while they stream;
//! - [`push`]: a stored image to a reference — HEAD-skip of blobs the registry has, bounded
//!   concurrent uploads streamed from the store (a monolithic `PUT` for a small blob, which
//!   ECR, GHCR and distribution all take; a `PATCH` resumed after a cut where the registry
//!   kept what it got for a big one), and the manifest `PUT` only after every blob is
//!   confirmed, so a manifest with missing blobs is never published.
//!
//! Written on reqwest rather than a registry crate: the well-known ones hold whole blobs in
//! memory or demand 202 where ECR answers 201 (images-and-registries.md §8, §3.3).
#![warn(missing_docs, rust_2018_idioms)]

pub mod aws;
pub mod cache;
pub mod client;
pub mod credentials;
pub mod ecr;
pub mod error;
pub mod known;
pub mod pull;
pub mod push;
pub mod sigv4;
pub mod transport;

pub use client::Client;
pub use credentials::{Credentials, IDENTITY_TOKEN_USER};
pub use error::{RegistryError, Result};
pub use pull::{pull, PullReport};
pub use push::{push, Progress, PushReport};
