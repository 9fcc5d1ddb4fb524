//! Config/manifest writing, the 10 GiB check, OCI layout and docker-archive exports.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use lamina_image::{
    read_config, read_manifest, write_docker_archive, write_docker_load_archive, write_image,
    write_layer, write_oci_layout, Digest, Error, ImageSpec, LayerDescriptor, LayerPlan,
    LayerSettings, LoadArchive, Reference, Store, MAX_UNCOMPRESSED_SIZE,
};
use serde_json::Value;

fn spec(layers: Vec<(LayerDescriptor, String)>) -> ImageSpec {
    ImageSpec {
        architecture: "amd64".into(),
        os: "linux".into(),
        entrypoint: vec!["/var/runtime/lamina-ric".into()],
        cmd: vec!["app.handler".into()],
        working_dir: "/var/task".into(),
        env: vec!["LAMBDA_TASK_ROOT=/var/task".into(), "TZ=:UTC".into()],
        labels: (0..8)
            .map(|i| (format!("label.{i}"), format!("v{i}")))
            .collect::<BTreeMap<_, _>>(),
        created: "1970-01-01T00:00:00Z".into(),
        layers,
        format: Default::default(),
    }
}

/// A store holding a two-layer image; returns the manifest digest.
fn small_image(store: &Store) -> (Digest, Vec<LayerDescriptor>) {
    let settings = LayerSettings::default();
    let mut base = LayerPlan::new();
    base.add_bytes("etc/os-release", b"ID=lamina\n".to_vec(), false)
        .unwrap();
    base.add_symlink("bin", "usr/bin").unwrap();
    let mut code = LayerPlan::new();
    code.add_bytes(
        "var/task/app.py",
        b"def handler(e, c):\n    return e\n".to_vec(),
        false,
    )
    .unwrap();
    let (l1, _) = write_layer(store, &base, &settings).unwrap();
    let (l2, _) = write_layer(store, &code, &settings).unwrap();
    let built = write_image(
        store,
        &spec(vec![
            (l1.clone(), "lamina base".into()),
            (l2.clone(), "lamina code".into()),
        ]),
    )
    .unwrap();
    (built.manifest_digest, vec![l1, l2])
}

fn sha_hex(data: &[u8]) -> String {
    Digest::sha256_of(data).hex().to_string()
}

#[test]
fn manifest_and_config_are_stable_and_lambda_shaped() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (digest, layers) = small_image(&store);
    // Rebuilding (labels go through a HashMap inside oci-spec) gives the same bytes.
    let again = write_image(
        &store,
        &spec(vec![
            (layers[0].clone(), "lamina base".into()),
            (layers[1].clone(), "lamina code".into()),
        ]),
    )
    .unwrap();
    assert_eq!(again.manifest_digest, digest);

    let manifest: Value =
        serde_json::from_slice(&fs::read(store.blob_path(&digest)).unwrap()).unwrap();
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    assert_eq!(
        manifest["config"]["digest"],
        again.config_digest.to_string()
    );
    let manifest_layers = manifest["layers"].as_array().unwrap();
    assert_eq!(manifest_layers.len(), 2);
    for (m, l) in manifest_layers.iter().zip(&layers) {
        assert_eq!(
            m["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        assert_eq!(m["digest"], l.digest.to_string());
        assert_eq!(m["size"], l.size);
    }

    let config: Value =
        serde_json::from_slice(&fs::read(store.blob_path(&again.config_digest)).unwrap()).unwrap();
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["created"], "1970-01-01T00:00:00Z");
    assert_eq!(config["config"]["Entrypoint"][0], "/var/runtime/lamina-ric");
    assert_eq!(config["config"]["Cmd"][0], "app.handler");
    assert_eq!(config["config"]["WorkingDir"], "/var/task");
    assert_eq!(config["rootfs"]["type"], "layers");
    let diff_ids: Vec<&str> = config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        diff_ids,
        [layers[0].diff_id.as_str(), layers[1].diff_id.as_str()]
    );
    assert_eq!(config["history"].as_array().unwrap().len(), 2);
    assert_eq!(config["history"][1]["created_by"], "lamina code");

    // Typed read-back agrees.
    let typed = read_manifest(&store, &digest).unwrap();
    assert_eq!(typed.layers().len(), 2);
    assert_eq!(
        read_config(&store, &typed)
            .unwrap()
            .rootfs()
            .diff_ids()
            .len(),
        2
    );
    assert_eq!(
        again.uncompressed_size,
        layers[0].uncompressed_size + layers[1].uncompressed_size
    );
}

