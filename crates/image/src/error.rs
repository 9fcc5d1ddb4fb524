//! The crate's one error type and its `Result` alias.
//!
//! Every message names the object involved (a path, a digest, a reference) and, where
//! there is one, the fix, so callers can print it as-is.

use std::io;
use std::path::{Path, PathBuf};

use crate::digest::Digest;

/// Result alias used throughout `lamina-image`.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong while planning, writing, storing or exporting an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem or stream operation failed on a named path.
    #[error("failed to {action} {}: {source}", path.display())]
    Io {
        /// What we were doing, e.g. "read", "create directory".
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },

    /// A string is not a `sha256:<64 lowercase hex>` digest.
    #[error(transparent)]
    InvalidDigest(#[from] crate::digest::DigestError),

    /// A path given to a layer plan is not a clean relative path.
    #[error("invalid layer path {path:?}: {reason}")]
    InvalidPath {
        /// The offending path as given.
        path: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// Two entries of a layer plan claim the same path with different kinds.
    #[error(
        "layer path {path:?} is added twice ({existing} and {new}); remove one of the sources"
    )]
    PathConflict {
        /// The path in the layer.
        path: String,
        /// Kind already in the plan.
        existing: &'static str,
        /// Kind that was being added.
        new: &'static str,
    },

    /// A device node, FIFO or socket was found where only files, dirs and symlinks are allowed.
    #[error("{} is a {kind}, which cannot go into an image layer; remove it or exclude it", path.display())]
    UnsupportedFileType {
        /// Host path of the entry.
        path: PathBuf,
        /// "FIFO", "socket", "character device", ...
        kind: &'static str,
    },

    /// A symlink points outside the tree being added (absolute, or escaping with `..`).
    #[error("symlink {} -> {target:?} {reason}; make it relative and inside the tree, or replace it with the file", path.display())]
    UnsafeSymlink {
        /// Host path of the symlink.
        path: PathBuf,
        /// Its target, verbatim.
        target: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// A host path or symlink target is not valid UTF-8, which layer paths require.
    #[error("{} is not valid UTF-8; rename it", path.display())]
    NonUtf8Path {
        /// The offending host path.
        path: PathBuf,
    },

    /// The store's disk filled up while a layer was being written (the temp file is gone).
    #[error("no space left on the disk of lamina's store at {}: this layer needs about {needed} bytes before compression; free space there or point LAMINA_STORE at a larger disk", store.display())]
    StoreFull {
        /// The store's root.
        store: PathBuf,
        /// The layer's uncompressed size.
        needed: u64,
    },

    /// A source file changed size between planning and writing the layer.
    #[error("{} changed while the layer was being written (planned {expected} bytes); rerun the build", path.display())]
    FileChanged {
        /// Host path of the file.
        path: PathBuf,
        /// Size recorded in the plan.
        expected: u64,
    },

    /// The layers of an image add up to Lambda's uncompressed size limit or more.
    #[error("image is {size} bytes uncompressed, over Lambda's limit of {limit} bytes (10 GiB); make the layers smaller")]
    ImageTooLarge {
        /// Sum of uncompressed layer sizes.
        size: u64,
        /// The limit.
        limit: u64,
    },

    /// An image specification field has a value Lambda cannot run.
    #[error("invalid image spec: {0}")]
    InvalidSpec(String),

    /// An image reference such as `calculator:latest` breaks Docker's naming rules.
    #[error("invalid image reference {name:?}: {reason}")]
    InvalidReference {
        /// The reference as given.
        name: String,
        /// Which rule it breaks.
        reason: String,
    },

    /// A blob the operation needs is not in the local store.
    #[error("blob {digest} is missing from the store at {}; rebuild or re-pull the image", path.display())]
    BlobMissing {
        /// The missing blob.
        digest: Digest,
        /// Where it was expected.
        path: PathBuf,
    },

    /// A stored blob's size differs from the size its descriptor records.
    #[error("blob {digest} is {actual} bytes but its descriptor says {expected}; the store is corrupt, delete the blob and rebuild")]
    SizeMismatch {
        /// The blob.
        digest: Digest,
        /// Size in the descriptor.
        expected: u64,
        /// Size on disk.
        actual: u64,
    },

    /// Content does not hash to the digest that names it.
    #[error("{what} should have digest {expected} but has {actual}; {fix}")]
    DigestMismatch {
        /// What was checked (e.g. "manifest blob").
        what: String,
        /// The digest it was addressed by.
        expected: Digest,
        /// The digest of the bytes actually found.
        actual: Digest,
        /// What to do: depends on whose bytes they are (the store's, or an input's).
        fix: &'static str,
    },

    /// A stored JSON document (manifest, config, cache entry) failed to parse or serialise.
    #[error("invalid JSON in {what}: {source}")]
    Json {
        /// Which document.
        what: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },

    /// The `oci-spec` crate refused to build a manifest or config.
    #[error("failed to build OCI document: {0}")]
    OciSpec(#[from] oci_spec::OciSpecError),

    /// The output path exists, is not empty and is not an OCI image layout.
    #[error("{} exists and is not an OCI image layout; choose another path or remove it", path.display())]
    NotOciLayout {
        /// The output path.
        path: PathBuf,
    },

    /// A stored manifest is not a single-platform OCI image manifest lamina can export.
    #[error("manifest {digest} is not usable: {reason}")]
    UnsupportedManifest {
        /// Digest of the manifest.
        digest: Digest,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    /// Wrap an I/O error with the action and the path it concerns.
    pub(crate) fn io<'a>(
        action: &'static str,
        path: &'a Path,
    ) -> impl FnOnce(io::Error) -> Error + 'a {
        move |source| Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// [`Error::DigestMismatch`]'s fix for a blob of lamina's own store.
pub const FIX_STORE: &str = "lamina's store is corrupt: delete the blob and build again";
/// [`Error::DigestMismatch`]'s fix for bytes read from an input (a layout, an archive, a base).
pub const FIX_INPUT: &str =
    "the input does not hold what its digest names (it is damaged or was edited): export or pull it again";
/// [`Error::DigestMismatch`]'s fix for a layer its image's config does not describe.
pub const FIX_DIFF_ID: &str =
    "the image's config does not describe this layer (the image is damaged): get or build it again";
