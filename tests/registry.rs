//! Push to a real registry: Debian's `docker-registry` (the CNCF distribution server) on a
//! 127.0.0.1 port, started here; `skopeo` and the Docker daemon read back what lamina wrote.

mod common;

use std::process::{Command, Stdio};

use common::registry::Registry;
use common::*;
use serde_json::Value;

/// The image the push tests send: the calculator, as `lamina-e2e/push-calc:test`.
fn build_source() {
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
}

/// Stdout and stderr of a run, together (to grep for what must never be printed).
fn all_output(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
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
    build_source();
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

    // Docker pulls it back and runs it (loopback registries need no TLS; Podman must be
    // told so).
    let pulled = registry.reference("team/fns:calc");
    let mut pull = vec!["pull", "-q"];
    if on_podman() {
        pull.push("--tls-verify=false");
    }
    pull.push(&pulled);
    docker(&pull);
    let id = image_id(&pulled);
    let config = first["uploaded"]
        .as_array()
        .expect("uploaded")
        .iter()
        .filter_map(|b| b["digest"].as_str())
        .any(|d| d == id);
    assert!(
        config,
        "Docker's image id is the config lamina pushed: {id}"
    );
    let _ = docker(&["rmi", "-f", &pulled]);
}

#[test]
fn a_push_without_a_reachable_registry_says_so_and_names_the_registry() {
    let port = free_port();
    build_source();
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

/// A TCP proxy in front of the registry that cuts the first `drops` connections which carry
/// more than `after` bytes towards the registry (a blob upload, mid-way).
struct CuttingProxy {
    port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl CuttingProxy {
    fn start(upstream: u16, after: usize, drops: usize) -> CuttingProxy {
        use std::io::{Read, Write};
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let left = Arc::new(AtomicUsize::new(drops));
        let cut = Arc::new(AtomicUsize::new(0));
        let (left2, cut2) = (left.clone(), cut.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let (left, cut) = (left2.clone(), cut2.clone());
                let (mut c_read, mut s_write) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                let (mut s_read, mut c_write) = (server, client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_read, &mut c_write);
                    let _ = c_write.shutdown(std::net::Shutdown::Both);
                });
                std::thread::spawn(move || {
                    let mut buf = [0u8; 64 * 1024];
                    let mut sent = 0usize;
                    loop {
                        let n = match c_read.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        sent += n;
                        if sent > after
                            && left
                                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| {
                                    l.checked_sub(1)
                                })
                                .is_ok()
                        {
                            cut.fetch_add(1, Ordering::SeqCst);
                            let _ = c_read.shutdown(std::net::Shutdown::Both);
                            let _ = s_write.shutdown(std::net::Shutdown::Both);
                            return;
                        }
                        if s_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = s_write.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        CuttingProxy { port, cut }
    }

    fn cuts(&self) -> usize {
        self.cut.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn skopeo_digest(reference: &str) -> Option<String> {
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .output()
        .expect("run skopeo");
    out.status
        .success()
        .then(|| serde_json::from_slice::<Value>(&out.stdout).ok())
        .flatten()
        .and_then(|v| v["Digest"].as_str().map(str::to_owned))
}

#[test]
fn a_connection_dropped_mid_blob_is_retried_and_the_push_completes() {
    let registry = Registry::start();
    build_source();
    let proxy = CuttingProxy::start(registry.port, 1 << 20, 2);
    let target = format!("127.0.0.1:{}/cut/calc:v1", proxy.port);
    let pushed = push_json("lamina-e2e/push-calc:test", &target);
    assert!(proxy.cuts() >= 1, "the proxy never cut an upload");
    // Read back past the proxy: the registry verified every blob's digest as it was closed.
    let direct = registry.reference("cut/calc:v1");
    assert_eq!(skopeo_digest(&direct).as_deref(), pushed["digest"].as_str());
}

#[test]
fn when_every_attempt_is_cut_no_manifest_is_published_and_the_blob_is_named() {
    let registry = Registry::start();
    build_source();
    let proxy = CuttingProxy::start(registry.port, 1 << 20, 1000);
    let target = format!("127.0.0.1:{}/cut/calc:v1", proxy.port);
    let out = run(lamina().args(["push", "lamina-e2e/push-calc:test", &target, "--insecure"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("could not be uploaded")
            && stderr.contains("sha256:")
            && stderr.contains("no manifest was published"),
        "{stderr}"
    );
    assert_eq!(
        skopeo_digest(&registry.reference("cut/calc:v1")),
        None,
        "no manifest under the tag"
    );
}

#[test]
fn basic_auth_takes_the_password_from_stdin_and_never_prints_it() {
    let secret = "s3cret-pass-for-lamina-tests";
    let registry = Registry::start_with_auth(Some(("ci", secret)));
    build_source();
    let target = registry.reference("auth/calc:v1");
    let push = |password: Option<&str>| {
        let mut cmd = lamina();
        cmd.args([
            "push",
            "lamina-e2e/push-calc:test",
            &target,
            "--insecure",
            "--json",
        ]);
        if password.is_some() {
            cmd.args(["--username", "ci", "--password-stdin"]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            let _ = stdin.write_all(password.unwrap_or("").as_bytes());
        }
        let out = child.wait_with_output().expect("wait");
        let all = all_output(&out);
        assert!(!all.contains(secret), "the password was printed: {all}");
        (out.status.code(), all)
    };
    let (code, text) = push(None);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("refused access to auth/calc") && text.contains("--password-stdin"),
        "{text}"
    );
    // Under --json the failure is an object on stdout too.
    assert!(text.contains(r#"{"error":"#), "{text}");
    // A wrong password is named as such, not answered with "log in".
    let (code, text) = push(Some("wrong-password"));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("refused the credentials of `ci`"), "{text}");
    assert!(!text.contains("--password-stdin"), "{text}");
    let (code, text) = push(Some(secret));
    assert_eq!(code, Some(0), "{text}");
    let v: Value = serde_json::from_str(text.trim()).expect("json");
    assert_eq!(count(&v, "uploaded"), 4, "{v}");
}

/// Docker's `config.json` as `docker login` leaves it (`auths`), and as credential helpers
/// use it (`credHelpers`, a `docker-credential-*` program on PATH): no flags needed.
#[test]
fn credentials_come_from_docker_config_and_credential_helpers() {
    use base64::Engine as _;
    let secret = "helper-and-config-secret";
    let registry = Registry::start_with_auth(Some(("ci", secret)));
    build_source();
    let host = format!("127.0.0.1:{}", registry.port);

    // `auths`, as `docker login` writes it.
    let docker_config = tempfile::tempdir().expect("tmp");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("ci:{secret}"));
    std::fs::write(
        docker_config.path().join("config.json"),
        format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#),
    )
    .expect("write config");
    let out = run(lamina().env("DOCKER_CONFIG", docker_config.path()).args([
        "push",
        "lamina-e2e/push-calc:test",
        &registry.reference("cfg/calc:1"),
        "--insecure",
    ]));
    let text = all_output(&out);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains(secret), "{text}");

    // `credHelpers`, answered by a helper program.
    let bin = tempfile::tempdir().expect("tmp");
    let helper = bin.path().join("docker-credential-lamina-test");
    std::fs::write(
        &helper,
        format!("#!/bin/sh\nread server\necho \"{{\\\"ServerURL\\\":\\\"$server\\\",\\\"Username\\\":\\\"ci\\\",\\\"Secret\\\":\\\"{secret}\\\"}}\"\n"),
    )
    .expect("write helper");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    std::fs::write(
        docker_config.path().join("config.json"),
        format!(r#"{{"credHelpers":{{"{host}":"lamina-test"}}}}"#),
    )
    .expect("write config");
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = run(lamina()
        .env("DOCKER_CONFIG", docker_config.path())
        .env("PATH", path)
        .args([
            "push",
            "lamina-e2e/push-calc:test",
            &registry.reference("helper/calc:1"),
            "--insecure",
        ]));
    let text = all_output(&out);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains(secret), "{text}");
}

#[test]
fn a_pulled_image_lands_in_the_store_whole_with_its_digest_and_pushes_again() {
    let registry = Registry::start();
    build_source();
    let source = registry.reference("pull/calc:v1");
    let pushed = push_json("lamina-e2e/push-calc:test", &source);
    let store = tempfile::tempdir().expect("tmp");
    let pull = || -> Value {
        let out = run_ok(lamina().env("LAMINA_STORE", store.path()).args([
            "pull",
            &source,
            "--insecure",
            "--json",
        ]));
        serde_json::from_str(out.trim()).expect("json")
    };
    let first = pull();
    assert_eq!(first["digest"], pushed["digest"], "{first}");
    assert_eq!(first["fetched"], 4, "3 layers and the config: {first}");
    let again = pull();
    assert_eq!(
        (again["fetched"].as_u64(), again["present"].as_u64()),
        (Some(0), Some(4))
    );
    // The pulled image is complete: it pushes from the fresh store to another repository.
    let out = run_ok(lamina().env("LAMINA_STORE", store.path()).args([
        "push",
        &source,
        &registry.reference("pull/copy:v1"),
        "--insecure",
        "--json",
    ]));
    let copied: Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(copied["digest"], pushed["digest"]);
    // A missing tag is the registry's clear answer, named.
    let out = run(lamina().env("LAMINA_STORE", store.path()).args([
        "pull",
        &registry.reference("pull/calc:nope"),
        "--insecure",
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("404") && stderr.contains("manifests/nope"),
        "{stderr}"
    );
}

#[test]
fn a_registry_image_is_a_base_and_its_layers_are_used_byte_for_byte() {
    require_docker();
    build_source();
    let registry = Registry::start();
    let target = registry.reference("team/base:v1");
    push_json("lamina-e2e/push-calc:test", &target);
    let source: Value = serde_json::from_str(
        run_ok(
            lamina()
                .args([
                    "build",
                    "examples/calculator",
                    "--tag",
                    "lamina-e2e/push-calc:test",
                    "--json",
                ])
                .current_dir(root()),
        )
        .trim(),
    )
    .expect("json");
    let out = run_ok(
        lamina()
            .args([
                "build",
                "examples/calculator",
                "--base",
                &target,
                "--insecure",
                "--tag",
                "lamina-e2e/on-registry:test",
                "--json",
            ])
            .current_dir(root()),
    );
    let built: Value = serde_json::from_str(out.trim()).expect("json");
    let digests = |v: &Value| -> Vec<Value> {
        v["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .map(|l| l["digest"].clone())
            .collect()
    };
    let want = digests(&source);
    assert_eq!(digests(&built)[..want.len()], want[..], "{built}");
    let rie = Rie::start("lamina-e2e/on-registry:test", &[]);
    let answer = post(
        rie.port,
        INVOKE,
        &[],
        br#"{"queryStringParameters":{"num1":"6","num2":"3","operator":"divide"}}"#,
    );
    assert!(answer.text().contains("2.0"), "{}", answer.text());
}

#[test]
fn an_oci_layout_and_a_docker_archive_push_as_they_are() {
    require_docker();
    let registry = Registry::start();
    let tmp = tempfile::tempdir().expect("tmp");
    let layout = tmp.path().join("layout");
    let archive = tmp.path().join("image.tar");
    let layout_arg = format!("oci:{}", layout.display());
    let archive_arg = format!("docker-archive:{}", archive.display());
    let built = build_json(&[
        "examples/calculator",
        "--tag",
        "lamina-e2e/push-file:test",
        "--output",
        &layout_arg,
    ]);
    build_json(&[
        "examples/calculator",
        "--tag",
        "lamina-e2e/push-file:test",
        "--output",
        &archive_arg,
    ]);
    for (source, path) in [
        (format!("oci:{}", layout.display()), "team/files:oci"),
        (
            format!("docker-archive:{}", archive.display()),
            "team/files:archive",
        ),
    ] {
        let target = registry.reference(path);
        let pushed = push_json(&source, &target);
        // The layout and the archive carry lamina's manifest byte for byte.
        assert_eq!(
            pushed["digest"], built["manifestDigest"],
            "{source}: {pushed}"
        );
        assert_eq!(
            skopeo_digest(&target).as_deref(),
            built["manifestDigest"].as_str(),
            "{source}"
        );
    }
    let out = run(lamina().args([
        "push",
        "oci:/nonexistent/layout",
        &registry.reference("x:y"),
        "--insecure",
    ]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/layout"));
}

#[test]
fn a_second_repository_of_the_same_registry_gets_the_blobs_by_mount_not_upload() {
    require_docker();
    build_source();
    let registry = Registry::start();
    let first = push_json(
        "lamina-e2e/push-calc:test",
        &registry.reference("team/one:v1"),
    );
    assert_eq!(count(&first, "uploaded"), 4, "{first}");
    let second = push_json(
        "lamina-e2e/push-calc:test",
        &registry.reference("team/two:v1"),
    );
    assert_eq!(
        count(&second, "uploaded"),
        0,
        "nothing is sent again: {second}"
    );
    assert_eq!(count(&second, "mounted"), 4, "{second}");
    assert_eq!(
        skopeo_digest(&registry.reference("team/two:v1")).as_deref(),
        second["digest"].as_str()
    );
}

#[test]
fn a_fresh_runner_reuses_the_layers_another_built_through_the_registry_cache() {
    require_docker();
    let registry = Registry::start();
    let cache = registry.reference("team/cache:main");
    let runner = |store: &std::path::Path, extra: &[&str]| -> Value {
        let out = run_ok(
            lamina()
                .env("LAMINA_STORE", store)
                .args(["build", "examples/calculator", "--insecure", "--json"])
                .args(extra)
                .current_dir(root()),
        );
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    let a = tempfile::tempdir().expect("store a");
    let b = tempfile::tempdir().expect("store b");

    // Runner A: no cache yet (a first run is fine), builds, pushes, keeps its cache.
    let first = runner(
        a.path(),
        &[
            "--cache-from",
            &cache,
            "--cache-to",
            &cache,
            "--push",
            &registry.reference("team/app:a"),
        ],
    );
    assert_eq!(first["cacheFrom"]["entries"], 0, "{first}");
    assert!(first["cacheTo"]["digest"].as_str().is_some(), "{first}");

    // Runner B, an empty store: every layer comes from A's cache, nothing is rebuilt, and
    // its push sends nothing the registry has.
    let second = runner(
        b.path(),
        &[
            "--cache-from",
            &cache,
            "--push",
            &registry.reference("team/app:b"),
        ],
    );
    let layers = second["layers"].as_array().expect("layers");
    assert!(layers.iter().all(|l| l["cached"] == true), "{second}");
    // One entry per layer at least (a base is cached under its recipe's key and its files').
    let entries = second["cacheFrom"]["entries"].as_u64().expect("entries");
    assert!(entries >= layers.len() as u64, "{second}");
    assert_eq!(second["cacheFrom"]["fetched"], layers.len(), "{second}");
    assert_eq!(second["manifestDigest"], first["manifestDigest"]);
    assert_eq!(count(&second["pushed"][0], "uploaded"), 0, "{second}");

    // Something that is not a lamina cache is refused by name.
    let out = run(lamina()
        .env("LAMINA_STORE", b.path())
        .args(["build", "examples/calculator", "--insecure", "--cache-from"])
        .arg(registry.reference("team/app:a"))
        .current_dir(root()));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a lamina layer cache"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
