//! Platform events as data (§3.2), and their two renderings: the cloud's text lines (§6:
//! `INIT_START`, `START`, `END`, `REPORT`, `INIT_REPORT` when an init fails) through
//! [`PlatformRecord::text`], and the Telemetry API's records (`{"time","type","record"}`)
//! through serde. One source: what a log reader sees and what a telemetry subscriber gets
//! cannot disagree.
//!
//! Text fields are TAB-separated and `REPORT` ends with a trailing TAB (docs `*-logging.md`;
//! AWS emulator `printEndReports`). `Init Duration` comes **after** `Max Memory Used` and
//! only on an environment's first invoke — the AWS emulator prints it first (RIE #106); we
//! follow the cloud.

use std::time::SystemTime;

use serde::{Serialize, Serializer};

/// How a phase or an invoke ended (§3.2 `Status`); `errorType` goes with `failure`/`error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It worked (a response, or a handled error).
    Success,
    /// The platform failed it.
    Failure,
    /// The runtime crashed or reported an error.
    Error,
    /// It ran out of time.
    Timeout,
}

/// How the environment was initialised (§3.2 `InitType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum InitType {
    /// The default.
    #[serde(rename = "on-demand")]
    OnDemand,
    /// A SnapStart version's environment, restored from a snapshot (§1.10).
    #[serde(rename = "snap-start")]
    SnapStart,
    /// A Lambda Managed Instances environment (RIE-LMI `interop/model.go`; runtime-api.md
    /// §1.9).
    #[serde(rename = "lambda-managed-instances")]
    ManagedInstances,
}

/// Which phase an init ran in: the environment's own init, or the suppressed re-init the
/// platform runs inside the first invoke after a failed one (§3.2 `InitPhase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InitPhase {
    /// The init phase (10 s limit).
    Init,
    /// Re-run inside an invoke (the function's timeout).
    Invoke,
}

impl InitPhase {
    fn as_str(self) -> &'static str {
        match self {
            Self::Init => "init",
            Self::Invoke => "invoke",
        }
    }
}

/// `platform.initStart`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitStart {
    /// Function name.
    pub function_name: String,
    /// Function version.
    pub function_version: String,
    /// How the environment is initialised.
    pub initialization_type: InitType,
    /// Which phase.
    pub phase: InitPhase,
    /// e.g. `python:3.13.lamina-0.1.0`.
    pub runtime_version: String,
    /// `arn:aws:lambda:<region>::runtime:<hex>`.
    pub runtime_version_arn: String,
}

impl InitStart {
    /// The init of `function` running `runtime` (e.g. `python3.13`; `None` for an image with
    /// a runtime of its own). The content for container images is [unconfirmed] (§6): lamina
    /// names the image's runtime and lamina's version, and derives the ARN's id from `seed`,
    /// the image, so it changes when the image does — as a runtime version ARN does.
    pub fn new(
        function_name: &str,
        runtime: Option<&str>,
        region: &str,
        seed: &str,
        phase: InitPhase,
    ) -> Self {
        let runtime_version = match runtime {
            Some(r) => {
                // `python3.13` → `python:3.13`, as the cloud writes managed runtimes.
                let split = r.find(|c: char| c.is_ascii_digit()).unwrap_or(r.len());
                let (family, number) = r.split_at(split);
                if number.is_empty() {
                    format!("{family}:lamina-{}", env!("CARGO_PKG_VERSION"))
                } else {
                    format!("{family}:{number}.lamina-{}", env!("CARGO_PKG_VERSION"))
                }
            }
            None => "container-image".to_owned(),
        };
        Self {
            function_name: function_name.to_owned(),
            function_version: "$LATEST".to_owned(),
            initialization_type: InitType::OnDemand,
            phase,
            runtime_version,
            runtime_version_arn: format!("arn:aws:lambda:{region}::runtime:{}", stable_hex(seed)),
        }
    }
}

/// `platform.initRuntimeDone`: the runtime finished its init (its first `/next`), or failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitRuntimeDone {
    /// How the environment was initialised.
    pub initialization_type: InitType,
    /// Which phase.
    pub phase: InitPhase,
    /// How it ended.
    pub status: Status,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
}

/// `metrics` of `platform.initReport`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitReportMetrics {
    /// How long init took.
    #[serde(serialize_with = "millis")]
    pub duration_ms: f64,
}

/// `platform.initReport`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitReport {
    /// How the environment was initialised.
    pub initialization_type: InitType,
    /// Which phase.
    pub phase: InitPhase,
    /// How it ended.
    pub status: Status,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// Its duration.
    pub metrics: InitReportMetrics,
}

