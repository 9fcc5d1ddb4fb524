//! The log's format as the function's logging configuration sets it (runtime-api.md §6.1):
//! the platform's records as text lines or JSON objects, kept by the system log level, and
//! in the JSON format the function's own lines filtered by the application log level, as
//! the platform filters them (a line without a valid `"level"` counts as `INFO`).

use bytes::Bytes;
use lamina_runtime_api::function::{Execution, LogFormat, LogLevel, SystemLogLevel};
use lamina_runtime_api::platform::PlatformRecord;

/// How one environment's log is written.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LogStyle {
    /// JSON format (else text).
    json: bool,
    /// Lowest level of the function's lines kept (JSON format only).
    application: Option<LogLevel>,
    /// Which platform records are kept (JSON format only).
    system: SystemLogLevel,
}

impl LogStyle {
    /// The style a function's execution settings give.
    pub(crate) fn of(x: &Execution) -> Self {
        Self {
            json: x.log_format == LogFormat::Json,
            application: x.application_log_level,
            system: x.system_log_level,
        }
    }

    /// The log's lines for a platform record: its text lines, or its JSON object when the
    /// system level keeps it.
    pub(super) fn platform_lines(&self, record: &PlatformRecord) -> Vec<String> {
        if self.json {
            record.json_line(self.system).into_iter().collect()
        } else {
            record.text()
        }
    }

    /// `lines` (whole lines of the function's output) without those below the application
    /// level; `None` when none is left. Text format keeps everything.
    pub(super) fn filter(&self, lines: Bytes) -> Option<Bytes> {
        let Some(min) = self.application.filter(|_| self.json) else {
            return Some(lines);
        };
        let keep = |line: &[u8]| level_of(line) >= min;
        if split_lines(&lines).all(keep) {
            return Some(lines);
        }
        let kept: Vec<u8> = split_lines(&lines)
            .filter(|l| keep(l))
            .flatten()
            .copied()
            .collect();
        (!kept.is_empty()).then(|| Bytes::from(kept))
    }
}

/// The lines of `bytes`, each with its newline.
pub(super) fn split_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split_inclusive(|&b| b == b'\n')
}

/// The level of one line: its JSON `"level"` when it has a valid one, else `INFO` (§6.1).
/// AWS's Python client writes its unhandled-error record with `"log_level"` instead; in the
/// cloud that record travels in an `ERROR` telemetry frame, so the platform knows its level
/// (language-runtimes.md, telemetry log fd): read from a stdout line, the key says it.
fn level_of(line: &[u8]) -> LogLevel {
    record(line)
        .and_then(|v| {
            let level = v.get("level").or_else(|| v.get("log_level"))?;
            level.as_str().and_then(LogLevel::of_record)
        })
        .unwrap_or(LogLevel::Info)
}

/// The request id a JSON line names (`"requestId"`), which is how the lines of overlapping
/// invokes are told apart (§1.9: "correlate by requestId").
pub(super) fn request_id_of(line: &[u8]) -> Option<String> {
    record(line)?.get("requestId")?.as_str().map(str::to_owned)
}

fn record(line: &[u8]) -> Option<serde_json::Value> {
    let trimmed = line.trim_ascii();
    if trimmed.first() != Some(&b'{') {
        return None;
    }
    serde_json::from_slice(trimmed).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_at(level: &str) -> LogStyle {
        LogStyle::of(
            &Execution::resolve(None, None, None, Some(level.parse().unwrap()), None).unwrap(),
        )
    }

    #[test]
    fn json_lines_below_the_application_level_are_dropped_and_plain_lines_count_as_info() {
        let lines = Bytes::from_static(
            b"{\"level\":\"DEBUG\",\"message\":\"d\"}\nplain print\n{\"level\":\"WARNING\",\"message\":\"w\"}\n{\"level\":\"bogus\"}\n{\"log_level\":\"ERROR\"}\n",
        );
        let kept = json_at("WARN").filter(lines.clone()).unwrap();
        assert_eq!(
            &kept[..],
            b"{\"level\":\"WARNING\",\"message\":\"w\"}\n{\"log_level\":\"ERROR\"}\n"
        );
        let kept = json_at("INFO").filter(lines.clone()).unwrap();
        assert_eq!(
            &kept[..],
            b"plain print\n{\"level\":\"WARNING\",\"message\":\"w\"}\n{\"level\":\"bogus\"}\n{\"log_level\":\"ERROR\"}\n"
        );
        assert!(json_at("FATAL").filter(lines.clone()).is_none());
        let text = LogStyle::of(&Execution::default());
        assert_eq!(text.filter(lines.clone()), Some(lines), "text keeps all");
    }

    #[test]
    fn a_lines_request_id_is_read_from_its_record() {
        assert_eq!(
            request_id_of(b"{\"requestId\":\"abc\",\"level\":\"INFO\"}\n").as_deref(),
            Some("abc")
        );
        assert_eq!(request_id_of(b"START RequestId: abc\n"), None);
    }
}
