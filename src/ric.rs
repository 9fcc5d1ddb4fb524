//! The static lamina-ric binary that `lamina build` injects, embedded at compile time by
//! `build.rs` (see there for how it is built).

/// The bytes of `lamina-ric` for this lamina's target architecture.
pub const BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lamina-ric"));
