//! SnapStart for images (runtime-api.md §1.10): `lamina build --snapstart` labels the image
//! as Lambda requires to publish it with SnapStart, and `lamina rie --snapstart` runs the
//! sequence a published version does — init, the before-snapshot hooks (last registered
//! first), `/restore/next`, the after-restore hooks (in order) — with its records in the log;
//! an after-restore hook that raises fails the restore as the cloud reports it.

mod common;

use std::time::Duration;

use common::*;

const TAG: &str = "lamina-snapstart-test/fn:test";

/// Registers its hooks through `snapshot_restore_py`, as AWS's docs show.
const HANDLER: &str = r#"
import os
from snapshot_restore_py import register_before_snapshot, register_after_restore


@register_before_snapshot
def first_before():
    print("hook: before-snapshot 1", flush=True)


register_before_snapshot(print, "hook: before-snapshot 2", flush=True)


@register_after_restore
def first_after():
    print("hook: after-restore 1", flush=True)


@register_after_restore
def second_after():
    print("hook: after-restore 2", flush=True)
    if os.environ.get("FAIL_RESTORE"):
        raise RuntimeError("restore broke")


def handler(event, context):
    return {"init": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]}
"#;

/// The index of the first line of `log` starting with `prefix`.
fn line_at(log: &str, prefix: &str) -> usize {
    log.lines()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{log}"))
}

#[test]
fn a_snapstart_image_is_labelled_and_runs_its_hooks_in_order_around_the_restore() {
    require_docker();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("app.py"), HANDLER).expect("handler");
    run_ok(lamina().arg("build").arg(dir.path()).args([
        "--name",
        "snappy",
        "--handler",
        "app.handler",
        "--snapstart",
        "--tag",
        TAG,
        "--load",
    ]));
    let labels = docker(&[
        "image",
        "inspect",
        TAG,
        "--format",
        "{{json .Config.Labels}}",
    ]);
    let labels: serde_json::Value = serde_json::from_str(labels.trim()).expect("labels");
    assert_eq!(
        labels["com.amazonaws.lambda.feature.snapstart"], "Allow",
        "{labels}"
    );
    let _ = docker(&["rmi", TAG]);

    let rie = Rie::start(TAG, &["--snapstart"]);
    let answer = post(rie.port, INVOKE, &[], b"{}");
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["init"], "snap-start");
    let log = rie.wait_stdout("REPORT RequestId", Duration::from_secs(10));
    let order = [
        "INIT_START",
        "hook: before-snapshot 2",
        "hook: before-snapshot 1",
        "RESTORE_START Runtime Version: python:3.13",
        "hook: after-restore 1",
        "hook: after-restore 2",
        "RESTORE_REPORT Restore Duration: ",
        "START RequestId",
        "END RequestId",
        "REPORT RequestId",
    ];
    let at: Vec<usize> = order.iter().map(|p| line_at(&log, p)).collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "out of order: {at:?}\n{log}"
    );
    let report = log.lines().nth(at[9]).expect("report");
    assert!(report.contains("\tRestore Duration: "), "{report}");
    assert!(!report.contains("Init Duration"), "{report}");
    // A second invoke is an ordinary warm one.
    let again = post(rie.port, INVOKE, &[], b"{}");
    assert_eq!(again.status, 200, "{}", again.text());
    drop(rie);

    // Without --snapstart the image serves $LATEST, which the cloud never snapshots.
    let rie = Rie::start(TAG, &[]);
    let answer = post(rie.port, INVOKE, &[], b"{}");
    assert_eq!(answer.json()["init"], "on-demand");
    drop(rie);

    // An after-restore hook that raises: the restore fails with the client's error, posted
    // to /restore/error, and the invoke fails with it.
    let rie = Rie::start(TAG, &["--snapstart", "--env", "FAIL_RESTORE=1"]);
    let failed = post(rie.port, INVOKE, &[], b"{}");
    assert_eq!(failed.header("X-Amz-Function-Error"), Some("Unhandled"));
    let body = failed.json();
    assert_eq!(body["errorType"], "RuntimeError", "{body}");
    assert_eq!(body["errorMessage"], "restore broke", "{body}");
    let log = rie.wait_stdout("Status: error", Duration::from_secs(10));
    assert!(
        log.lines()
            .any(|l| l.starts_with("RESTORE_REPORT Restore Duration: ")
                && l.ends_with("\tStatus: error")),
        "{log}"
    );
}
