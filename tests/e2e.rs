//! End to end through the real CLI, the real Docker daemon and the real base runtime:
//! build the calculator, serve it, invoke it with curl-shaped requests.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

const TAG: &str = "lamina-e2e/calculator-errors:test";

fn event(name: &str) -> Vec<u8> {
    std::fs::read(root().join("examples/calculator-errors/events").join(name)).expect("event file")
}

fn build_calculator() -> Value {
    let out = run_ok(
        lamina()
            .args([
                "build",
                "examples/calculator-errors",
                "--tag",
                TAG,
                "--json",
            ])
            .current_dir(root()),
    );
    serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("--json output is not JSON ({e}): {out}"))
}

#[test]
fn build_serve_invoke_calculator() {
    require_docker();
    let built = build_calculator();
    assert_eq!(built["reference"], TAG);
    let layers = built["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 3, "base, runtime client, code: {built}");

    let mut rie = Rie::start(TAG, &[]);

    // The image Docker runs is the one we built, configured as Lambda's base images are.
    let inspect: Value =
        serde_json::from_str(&docker(&["image", "inspect", TAG])).expect("inspect json");
    let config = &inspect[0]["Config"];
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/var/runtime/lamina-ric"])
    );
    assert_eq!(config["Cmd"], serde_json::json!(["app.handler"]));
    assert_eq!(config["WorkingDir"], "/var/task");
    let env: Vec<&str> = config["Env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for want in [
        "LAMBDA_TASK_ROOT=/var/task",
        "LAMBDA_RUNTIME_DIR=/var/runtime",
        "LANG=en_US.UTF-8",
        "TZ=:/etc/localtime",
    ] {
        assert!(env.contains(&want), "{want} missing from {env:?}");
    }
    assert!(
        env.iter().any(|e| e.starts_with("PATH=/var/lang/bin:")),
        "{env:?}"
    );
    assert_eq!(
        image_id(TAG),
        built["configDigest"].as_str().expect("config digest"),
        "Docker runs the image lamina built"
    );

    // The README's curl.
    let ok = post(
        rie.port,
        INVOKE,
        &[],
        br#"{"queryStringParameters":{"num1":"6","num2":"3","operator":"divide"}}"#,
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(ok.header("x-amz-function-error").is_none());
    assert_eq!(ok.header("x-amz-executed-version"), Some("$LATEST"));
    let proxy = ok.json();
    assert_eq!(proxy["statusCode"], 200);
    let body: Value =
        serde_json::from_str(proxy["body"].as_str().expect("body string")).expect("inner json");
    assert_eq!(body["result"], 2.0);
    assert!(
        ok.text().starts_with(r#"{"statusCode": 200, "#),
        "Python's json.dumps layout: {}",
        ok.text()
    );

    // The same function by name, warm: one environment, init reported once.
    let warm = post(
        rie.port,
        "/2015-03-31/functions/calculator-errors/invocations",
        &[],
        &event("divide.json"),
    );
    assert_eq!(warm.status, 200, "{}", warm.text());

    // An unhandled exception: 200, X-Amz-Function-Error, the AWS Python error shape.
    let err = post(rie.port, INVOKE, &[], &event("divide-by-zero.json"));
    assert_eq!(err.status, 200, "{}", err.text());
    assert_eq!(err.header("x-amz-function-error"), Some("Unhandled"));
    let e = err.json();
    assert_eq!(e["errorType"], "ZeroDivisionError");
    assert_eq!(e["errorMessage"], "float division by zero");
    let trace = e["stackTrace"].as_array().expect("stackTrace is a list");
    assert!(
        trace
            .iter()
            .any(|f| f.as_str().is_some_and(|s| s.contains("/var/task/app.py"))),
        "the stack names the handler file: {e}"
    );
    assert!(
        e["requestId"].as_str().is_some_and(|id| id.len() == 36),
        "{e}"
    );

    // Platform log lines, in the cloud's order, Init Duration on the first invoke only.
    let out = rie.wait_stdout(
        &format!(
            "REPORT RequestId: {}",
            e["requestId"].as_str().unwrap_or("")
        ),
        Duration::from_secs(10),
    );
    let starts = out
        .lines()
        .filter(|l| l.starts_with("START RequestId: "))
        .count();
    let reports: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("REPORT RequestId: "))
        .collect();
    assert_eq!(starts, 3, "{out}");
    assert_eq!(reports.len(), 3, "{out}");
    assert!(reports[0].contains("\tInit Duration: "), "{}", reports[0]);
    assert!(
        !reports[1].contains("Init Duration"),
        "warm invoke has no init: {}",
        reports[1]
    );
    assert!(
        reports[0].contains("\tMemory Size: 128 MB\t"),
        "{}",
        reports[0]
    );
    assert!(
        reports[0].ends_with('\t'),
        "REPORT ends with a tab: {:?}",
        reports[0]
    );
    // Measured from the container's memory accounting, never an echo of Memory Size.
    let used: u64 = reports[0]
        .split("\tMax Memory Used: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no Max Memory Used in {:?}", reports[0]));
    assert!(
        (2..128).contains(&used),
        "implausible Max Memory Used {used} MB"
    );
    assert!(
        out.contains("[ERROR] ZeroDivisionError: float division by zero"),
        "{out}"
    );
    let first_start = out.find("START RequestId:").expect("start");
    let first_end = out.find("END RequestId:").expect("end");
    let logged = out.find("[INFO]").expect("the handler's logger.info line");
    assert!(
        first_start < logged && logged < first_end,
        "function output sits between START and END:\n{out}"
    );

    // Ctrl-C removes the session's containers (other tests may be serving at the same time);
    // the network stays.
    // By image id: Podman's `ancestor` filter does not match Docker's short names.
    let image_id = image_id(TAG);
    let container = docker(&[
        "ps",
        "--filter",
        &format!("ancestor={}", image_id.trim().trim_start_matches("sha256:")),
        "--format",
        "{{.ID}}",
    ]);
    let container = container.trim();
    assert!(
        !container.is_empty() && !container.contains('\n'),
        "one environment: {container:?}"
    );
    let network = docker(&[
        "inspect",
        "--format",
        "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}",
        container,
    ]);
    let network = network.trim().to_owned();
    // Docker's default bridge, the default (--network); Podman calls it `podman`.
    assert!(
        network == "bridge" || network == "podman",
        "not the engine's default bridge: {network}"
    );
    let status = rie.interrupt();
    assert!(
        status.success(),
        "lamina rie exit: {status}\n{}",
        rie.stderr()
    );
    let left = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("ancestor={}", image_id.trim().trim_start_matches("sha256:")),
        "--format",
        "{{.ID}}",
    ]);
    assert!(left.trim().is_empty(), "containers left behind: {left}");
    // The network is not lamina's to remove. (Podman's Docker API lists its default network
    // as `bridge`, its own CLI as `podman`.)
    let nets = docker(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(
        nets.lines()
            .any(|n| n == network || (network == "podman" && n == "bridge")),
        "network {network} was removed: {nets}"
    );
}

