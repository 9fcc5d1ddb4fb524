//! Lambda's numeric limits, in one place: payloads (§1.8), init, and the function settings
//! the model in [`crate::function`] enforces. Nothing else in lamina writes these numbers.

/// Largest synchronous invoke request: 6 MiB.
pub const MAX_SYNC_REQUEST: usize = 6_291_456;
/// Largest synchronous response the runtime may post: 6 MiB + 100 (AWS emulator `MaxPayloadSize`).
pub const MAX_SYNC_RESPONSE: usize = 6_291_556;
/// Largest streamed response: 200 MiB (docs "Response streaming"; whether the cloud counts
/// MB or MiB is not documented, lamina takes the larger).
pub const MAX_STREAMED_RESPONSE: u64 = 200 * 1024 * 1024;
/// A streamed response's first bytes go at full speed: 6 MiB (RIE `interop/model.go`
/// `ResponseBandwidthBurstSize`, §1.7)...
pub const STREAM_BURST_BYTES: u64 = 6 * 1024 * 1024;
/// ...and the rest at 2 MiB/s (`ResponseBandwidthRate`).
pub const STREAM_BYTES_PER_SECOND: u64 = 2 * 1024 * 1024;
/// Largest asynchronous (Event) request: 1 MB (current `API_Invoke`).
pub const MAX_ASYNC_REQUEST: usize = 1_048_576;
/// Largest `X-Amz-Client-Context`, in bytes of base64.
pub const MAX_CLIENT_CONTEXT: usize = 3_583;
/// Bytes of log returned by `X-Amz-Log-Type: Tail`.
pub const TAIL_LOG_BYTES: usize = 4_096;
/// Init phase limit, in milliseconds (§2 lifecycle).
pub const INIT_TIMEOUT_MS: u64 = 10_000;

/// Longest function name (`FunctionName`, `CreateFunction` API).
pub const MAX_FUNCTION_NAME: usize = 64;
/// Smallest memory size, in MB (`MemorySize`, `CreateFunction` API).
pub const MIN_MEMORY_MB: u64 = 128;
/// Largest memory size, in MB.
pub const MAX_MEMORY_MB: u64 = 10_240;
/// Memory size when none is configured, in MB.
pub const DEFAULT_MEMORY_MB: u64 = 128;
/// Shortest timeout, in whole seconds (`Timeout`, an integer in the API).
pub const MIN_TIMEOUT_S: u64 = 1;
/// Longest timeout, in whole seconds.
pub const MAX_TIMEOUT_S: u64 = 900;
/// Timeout when none is configured, in seconds.
pub const DEFAULT_TIMEOUT_S: u64 = 3;
/// Smallest `/tmp`, in MB (`EphemeralStorage.Size`).
pub const MIN_EPHEMERAL_STORAGE_MB: u64 = 512;
/// Largest `/tmp`, in MB.
pub const MAX_EPHEMERAL_STORAGE_MB: u64 = 10_240;
/// `/tmp` when none is configured, in MB.
pub const DEFAULT_EPHEMERAL_STORAGE_MB: u64 = 512;
/// Total size of a function's environment variables (keys and values), in bytes.
pub const MAX_ENVIRONMENT_BYTES: usize = 4_096;
/// Most concurrent executions of one function: the default account quota, which is what a
/// function's reserved concurrency can at most be set to.
pub const MAX_CONCURRENCY: usize = 1_000;
/// Invokes one Lambda Managed Instances environment takes at once, at most
/// (`PerExecutionEnvironmentMaxConcurrency`, 1 to 1,600: API reference,
/// `LambdaManagedInstancesCapacityProviderConfig`).
pub const MAX_PER_ENVIRONMENT_CONCURRENCY: usize = 1_600;
/// Memory the AWS emulator (`aws-lambda-rie`) reports when `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`
/// is unset (it is not the cloud's default).
pub const RIE_DEFAULT_MEMORY_MB: u64 = 3_008;
/// Timeout of the AWS emulator when `AWS_LAMBDA_FUNCTION_TIMEOUT` is unset, in seconds.
pub const RIE_DEFAULT_TIMEOUT_S: u64 = 300;
/// File descriptors a function may hold open (Lambda quotas, function configuration).
pub const MAX_OPEN_FILES: u64 = 1_024;
/// Processes and threads a function may run at once (Lambda quotas).
pub const MAX_PROCESSES: u64 = 1_024;

/// Most retries of a failed `Event` invoke, and the default (`MaximumRetryAttempts`).
pub const MAX_RETRY_ATTEMPTS: u32 = 2;
/// Shortest maximum event age, in seconds (`MaximumEventAgeInSeconds`).
pub const MIN_EVENT_AGE_S: u64 = 60;
/// Longest (and default) maximum event age, in seconds: 6 hours.
pub const MAX_EVENT_AGE_S: u64 = 21_600;
/// Lambda's delay before the first retry of a failed `Event` invoke, in seconds (the second
/// waits twice as long).
pub const DEFAULT_RETRY_DELAY_S: u64 = 60;
/// The longest first-retry delay `lamina rie --event-retry-delay` takes, in seconds (a
/// local knob: Lambda's is fixed).
pub const MAX_RETRY_DELAY_S: u64 = 3_600;

/// Memory at which Lambda gives a function the equivalent of one vCPU; CPU is allocated in
/// proportion to memory (docs `configuration-memory.md`: "At 1,769 MB, a function has the
/// equivalent of one vCPU").
pub const MB_PER_VCPU: u64 = 1_769;

/// The CPU Lambda gives a function of `memory_mb`, in billionths of a CPU (Docker's
/// `NanoCpus`).
pub fn cpu_nanos_for_memory(memory_mb: u64) -> u64 {
    memory_mb.saturating_mul(1_000_000_000) / MB_PER_VCPU
}