#[test]
fn ten_gib_limit_is_enforced_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let blob = store.put_bytes(b"fake layer").unwrap();
    let fake = |uncompressed_size| LayerDescriptor {
        diff_id: Digest::sha256_of(b"tar"),
        digest: blob.clone(),
        size: 10,
        uncompressed_size,
    };
    let blobs_before = fs::read_dir(dir.path().join("blobs/sha256"))
        .unwrap()
        .count();
    let err = write_image(
        &store,
        &spec(vec![
            (fake(6 << 30), "a".into()),
            (fake(4 << 30), "b".into()),
        ]),
    )
    .unwrap_err();
    match &err {
        Error::ImageTooLarge { size, limit } => {
            assert_eq!((*size, *limit), (10 << 30, MAX_UNCOMPRESSED_SIZE));
        }
        other => panic!("expected ImageTooLarge, got {other}"),
    }
    assert!(err.to_string().contains("10737418240"), "{err}");
    assert_eq!(
        fs::read_dir(dir.path().join("blobs/sha256"))
            .unwrap()
            .count(),
        blobs_before
    );

    // One byte under the limit is accepted.
    write_image(&store, &spec(vec![(fake((10 << 30) - 1), "a".into())])).unwrap();
}

#[test]
fn specs_lambda_would_reject_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut s = spec(vec![]);
    s.architecture = "x86_64".into();
    assert!(matches!(
        write_image(&store, &s),
        Err(Error::InvalidSpec(_))
    ));
    let mut s = spec(vec![]);
    s.working_dir = "var/task".into();
    assert!(matches!(
        write_image(&store, &s),
        Err(Error::InvalidSpec(_))
    ));
    let missing = LayerDescriptor {
        diff_id: Digest::sha256_of(b"a"),
        digest: Digest::sha256_of(b"b"),
        size: 1,
        uncompressed_size: 1,
    };
    assert!(matches!(
        write_image(&store, &spec(vec![(missing, "x".into())])),
        Err(Error::BlobMissing { .. })
    ));
}

/// Check every `blobs/sha256/<hex>` file of a layout directory hashes to its name.
fn check_layout_dir(dir: &Path, manifest: &Digest, tag: &str) {
    assert_eq!(
        fs::read_to_string(dir.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let index: Value = serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    let entry = &index["manifests"][0];
    assert_eq!(entry["digest"], manifest.to_string());
    assert_eq!(
        entry["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        tag
    );
    let mut count = 0;
    for e in fs::read_dir(dir.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        assert_eq!(
            sha_hex(&fs::read(e.path()).unwrap()),
            e.file_name().to_str().unwrap()
        );
        count += 1;
    }
    assert_eq!(count, 4, "manifest, config and two layers");
}

#[test]
fn oci_layout_is_complete_and_replaceable() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let (digest, _) = small_image(&store);
    let out = dir.path().join("out").join("image");
    write_oci_layout(&store, &digest, &out, Some("latest")).unwrap();
    check_layout_dir(&out, &digest, "latest");

    // Replacing an existing layout is allowed.
    write_oci_layout(&store, &digest, &out, Some("v2")).unwrap();
    check_layout_dir(&out, &digest, "v2");
    let leftovers: Vec<_> = fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["image"], "temp dirs left behind");

    // A non-empty directory that is not a layout is left alone.
    let precious = dir.path().join("precious");
    fs::create_dir(&precious).unwrap();
    fs::write(precious.join("notes.txt"), "keep me").unwrap();
    let err = write_oci_layout(&store, &digest, &precious, None).unwrap_err();
    assert!(matches!(err, Error::NotOciLayout { .. }), "{err}");
    assert_eq!(
        fs::read_to_string(precious.join("notes.txt")).unwrap(),
        "keep me"
    );
}

/// Read a tar into (name, bytes) pairs.
#[test]
fn editing_an_oci_export_leaves_the_store_untouched() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let (digest, layers) = small_image(&store);
    let out = dir.path().join("export");
    write_oci_layout(&store, &digest, &out, None).unwrap();
    let layer = &layers[0].digest;
    let exported = out.join("blobs").join("sha256").join(layer.hex());
    let stored = store.blob_path(layer);
    assert_ne!(
        fs::metadata(&exported).unwrap().ino(),
        fs::metadata(&stored).unwrap().ino(),
        "the export shares an inode with the store"
    );
    let before = fs::read(&stored).unwrap();
    fs::write(&exported, b"edited by the user").unwrap();
    assert_eq!(fs::read(&stored).unwrap(), before);
}

