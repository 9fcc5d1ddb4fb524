//! Names of the environment variables the platform sets (§9).

/// A wrapper script the managed runtimes start with their own command as its arguments
/// (docs "Modifying the runtime environment", wrapper scripts): it sets something up (an
/// internal extension, an agent) and execs them.
pub const EXEC_WRAPPER: &str = "AWS_LAMBDA_EXEC_WRAPPER";
/// `host:port` of the Runtime API, no scheme or path.
pub const RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";
/// Function name.
pub const FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// Function version (`$LATEST`).
pub const FUNCTION_VERSION: &str = "AWS_LAMBDA_FUNCTION_VERSION";
/// Memory size in MB; the context exposes it as a string.
pub const FUNCTION_MEMORY_SIZE: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";
/// CloudWatch log group.
pub const LOG_GROUP_NAME: &str = "AWS_LAMBDA_LOG_GROUP_NAME";
/// CloudWatch log stream.
pub const LOG_STREAM_NAME: &str = "AWS_LAMBDA_LOG_STREAM_NAME";
/// `on-demand`, `provisioned-concurrency`, `snap-start` or `lambda-managed-instances`.
pub const INITIALIZATION_TYPE: &str = "AWS_LAMBDA_INITIALIZATION_TYPE";
/// `AWS_LAMBDA_INITIALIZATION_TYPE` of a SnapStart environment: the runtime runs its
/// before-snapshot hooks and calls `/restore/next` (runtime-api.md §1.10).
pub const SNAP_START_INIT: &str = "snap-start";
/// `AWS_LAMBDA_INITIALIZATION_TYPE` of a Managed-Instances environment (RIE-LMI
/// `interop/model.go`, runtime-api.md §1.9).
pub const MANAGED_INSTANCES_INIT: &str = "lambda-managed-instances";
/// Invokes the environment takes at once; set only under Lambda Managed Instances, in the
/// runtime's environment only (runtime-api.md §1.9: any value means multi-concurrent).
pub const MAX_CONCURRENCY: &str = "AWS_LAMBDA_MAX_CONCURRENCY";
/// Region.
pub const REGION: &str = "AWS_REGION";
/// Region, again (current docs set both).
pub const DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
/// The handler string; for images the entrypoint sets it from CMD\[0\].
pub const HANDLER: &str = "_HANDLER";
/// Per-invoke trace id, set by the runtime client.
pub const X_AMZN_TRACE_ID: &str = "_X_AMZN_TRACE_ID";
/// `/var/task`.
pub const TASK_ROOT: &str = "LAMBDA_TASK_ROOT";
/// `/var/runtime`.
pub const RUNTIME_DIR: &str = "LAMBDA_RUNTIME_DIR";
/// Timeout in seconds, read by emulators (not set in the cloud).
pub const FUNCTION_TIMEOUT: &str = "AWS_LAMBDA_FUNCTION_TIMEOUT";
/// `Text` or `JSON`.
pub const LOG_FORMAT: &str = "AWS_LAMBDA_LOG_FORMAT";
/// `TRACE` … `FATAL`.
pub const LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";
/// What the runtime reports itself as (`AWS_Lambda_python3.13`): the managed runtime's
/// bootstrap sets it for the handler's process (language-runtimes reference; AWS's Python
/// base images do so in `/var/runtime/bootstrap`, aws-lambda-base-images#15).
pub const EXECUTION_ENV: &str = "AWS_EXECUTION_ENV";
/// The `AWS_EXECUTION_ENV` lamina-ric gives a managed runtime's worker, written into the
/// image by `lamina build` (the platform's own value for an image is `AWS_Lambda_Image`).
pub const LAMINA_EXECUTION_ENV: &str = "LAMINA_EXECUTION_ENV";
