//! Seeing and reclaiming what lamina keeps (`lamina images`, `system df`, `rmi`, `prune`),
//! each test on a store of its own: the sizes match the files, a dry run lists exactly what
//! the prune removes, a pruned store still builds, pushes and serves what is left without
//! making any of it again, a `kill -9` mid-prune leaves a store that works, and a prune beside
//! a running build and a running `lamina rie` breaks neither.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::registry::Registry;
use common::*;
use serde_json::Value;

/// `lamina` on the store at `store`.
fn on(store: &Path) -> Command {
    let mut cmd = lamina();
    cmd.env("LAMINA_STORE", store);
    cmd
}

/// `lamina prune ARGS` on the store at `store`, its cache beside it: `--all` empties the
/// cache's installer caches, and the shared one other tests install from must stay.
fn prune(store: &Path, args: &[&str]) -> Command {
    let mut cmd = on(store);
    cmd.env("LAMINA_CACHE", store.with_file_name("cache"))
        .arg("prune")
        .args(args);
    cmd
}

fn json_of(cmd: &mut Command) -> Value {
    let out = run_ok(cmd.arg("--json"));
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// A one-file Python function `name` answering `{"from": name}`.
fn function(dir: &Path, name: &str) -> PathBuf {
    let f = dir.join(name);
    std::fs::create_dir_all(&f).unwrap();
    std::fs::write(
        f.join("app.py"),
        format!("def handler(event, context):\n    return {{\"from\": \"{name}\"}}\n"),
    )
    .unwrap();
    std::fs::write(
        f.join("lamina.toml"),
        format!("name = \"{name}\"\nhandler = \"app.handler\"\n"),
    )
    .unwrap();
    f
}

fn build(store: &Path, dir: &Path, tag: &str) -> Value {
    json_of(on(store).arg("build").arg(dir).args(["--tag", tag]))
}

fn tags(store: &Path) -> BTreeSet<String> {
    json_of(on(store).arg("images"))
        .as_array()
        .expect("a list")
        .iter()
        .map(|i| i["tag"].as_str().expect("tag").to_owned())
        .collect()
}

/// The bytes of the files under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        bytes_under(&p)
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn images_df_rmi_and_a_prune_that_removes_exactly_what_its_dry_run_said() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    for name in ["one", "two", "three"] {
        build(&store, &function(work.path(), name), &format!("{name}:v1"));
    }
    assert_eq!(tags(&store).len(), 3);
    let untagged = json_of(on(&store).args(["rmi", "two:v1"]));
    assert_eq!(untagged["untagged"], "two:v1");
    assert_eq!(
        tags(&store),
        ["one:v1", "three:v1"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    let df = json_of(on(&store).args(["system", "df"]));
    let blobs = bytes_under(&store.join("blobs/sha256"));
    assert_eq!(df["store"]["blobs"].as_u64(), Some(blobs), "{df}");
    let parts = ["in_use", "build_cache", "dangling"]
        .iter()
        .map(|k| df["store"][k].as_u64().expect("a size"))
        .sum::<u64>();
    assert_eq!(parts, blobs, "the parts add up to the blobs: {df}");
    assert!(
        df["store"]["dangling"].as_u64() > Some(0),
        "two's manifest and config: {df}"
    );

    // The installers' download caches are build cache too.
    let downloads = store.with_file_name("cache").join("installers/uv/cache");
    std::fs::create_dir_all(&downloads).unwrap();
    std::fs::write(downloads.join("wheel.whl"), vec![0u8; 4096]).unwrap();
    for args in [&[][..], &["--all"]] {
        let dry = json_of(prune(&store, args).arg("--dry-run"));
        let real = json_of(&mut prune(&store, args));
        assert_eq!(
            dry["blobs"], real["blobs"],
            "{args:?}: dry run {dry}, prune {real}"
        );
        assert_eq!(dry["bytes"], real["bytes"]);
        assert_eq!(dry["installer_caches"], real["installer_caches"]);
        for d in real["blobs"].as_array().unwrap() {
            let hex = d.as_str().unwrap().trim_start_matches("sha256:");
            assert!(
                !store.join("blobs/sha256").join(hex).exists(),
                "{hex} is still there"
            );
        }
    }
    assert!(
        !downloads.exists(),
        "prune --all empties the installers' caches"
    );
    // Only what the two images use is left: a rebuild makes nothing again, and each image
    // still pushes and serves.
    let df = json_of(on(&store).args(["system", "df"]));
    assert_eq!(df["store"]["dangling"], 0);
    assert_eq!(df["store"]["build_cache"], 0);
    let again = build(&store, &work.path().join("one"), "one:v1");
    assert!(
        again["layers"]
            .as_array()
            .is_some_and(|l| l.iter().all(|l| l["cached"] == true)),
        "a layer was made again after the prune: {again}"
    );
    let registry = Registry::start();
    let pushed = json_of(on(&store).args([
        "push",
        "three:v1",
        &format!("127.0.0.1:{}/three:v1", registry.port),
        "--insecure",
    ]));
    assert!(pushed["digest"].is_string(), "{pushed}");
    require_docker();
    let rie = {
        let mut cmd = on(&store);
        cmd.args(["rie", "three:v1", "--port", &free_port().to_string()]);
        ServedRie::start(cmd)
    };
    let answer = post(rie.port, INVOKE, &[], b"{}");
    assert_eq!(answer.json()["from"], "three", "{}", answer.text());
}

/// A `lamina rie` started from a prepared command (on a store of its own).
struct ServedRie {
    child: std::process::Child,
    port: u16,
}

impl ServedRie {
    fn start(mut cmd: Command) -> Self {
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let port: u16 = args
            .iter()
            .position(|a| a == "--port")
            .and_then(|i| args.get(i + 1))
            .and_then(|p| p.parse().ok())
            .expect("--port");
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(120);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "lamina rie did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, port }
    }
}

impl Drop for ServedRie {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
    }
}

#[test]
fn a_prune_killed_midway_leaves_a_store_that_lists_builds_and_prunes() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let f = function(work.path(), "kept");
    build(&store, &f, "kept:v1");
    // Many dangling blobs (named by their digests, as the store names them) and cache
    // entries naming some, so the prune takes long enough to be cut.
    let blobs = store.join("blobs/sha256");
    for i in 0..4000 {
        let data = format!("dangling {i}");
        let hex = sha256_hex(data.as_bytes());
        std::fs::write(blobs.join(&hex), &data).unwrap();
        if i % 2 == 0 {
            let entry = format!(
                "{{\"diff_id\":\"sha256:{hex}\",\"digest\":\"sha256:{hex}\",\"size\":1,\"uncompressed_size\":1}}"
            );
            std::fs::write(
                store.join("layers").join(format!("{:064x}.json", i + 1)),
                entry,
            )
            .unwrap();
        }
    }
    let mut pruning = prune(&store, &["--all"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(40));
    let _ = Command::new("kill")
        .args(["-9", &pruning.id().to_string()])
        .status();
    let _ = pruning.wait();
    // Whatever it got through: no cache entry names a missing blob, the image is whole.
    for entry in std::fs::read_dir(store.join("layers")).unwrap().flatten() {
        let v: Value = serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap();
        let hex = v["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_owned();
        assert!(
            blobs.join(&hex).exists(),
            "{} names a missing blob",
            entry.path().display()
        );
    }
    assert!(tags(&store).contains("kept:v1"));
    build(&store, &f, "kept:v1");
    let done = json_of(&mut prune(&store, &["--all"]));
    assert!(done["bytes"].is_u64(), "{done}");
    let df = json_of(on(&store).args(["system", "df"]));
    assert_eq!(df["store"]["dangling"], 0, "{df}");
    assert_eq!(df["store"]["build_cache"], 0, "{df}");
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    hex_of(&sha2::Sha256::digest(data))
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_prune_beside_a_running_build_and_a_running_rie_breaks_neither() {
    require_docker();
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    build(&store, &function(work.path(), "served"), "served:v1");
    let rie = {
        let mut cmd = on(&store);
        cmd.args(["rie", "served:v1", "--port", &free_port().to_string()]);
        ServedRie::start(cmd)
    };
    // Untagged while served: the emulator's lease keeps what it serves.
    run_ok(on(&store).args(["rmi", "served:v1"]));
    let building = on(&store)
        .arg("build")
        .arg(function(work.path(), "fresh"))
        .args(["--tag", "fresh:v1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pruned = run(&mut prune(&store, &["--all"]));
    assert!(
        pruned.status.success(),
        "{}",
        String::from_utf8_lossy(&pruned.stderr)
    );
    let built = building.wait_with_output().unwrap();
    assert!(
        built.status.success(),
        "the build beside the prune failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let answer = post(rie.port, INVOKE, &[], b"{}");
    assert_eq!(answer.json()["from"], "served", "{}", answer.text());
    // The fresh image is whole: it serves too.
    drop(rie);
    let rie = {
        let mut cmd = on(&store);
        cmd.args(["rie", "fresh:v1", "--port", &free_port().to_string()]);
        ServedRie::start(cmd)
    };
    let answer = post(rie.port, INVOKE, &[], b"{}");
    assert_eq!(answer.json()["from"], "fresh", "{}", answer.text());
}

#[test]
fn lamina_cache_max_trims_the_least_recently_used_build_cache_after_a_build() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let f = function(work.path(), "capped");
    build(&store, &f, "capped:v1");
    // A new version under the same tag: the old code layer is build cache now.
    std::fs::write(
        f.join("app.py"),
        "def handler(event, context):\n    return 2\n",
    )
    .unwrap();
    build(&store, &f, "capped:v1");
    let before = json_of(on(&store).args(["system", "df"]));
    assert!(
        before["store"]["build_cache"].as_u64() > Some(0),
        "{before}"
    );
    let in_use = before["store"]["in_use"].as_u64().unwrap();
    // A cap below what the image itself needs: the cache goes, the image stays.
    let capped = json_of(
        on(&store)
            .env("LAMINA_CACHE_MAX", "1KB")
            .arg("build")
            .arg(&f)
            .args(["--tag", "capped:v1"]),
    );
    assert!(capped["manifestDigest"].is_string(), "{capped}");
    let after = json_of(on(&store).args(["system", "df"]));
    assert_eq!(after["store"]["build_cache"], 0, "{after}");
    assert_eq!(after["store"]["in_use"].as_u64(), Some(in_use), "{after}");
    let bad = run(on(&store)
        .env("LAMINA_CACHE_MAX", "lots")
        .arg("build")
        .arg(&f));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("LAMINA_CACHE_MAX"));
}