fn untar(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(data);
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut e = entry.unwrap();
        let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        out.push((name, bytes));
    }
    out
}

#[test]
fn docker_archive_has_oci_layout_and_docker_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (digest, layers) = small_image(&store);
    let tags: Vec<Reference> = ["calculator:latest", "localhost:5000/team/calc:v1"]
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
    let archive = write_docker_archive(&store, &digest, &tags, Vec::new()).unwrap();
    let again = write_docker_archive(&store, &digest, &tags, Vec::new()).unwrap();
    assert_eq!(archive, again, "archive must be reproducible");

    let files = untar(&archive);
    let get = |name: &str| {
        &files
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .1
    };
    for (name, bytes) in &files {
        if let Some(hex) = name.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()) {
            assert_eq!(sha_hex(bytes), hex, "{name}");
        }
    }
    assert_eq!(get("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#);

    let docker: Value = serde_json::from_slice(get("manifest.json")).unwrap();
    let entry = &docker[0];
    assert_eq!(
        entry["RepoTags"],
        serde_json::json!(["calculator:latest", "localhost:5000/team/calc:v1"])
    );
    let config: Value = serde_json::from_slice(get(entry["Config"].as_str().unwrap())).unwrap();
    assert_eq!(
        config["rootfs"]["diff_ids"][1],
        layers[1].diff_id.to_string()
    );
    let layer_paths: Vec<String> = entry["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        layer_paths,
        layers
            .iter()
            .map(|l| format!("blobs/sha256/{}", l.digest.hex()))
            .collect::<Vec<_>>()
    );
    for p in &layer_paths {
        assert_eq!(&get(p)[..2], b"\x1f\x8b", "layers stay gzip");
    }

    let index: Value = serde_json::from_slice(get("index.json")).unwrap();
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 2);
    assert_eq!(manifests[0]["digest"], digest.to_string());
    assert_eq!(
        manifests[0]["annotations"]["io.containerd.image.name"],
        "docker.io/library/calculator:latest"
    );
    assert_eq!(
        manifests[1]["annotations"]["org.opencontainers.image.ref.name"],
        "v1"
    );
    let manifest: Value =
        serde_json::from_slice(get(&format!("blobs/sha256/{}", digest.hex()))).unwrap();
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 2);
}

#[test]
fn a_load_archive_leaves_out_the_layers_the_daemon_holds() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (digest, layers) = small_image(&store);
    let tag: Reference = "calculator:latest".parse().unwrap();
    let tags = std::slice::from_ref(&tag);
    let full = write_docker_archive(&store, &digest, tags, Vec::new()).unwrap();
    assert_eq!(
        write_docker_load_archive(&store, &digest, tags, LoadArchive::default(), Vec::new())
            .unwrap(),
        full,
        "holding nothing sends the full archive"
    );

    let held = LoadArchive {
        held_layers: 1,
        uncompressed: false,
    };
    let part = write_docker_load_archive(&store, &digest, tags, held, Vec::new()).unwrap();
    let names: Vec<String> = untar(&part).into_iter().map(|(n, _)| n).collect();
    let blob = |l: &LayerDescriptor| format!("blobs/sha256/{}", l.digest.hex());
    assert!(
        !names.contains(&blob(&layers[0])),
        "held layer sent: {names:?}"
    );
    assert!(
        names.contains(&blob(&layers[1])),
        "new layer missing: {names:?}"
    );
    assert!(names.contains(&"manifest.json".to_string()));
    assert!(
        !names.iter().any(|n| n == "index.json" || n == "oci-layout"),
        "a partial archive is not an OCI layout: {names:?}"
    );
    let files = untar(&part);
    let docker: Value =
        serde_json::from_slice(&files.iter().find(|(n, _)| n == "manifest.json").unwrap().1)
            .unwrap();
    assert_eq!(
        docker[0]["Layers"].as_array().unwrap().len(),
        2,
        "manifest.json still lists every layer"
    );
    assert!(part.len() < full.len());
}

