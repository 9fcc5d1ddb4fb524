//! Platform log lines in the cloud's format and order (§6): `INIT_START`, `START`, `END`,
//! `REPORT`, and `INIT_REPORT` when an init fails.
//!
//! Fields are TAB-separated and `REPORT` ends with a trailing TAB (docs `*-logging.md`; AWS
//! emulator `printEndReports`). `Init Duration` comes **after** `Max Memory Used` and only on
//! an environment's first invoke — the AWS emulator prints it first (RIE #106); we follow the
//! cloud.

/// `START RequestId: <id> Version: $LATEST`
pub fn start_line(request_id: &str, version: &str) -> String {
    format!("START RequestId: {request_id} Version: {version}")
}

/// `END RequestId: <id>`
pub fn end_line(request_id: &str) -> String {
    format!("END RequestId: {request_id}")
}

/// How an invoke ended, for the `Status:` field of `REPORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStatus {
    /// The runtime posted a response or a handled error: no `Status` field.
    Ok,
    /// The runtime crashed or the platform failed the invoke.
    Error,
    /// The invoke timed out.
    Timeout,
}

/// The figures of one `REPORT` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Request id.
    pub request_id: String,
    /// Handler time in milliseconds.
    pub duration_ms: f64,
    /// Configured memory in MB.
    pub memory_size_mb: u64,
    /// Measured peak memory in MB (never an echo of the memory size, §6).
    pub max_memory_used_mb: u64,
    /// Init time in milliseconds, on the first invoke of an environment only.
    pub init_duration_ms: Option<f64>,
    /// How the invoke ended.
    pub status: ReportStatus,
}

impl Report {
    /// The `REPORT` line, with its trailing TAB.
    pub fn line(&self) -> String {
        // Billed duration: ceil(Duration), 1 ms granularity since Dec 2020 (§6).
        let billed = self.duration_ms.ceil().max(1.0) as u64;
        let mut s = format!(
            "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
            self.request_id, self.duration_ms, self.memory_size_mb, self.max_memory_used_mb
        );
        if let Some(init) = self.init_duration_ms {
            s.push_str(&format!("Init Duration: {init:.2} ms\t"));
        }
        match self.status {
            ReportStatus::Ok => {}
            ReportStatus::Error => s.push_str("Status: error\t"),
            ReportStatus::Timeout => s.push_str("Status: timeout\t"),
        }
        s
    }
}

/// `INIT_START Runtime Version: <v>\tRuntime Version ARN: <arn>`, once per environment before
/// its first `START` (§6; the content for container images is [unconfirmed] there: lamina
/// names the image's runtime and lamina's version, and derives the ARN's id from `seed`, the
/// image, so it changes when the image does — as a runtime version ARN does).
pub fn init_start_line(runtime: Option<&str>, region: &str, seed: &str) -> String {
    let version = match runtime {
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
    format!(
        "INIT_START Runtime Version: {version}\tRuntime Version ARN: arn:aws:lambda:{region}::runtime:{}",
        stable_hex(seed)
    )
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

/// Which phase an init ran in: the environment's own init, or the suppressed re-init the
/// platform runs inside the first invoke after a failed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitPhase {
    /// The init phase (10 s limit).
    Init,
    /// Re-run inside an invoke (the function's timeout).
    Invoke,
}

/// `INIT_REPORT Init Duration: 1236.04 ms\tPhase: init|invoke\tStatus: timeout|error`, for an
/// init that failed (§6, the lifecycle page; the exact field set is [unconfirmed]).
pub fn init_report_line(duration_ms: f64, phase: InitPhase, status: ReportStatus) -> String {
    let phase = match phase {
        InitPhase::Init => "init",
        InitPhase::Invoke => "invoke",
    };
    let status = match status {
        ReportStatus::Timeout => "timeout",
        ReportStatus::Ok | ReportStatus::Error => "error",
    };
    format!("INIT_REPORT Init Duration: {duration_ms:.2} ms\tPhase: {phase}\tStatus: {status}")
}

/// Set (to `1`) in an environment whose emulator reads output marks: lamina's runtime
/// adapter then writes [`output_mark`] to stdout and to stderr after each invoke's output,
/// before the response, so the emulator knows the invoke's output is complete instead of
/// waiting for the output to fall quiet. Other runtime clients ignore it.
pub const OUTPUT_MARKS_ENV: &str = "_LAMINA_OUTPUT_MARKS";

/// What starts an output mark (two ASCII separator controls, which text output does not hold).
pub const OUTPUT_MARK_PREFIX: &[u8] = b"\x1e\x1flamina-end ";

/// The mark written after the output of invoke `request_id`, a line of its own.
pub fn output_mark(request_id: &str) -> String {
    format!("\x1e\x1flamina-end {request_id}\n")
}

/// Sent by lamina-ric with `/response` and `/error` when it carries the worker's output
/// itself: which streams' marks for this invoke reach the emulator (`stdout, stderr`,
/// `stdout`, `stderr` or `none`). A stream that carried nothing since its last mark has its
/// mark left out, so a quiet invoke costs the container's log pipeline nothing.
pub const OUTPUT_MARKS_HEADER: &str = "Lamina-Output-Marks";

/// Which of (stdout, stderr) carry a mark, as [`OUTPUT_MARKS_HEADER`] says; `None` for a
/// value that is not one of its four.
pub fn parse_marked_streams(value: &str) -> Option<(bool, bool)> {
    match value.trim() {
        "stdout, stderr" => Some((true, true)),
        "stdout" => Some((true, false)),
        "stderr" => Some((false, true)),
        "none" => Some((false, false)),
        _ => None,
    }
}

/// The [`OUTPUT_MARKS_HEADER`] value for marks on (stdout, stderr).
pub fn marked_streams_value(stdout: bool, stderr: bool) -> &'static str {
    match (stdout, stderr) {
        (true, true) => "stdout, stderr",
        (true, false) => "stdout",
        (false, true) => "stderr",
        (false, false) => "none",
    }
}

