//! Every line a function prints lands between its invoke's `START` and `END`, with no quiet
//! period: lamina's adapter marks the end of each invoke's output on stdout and stderr, and
//! `lamina rie` takes the marks out. Checked over sequential invokes whose handlers print to
//! both streams right up to their return, including a line without its newline.

mod common;

use std::time::Duration;

use common::*;

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
    require_docker();
    let tag = "lamina-marks-test/printer:test";
    build_handler(tag, HANDLER);
    let rie = Rie::start(tag, &[]);
    let runs = 30;
    let mut ids = Vec::new();
    for n in 0..runs {
        let a = post(rie.port, INVOKE, &[], format!(r#"{{"n": {n}}}"#).as_bytes());
        assert_eq!(a.status, 200, "{}", a.text());
        assert!(a.header("X-Amz-Function-Error").is_none(), "{}", a.text());
        ids.push(a.header("x-amzn-RequestId").unwrap_or_default().to_owned());
    }
    let out = rie.wait_stdout(
        &format!("REPORT RequestId: {}", ids[runs - 1]),
        Duration::from_secs(10),
    );
    assert!(!out.contains('\u{1e}'), "an output mark reached the log");
    for (n, id) in ids.iter().enumerate() {
        let start = out.find(&format!("START RequestId: {id}")).expect("START");
        let end = out.find(&format!("END RequestId: {id}")).expect("END");
        let body = &out[start..end];
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
    require_docker();
    let tag = "lamina-marks-test/moods:test";
    build_handler(tag, MOODS);
    let rie = Rie::start(tag, &[]);
    let moods = [
        "quiet", "out", "err", "both", "quiet", "err", "out", "quiet",
    ];
    let runs = 40;
    let mut ids = Vec::new();
    for n in 0..runs {
        let mood = moods[n % moods.len()];
        let event = format!(r#"{{"n": {n}, "mood": "{mood}"}}"#);
        let a = post(rie.port, INVOKE, &[], event.as_bytes());
        assert_eq!(a.status, 200, "{}", a.text());
        ids.push(a.header("x-amzn-RequestId").unwrap_or_default().to_owned());
    }
    let out = rie.wait_stdout(
        &format!("REPORT RequestId: {}", ids[runs - 1]),
        Duration::from_secs(10),
    );
    assert!(!out.contains('\u{1e}'), "an output mark reached the log");
    for (n, id) in ids.iter().enumerate() {
        let start = out.find(&format!("START RequestId: {id}")).expect("START");
        let end = out.find(&format!("END RequestId: {id}")).expect("END");
        let body = &out[start..end];
        let mood = moods[n % moods.len()];
        for (stream, printed) in [
            ("out", matches!(mood, "out" | "both")),
            ("err", matches!(mood, "err" | "both")),
        ] {
            let line = format!("said {n} {stream}\n");
            assert_eq!(
                body.contains(&line),
                printed,
                "invoke {n} ({mood}): {line:?} inside its START..END is {}:\n{body}",
                body.contains(&line)
            );
            if printed {
                assert_eq!(out.matches(&line).count(), 1, "{line:?} printed once");
            }
        }
    }
}
