//! Output marks: how lamina's runtime adapter tells the emulator that an invoke's output is
//! complete. (The platform's own lines are rendered from platform events: [`crate::platform`].)

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
}
