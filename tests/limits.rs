//! Lambda's limits inside the environment `lamina rie` runs: 1,024 open files, 1,024
//! processes and threads, and a `/tmp` that is writable *and executable* (Lambda runs
//! binaries from /tmp; Docker mounts a tmpfs `noexec` unless told otherwise), and the
//! platform's `_HANDLER` (the image's `CMD[0]`, as `/lambda-entrypoint.sh` exports it; AWS's
//! Node client reads the handler only from there).

mod common;

use common::*;
use serde_json::Value;

const HANDLER: &str = r#"
import os, resource, shutil, subprocess

def handler(event, context):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    pids = "unknown"
    # cgroup v2, then v1's pids controller.
    for path in ("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"):
        try:
            pids = open(path).read().strip()
            break
        except OSError:
            pass
    shutil.copy("/usr/bin/dash", "/tmp/sh")
    os.chmod("/tmp/sh", 0o755)
    ran = subprocess.run(["/tmp/sh", "-c", "echo from-tmp"], capture_output=True, text=True)
    return {"nofile": [soft, hard], "pids": pids, "tmp_exec": ran.stdout.strip(),
            "handler_env": os.environ.get("_HANDLER")}
"#;

#[test]
fn the_environment_has_lambdas_file_and_process_limits_and_an_executable_tmp() {
    require_docker();
    let tag = "lamina-limits-test/fn:test";
    build_handler(tag, HANDLER);
    let rie = Rie::start(tag, &[]);
    let answer = post(rie.port, INVOKE, &[], b"{}");
    assert_eq!(answer.status, 200, "{}", answer.text());
    let v: Value = serde_json::from_str(&answer.text()).expect("json");
    assert_eq!(v["nofile"], serde_json::json!([1024, 1024]), "{v}");
    assert_eq!(v["pids"], "1024", "{v}");
    assert_eq!(v["tmp_exec"], "from-tmp", "{v}");
    assert_eq!(v["handler_env"], "app.handler", "{v}");
}

const HOG: &str = r#"
def handler(event, context):
    hog = []
    while True:
        hog.append(bytearray(16 * 1024 * 1024))
"#;

#[test]
fn an_out_of_memory_kill_reports_all_the_memory_as_used() {
    require_docker();
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("app.py"), HOG).expect("handler");
    let tag = "lamina-limits-test/hog:test";
    run_ok(lamina().args(["build"]).arg(dir.path()).args([
        "--handler",
        "app.handler",
        "--memory",
        "128",
        "--timeout",
        "30",
        "--tag",
        tag,
    ]));
    let rie = Rie::start(tag, &[]);
    let answer = post(rie.port, INVOKE, &[], b"{}");
    assert!(
        answer.text().contains("Runtime.OutOfMemory"),
        "{}",
        answer.text()
    );
    let log = rie.wait_stdout("REPORT RequestId:", std::time::Duration::from_secs(20));
    let report = log
        .lines()
        .find(|l| l.starts_with("REPORT RequestId:"))
        .expect("REPORT");
    assert!(report.contains("\tMax Memory Used: 128 MB"), "{report}");
}

const CPU: &str = r#"
def handler(event, context):
    for quota, period in (("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us"),):
        try:
            return {"cpus": int(open(quota).read()) / int(open(period).read())}
        except OSError:
            pass
    q, p = open("/sys/fs/cgroup/cpu.max").read().split()
    return {"cpus": -1 if q == "max" else int(q) / int(p)}
"#;

#[test]
fn cpu_share_gives_the_cpu_lambda_gives_the_memory() {
    require_docker();
    let tag = "lamina-limits-test/cpu:test";
    build_handler(tag, CPU);
    let capped = Rie::start(tag, &["--cpu-share", "--memory", "256"]);
    let v: Value =
        serde_json::from_str(&post(capped.port, INVOKE, &[], b"{}").text()).expect("json");
    let cpus = v["cpus"].as_f64().unwrap_or_default();
    assert!(
        (cpus - 256.0 / 1769.0).abs() < 0.002,
        "256 MB is 14.5% of a vCPU, got {v}"
    );
    let free = Rie::start(tag, &["--memory", "256"]);
    let v: Value = serde_json::from_str(&post(free.port, INVOKE, &[], b"{}").text()).expect("json");
    assert!(
        v["cpus"].as_f64().is_some_and(|c| c < 0.0),
        "no cap without --cpu-share: {v}"
    );
}
