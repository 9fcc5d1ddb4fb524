//! Errors raised while reading the wire contract (bad headers, bad bodies).

/// What went wrong while decoding a Runtime API or Invoke API message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A header the contract requires was not sent.
    #[error("missing required header `{0}`")]
    MissingHeader(&'static str),
    /// A header was sent but its value is not what the contract allows.
    #[error("invalid value for header `{name}`: {reason}")]
    InvalidHeader {
        /// The header's name.
        name: &'static str,
        /// Why the value was refused.
        reason: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
