//! The registry client's errors: each names the registry, the repository or blob, and the fix.
//! Credentials never appear in them.

/// What can go wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry could not be reached.
    #[error("cannot reach registry {registry}: {reason}; check the name, the network, and --insecure for a plain-HTTP registry on loopback")]
    Unreachable {
        /// The registry host.
        registry: String,
        /// Why.
        reason: String,
    },
    /// Plain HTTP was asked for a registry that is not on this machine.
    #[error("--insecure (plain HTTP) is only allowed for registries on loopback, not {0}")]
    InsecureNotLoopback(String),
    /// A bearer challenge names a token server that would get credentials in cleartext.
    #[error("registry {registry} sends its token requests to {realm}, which is not HTTPS: lamina sends no credentials there (plain HTTP is only for a token server on loopback with --insecure)")]
    InsecureRealm {
        /// The registry host.
        registry: String,
        /// The realm URL its challenge named.
        realm: String,
    },
    /// The registry refused our credentials, or asked for some and none were given.
    #[error("registry {registry} refused access to {repository} ({status}): log in (docker login, or --username with --password-stdin)")]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The HTTP status.
        status: u16,
    },
    /// The registry refused the credentials lamina was given.
    #[error("registry {registry} refused the credentials of `{username}` for {repository} ({status}): check the password or token (an ECR password lasts 12 hours), and that this user may pull and push {repository}")]
    CredentialsRefused {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The HTTP status.
        status: u16,
        /// The user name the credentials carry (never the password).
        username: String,
    },
    /// The registry answered something the protocol does not allow at this step.
    #[error("registry {registry} answered {status} to {what}: {body}")]
    Protocol {
        /// The registry host.
        registry: String,
        /// What lamina asked.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body the registry sent.
        body: String,
    },
    /// The repository does not exist, and this registry does not create repositories on
    /// push (ECR answers `NAME_UNKNOWN`).
    #[error("repository `{repository}` does not exist in registry {registry}: create it first (for ECR: `aws ecr create-repository --repository-name {repository}`)")]
    RepositoryMissing {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
    },
    /// A blob could not be uploaded, after every retry.
    #[error("blob {digest} could not be uploaded to {registry}/{repository} after {attempts} attempts ({reason}); no manifest was published")]
    BlobFailed {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The blob.
        digest: String,
        /// How many times it was tried.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// The image in the store is incomplete or unreadable.
    #[error(transparent)]
    Image(#[from] lamina_image::Error),
    /// Docker's configuration cannot be used.
    #[error("cannot use the Docker credentials in {}: {reason}", path.display())]
    Config {
        /// The `config.json`.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// ECR asked for credentials and the AWS credential chain has none.
    #[error("registry {0} is Amazon ECR and no AWS credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), AWS_PROFILE, or AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE (CI's OIDC); or log in with `aws ecr get-login-password | lamina push … --username AWS --password-stdin`")]
    EcrNoCredentials(String),

    /// The AWS credential chain or ECR's token service failed.
    #[error("cannot get an ECR password: {0}")]
    AwsCredentials(String),

    /// The reference cannot be pushed to (a digest reference has no tag to set).
    #[error("cannot push to `{0}`: give a tag (name:tag), not a digest")]
    NoTag(String),
}

/// Result with [`RegistryError`].
pub type Result<T> = std::result::Result<T, RegistryError>;