/// `platform.start`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Start {
    /// The invoke.
    pub request_id: String,
    /// The version invoked.
    pub version: String,
    /// The invoke's tenant, for a tenant-isolated function (RIE classic's `tenantId`; not in
    /// the docs' schema, runtime-api.md §3.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

/// `metrics` of `platform.runtimeDone`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeDoneMetrics {
    /// From the event's delivery to the runtime's answer.
    #[serde(serialize_with = "millis")]
    pub duration_ms: f64,
}

/// `platform.runtimeDone`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeDone {
    /// The invoke.
    pub request_id: String,
    /// How the runtime ended it.
    pub status: Status,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// Its duration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<RuntimeDoneMetrics>,
}

/// `metrics` of `platform.report`: the figures of a `REPORT` line.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportMetrics {
    /// Handler time in milliseconds.
    #[serde(serialize_with = "millis")]
    pub duration_ms: f64,
    /// ceil(duration), 1 ms granularity since Dec 2020 (§6).
    pub billed_duration_ms: u64,
    /// Configured memory in MB.
    #[serde(rename = "memorySizeMB")]
    pub memory_size_mb: u64,
    /// Measured peak memory in MB (never an echo of the memory size, §6).
    #[serde(rename = "maxMemoryUsedMB")]
    pub max_memory_used_mb: u64,
    /// Init time in milliseconds, on the first invoke of an environment only.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "millis_some"
    )]
    pub init_duration_ms: Option<f64>,
    /// Restore time in milliseconds, on the first invoke of a restored (SnapStart)
    /// environment only, in place of the init's.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "millis_some"
    )]
    pub restore_duration_ms: Option<f64>,
}

/// `platform.report`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The invoke.
    pub request_id: String,
    /// How it ended.
    pub status: Status,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// Its figures.
    pub metrics: ReportMetrics,
    /// The function's timeout, when the invoke ran out of it: the text log then adds the
    /// historical `Task timed out after …` line (§6). Not a Telemetry API field.
    #[serde(skip)]
    pub timed_out_after_ms: Option<u64>,
}

impl Report {
    /// A report of `duration_ms` (billed as its ceiling) for an invoke of a function with
    /// `memory_size_mb`.
    pub fn new(request_id: &str, duration_ms: f64, memory_size_mb: u64, status: Status) -> Self {
        Self {
            request_id: request_id.to_owned(),
            status,
            error_type: None,
            metrics: ReportMetrics {
                duration_ms,
                billed_duration_ms: duration_ms.ceil().max(1.0) as u64,
                memory_size_mb,
                max_memory_used_mb: 0,
                init_duration_ms: None,
                restore_duration_ms: None,
            },
            timed_out_after_ms: None,
        }
    }

    /// The same report with another duration (and so billed duration).
    pub fn with_duration(mut self, duration_ms: f64) -> Self {
        self.metrics.duration_ms = duration_ms;
        self.metrics.billed_duration_ms = duration_ms.ceil().max(1.0) as u64;
        self
    }

    /// The `REPORT` line, with its trailing TAB.
    fn line(&self) -> String {
        let m = &self.metrics;
        let mut s = format!(
            "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
            self.request_id, m.duration_ms, m.billed_duration_ms, m.memory_size_mb, m.max_memory_used_mb
        );
        if let Some(init) = m.init_duration_ms {
            s.push_str(&format!("Init Duration: {init:.2} ms\t"));
        }
        // A restored environment's first REPORT says how long the restore took (AWS's
        // SnapStart docs; their `Billed Restore Duration` is [unconfirmed] and left out).
        if let Some(restore) = m.restore_duration_ms {
            s.push_str(&format!("Restore Duration: {restore:.2} ms\t"));
        }
        match self.status {
            Status::Success => {}
            Status::Error | Status::Failure => s.push_str("Status: error\t"),
            Status::Timeout => s.push_str("Status: timeout\t"),
        }
        s
    }
}

