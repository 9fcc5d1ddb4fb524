//! Dependencies through the real CLI and Docker: `requirements.txt` installed in a container
//! of the python3.13 base into a layer of its own, cached by what decides it.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// `lamina build DIR --json`, parsed.
fn build_json(dir: &Path, extra: &[&str]) -> Value {
    let out = run_ok(lamina().arg("build").arg(dir).arg("--json").args(extra));
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// `(name, cached, size)` of each layer.
fn layers(built: &Value) -> Vec<(String, bool, u64)> {
    built["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap_or_default().to_owned(),
                l["cached"].as_bool().unwrap_or_default(),
                l["size"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

/// A function folder with a trivial handler and these requirements.
fn with_requirements(requirements: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("app.py"),
        "def handler(e, c):\n    return 1\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("requirements.txt"), requirements).expect("write");
    dir
}

fn words(answer: &Answer) -> Vec<String> {
    let body: Value = serde_json::from_str(answer.json()["body"].as_str().expect("body"))
        .expect("the body is JSON");
    body["words"]
        .as_array()
        .expect("words")
        .iter()
        .filter_map(|w| w.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn jieba_from_requirements_answers_with_the_segmented_words() {
    require_docker();
    let rie = Rie::start("examples/jieba", &[]);
    let event = r#"{"queryStringParameters":{"text":"我来到北京清华大学"}}"#;
    let a = post(rie.port, INVOKE, &[], event.as_bytes());
    assert_eq!(a.status, 200, "{}\n{}", a.text(), rie.stdout());
    assert_eq!(a.json()["statusCode"], 200);
    // Lambda's Python 3.12+ runtimes answer non-ASCII text as UTF-8, not `\uXXXX` escapes
    // (awslambdaric's marshaller, keyed on AWS_EXECUTION_ENV): the bytes say 清华大学.
    assert!(
        a.text().contains("清华大学") && !a.text().contains("\\u"),
        "the answer escapes non-ASCII text: {}",
        a.text()
    );
    let words = words(&a);
    for w in ["我", "来到", "北京", "清华大学"] {
        assert!(words.iter().any(|x| x == w), "{w} not in {words:?}");
    }
}

#[test]
fn a_handler_edit_rebuilds_only_the_code_and_a_requirements_edit_only_the_dependencies() {
    require_docker();
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("jieba");
    copy_tree(&root().join("examples/jieba"), &f);
    let first = build_json(&f, &[]);
    let names: Vec<String> = layers(&first).into_iter().map(|l| l.0).collect();
    assert_eq!(names, ["base", "runtime-client", "dependencies", "code"]);

    let handler = f.join("lambda_function.py");
    let text = std::fs::read_to_string(&handler).expect("read");
    // Unique per run: the shared test store must not already hold the edited layer.
    let nonce = format!("{:?}", std::time::SystemTime::now());
    std::fs::write(&handler, format!("{text}\n# {nonce}\n")).expect("edit");
    let edited = build_json(&f, &[]);
    let rebuilt: Vec<(String, u64)> = layers(&edited)
        .into_iter()
        .filter(|l| !l.1)
        .map(|l| (l.0, l.2))
        .collect();
    assert_eq!(rebuilt.len(), 1, "{rebuilt:?}");
    assert_eq!(rebuilt[0].0, "code");
    assert!(rebuilt[0].1 < 4096, "the code layer is small: {rebuilt:?}");
    assert_ne!(edited["manifestDigest"], first["manifestDigest"]);

    let requirements = f.join("requirements.txt");
    let mut req = std::fs::read_to_string(&requirements).expect("read");
    req.push_str(&format!("# pinned for the test at {nonce}\n"));
    std::fs::write(&requirements, req).expect("edit");
    let again = build_json(&f, &[]);
    let rebuilt: Vec<String> = layers(&again)
        .into_iter()
        .filter(|l| !l.1)
        .map(|l| l.0)
        .collect();
    // requirements.txt is also a file of the function, so the code layer changes with it.
    assert_eq!(rebuilt, ["dependencies", "code"]);
}

#[test]
fn two_clean_builds_with_dependencies_give_the_same_digest() {
    require_docker();
    let digests: Vec<Value> = (0..2)
        .map(|_| {
            let store = tempfile::tempdir().expect("tmp");
            let out = run_ok(
                lamina()
                    .env("LAMINA_STORE", store.path())
                    .args(["build", "examples/jieba", "--json"])
                    .current_dir(root()),
            );
            let v: Value = serde_json::from_str(out.trim()).expect("json");
            assert!(
                layers(&v).iter().all(|l| !l.1),
                "a clean store caches nothing"
            );
            v["manifestDigest"].clone()
        })
        .collect();
    assert_eq!(digests[0], digests[1]);
}

#[test]
fn an_installer_failure_shows_the_installers_output() {
    require_docker();
    let dir = with_requirements("lamina-no-such-package-for-tests==1.0\n");
    let out =
        run(lamina()
            .arg("build")
            .arg(dir.path())
            .args(["--handler", "app.handler", "--json"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("pip could not install"), "{stderr}");
    assert!(
        stderr.contains("No matching distribution found for lamina-no-such-package-for-tests"),
        "pip's own words: {stderr}"
    );
    // Under --json, a failure's stdout is only the error object, never a result.
    let printed: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("an error object on stdout");
    assert!(
        printed["error"]
            .as_str()
            .is_some_and(|e| e.contains("pip could not install")),
        "{printed}"
    );
    assert!(printed.get("manifestDigest").is_none(), "{printed}");
}

#[test]
fn a_missing_requirements_file_is_named() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("app.py"),
        "def handler(e, c):\n    return 1\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("lamina.toml"),
        "handler = \"app.handler\"\nrequirements = \"deps/requirements.txt\"\n",
    )
    .expect("write");
    let out = run(lamina().arg("build").arg(dir.path()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("requirements file")
            && stderr.contains("deps/requirements.txt")
            && stderr.contains("does not exist"),
        "{stderr}"
    );
}

#[test]
fn uv_installs_the_same_packages() {
    require_docker();
    let built = build_json(
        &root().join("examples/jieba"),
        &[
            "--installer",
            "uv",
            "--tag",
            "lamina-e2e/jieba-uv:test",
            "--load",
        ],
    );
    let names: Vec<String> = layers(&built).into_iter().map(|l| l.0).collect();
    assert!(names.contains(&"dependencies".to_owned()), "{names:?}");
    let out = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "python3",
        "lamina-e2e/jieba-uv:test",
        "-c",
        "import jieba; print(jieba.__file__)",
    ]);
    assert_eq!(out.trim(), "/var/task/jieba/__init__.py");
}

/// `pip install --target .` output beside the handler: the packages get a layer of their
/// own, so a one-line handler edit rewrites only the small code layer.
#[test]
fn vendored_packages_get_their_own_layer_and_a_handler_edit_rewrites_only_the_code() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path();
    std::fs::write(
        f.join("app.py"),
        "import mypkg\n\ndef handler(e, c):\n    return mypkg.X\n",
    )
    .expect("write");
    std::fs::create_dir_all(f.join("mypkg")).expect("mkdir");
    std::fs::write(f.join("mypkg/__init__.py"), "X = 1\n").expect("write");
    // 2 MB of package data that must not be rewritten on a handler edit.
    let data: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(f.join("mypkg/data.bin"), data).expect("write");
    std::fs::create_dir_all(f.join("mypkg-1.0.dist-info")).expect("mkdir");
    std::fs::write(
        f.join("mypkg-1.0.dist-info/RECORD"),
        "mypkg/__init__.py,sha256=x,6\nmypkg/data.bin,sha256=y,2000000\nmypkg-1.0.dist-info/RECORD,,\n",
    )
    .expect("write");
    let first = build_json(f, &["--handler", "app.handler"]);
    let names: Vec<String> = layers(&first).into_iter().map(|l| l.0).collect();
    assert_eq!(names, ["base", "runtime-client", "vendored", "code"]);

    // Unique per run: the shared test store must not already hold the edited layer.
    let nonce = format!("{:?}", std::time::SystemTime::now());
    std::fs::write(
        f.join("app.py"),
        format!("import mypkg\n\ndef handler(e, c):\n    return mypkg.X + 1  # {nonce}\n"),
    )
    .expect("edit");
    let edited = build_json(f, &["--handler", "app.handler"]);
    let rebuilt: Vec<(String, u64)> = layers(&edited)
        .into_iter()
        .filter(|l| !l.1)
        .map(|l| (l.0, l.2))
        .collect();
    assert_eq!(rebuilt.len(), 1, "{rebuilt:?}");
    assert_eq!(rebuilt[0].0, "code");
    assert!(rebuilt[0].1 < 1024, "the code layer is small: {rebuilt:?}");
    let vendored = &layers(&edited)[2];
    assert!(
        vendored.1 && vendored.2 > 100_000,
        "the packages stay in their cached layer: {vendored:?}"
    );
}

#[test]
fn an_unreachable_package_index_is_reported_with_the_installers_words() {
    require_docker();
    let dir = with_requirements("lamina-unreachable-index-test==1\n");
    let out = run(lamina()
        .env("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
        .env("PIP_RETRIES", "0")
        .arg("build")
        .arg(dir.path())
        .args(["--handler", "app.handler"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("pip could not install"), "{stderr}");
    assert!(
        stderr.contains("127.0.0.1"),
        "pip names the index it could not reach: {stderr}"
    );
}

/// With Lambda's defaults (128 MB, 3 s) jieba's first call may time out or run out of memory
/// building its dictionary, as the seed's did; whatever happens, the answer is the cloud's.
#[test]
fn jieba_with_lambdas_defaults_answers_as_the_cloud_would() {
    require_docker();
    let rie = Rie::start("examples/jieba", &["--memory", "128", "--timeout", "3"]);
    let event = r#"{"queryStringParameters":{"text":"我来到北京清华大学"}}"#;
    let a = post(rie.port, INVOKE, &[], event.as_bytes());
    assert_eq!(a.status, 200, "{}", a.text());
    let rid = a.header("x-amzn-requestid").expect("request id").to_owned();
    match a.header("x-amz-function-error") {
        None => assert!(words(&a).iter().any(|w| w == "清华大学"), "{}", a.text()),
        Some(kind) => {
            assert_eq!(kind, "Unhandled");
            let body = a.json();
            match body["errorType"].as_str() {
                Some("Sandbox.Timedout") => assert_eq!(
                    body["errorMessage"],
                    format!("RequestId: {rid} Error: Task timed out after 3.00 seconds")
                ),
                Some("Runtime.OutOfMemory") => assert!(
                    body["errorMessage"]
                        .as_str()
                        .is_some_and(|m| m.starts_with(&format!("RequestId: {rid} Error: "))),
                    "{body}"
                ),
                other => panic!("not an answer the cloud gives here: {other:?} {body}"),
            }
        }
    }
    let log = rie.wait_stdout(
        &format!("REPORT RequestId: {rid}"),
        std::time::Duration::from_secs(30),
    );
    assert!(log.contains("Memory Size: 128 MB"), "{log}");
}
