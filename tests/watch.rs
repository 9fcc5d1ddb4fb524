//! `lamina rie --watch`: an edit to the handler is what the next invoke runs, only the code
//! layer changes, and a syntax error keeps the last good version serving.

mod common;

use std::time::{Duration, Instant};

use common::*;

const DIVIDE: &[u8] = br#"{"queryStringParameters":{"num1":"6","num2":"3","operator":"divide"}}"#;

/// Invoke until the answer contains `needle`, for at most `within`.
fn answer_with(rie: &Rie, needle: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let a = post(rie.port, INVOKE, &[], DIVIDE).text();
        if a.contains(needle) {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the answer {a}\nstderr:\n{}",
            rie.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_edit_is_served_at_once_and_a_broken_one_keeps_the_last_good_version() {
    require_docker();
    let dir = tempfile::tempdir().expect("temp dir");
    let func = dir.path().join("calc");
    copy_tree(&root().join("examples/calculator"), &func);
    let toml = func.join("lamina.toml");
    let text = std::fs::read_to_string(&toml).expect("lamina.toml");
    std::fs::write(
        &toml,
        text.replace("name = \"calculator\"", "name = \"watched-calc\""),
    )
    .expect("rename");
    let rie = Rie::start(&func.to_string_lossy(), &["--watch"]);
    answer_with(&rie, "2.0", Duration::from_secs(10));

    let app = func.join("app.py");
    let code = std::fs::read_to_string(&app).expect("app.py");
    let edited = code.replace(
        r#"{"result": result}"#,
        r#"{"result": result, "edited": True}"#,
    );
    assert_ne!(
        code, edited,
        "the example's result line moved; update this test"
    );
    std::fs::write(&app, &edited).expect("edit");
    answer_with(&rie, "edited", Duration::from_secs(30));
    let log = rie.stderr();
    assert!(
        log.contains("watch: watched-calc now runs the new code"),
        "{log}"
    );
    assert!(
        log.contains("changed layers: code)"),
        "only the code layer changes: {log}"
    );

    // A syntax error: the new version's init fails, the old one keeps answering.
    std::fs::write(&app, format!("{edited}\ndef broken(:\n")).expect("break");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !rie.stderr().contains("keeps serving") {
        assert!(Instant::now() < deadline, "no refusal: {}", rie.stderr());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        rie.stderr().contains("Runtime.UserCodeSyntaxError"),
        "{}",
        rie.stderr()
    );
    let a = post(rie.port, INVOKE, &[], DIVIDE);
    assert_eq!(a.status, 200);
    assert!(a.text().contains("edited"), "{}", a.text());
    assert!(a.header("X-Amz-Function-Error").is_none(), "{}", a.text());
}