/// A platform event (§3.2), tagged as the Telemetry API tags it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "record")]
pub enum PlatformEvent {
    /// An environment's init begins.
    #[serde(rename = "platform.initStart")]
    InitStart(InitStart),
    /// The runtime's init ended.
    #[serde(rename = "platform.initRuntimeDone")]
    InitRuntimeDone(InitRuntimeDone),
    /// An environment's init ended.
    #[serde(rename = "platform.initReport")]
    InitReport(InitReport),
    /// An invoke begins.
    #[serde(rename = "platform.start")]
    Start(Start),
    /// The runtime answered (or failed to).
    #[serde(rename = "platform.runtimeDone")]
    RuntimeDone(RuntimeDone),
    /// An invoke's figures.
    #[serde(rename = "platform.report")]
    Report(Report),
    /// An extension registered.
    #[serde(rename = "platform.extension")]
    Extension(ExtensionReady),
    /// An extension subscribed to the Telemetry API.
    #[serde(rename = "platform.telemetrySubscription")]
    TelemetrySubscription(Subscribed),
    /// An extension subscribed to the Logs API (Logs API only, §3.4).
    #[serde(rename = "platform.logsSubscription")]
    LogsSubscription(Subscribed),
    /// A subscriber could not keep up: records were dropped.
    #[serde(rename = "platform.logsDropped")]
    LogsDropped(LogsDropped),
    /// A SnapStart environment's restore begins (§1.10).
    #[serde(rename = "platform.restoreStart")]
    RestoreStart(RestoreStart),
    /// The runtime's after-restore work ended (its first `/next`), or failed.
    #[serde(rename = "platform.restoreRuntimeDone")]
    RestoreRuntimeDone(RestoreDone),
    /// The restore ended.
    #[serde(rename = "platform.restoreReport")]
    RestoreReport(RestoreDone),
}

/// `platform.restoreStart` (§3.2).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreStart {
    /// Function name.
    pub function_name: String,
    /// Function version.
    pub function_version: String,
    /// As in `platform.initStart`.
    pub runtime_version: String,
    /// As in `platform.initStart`.
    pub runtime_version_arn: String,
}

impl From<&InitStart> for RestoreStart {
    fn from(init: &InitStart) -> Self {
        Self {
            function_name: init.function_name.clone(),
            function_version: init.function_version.clone(),
            runtime_version: init.runtime_version.clone(),
            runtime_version_arn: init.runtime_version_arn.clone(),
        }
    }
}

/// `platform.restoreRuntimeDone` and `platform.restoreReport` (§3.2): how the restore
/// ended, and (the report) how long it took.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreDone {
    /// How it ended.
    pub status: Status,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// Its duration (the report's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<InitReportMetrics>,
}

/// `platform.extension`: an extension registered for `events` (§3.2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtensionReady {
    /// Its name.
    pub name: String,
    /// `Ready`.
    pub state: String,
    /// The events it registered for (`INVOKE`, `SHUTDOWN`).
    pub events: Vec<String>,
}

/// `platform.telemetrySubscription` / `platform.logsSubscription` (§3.1, §3.4).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subscribed {
    /// The extension.
    pub name: String,
    /// `Subscribed`.
    pub state: String,
    /// The record types it subscribed to.
    pub types: Vec<String>,
}

/// `platform.logsDropped` (§3.1 delivery rules).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsDropped {
    /// Bytes dropped since the subscriber's last batch.
    pub dropped_bytes: u64,
    /// Records dropped since then.
    pub dropped_records: u64,
    /// Why.
    pub reason: String,
}

impl LogsDropped {
    /// `records` records of `bytes` bytes dropped because the subscriber is too slow.
    pub fn too_slow(records: u64, bytes: u64) -> Self {
        Self {
            dropped_bytes: bytes,
            dropped_records: records,
            reason: "Some logs were dropped because the downstream consumer is slower than the logs production rate".to_owned(),
        }
    }
}

/// A platform event and when the platform generated it: the Telemetry API's envelope
/// (`{"time","type","record"}`), and the source of the text log's lines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlatformRecord {
    /// When it happened (ISO 8601 with milliseconds in the record).
    #[serde(serialize_with = "iso8601")]
    pub time: SystemTime,
    /// What happened.
    #[serde(flatten)]
    pub event: PlatformEvent,
}

fn iso8601<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_millis(*t))
}

/// Milliseconds with at most 3 decimals, as RIE-LMI writes them (`ReportDurationMs`, §3.2
/// "Number format").
fn millis<S: Serializer>(ms: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((ms * 1000.0).round() / 1000.0)
}

fn millis_some<S: Serializer>(ms: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => millis(ms, s),
        None => s.serialize_none(),
    }
}

impl PlatformRecord {
    /// `event`, happening now.
    pub fn now(event: PlatformEvent) -> Self {
        Self {
            time: SystemTime::now(),
            event,
        }
    }

