//! `--load` sends Docker only what it lacks: after a one-line edit, the rebuilt image reaches
//! the daemon as its changed code layer plus a few KiB of metadata, not the whole archive.

mod common;

use common::*;
use serde_json::Value;

fn build_load(dir: &std::path::Path, tag: &str) -> Value {
    let out = run_ok(
        lamina()
            .args(["build"])
            .arg(dir)
            .args(["--tag", tag, "--load", "--json"]),
    );
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn a_one_line_edit_sends_docker_only_the_changed_layer() {
    require_docker();
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("calculator");
    copy_tree(&root().join("examples/calculator"), &dir);
    let tag = format!("lamina-load-test/calculator:{}", std::process::id());
    let _ = common::engine_cli().args(["rmi", "-f", &tag]).output();

    let first = build_load(&dir, &tag);
    let layers = first["layers"].as_array().expect("layers").len();
    assert!(first["load"]["layersSent"].as_u64().is_some(), "{first}");

    // One line of the handler changes (to a text no earlier run used): only the code layer
    // is new.
    let app = dir.join("app.py");
    let mut text = std::fs::read_to_string(&app).expect("app.py");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    text.push_str(&format!("\n# edited {nanos}\n"));
    std::fs::write(&app, text).expect("write app.py");
    let second = build_load(&dir, &tag);
    assert_ne!(second["configDigest"], first["configDigest"]);

    let load = &second["load"];
    assert_eq!(load["layersTotal"], layers as u64, "{second}");
    if on_podman() {
        // Podman loads only whole archives (the README's "Docker or Podman"): every layer
        // goes, at once, with no refused short form first.
        assert_eq!(load["layersSent"], layers as u64, "{second}");
        return;
    }
    assert_eq!(load["layersSent"], 1, "only the code layer: {second}");
    let code = second["layers"]
        .as_array()
        .and_then(|l| l.last())
        .expect("code layer");
    assert_eq!(code["cached"], false, "{second}");
    let code_size = code["size"].as_u64().expect("size");
    let sent = load["bytesSent"].as_u64().expect("bytesSent");
    assert!(
        sent < code_size + 64 * 1024,
        "sent {sent} bytes for a {code_size}-byte code layer: {second}"
    );

    // Docker has the new image, every layer in place.
    let inspect: Value =
        serde_json::from_str(&docker(&["image", "inspect", &tag])).expect("inspect json");
    assert_eq!(inspect[0]["Id"], second["configDigest"]);
    let diff_ids: Vec<&Value> = second["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| &l["diffId"])
        .collect();
    let held: Vec<&Value> = inspect[0]["RootFS"]["Layers"]
        .as_array()
        .expect("RootFS")
        .iter()
        .collect();
    assert_eq!(held, diff_ids);

    // Loading the same image again sends nothing.
    let third = build_load(&dir, &tag);
    assert_eq!(third["load"], Value::Null, "{third}");
    assert_eq!(third["loaded"], true);
    let _ = common::engine_cli().args(["rmi", "-f", &tag]).output();
}
