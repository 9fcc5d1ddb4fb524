//! Platform log lines in the cloud's format and order (§6): `START`, `END`, `REPORT`.
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
}
