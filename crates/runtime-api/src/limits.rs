//! Payload limits, in exact bytes (§1.8).

/// Largest synchronous invoke request: 6 MiB.
pub const MAX_SYNC_REQUEST: usize = 6_291_456;
/// Largest synchronous response the runtime may post: 6 MiB + 100 (AWS emulator `MaxPayloadSize`).
pub const MAX_SYNC_RESPONSE: usize = 6_291_556;
/// Largest asynchronous (Event) request: 1 MB (current `API_Invoke`).
pub const MAX_ASYNC_REQUEST: usize = 1_048_576;
/// Largest `X-Amz-Client-Context`, in bytes of base64.
pub const MAX_CLIENT_CONTEXT: usize = 3_583;
/// Bytes of log returned by `X-Amz-Log-Type: Tail`.
pub const TAIL_LOG_BYTES: usize = 4_096;
/// Init phase limit, in milliseconds (§2 lifecycle).
pub const INIT_TIMEOUT_MS: u64 = 10_000;

/// Lambda's rule for a function name: 1 to 64 letters, digits, `-` or `_`.
pub fn is_valid_function_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    #[test]
    fn function_names() {
        assert!(super::is_valid_function_name("calc_v2-x"));
        assert!(!super::is_valid_function_name(""));
        assert!(!super::is_valid_function_name("a b"));
        assert!(!super::is_valid_function_name(&"x".repeat(65)));
    }
}