#[test]
fn same_inputs_same_digest() {
    let a = tempfile::tempdir().expect("tmp");
    let b = tempfile::tempdir().expect("tmp");
    let build = |store: &std::path::Path| -> Value {
        let out = run_ok(
            lamina()
                .env("LAMINA_STORE", store)
                .args(["build", "examples/calculator-errors", "--json"])
                .current_dir(root()),
        );
        serde_json::from_str(out.trim()).expect("json")
    };
    let first = build(a.path());
    let second = build(b.path());
    assert!(
        first["layers"]
            .as_array()
            .is_some_and(|l| l.iter().all(|l| l["cached"] == false)),
        "{first}"
    );
    assert_eq!(
        first["manifestDigest"], second["manifestDigest"],
        "two fresh stores, one digest"
    );

    // A one-line change rebuilds only the code layer and changes the digest.
    let dir = tempfile::tempdir().expect("tmp");
    copy_tree(&root().join("examples/calculator-errors"), dir.path());
    let app = dir.path().join("app.py");
    let mut text = std::fs::read_to_string(&app).expect("read");
    text.push_str("\n# changed\n");
    std::fs::write(&app, text).expect("write");
    let out = run_ok(
        lamina()
            .env("LAMINA_STORE", a.path())
            .args(["build", "--json"])
            .arg(dir.path())
            .args(["--name", "calculator-errors"]),
    );
    let third: Value = serde_json::from_str(out.trim()).expect("json");
    let cached: Vec<bool> = third["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["cached"] == true)
        .collect();
    assert_eq!(cached, vec![true, true, false], "{third}");
    assert_ne!(third["manifestDigest"], first["manifestDigest"]);
}

#[test]
fn oci_layout_output() {
    let out_dir = tempfile::tempdir().expect("tmp");
    let layout = out_dir.path().join("calc-oci");
    let out = run_ok(
        lamina()
            .args(["build", "examples/calculator-errors", "--json", "--output"])
            .arg(format!("oci:{}", layout.display()))
            .current_dir(root()),
    );
    let built: Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(built["output"], format!("oci:{}", layout.display()));
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index.json"))
            .expect("index json");
    assert_eq!(index["manifests"][0]["digest"], built["manifestDigest"]);
    assert_eq!(
        index["manifests"][0]["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    let digest = built["manifestDigest"].as_str().expect("digest");
    let manifest_path = layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(manifest_path).expect("manifest")).expect("json");
    for layer in manifest["layers"].as_array().expect("layers") {
        assert_eq!(
            layer["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        let hex = layer["digest"]
            .as_str()
            .expect("digest")
            .trim_start_matches("sha256:")
            .to_owned();
        let size = std::fs::metadata(layout.join("blobs/sha256").join(hex))
            .expect("blob")
            .len();
        assert_eq!(Some(size), layer["size"].as_u64());
    }
}

#[test]
fn load_and_docker_archive_outputs() {
    require_docker();
    let tag = "lamina-e2e/calculator:load";
    let _ = common::engine_cli().args(["rmi", "-f", tag]).output();
    let out = run_ok(
        lamina()
            .args([
                "build",
                "examples/calculator-errors",
                "--json",
                "--load",
                "--tag",
                tag,
            ])
            .current_dir(root()),
    );
    let built: Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(built["loaded"], true);
    let id = image_id(tag);
    assert_eq!(id, built["configDigest"].as_str().expect("config digest"));

    // A docker-archive `docker load` reads back as the same image under the same name.
    let dir = tempfile::tempdir().expect("tmp");
    let archive = dir.path().join("calc.tar");
    let archive_tag = "lamina-e2e/calculator:archive";
    run_ok(
        lamina()
            .args([
                "build",
                "examples/calculator-errors",
                "--tag",
                archive_tag,
                "--output",
            ])
            .arg(format!("docker-archive:{}", archive.display()))
            .current_dir(root()),
    );
    let loaded = docker(&["load", "-i", archive.to_str().expect("utf-8 path")]);
    assert!(loaded.contains(archive_tag), "{loaded}");
    let id = image_id(archive_tag);
    assert_eq!(
        id,
        built["configDigest"].as_str().expect("config digest"),
        "same inputs, same image"
    );
    let _ = common::engine_cli()
        .args(["rmi", "-f", tag, archive_tag])
        .output();
}

/// The README's first command: `lamina rie DIR` builds the folder, loads it and serves it.
#[test]
fn rie_builds_a_folder_first() {
    require_docker();
    let dir = tempfile::tempdir().expect("tmp");
    copy_tree(&root().join("examples/calculator-errors"), dir.path());
    let toml = std::fs::read_to_string(dir.path().join("lamina.toml")).expect("toml");
    std::fs::write(
        dir.path().join("lamina.toml"),
        toml.replace("name = \"calculator-errors\"", "name = \"lamina-e2e-dir\""),
    )
    .expect("write");
    let mut rie = Rie::start(dir.path().to_str().expect("utf-8"), &[]);
    assert!(
        rie.stderr().contains("built lamina-e2e-dir:latest"),
        "{}",
        rie.stderr()
    );
    let ok = post(rie.port, INVOKE, &[], &event("divide.json"));
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(ok.text().contains(r#"\"result\": 2.0"#), "{}", ok.text());
    // SIGTERM cleans up like Ctrl-C.
    assert!(rie.signal("TERM").success(), "{}", rie.stderr());
    let image_id = image_id("lamina-e2e-dir:latest");
    let left = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("ancestor={}", image_id.trim().trim_start_matches("sha256:")),
    ]);
    assert!(
        left.trim().is_empty(),
        "containers left after SIGTERM: {left}"
    );
    let _ = common::engine_cli()
        .args(["rmi", "-f", "lamina-e2e-dir:latest"])
        .output();
}

/// The OS-only `provided` base with a plain executable as the handler: event on stdin,
/// response on stdout, a non-zero exit reported as a function error.
#[test]
fn provided_base_runs_an_executable_handler() {
    require_docker();
    let tag = "lamina-e2e/exec-sh:test";
    run_ok(
        lamina()
            .args(["build", "examples/exec-sh", "--tag", tag])
            .current_dir(root()),
    );
    let mut rie = Rie::start(tag, &[]);
    let ok = post(rie.port, INVOKE, &[], br#"{"a":1}"#);
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(ok.header("x-amz-function-error").is_none(), "{}", ok.text());
    let body = ok.json();
    assert_eq!(body["echo"]["a"], 1, "{body}");
    assert_eq!(body["requestId"].as_str().map(str::len), Some(36), "{body}");

    let failed = post(rie.port, INVOKE, &[], br#"{"fail":true}"#);
    assert_eq!(failed.status, 200);
    assert_eq!(failed.header("x-amz-function-error"), Some("Unhandled"));
    let e = failed.json();
    assert_eq!(e["errorType"], "Runtime.ExitError", "{e}");
    assert!(
        e["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("asked to fail")),
        "{e}"
    );
    assert!(rie.interrupt().success());
    let _ = common::engine_cli().args(["rmi", "-f", tag]).output();
}

/// The seed's calculator answers as the seed wrote it: 200 with the result, 400 with the
/// three errors, bodies made by `json.dumps(..., indent=4)` and no `headers` key.
#[test]
fn the_seed_calculator_answers_its_four_cases() {
    require_docker();
    let rie = Rie::start("examples/calculator", &[]);
    let invoke = |query: &str| -> Value {
        let a = post(
            rie.port,
            INVOKE,
            &[],
            format!(r#"{{"queryStringParameters":{query}}}"#).as_bytes(),
        );
        assert_eq!(a.status, 200, "{}", a.text());
        a.json()
    };
    let cases = [
        (
            r#"{"num1":"1","num2":"2","operator":"add"}"#,
            200,
            r#"{"result": 3.0}"#,
        ),
        (
            r#"{"num1":"6","num2":"3","operator":"divide"}"#,
            200,
            r#"{"result": 2.0}"#,
        ),
        (
            r#"{"num1":"1","num2":"0","operator":"divide"}"#,
            400,
            r#"{"error": "Cannot divide by zero"}"#,
        ),
        (
            r#"{"num1":"1","num2":"2","operator":"pow"}"#,
            400,
            r#"{"error": "Invalid operator"}"#,
        ),
        (
            r#"{"num1":"one","num2":"2","operator":"add"}"#,
            400,
            r#"{"error": "Invalid input"}"#,
        ),
        (r#"{"num1":"1"}"#, 400, r#"{"error": "Invalid input"}"#),
        ("null", 400, r#"{"error": "Invalid input"}"#),
    ];
    for (query, status, body) in cases {
        let answer = invoke(query);
        assert_eq!(answer["statusCode"], status, "{query}: {answer}");
        assert!(answer.get("headers").is_none(), "{answer}");
        let want: Value = serde_json::from_str(body).expect("json");
        let text = answer["body"].as_str().expect("body");
        assert_eq!(
            serde_json::from_str::<Value>(text).expect("json body"),
            want,
            "{query}"
        );
        assert!(text.starts_with("{\n    \""), "indent=4: {text:?}");
    }
}

/// The seed's random image answers with one of its five URLs.
#[test]
fn the_random_image_answers_with_one_of_five_urls() {
    require_docker();
    let rie = Rie::start("examples/random-image", &[]);
    let source = std::fs::read_to_string(root().join("examples/random-image/lambda_function.py"))
        .expect("source");
    for _ in 0..3 {
        let a = post(rie.port, INVOKE, &[], b"{}");
        let answer = a.json();
        assert_eq!(answer["statusCode"], 200, "{answer}");
        let body: Value =
            serde_json::from_str(answer["body"].as_str().expect("body")).expect("json");
        let url = body["imageUrl"].as_str().expect("imageUrl");
        assert!(
            url.starts_with("https://") && source.contains(&format!("\"{url}\"")),
            "{url}"
        );
    }
}

/// The seed's layer route: jieba in a layer ZIP under /opt/python, the handler alone in a
/// deployment ZIP, both made by the example's script from PyPI.
#[test]
fn jieba_from_a_layer_zip_answers_with_the_segmented_words() {
    require_docker();
    common::run_python("examples/jieba-layer/make_zips.py");
    let rie = Rie::start("examples/jieba-layer", &[]);
    let a = post(
        rie.port,
        INVOKE,
        &[],
        r#"{"queryStringParameters":{"text":"我来到北京清华大学"}}"#.as_bytes(),
    );
    let answer = a.json();
    assert_eq!(answer["statusCode"], 200, "{answer}\n{}", rie.stdout());
    let body: Value = serde_json::from_str(answer["body"].as_str().expect("body")).expect("json");
    let words: Vec<&str> = body["words"]
        .as_array()
        .expect("words")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        words.contains(&"清华大学") && words.contains(&"北京"),
        "{words:?}"
    );
    let layers = docker(&[
        "image",
        "inspect",
        "jieba-layer:latest",
        "--format",
        "{{len .RootFS.Layers}}",
    ]);
    assert_eq!(layers.trim(), "4", "base, client, /opt layers, code");
}
