//! The builder's errors: each names the bad input and how to fix it.

use std::path::PathBuf;

/// What can stop a build.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The function folder does not exist.
    #[error("function folder `{0}` does not exist; pass the folder that holds your handler (and lamina.toml)")]
    DirMissing(PathBuf),
    /// The function folder is a file.
    #[error("`{0}` is not a folder; pass the folder that holds your handler (and lamina.toml)")]
    NotADir(PathBuf),
    /// The handler string is not `module.function`.
    #[error("malformed handler `{handler}`: {why}")]
    MalformedHandler {
        /// The handler as given.
        handler: String,
        /// What is wrong with it.
        why: String,
    },
    /// The handler's module file is not in the folder.
    #[error("handler `{handler}` needs {expected} (or a package of that name) in {dir}, but there is none; check the handler string or add the file")]
    HandlerFileMissing {
        /// The handler as given.
        handler: String,
        /// The file that was looked for.
        expected: PathBuf,
        /// The function folder.
        dir: PathBuf,
    },
    /// The runtime client to inject is not built for the image's architecture.
    #[error("this lamina carries lamina-ric for {have}, so it cannot build a linux/{want} image: build lamina for {want}, or set LAMINA_RIC_BINARY to a static {want} lamina-ric when building lamina")]
    ClientArchMismatch {
        /// Architecture of the embedded client.
        have: String,
        /// Architecture asked for.
        want: String,
    },
    /// An OS-only function has nothing to run.
    #[error("runtime `provided` needs an executable `bootstrap` in {dir} (a custom runtime) or a handler naming an executable file in it (run per event: event on stdin, response on stdout); handler `{handler}` is neither — check the name and `chmod +x` it")]
    NothingToRun {
        /// The handler as given.
        handler: String,
        /// The function folder.
        dir: PathBuf,
    },
    /// The requirements file is not there.
    #[error("requirements file `{0}` does not exist: create it (one package per line, as pip reads it) or remove `requirements` from lamina.toml")]
    RequirementsMissing(PathBuf),
    /// `--deps-dir` is not a folder.
    #[error("dependencies folder `{0}` does not exist or is not a folder: pass the folder your packages are installed in (`pip install --target DIR`)")]
    DepsDirMissing(PathBuf),
    /// Dependencies need a container and there is no container engine.
    #[error("installing dependencies runs the installer in a container of the base, and no Docker daemon is available: start Docker, or install them yourself and pass --deps-dir")]
    NoContainerEngine,
    /// The container engine could not run the installer.
    #[error("cannot run the installer's container: {0}")]
    ContainerEngine(String),
    /// The installer exited non-zero.
    #[error("{installer} could not install {requirements} (exit code {code}); its output ends with:\n{output}")]
    InstallerFailed {
        /// `pip` or `uv`.
        installer: &'static str,
        /// The requirements file.
        requirements: PathBuf,
        /// The installer's exit code.
        code: i64,
        /// The end of its output.
        output: String,
    },
    /// An installer could not be downloaded from PyPI.
    #[error("cannot download {url}: {reason}; check that PyPI is reachable (HTTPS_PROXY, SSL_CERT_FILE)")]
    ToolDownload {
        /// What was fetched.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// A ZIP given to the build is not there.
    #[error("ZIP `{0}` does not exist: check the path of --zip / --layer (or `zip` / `layers` in lamina.toml)")]
    ZipMissing(PathBuf),
    /// A ZIP cannot be read.
    #[error("`{zip}` is not a ZIP lamina can read ({reason}); make it again with `zip -r` or your packaging tool")]
    ZipUnreadable {
        /// The ZIP.
        zip: PathBuf,
        /// Why.
        reason: String,
    },
    /// An entry of a ZIP is refused.
    #[error("entry `{entry}` of {zip} {why}; remove it from the package")]
    ZipEntry {
        /// The ZIP.
        zip: PathBuf,
        /// The entry's name as stored.
        entry: String,
        /// What is wrong with it.
        why: String,
    },
    /// Reading a file of the function failed.
    /// A `--base` that cannot be used.
    #[error("base `{base}` cannot be used: {why}")]
    BadBase {
        /// The base as given.
        base: String,
        /// Why, and what to do.
        why: String,
    },

    /// `--ric base` on a base without an entrypoint of its own.
    #[error("--ric base needs a base with an entrypoint (a runtime client) of its own, and `{base}` has none; use --ric lamina")]
    NoBaseEntrypoint {
        /// The base as given.
        base: String,
    },

    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Writing layers or the image failed.
    #[error(transparent)]
    Image(#[from] lamina_image::Error),
    /// Assembling the base from Debian packages failed.
    #[error(transparent)]
    Base(#[from] crate::debian::Error),
}

/// Result with [`BuildError`].
pub type Result<T> = std::result::Result<T, BuildError>;
