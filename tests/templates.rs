//! `lamina init`: each runtime's templates give a folder that `lamina build` builds and
//! `lamina invoke` answers as written (under one `lamina rie` serving them all), and an
//! existing file is never overwritten.

mod common;

use std::path::Path;

use common::*;

/// (runtime, template, folder and function name, what the answer holds).
const CASES: &[(&str, &str, &str, &str)] = &[
    ("python3.13", "hello", "py313-hello", "Hello, lamina!"),
    ("python3.13", "api", "py313-api", "Hello, lamina!"),
    ("python3.14", "hello", "py314-hello", "Hello, lamina!"),
    ("python3.14", "api", "py314-api", "Hello, lamina!"),
    ("python3.13", "extension", "py313-ext", "hello-extension"),
    ("nodejs24", "hello", "node-hello-tpl", "Hello, lamina!"),
    ("nodejs24", "extension", "node-ext-tpl", "hello-extension"),
    ("nodejs24", "api", "node-api-tpl", "Hello, lamina!"),
    ("nodejs24", "stream", "node-stream-tpl", "line 3 of 3"),
    ("provided", "hello", "sh-hello", "Hello from a shell!"),
    ("provided", "api", "sh-api", "Hello from a shell!"),
    ("provided", "stream", "sh-stream", "line 3 of 3"),
];

fn init(dir: &Path, runtime: &str, template: &str) -> std::process::Output {
    run(lamina()
        .arg("init")
        .arg(dir)
        .args(["--runtime", runtime, "--template", template]))
}

#[test]
fn every_runtime_and_template_builds_and_answers_as_written() {
    require_docker();
    let work = tempfile::tempdir().expect("temp dir");
    let mut tags = Vec::new();
    for (runtime, template, name, _) in CASES {
        let dir = work.path().join(name);
        let out = init(&dir, runtime, template);
        assert!(
            out.status.success(),
            "lamina init --runtime {runtime} --template {template}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tag = format!("lamina-init-test/{name}:test");
        run_ok(lamina().arg("build").arg(&dir).args(["--tag", &tag]));
        tags.push(tag);
    }
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    let rie = Rie::start(tags[0], &tags[1..]);
    let endpoint = format!("http://127.0.0.1:{}", rie.port);
    for (runtime, template, name, expected) in CASES {
        let event = work.path().join(name).join("events/event.json");
        let mut cmd = lamina();
        cmd.args(["invoke", name, "--endpoint", &endpoint, "--event"])
            .arg(&event);
        if *template == "stream" {
            cmd.arg("--stream");
        }
        let answer = run_ok(&mut cmd);
        assert!(
            answer.contains(expected),
            "{runtime} {template}: the answer holds no {expected:?}: {answer}\n{}",
            rie.stdout()
        );
    }
}

#[test]
fn an_existing_file_is_never_overwritten_and_nothing_is_written_beside_it() {
    let work = tempfile::tempdir().expect("temp dir");
    let dir = work.path().join("fn");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("lamina.toml"), "# mine\n").expect("lamina.toml");
    let out = init(&dir, "python3.13", "hello");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("lamina.toml") && err.contains("writes nothing over"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("lamina.toml")).unwrap(),
        "# mine\n"
    );
    assert!(!dir.join("app.py").exists(), "nothing written beside it");
    let out = init(&dir, "python3.13", "stream");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--runtime nodejs24"));
    let out = init(&work.path().join("other"), "python3.13", "extension-x");
    assert!(!out.status.success());
    let out = init(&work.path().join("other"), "provided", "extension");
    assert!(String::from_utf8_lossy(&out.stderr).contains("static binary"));
}
