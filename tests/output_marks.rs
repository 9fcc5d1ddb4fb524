//! Every line a function prints lands between its invoke's `START` and `END`, with no quiet
//! period: lamina's adapter marks the end of each invoke's output on stdout and stderr, and
//! `lamina rie` takes the marks out; lamina-ric, carrying the worker's output, leaves out the
//! marks of streams that stayed quiet. Checked over sequential invokes whose handlers print
//! to both streams right up to their return (including a line without its newline), and
//! over invokes quiet on one stream, the other or both.

mod common;

use std::time::Duration;

use common::*;

/// Build `handler` as `tag`, serve it, send `events` one after another (each must answer 200
/// without a function error) and return each invoke's log between its START and END, with no
/// output mark left anywhere in the log.
fn framed_logs(tag: &str, handler: &str, events: &[String]) -> Vec<String> {
    require_docker();
    build_handler(tag, handler);
    let rie = Rie::start(tag, &[]);
    let mut ids = Vec::new();
    for event in events {
        let a = post(rie.port, INVOKE, &[], event.as_bytes());
        assert_eq!(a.status, 200, "{}", a.text());
        assert!(a.header("X-Amz-Function-Error").is_none(), "{}", a.text());
        ids.push(a.header("x-amzn-RequestId").unwrap_or_default().to_owned());
    }
    let last = ids.last().expect("at least one event");
    let out = rie.wait_stdout(
        &format!("REPORT RequestId: {last}"),
        Duration::from_secs(10),
    );
    assert!(!out.contains('\u{1e}'), "an output mark reached the log");
    ids.iter()
        .map(|id| {
            let start = out.find(&format!("START RequestId: {id}")).expect("START");
            let end = out.find(&format!("END RequestId: {id}")).expect("END");
            out[start..end].to_owned()
        })
        .collect()
}

const HANDLER: &str = r#"
import os, sys

def handler(event, context):
    assert "_LAMINA_OUTPUT_MARKS" not in os.environ, "the adapter's variable leaked"
    n = event["n"]
    for i in range(20):
        print(f"out {n} {i}")
        sys.stderr.write(f"err {n} {i}\n")
    sys.stdout.write(f"tail {n}")
    return {"n": n}
"#;

#[test]
fn every_printed_line_lands_between_its_start_and_end_and_no_mark_shows() {
    let events: Vec<String> = (0..30).map(|n| format!(r#"{{"n": {n}}}"#)).collect();
    let bodies = framed_logs("lamina-marks-test/printer:test", HANDLER, &events);
    for (n, body) in bodies.iter().enumerate() {
        for i in 0..20 {
            assert!(
                body.contains(&format!("out {n} {i}\n")),
                "out {n} {i} outside its invoke:\n{body}"
            );
            assert!(
                body.contains(&format!("err {n} {i}\n")),
                "err {n} {i} outside its invoke:\n{body}"
            );
        }
        assert!(
            body.contains(&format!("tail {n}\n")),
            "the unfinished line of {n} is not its own line:\n{body}"
        );
    }
}

const MOODS: &str = r#"
import sys

def handler(event, context):
    n, mood = event["n"], event["mood"]
    if mood in ("out", "both"):
        print(f"said {n} out")
    if mood in ("err", "both"):
        sys.stderr.write(f"said {n} err\n")
    return {"n": n}
"#;

/// lamina-ric passes on a stream's mark only when the stream carried output since the last
/// one, and says which marks are coming; quiet invokes then cost Docker's log pipeline
/// nothing. Invokes that print on neither stream, one or both, in turn, still frame every
/// line between their own START and END.
#[test]
fn invokes_quiet_on_one_stream_or_both_still_frame_their_lines() {
    let moods = [
        "quiet", "out", "err", "both", "quiet", "err", "out", "quiet",
    ];
    let mood = |n: usize| moods[n % moods.len()];
    let events: Vec<String> = (0..40)
        .map(|n| format!(r#"{{"n": {n}, "mood": "{}"}}"#, mood(n)))
        .collect();
    let bodies = framed_logs("lamina-marks-test/moods:test", MOODS, &events);
    let all = bodies.concat();
    for (n, body) in bodies.iter().enumerate() {
        for (stream, printed) in [
            ("out", matches!(mood(n), "out" | "both")),
            ("err", matches!(mood(n), "err" | "both")),
        ] {
            let line = format!("said {n} {stream}\n");
            assert_eq!(
                body.contains(&line),
                printed,
                "invoke {n} ({}): {line:?} inside its START..END is {}:\n{body}",
                mood(n),
                body.contains(&line)
            );
            if printed {
                assert_eq!(all.matches(&line).count(), 1, "{line:?} printed once");
            }
        }
    }
}
