//! Ids the platform makes up: request ids and X-Ray trace headers.
//!
//! lamina always sends `Lambda-Runtime-Trace-Id`: strict clients crash without it
//! (zio-lambda #130, swift-aws-lambda-runtime PR #246; runtime-api.md §10).

use rand::Rng;
use std::time::{SystemTime, UNIX_EPOCH};

/// A new request id, a random UUID v4 as the cloud uses.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A new, unsampled trace header: `Root=1-<8 hex epoch s>-<24 hex>;Parent=<16 hex>;Sampled=0`.
pub fn new_trace_header() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut rng = rand::rng();
    let unique: u128 = rng.random::<u128>() & ((1u128 << 96) - 1);
    let parent: u64 = rng.random();
    format!(
        "Root=1-{:08x}-{unique:024x};Parent={parent:016x};Sampled=0",
        secs as u32
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn trace_header_shape() {
        let t = super::new_trace_header();
        let parts: Vec<&str> = t.split(';').collect();
        assert_eq!(parts.len(), 3, "{t}");
        let root = parts[0].strip_prefix("Root=1-").unwrap();
        let (epoch, unique) = root.split_once('-').unwrap();
        assert_eq!(epoch.len(), 8);
        assert_eq!(unique.len(), 24);
        assert_eq!(parts[1].strip_prefix("Parent=").unwrap().len(), 16);
        assert_eq!(parts[2], "Sampled=0");
    }
}
