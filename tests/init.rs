//! The platform's init lines (`runtime-api.md` §6): `INIT_START` once per environment before
//! its first `START`; a failed init reported with `INIT_REPORT … Phase: init`, re-run once
//! inside the invoke (`Phase: invoke`), and the invoke's `REPORT` carrying `Status:` — each
//! line's fields compared with the reference's.

mod common;

use std::time::Duration;

use common::*;

/// The reference's example of a platform line starting with `prefix`, split at its TABs.
fn reference_fields(prefix: &str) -> Vec<String> {
    let reference = std::fs::read_to_string(root().join(WIRE_EXCERPTS)).expect(WIRE_EXCERPTS);
    // The example is the occurrence with TAB-separated fields, up to its closing backtick
    // when it is quoted inline.
    let line = reference
        .match_indices(&format!("{prefix} "))
        .map(|(at, _)| {
            let rest = reference[at..].lines().next().unwrap_or_default();
            match reference[..at].ends_with('`') {
                true => rest.split('`').next().unwrap_or_default(),
                false => rest,
            }
        })
        .find(|l| l.contains("\\t"))
        .expect("the line in §6");
    line.split("\\t").map(str::to_owned).collect()
}

/// Check `line` against the reference example: the same fields in the same order, each value
/// one the reference allows (`a\|b` alternatives), numbers where it has numbers.
fn assert_shaped_like_reference(line: &str, prefix: &str) {
    let want = reference_fields(prefix);
    let got: Vec<&str> = line.split('\t').collect();
    assert_eq!(got.len(), want.len(), "{line:?} vs {want:?}");
    for (g, w) in got.iter().zip(&want) {
        let (gk, gv) = g.rsplit_once(": ").unwrap_or((g, ""));
        let (wk, wv) = w.rsplit_once(": ").unwrap_or((w, ""));
        assert_eq!(gk, wk, "field of {line:?}");
        if wv.contains("\\|") {
            assert!(
                wv.split("\\|").any(|alt| alt == gv),
                "{gk}: {gv} not one of {wv}"
            );
        } else if let Some(unit) = wv.strip_suffix(" ms") {
            assert!(unit.parse::<f64>().is_ok());
            let n = gv
                .strip_suffix(" ms")
                .unwrap_or_else(|| panic!("{gk}: {gv} not in ms"));
            assert!(n.parse::<f64>().is_ok() && n.contains('.'), "{gk}: {gv}");
        } else if let Some(arn) = wv.strip_suffix("<hex>") {
            let arn = arn.replace("<region>", "us-east-1");
            let hex = gv
                .strip_prefix(&arn)
                .unwrap_or_else(|| panic!("{gv} not {arn}…"));
            assert!(
                !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()),
                "{gv}"
            );
        }
    }
}

fn platform_lines(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| {
            ["INIT_START", "INIT_REPORT", "START", "END", "REPORT"]
                .iter()
                .any(|p| l.starts_with(&format!("{p} ")))
        })
        .collect()
}

/// The platform lines of an invoke whose init failed twice, checked to come in the cloud's
/// order: the init's report, then the invoke with its re-init's report inside.
fn failed_init_lines(out: &str) -> Vec<&str> {
    let lines = platform_lines(out);
    let kinds: Vec<&str> = lines
        .iter()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        [
            "INIT_START",
            "INIT_REPORT",
            "START",
            "INIT_REPORT",
            "END",
            "REPORT"
        ],
        "{out}"
    );
    lines
}

#[test]
fn init_start_comes_once_per_environment_before_its_first_start() {
    require_docker();
    let tag = "lamina-init-test/calculator:test";
    build_json(&["examples/calculator", "--tag", tag]);
    let rie = Rie::start(tag, &[]);
    for _ in 0..2 {
        assert_eq!(post(rie.port, INVOKE, &[], b"{}").status, 200);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut out = rie.stdout();
    while out.matches("\nREPORT RequestId").count() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        out = rie.stdout();
    }
    let lines = platform_lines(&out);
    assert!(lines[0].starts_with("INIT_START "), "{lines:#?}");
    assert!(lines[1].starts_with("START "), "{lines:#?}");
    assert_eq!(out.matches("INIT_START ").count(), 1, "{out}");
    assert_shaped_like_reference(lines[0], "INIT_START");
    assert!(
        lines[0].contains("Runtime Version: python:3.13."),
        "{}",
        lines[0]
    );
}

#[test]
fn a_failed_init_is_reported_and_re_run_once_inside_the_invoke() {
    require_docker();
    let tag = "lamina-init-test/init-error:test";
    build_json(&["tests/fixtures/init-error", "--tag", tag]);
    let rie = Rie::start(tag, &[]);
    let a = post(rie.port, INVOKE, &[], b"{}");
    assert_eq!(a.status, 200);
    assert_eq!(a.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert!(a.text().contains("init cannot finish"), "{}", a.text());
    let out = rie.wait_stdout("\nREPORT RequestId", Duration::from_secs(10));
    let lines = failed_init_lines(&out);
    assert!(
        lines[1].contains("\tPhase: init\tStatus: error"),
        "{}",
        lines[1]
    );
    assert!(
        lines[3].contains("\tPhase: invoke\tStatus: error"),
        "{}",
        lines[3]
    );
    for l in [lines[1], lines[3]] {
        assert_shaped_like_reference(l, "INIT_REPORT");
    }
    assert!(lines[5].ends_with("Status: error\t"), "{}", lines[5]);
    // Init ran twice, its output before each report.
    assert_eq!(out.matches("init is running").count(), 2, "{out}");
    let second_run = out.rfind("init is running").unwrap_or(0);
    assert!(
        out.find(lines[2]).unwrap_or(usize::MAX) < second_run,
        "{out}"
    );
}

#[test]
fn an_init_past_ten_seconds_times_out_then_its_re_init_takes_the_invokes_timeout() {
    require_docker();
    let tag = "lamina-init-test/init-slow:test";
    build_json(&["tests/fixtures/init-slow", "--tag", tag]);
    let rie = Rie::start(tag, &[]);
    let a = post(rie.port, INVOKE, &[], b"{}");
    assert_eq!(a.header("X-Amz-Function-Error"), Some("Unhandled"));
    assert!(
        a.text().contains("Task timed out after 2.00 seconds"),
        "{}",
        a.text()
    );
    let out = rie.wait_stdout("Task timed out", Duration::from_secs(10));
    let lines = failed_init_lines(&out);
    assert!(
        lines[1]
            .starts_with("INIT_REPORT Init Duration: 10000.00 ms\tPhase: init\tStatus: timeout"),
        "{}",
        lines[1]
    );
    assert!(
        lines[3]
            .starts_with("INIT_REPORT Init Duration: 2000.00 ms\tPhase: invoke\tStatus: timeout"),
        "{}",
        lines[3]
    );
    assert!(lines[5].ends_with("Status: timeout\t"), "{}", lines[5]);
}
