//! After a `kill -9` of `lamina rie`, `lamina rie --cleanup` removes the containers it left,
//! with no server running; live sessions are left alone (and the shared network stays).

mod common;

use common::*;
use serde_json::Value;

fn session_objects(pid: u32) -> (usize, usize) {
    let filter = format!("label=dev.lamina.rie.pid={pid}");
    let containers = docker(&["ps", "-aq", "--filter", &filter]);
    let networks = docker(&["network", "ls", "-q", "--filter", &filter]);
    (containers.lines().count(), networks.lines().count())
}

#[test]
fn cleanup_removes_what_a_killed_lamina_rie_left_and_nothing_else() {
    require_docker();
    let tag = "lamina-cleanup-test/calculator:test";
    build_json(&["examples/calculator", "--tag", tag]);
    let live = Rie::start(tag, &[]);
    let mut killed = Rie::start(tag, &[]);
    for rie in [&live, &killed] {
        assert_eq!(post(rie.port, INVOKE, &[], b"{}").status, 200);
    }
    let pid = killed.child.id();
    killed.child.kill().expect("kill -9");
    let _ = killed.child.wait();
    let (containers, networks) = session_objects(pid);
    assert!(
        containers >= 1 && networks == 0,
        "left behind: {containers} containers, {networks} session networks"
    );

    let out = run_ok(lamina().args(["rie", "--cleanup", "--json"]));
    let v: Value = serde_json::from_str(out.trim()).expect("json");
    assert!(v["removed"].as_u64().is_some_and(|n| n >= 1), "{v}");
    assert_eq!(session_objects(pid), (0, 0));

    // The live session still answers.
    assert_eq!(post(live.port, INVOKE, &[], b"{}").status, 200);
    assert_ne!(session_objects(live.child.id()), (0, 0));
}

#[test]
fn ctrl_c_stops_the_runtime_quietly_and_removes_its_container() {
    require_docker();
    let tag = "lamina-cleanup-test/calculator:test";
    build_json(&["examples/calculator", "--tag", tag]);
    let mut rie = Rie::start(tag, &[]);
    assert_eq!(post(rie.port, INVOKE, &[], b"{}").status, 200);
    let pid = rie.child.id();
    let _ = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while rie.child.try_wait().ok().flatten().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "lamina rie did not stop"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = rie.stdout();
    // The runtime's pending /next is never failed: no client error, no 500 (the cloud's
    // shutdown is SIGTERM, then SIGKILL).
    assert!(
        !out.contains("[ERROR]") && !out.contains("InternalServerError"),
        "{out}"
    );
    assert!(out.contains("REPORT RequestId:"), "{out}");
    assert_eq!(session_objects(pid), (0, 0), "containers removed");
}