#[test]
fn a_local_load_archive_carries_the_layers_the_store_knows_as_plain_tars() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (digest, layers) = small_image(&store);
    let tag: Reference = "calculator:latest".parse().unwrap();
    let tags = std::slice::from_ref(&tag);
    let local = LoadArchive {
        held_layers: 0,
        uncompressed: true,
    };
    let files =
        untar(&write_docker_load_archive(&store, &digest, tags, local, Vec::new()).unwrap());
    let docker: Value =
        serde_json::from_slice(&files.iter().find(|(n, _)| n == "manifest.json").unwrap().1)
            .unwrap();
    let listed = docker[0]["Layers"].as_array().unwrap();
    assert_eq!(listed.len(), layers.len());
    for (layer, path) in layers.iter().zip(listed) {
        let path = path.as_str().unwrap();
        assert_eq!(path, format!("layers/{}.tar", layer.digest.hex()));
        let (_, tar) = files
            .iter()
            .find(|(n, _)| n == path)
            .expect("layer in the archive");
        assert_eq!(tar.len() as u64, layer.uncompressed_size, "{path}");
        assert_eq!(
            Digest::sha256_of(tar),
            layer.diff_id,
            "{path} is not the layer's tar"
        );
    }
    let names: Vec<&String> = files.iter().map(|(n, _)| n).collect();
    for layer in &layers {
        let blob = format!("blobs/sha256/{}", layer.digest.hex());
        assert!(!names.contains(&&blob), "the gzip blob went too: {names:?}");
    }
    assert!(
        !names.iter().any(|n| *n == "index.json" || *n == "oci-layout"),
        "an uncompressed archive is Docker's form only (its blobs differ from the index's): {names:?}"
    );

    // Layers the store knows nothing of (as a foreign base copied byte for byte) stay gzip.
    fs::remove_dir_all(dir.path().join("layers")).unwrap();
    let files =
        untar(&write_docker_load_archive(&store, &digest, tags, local, Vec::new()).unwrap());
    for layer in &layers {
        let blob = format!("blobs/sha256/{}", layer.digest.hex());
        let (_, gz) = files
            .iter()
            .find(|(n, _)| *n == blob)
            .expect("gzip layer sent");
        assert_eq!(&gz[..2], b"\x1f\x8b");
    }
}

/// `docker load` the archive at `path`, then `docker image inspect --format FORMAT` the image
/// `tag` and remove it: (load's stdout, the inspected text), failing loudly on either.
fn load_inspect_remove(path: &std::path::Path, tag: &Reference, format: &str) -> (String, String) {
    let load = Command::new("docker")
        .arg("load")
        .arg("-i")
        .arg(path)
        .output()
        .expect("run docker load");
    let inspect = Command::new("docker")
        .args(["image", "inspect", "--format", format])
        .arg(tag.to_string())
        .output()
        .expect("run docker image inspect");
    let _ = Command::new("docker")
        .args(["image", "rm", "-f"])
        .arg(tag.to_string())
        .output();
    let stdout = String::from_utf8_lossy(&load.stdout).into_owned();
    assert!(
        load.status.success(),
        "docker load failed: {stdout}{}",
        String::from_utf8_lossy(&load.stderr)
    );
    assert!(
        inspect.status.success(),
        "{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    let inspected = String::from_utf8_lossy(&inspect.stdout).trim().to_owned();
    (stdout, inspected)
}

/// `docker load`s the archive into the real daemon; fails loudly if Docker is unusable.
/// `LAMINA_SKIP_DOCKER_TESTS=1` skips it, with a note, on a machine with no daemon.
#[test]
fn docker_loads_the_archive() {
    if std::env::var("LAMINA_SKIP_DOCKER_TESTS").as_deref() == Ok("1") {
        eprintln!("skipping docker_loads_the_archive: LAMINA_SKIP_DOCKER_TESTS=1");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let (digest, _) = small_image(&store);
    let tag: Reference = format!("lamina-image-test:{}", std::process::id())
        .parse()
        .unwrap();
    let tags = std::slice::from_ref(&tag);
    let path = dir.path().join("image.tar");
    write_docker_archive(&store, &digest, tags, fs::File::create(&path).unwrap()).unwrap();
    let format = "{{.Architecture}} {{json .Config.Entrypoint}} {{len .RootFS.Layers}}";
    let (stdout, inspected) = load_inspect_remove(&path, &tag, format);
    assert!(
        stdout.contains(&tag.to_string()),
        "docker load did not report {tag}: {stdout}"
    );
    assert_eq!(inspected, r#"amd64 ["/var/runtime/lamina-ric"] 2"#);

    // The local form (layers as plain tars): Docker checks each against the config's diffIDs.
    let local = LoadArchive {
        held_layers: 0,
        uncompressed: true,
    };
    let file = fs::File::create(&path).unwrap();
    write_docker_load_archive(&store, &digest, tags, local, file).unwrap();
    let (_, id) = load_inspect_remove(&path, &tag, "{{.Id}}");
    let config = read_manifest(&store, &digest)
        .unwrap()
        .config()
        .digest()
        .to_string();
    assert_eq!(
        id, config,
        "Docker loaded another image from the uncompressed form"
    );
}