/// The historical timeout line printed after `REPORT`:
/// `<ISO8601 ts> <id> Task timed out after 3.00 seconds` (§6).
pub fn timeout_line(timestamp_iso: &str, request_id: &str, timeout_ms: u64) -> String {
    format!(
        "{timestamp_iso} {request_id} Task timed out after {:.2} seconds",
        timeout_ms as f64 / 1000.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_streams_read_back_what_was_written() {
        for (o, e) in [(true, true), (true, false), (false, true), (false, false)] {
            assert_eq!(
                parse_marked_streams(marked_streams_value(o, e)),
                Some((o, e))
            );
        }
        assert_eq!(parse_marked_streams("both"), None);
    }

    #[test]
    fn report_matches_reference_layout() {
        let r = Report {
            request_id: "id".into(),
            duration_ms: 15.74,
            memory_size_mb: 128,
            max_memory_used_mb: 56,
            init_duration_ms: Some(130.49),
            status: ReportStatus::Ok,
        };
        assert_eq!(
            r.line(),
            "REPORT RequestId: id\tDuration: 15.74 ms\tBilled Duration: 16 ms\tMemory Size: 128 MB\tMax Memory Used: 56 MB\tInit Duration: 130.49 ms\t"
        );
        let warm = Report {
            init_duration_ms: None,
            status: ReportStatus::Timeout,
            ..r
        };
        assert!(warm
            .line()
            .ends_with("Max Memory Used: 56 MB\tStatus: timeout\t"));
        assert_eq!(
            start_line("id", "$LATEST"),
            "START RequestId: id Version: $LATEST"
        );
        assert_eq!(end_line("id"), "END RequestId: id");
    }

    #[test]
    fn init_lines_match_the_reference_layout() {
        let line = init_start_line(Some("python3.13"), "us-east-1", "calc:latest");
        let (version, arn) = line
            .strip_prefix("INIT_START Runtime Version: ")
            .and_then(|l| l.split_once("\tRuntime Version ARN: "))
            .expect(&line);
        assert!(version.starts_with("python:3.13."), "{line}");
        let id = arn
            .strip_prefix("arn:aws:lambda:us-east-1::runtime:")
            .expect(&line);
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            line,
            init_start_line(Some("python3.13"), "us-east-1", "calc:latest")
        );
        assert_ne!(
            line,
            init_start_line(Some("python3.13"), "us-east-1", "other")
        );
        assert!(init_start_line(Some("provided"), "r", "s").contains("Version: provided:lamina-"));
        assert_eq!(
            init_report_line(1236.04, InitPhase::Init, ReportStatus::Error),
            "INIT_REPORT Init Duration: 1236.04 ms\tPhase: init\tStatus: error"
        );
        assert_eq!(
            init_report_line(3000.0, InitPhase::Invoke, ReportStatus::Timeout),
            "INIT_REPORT Init Duration: 3000.00 ms\tPhase: invoke\tStatus: timeout"
        );
    }
}
