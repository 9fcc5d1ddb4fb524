//! The Lambda wire contract, written once.
//!
//! Both sides of lamina's Runtime API — the client (`lamina-ric`) and the emulator
//! (`lamina rie` and the RIC's embedded emulator) — take every path, header name, body
//! shape, limit and platform log line from this crate, so the two cannot drift apart.
//! The facts come from `shared/reference/runtime-api.md` (cited by section as `§n`).
#![warn(missing_docs, rust_2018_idioms)]

pub mod body;
pub mod env;
pub mod error;
pub mod eventstream;
pub mod extensions;
pub mod front;
pub mod function;
pub mod headers;
pub mod init;
pub mod invocation;
pub mod limits;
pub mod logs;
pub mod paths;
pub mod platform;
pub mod telemetry;
pub mod trace;
pub mod worker;

pub use error::{Error, Result};
pub use invocation::Invocation;
