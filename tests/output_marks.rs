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
