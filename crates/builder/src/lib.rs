//! lamina's image builder: from a function folder to an image in lamina's store.
//!
//! - [`debian`] assembles base runtimes from pinned Debian packages, with no daemon;
//! - [`deps`] installs `requirements.txt` in a container of the base, into a layer of its own;
//! - [`zips`] unpacks Lambda deployment and layer ZIPs, refusing entries that escape;
//! - [`pipeline`] plans the layers (base, runtime client, code), writes them with
//!   `lamina-image`'s deterministic writer and produces the config and manifest.
//!
//! The builder does not know the emulator or Docker.
#![warn(rust_2018_idioms)]

pub mod check;
pub mod debian;
pub mod deps;
pub mod error;
pub mod pipeline;
pub mod scratch;
pub mod zips;
