//! Push to a real registry: Debian's `docker-registry` (the CNCF distribution server) on a
//! 127.0.0.1 port, started here; `skopeo` and the Docker daemon read back what lamina wrote.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// A distribution server on a free loopback port, storing in a temp dir; killed on drop.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let dir = tempfile::tempdir().expect("tmp");
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\nlog:\n  level: error\n",
                dir.path().join("data").display()
            ),
        )
        .expect("write config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("these tests need Debian's docker-registry (apt-get install docker-registry; .ci/run installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry {
            child,
            port,
            _dir: dir,
        }
    }

    fn reference(&self, path: &str) -> String {
        format!("127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn push_json(source: &str, target: &str) -> Value {
    let out = run_ok(lamina().args(["push", source, target, "--insecure", "--json"]));
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn count(v: &Value, key: &str) -> usize {
    v[key].as_array().map_or(0, Vec::len)
}

#[test]
fn a_pushed_image_is_read_back_by_skopeo_and_docker_and_unchanged_blobs_are_not_sent_again() {
    require_docker();
    let registry = Registry::start();
    run_ok(
        lamina()
            .args([
                "build",
                "examples/calculator",
                "--tag",
                "lamina-e2e/push-calc:test",
            ])
            .current_dir(root()),
    );
    let target = registry.reference("team/fns:calc");
    let first = push_json("lamina-e2e/push-calc:test", &target);
    let digest = first["digest"].as_str().expect("digest").to_owned();
    assert_eq!(
        count(&first, "uploaded"),
        4,
        "3 layers and the config: {first}"
    );
    assert_eq!(
        first["byDigest"],
        format!("{}@{digest}", registry.reference("team/fns"))
    );

    let inspect = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{target}"))
        .output()
        .expect("these tests need skopeo (.ci/run installs it)");
    assert!(
        inspect.status.success(),
        "{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    let inspected: Value = serde_json::from_slice(&inspect.stdout).expect("skopeo json");
    assert_eq!(inspected["Digest"], digest.as_str());
    assert_eq!(inspected["Architecture"], "amd64");

    // Unchanged: every blob is skipped, nothing is sent.
    let again = push_json("lamina-e2e/push-calc:test", &target);
    assert_eq!(count(&again, "uploaded"), 0, "{again}");
    assert_eq!(again["digest"], digest.as_str());

    // A second function on the same base: only its own layers go.
    let second = run_ok(
        lamina()
            .args([
                "build",
                "examples/random-image",
                "--json",
                "--insecure",
                "--push",
            ])
            .arg(registry.reference("team/fns:random"))
            .current_dir(root()),
    );
    let second: Value = serde_json::from_str(second.trim()).expect("json");
    let pushed = &second["pushed"][0];
    assert!(
        pushed["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{second}"
    );

    // Docker pulls it back and runs it (loopback registries need no TLS).
    let pulled = registry.reference("team/fns:calc");
    docker(&["pull", "-q", &pulled]);
    let id = docker(&["image", "inspect", "--format", "{{.Id}}", &pulled]);
    let config = first["uploaded"]
        .as_array()
        .expect("uploaded")
        .iter()
        .filter_map(|b| b["digest"].as_str())
        .any(|d| d == id.trim());
    assert!(
        config,
        "Docker's image id is the config lamina pushed: {id}"
    );
    let _ = docker(&["rmi", "-f", &pulled]);
}

#[test]
fn a_push_without_a_reachable_registry_says_so_and_names_the_registry() {
    let port = free_port();
    run_ok(
        lamina()
            .args([
                "build",
                "examples/calculator",
                "--tag",
                "lamina-e2e/push-calc:test",
            ])
            .current_dir(root()),
    );
    let out = run(lamina().args([
        "push",
        "lamina-e2e/push-calc:test",
        &format!("127.0.0.1:{port}/x:1"),
        "--insecure",
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach registry 127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[test]
fn plain_http_is_refused_for_a_registry_off_this_machine() {
    let out = run(lamina().args([
        "push",
        "lamina-e2e/push-calc:test",
        "registry.example:5000/x:1",
        "--insecure",
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("only allowed for registries on loopback, not registry.example:5000"),
        "{stderr}"
    );
    assert!(!out.status.success());
}