    /// The text log's lines for this event, in order, without newlines (§6). Some events
    /// have none (a successful init's report: its duration is on the first `REPORT`).
    pub fn text(&self) -> Vec<String> {
        match &self.event {
            PlatformEvent::InitStart(e) => vec![format!(
                "INIT_START Runtime Version: {}\tRuntime Version ARN: {}",
                e.runtime_version, e.runtime_version_arn
            )],
            // `INIT_REPORT Init Duration: 1236.04 ms\tPhase: init|invoke\tStatus: timeout|error`,
            // for an init that failed (§6, the lifecycle page; the exact field set is
            // [unconfirmed]).
            PlatformEvent::InitReport(e) => match e.status {
                Status::Success => Vec::new(),
                status => vec![format!(
                    "INIT_REPORT Init Duration: {:.2} ms\tPhase: {}\tStatus: {}",
                    e.metrics.duration_ms,
                    e.phase.as_str(),
                    if status == Status::Timeout {
                        "timeout"
                    } else {
                        "error"
                    }
                )],
            },
            // `RESTORE_START Runtime Version: …\tRuntime Version ARN: …` and `RESTORE_REPORT
            // Restore Duration: 270.73 ms`, as AWS's SnapStart docs show them (the exact field
            // set is [unconfirmed]; the reference's §6 does not list them).
            PlatformEvent::RestoreStart(e) => vec![format!(
                "RESTORE_START Runtime Version: {}\tRuntime Version ARN: {}",
                e.runtime_version, e.runtime_version_arn
            )],
            PlatformEvent::RestoreReport(e) => {
                let ms = e.metrics.as_ref().map_or(0.0, |m| m.duration_ms);
                vec![match e.status {
                    Status::Success => format!("RESTORE_REPORT Restore Duration: {ms:.2} ms"),
                    _ => format!("RESTORE_REPORT Restore Duration: {ms:.2} ms\tStatus: error"),
                }]
            }
            // Telemetry only: the text log has no line for them.
            PlatformEvent::RestoreRuntimeDone(_)
            | PlatformEvent::InitRuntimeDone(_)
            | PlatformEvent::Extension(_)
            | PlatformEvent::TelemetrySubscription(_)
            | PlatformEvent::LogsSubscription(_)
            | PlatformEvent::LogsDropped(_) => Vec::new(),
            PlatformEvent::Start(e) => vec![format!(
                "START RequestId: {} Version: {}",
                e.request_id, e.version
            )],
            PlatformEvent::RuntimeDone(e) => vec![format!("END RequestId: {}", e.request_id)],
            PlatformEvent::Report(e) => {
                let mut lines = vec![e.line()];
                if let (Some(ms), Status::Timeout) = (e.timed_out_after_ms, e.status) {
                    // `<ISO8601 ts> <id> Task timed out after 3.00 seconds` (§6).
                    lines.push(format!(
                        "{} {} Task timed out after {:.2} seconds",
                        humantime::format_rfc3339_millis(self.time),
                        e.request_id,
                        ms as f64 / 1000.0
                    ));
                }
                lines
            }
        }
    }
}

/// Which platform records the JSON log keeps at each `SystemLogLevel` (§6.1): `INFO` keeps
/// what the text log shows (init start, start, report, a failed init's report); `DEBUG`
/// every record; `WARN` only the reports of what failed. The cloud's per-event table is
/// [unconfirmed]; this follows its one documented fact, "INFO emits start and report".
pub fn kept_at(event: &PlatformEvent, level: crate::function::SystemLogLevel) -> bool {
    use crate::function::SystemLogLevel as L;
    let failed = match event {
        PlatformEvent::Report(e) => e.status != Status::Success,
        PlatformEvent::InitReport(e) => e.status != Status::Success,
        PlatformEvent::RestoreReport(e) => e.status != Status::Success,
        _ => false,
    };
    let info = matches!(
        event,
        PlatformEvent::InitStart(_)
            | PlatformEvent::Start(_)
            | PlatformEvent::Report(_)
            | PlatformEvent::RestoreStart(_)
            | PlatformEvent::RestoreReport(_)
    ) || failed;
    match level {
        L::Debug => true,
        L::Info => info,
        L::Warn => failed,
    }
}

impl PlatformRecord {
    /// The JSON log's line for this event (§6.1: one `{"time","type","record"}` object, the
    /// Telemetry API's shape), if `level` keeps it.
    pub fn json_line(&self, level: crate::function::SystemLogLevel) -> Option<String> {
        kept_at(&self.event, level)
            .then(|| serde_json::to_string(self).ok())
            .flatten()
    }
}

/// 64 hex digits from `seed` (FNV-1a, stretched): an id that stays the same for one image.
fn stable_hex(seed: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    (0u8..4)
        .map(|round| {
            for b in seed.bytes().chain([round]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            format!("{h:016x}")
        })
        .collect()
}

pub mod logs_api;

#[cfg(test)]
mod tests;
