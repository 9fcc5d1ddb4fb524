//! Every rule of the function model gives the same verdict and the same message from every
//! entry point that takes it: `lamina build` flags, `lamina.toml`, `lamina rie` flags and the
//! embedded emulator's environment (issue 5: "a rule broken anywhere gets the same message").
//!
//! An accepted value must get past the rule and fail on something else that is set up to
//! fail on purpose (a missing handler file, a bad image name, a bad port), so no image is
//! built and no Docker is needed.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

/// The lamina-ric that `lamina build` embeds (built by build.rs).
const RIC: &str = concat!(env!("OUT_DIR"), "/lamina-ric");

/// Where a value enters, and the text that shows an accepted value went past the rules.
#[derive(Clone, Copy, Debug)]
enum Entry {
    BuildFlag(&'static str),
    Toml(&'static str),
    RieFlag(&'static str),
    EmbeddedVar(&'static str),
}

impl Entry {
    fn run(self, value: &str) -> (Output, &'static str) {
        let dir = tempfile::tempdir().expect("tmp");
        match self {
            Entry::BuildFlag(flag) => {
                let out = run(build(dir.path()).args([flag, value]));
                (out, "app.py (or a package of that name)")
            }
            Entry::Toml(key) => {
                let line = match key {
                    "env" => format!("[env]\n\"{value}\" = \"v\"\n"),
                    _ if value.parse::<f64>().is_ok() => format!("{key} = {value}\n"),
                    _ => format!("{key} = \"{value}\"\n"),
                };
                std::fs::write(dir.path().join("lamina.toml"), line).expect("write");
                (
                    run(&mut build(dir.path())),
                    "app.py (or a package of that name)",
                )
            }
            Entry::RieFlag(flag) => {
                let out = run(lamina().args(["rie", "Not An Image!", flag, value]));
                (out, "is neither a function folder nor an image name")
            }
            Entry::EmbeddedVar(var) => {
                let out = Command::new(RIC)
                    .arg("app.handler")
                    .env_clear()
                    .env("LAMBDA_TASK_ROOT", dir.path())
                    .env("LAMINA_RUNTIME", "python")
                    .env("LAMINA_RIE_PORT", "not-a-port")
                    .env(var, value)
                    .output()
                    .expect("run lamina-ric");
                (out, "LAMINA_RIE_PORT")
            }
        }
    }
}

/// `lamina build DIR --handler app.handler`, in a folder without app.py.
fn build(dir: &Path) -> Command {
    let mut cmd = lamina();
    cmd.arg("build").arg(dir).args(["--handler", "app.handler"]);
    cmd
}

/// The value with `=v` when the rule is about environment names.
fn shaped(entry: Entry, value: &str) -> String {
    match entry {
        Entry::BuildFlag("--env") | Entry::RieFlag("--env") => format!("{value}=v"),
        _ => value.to_owned(),
    }
}

/// Feed each value through each entry; `Some(message)` means it must be refused with it.
fn check(entries: &[Entry], cases: &[(&str, Option<String>)]) {
    for &entry in entries {
        for (value, refusal) in cases {
            let (out, past_the_rules) = entry.run(&shaped(entry, value));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("panicked"), "{entry:?} {value}: {stderr}");
            assert!(!out.status.success(), "{entry:?} {value}: {stderr}");
            match refusal {
                Some(message) => assert!(
                    stderr.contains(message.as_str()),
                    "{entry:?} {value}: expected {message:?} in:\n{stderr}"
                ),
                None => assert!(
                    stderr.contains(past_the_rules) && !stderr.contains("is not valid"),
                    "{entry:?} {value} should be accepted:\n{stderr}"
                ),
            }
        }
    }
}

fn refused(what: &str, value: &str, rule: &str) -> Option<String> {
    Some(format!(
        "{what} `{value}` is not valid: Lambda accepts {rule}"
    ))
}

#[test]
fn memory_is_128_to_10240_mb_everywhere() {
    let rule = "a whole number of MB from 128 to 10240";
    check(
        &[
            Entry::BuildFlag("--memory"),
            Entry::Toml("memory"),
            Entry::RieFlag("--memory"),
            Entry::EmbeddedVar("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
        ],
        &[
            ("128", None),
            ("10240", None),
            ("127", refused("memory", "127", rule)),
            ("10241", refused("memory", "10241", rule)),
        ],
    );
}

#[test]
fn timeout_is_1_to_900_whole_seconds_everywhere() {
    let rule = "a whole number of seconds from 1 to 900";
    check(
        &[
            Entry::BuildFlag("--timeout"),
            Entry::Toml("timeout"),
            Entry::RieFlag("--timeout"),
            Entry::EmbeddedVar("AWS_LAMBDA_FUNCTION_TIMEOUT"),
        ],
        &[
            ("1", None),
            ("900", None),
            ("0", refused("timeout", "0", rule)),
            ("901", refused("timeout", "901", rule)),
            ("0.5", refused("timeout", "0.5", rule)),
        ],
    );
}

#[test]
fn function_names_follow_lambdas_rule_everywhere() {
    let long_ok = "x".repeat(64);
    let long_bad = "x".repeat(65);
    let message = |v: &str| {
        Some(format!(
            "function name `{v}` is not valid: Lambda accepts 1 to 64 letters, digits, hyphens or underscores"
        ))
    };
    check(
        &[
            Entry::BuildFlag("--name"),
            Entry::Toml("name"),
            Entry::EmbeddedVar("AWS_LAMBDA_FUNCTION_NAME"),
        ],
        &[
            (&long_ok, None),
            ("calc_v2-x", None),
            (&long_bad, message(&long_bad)),
            ("a.b", message("a.b")),
        ],
    );
}

#[test]
fn environment_names_follow_lambdas_rule_everywhere() {
    let message = |k: &str| {
        Some(format!(
            "environment variable name `{k}` is not valid: Lambda requires a letter followed by one or more letters, digits or underscores"
        ))
    };
    check(
        &[
            Entry::BuildFlag("--env"),
            Entry::Toml("env"),
            Entry::RieFlag("--env"),
        ],
        &[
            ("AB", None),
            ("a_1", None),
            ("A", message("A")),
            ("1X", message("1X")),
        ],
    );
}

#[test]
fn ephemeral_storage_is_512_to_10240_mb() {
    let rule = "a whole number of MB from 512 to 10240";
    check(
        &[
            Entry::BuildFlag("--ephemeral-storage"),
            Entry::Toml("ephemeral_storage"),
        ],
        &[
            ("512", None),
            ("10240", None),
            ("511", refused("ephemeral storage", "511", rule)),
            ("10241", refused("ephemeral storage", "10241", rule)),
        ],
    );
}

#[test]
fn concurrency_is_1_to_1000() {
    let message = |v: &str| {
        Some(format!(
            "concurrency `{v}` is not valid: use a whole number of environments from 1 to 1000"
        ))
    };
    check(
        &[Entry::Toml("concurrency"), Entry::RieFlag("--concurrency")],
        &[
            ("1", None),
            ("1000", None),
            ("0", message("0")),
            ("1001", message("1001")),
        ],
    );
}

#[test]
fn platforms_are_the_two_lambda_runs() {
    let host = if cfg!(target_arch = "aarch64") {
        "linux/arm64"
    } else {
        "linux/amd64"
    };
    check(
        &[Entry::BuildFlag("--platform"), Entry::Toml("platform")],
        &[
            (host, None),
            (
                "linux/s390x",
                Some(
                    "platform `linux/s390x` is not one Lambda runs: use linux/amd64 (x86_64) or linux/arm64"
                        .into(),
                ),
            ),
        ],
    );
}

#[test]
fn keys_lambda_sets_itself_are_warned_about_not_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = run(build(dir.path()).args(["--env", "AWS_REGION=eu-west-1"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: environment variable `AWS_REGION` is set by Lambda itself"),
        "{stderr}"
    );
    assert!(
        stderr.contains("app.py (or a package of that name)"),
        "{stderr}"
    );
}
