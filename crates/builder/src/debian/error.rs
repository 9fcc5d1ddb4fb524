//! Errors raised while resolving, locking, fetching and unpacking Debian base recipes.
//!
//! Every message names the object that failed and, where there is one, the fix.

use std::path::PathBuf;

/// What went wrong while turning a recipe in `base-images/` into a root filesystem.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory operation failed.
    #[error("failed to {action} `{}`: {source}", path.display())]
    Io {
        /// What was being done, e.g. "create directory".
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// `recipe.toml` is not valid TOML or does not match the recipe schema.
    #[error("recipe {origin} is invalid: {source}")]
    RecipeSyntax {
        /// Where the text came from (a path or "<embedded>").
        origin: String,
        /// The TOML error, with line and column.
        source: Box<toml::de::Error>,
    },
    /// The recipe parses but says something impossible (empty package list, unsafe path…).
    #[error("recipe `{recipe}` is invalid: {reason}")]
    RecipeInvalid {
        /// The recipe's name.
        recipe: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// `lamina.lock` is not valid TOML or does not match the lock schema.
    #[error("lock file {origin} is invalid: {source}; regenerate it with `lamina base lock NAME`")]
    LockSyntax {
        /// Where the text came from.
        origin: String,
        /// The TOML error, with line and column.
        source: Box<toml::de::Error>,
    },
    /// The lock could not be written as TOML (should not happen).
    #[error("failed to serialise the lock for `{recipe}`: {source}")]
    LockSerialize {
        /// The recipe's name.
        recipe: String,
        /// The serialiser's error.
        source: toml::ser::Error,
    },
    /// The lock was generated from a different package selection than the recipe now asks for.
    #[error(
        "base-images/{recipe}/lamina.lock was generated from a different recipe \
         (packages, exclude, mirror or suite changed); refresh it with `lamina base lock {recipe}`"
    )]
    StaleLock {
        /// The recipe's name.
        recipe: String,
    },
    /// The lock has no pins for the requested architecture.
    #[error(
        "base-images/{recipe}/lamina.lock has no packages for architecture `{arch}`; add it to \
         `architectures` in recipe.toml and run `lamina base lock {recipe}`"
    )]
    ArchNotLocked {
        /// The recipe's name.
        recipe: String,
        /// The architecture asked for.
        arch: String,
    },
    /// The HTTP request could not be made or its body could not be read.
    #[error("failed to download {url}: {source}")]
    Http {
        /// The URL.
        url: String,
        /// The transport error.
        source: reqwest::Error,
    },
    /// The mirror answered with an unexpected status.
    #[error("{url} answered HTTP {status}; check the recipe's `mirror` and `suite`")]
    HttpStatus {
        /// The URL.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The InRelease file does not list the index we need.
    #[error(
        "{url} does not list `{index}` in its SHA256 section; check the recipe's `suite`, \
         `components` and `architectures`"
    )]
    IndexNotInRelease {
        /// The InRelease URL.
        url: String,
        /// The index path relative to the suite, e.g. `main/binary-amd64/Packages.xz`.
        index: String,
    },
    /// A downloaded file does not match the hash or size it was announced with.
    #[error(
        "{url} does not match its expected checksum (expected sha256 {expected} and {expected_size} \
         bytes, got sha256 {actual} and {actual_size} bytes); the mirror may be mid-sync, retry later"
    )]
    Checksum {
        /// The URL.
        url: String,
        /// The expected sha256 (hex).
        expected: String,
        /// The sha256 of what arrived.
        actual: String,
        /// The expected size in bytes.
        expected_size: u64,
        /// The size of what arrived.
        actual_size: u64,
    },
    /// A `Packages` index could not be parsed.
    #[error("package index {origin} is malformed: {reason}")]
    IndexSyntax {
        /// Where the index came from.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// A package the recipe lists is not in the suite.
    #[error(
        "package `{package}` listed in base-images/{recipe}/recipe.toml is not in {suite}/{arch} \
         (neither a package nor provided by one); fix the name in `packages`"
    )]
    UnknownPackage {
        /// The recipe's name.
        recipe: String,
        /// The package name.
        package: String,
        /// The suite searched.
        suite: String,
        /// The architecture searched.
        arch: String,
    },
    /// A dependency has no alternative that exists in the suite and is not excluded.
    #[error(
        "dependency `{dependency}` of package `{package}` cannot be satisfied in {suite}/{arch} \
         (recipe `{recipe}`); add one of its alternatives to `packages` or to `exclude`"
    )]
    Unsatisfiable {
        /// The recipe's name.
        recipe: String,
        /// The package that declares the dependency.
        package: String,
        /// The dependency as written in the index.
        dependency: String,
        /// The suite searched.
        suite: String,
        /// The architecture searched.
        arch: String,
    },
    /// A pinned `.deb` is gone from the mirror (Debian removes superseded versions).
    #[error(
        "package `{package}` pinned in base-images/{recipe}/lamina.lock is no longer on the mirror \
         ({status}); refresh the lock with `lamina base lock {recipe}`"
    )]
    PinnedGone {
        /// The recipe's name.
        recipe: String,
        /// The package name.
        package: String,
        /// The HTTP status (404 or 410).
        status: u16,
    },
    /// A `.deb` is not a well-formed Debian binary package.
    #[error("{} is not a valid .deb: {reason}", deb.display())]
    BadDeb {
        /// The .deb file.
        deb: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A `.deb` entry would land outside the root filesystem.
    #[error("{} contains entry `{entry}` that {reason}; refusing to unpack it", deb.display())]
    UnsafeEntry {
        /// The .deb file.
        deb: PathBuf,
        /// The entry path as written in the archive.
        entry: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A post-step could not be applied.
    #[error("post-step `{step}` of recipe `{recipe}` failed: {reason}")]
    PostStep {
        /// The recipe's name.
        recipe: String,
        /// The step, e.g. `ca-bundle`.
        step: String,
        /// Why it failed and how to fix it.
        reason: String,
    },
}

/// Result with this module's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Builds a closure that wraps an `io::Error` with the action and path.
pub(crate) fn io_err(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}
