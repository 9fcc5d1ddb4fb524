//! `lamina check` against images made here byte by byte (OCI layouts), each with one thing
//! Lambda refuses, and against images it must accept (lamina's own, one from `docker build`).

mod common;

use std::io::Write;
use std::path::Path;

use common::*;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

fn hex(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

/// An OCI layout being written: blobs by digest, then `index.json`.
struct Layout {
    dir: tempfile::TempDir,
}

impl Layout {
    fn new() -> Layout {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).expect("mkdir");
        std::fs::write(
            dir.path().join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .expect("oci-layout");
        Layout { dir }
    }

    fn blob(&self, data: &[u8]) -> Value {
        let h = hex(data);
        std::fs::write(self.dir.path().join("blobs/sha256").join(&h), data).expect("blob");
        json!({"digest": format!("sha256:{h}"), "size": data.len()})
    }

    fn descriptor(&self, media: &str, data: &[u8]) -> Value {
        let mut d = self.blob(data);
        d["mediaType"] = json!(media);
        d
    }

    /// A manifest for `arch` over gzip `layers` (each with its uncompressed tar for the
    /// diff_id), entrypoint `/bin/entry`.
    fn image(&self, arch: &str, layers: &[(Vec<u8>, Vec<u8>)]) -> Value {
        let config = json!({
            "architecture": arch, "os": "linux",
            "config": {"Entrypoint": ["/bin/entry"]},
            "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|(tar, _)| format!("sha256:{}", hex(tar))).collect::<Vec<_>>()},
        });
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": self.descriptor("application/vnd.oci.image.config.v1+json", config.to_string().as_bytes()),
            "layers": layers.iter().map(|(_, gz)| self.descriptor("application/vnd.oci.image.layer.v1.tar+gzip", gz)).collect::<Vec<_>>(),
        });
        self.descriptor(
            "application/vnd.oci.image.manifest.v1+json",
            manifest.to_string().as_bytes(),
        )
    }

    fn index(&self, entries: Vec<Value>) -> &Path {
        let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries});
        std::fs::write(self.dir.path().join("index.json"), index.to_string()).expect("index");
        self.dir.path()
    }
}

/// An x86-64 ELF header, enough for an architecture check.
fn elf(machine: u8) -> Vec<u8> {
    let mut b = vec![0u8; 64];
    b[..4].copy_from_slice(b"\x7fELF");
    b[18] = machine;
    b
}

enum Item<'a> {
    Dir(&'a str),
    File(&'a str, u32, &'a [u8]),
    Hardlink(&'a str, &'a str),
}

/// (tar, gzip of it).
fn layer(items: &[Item<'_>]) -> (Vec<u8>, Vec<u8>) {
    let mut b = tar::Builder::new(Vec::new());
    for item in items {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        match item {
            Item::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, p, &[][..]).expect("dir");
            }
            Item::File(p, mode, data) => {
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).expect("file");
            }
            Item::Hardlink(p, target) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                h.set_size(0);
                b.append_link(&mut h, p, target).expect("link");
            }
        }
    }
    let tar = b.into_inner().expect("tar");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).expect("gzip");
    (tar, gz.finish().expect("gzip"))
}

fn entry_layer(machine: u8) -> (Vec<u8>, Vec<u8>) {
    layer(&[
        Item::Dir("bin/"),
        Item::File("bin/entry", 0o755, &elf(machine)),
    ])
}

/// `lamina check` as JSON, with its exit status.
fn check(image: &str) -> (bool, Value) {
    let out = run(lamina().args(["check", image, "--json"]));
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("{e}: {text}{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.success(), v["accepted"] == true, "{v}");
    (out.status.success(), v)
}

fn codes(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["code"].as_str().expect("code").to_owned())
        .collect()
}

fn oci(path: &Path) -> String {
    format!("oci:{}", path.display())
}

#[test]
fn a_clean_hand_made_image_is_accepted_and_each_defect_is_named() {
    // Accepted: everything in order.
    let ok = Layout::new();
    let m = ok.image("amd64", &[entry_layer(0x3e)]);
    let (accepted, v) = check(&oci(ok.index(vec![m])));
    assert!(accepted, "{v}");

    // A file whose parent directories have no entries.
    let l = Layout::new();
    let m = l.image(
        "amd64",
        &[
            entry_layer(0x3e),
            layer(&[Item::File("var/task/app.py", 0o644, b"x")]),
        ],
    );
    let (accepted, v) = check(&oci(l.index(vec![m])));
    assert!(!accepted);
    assert_eq!(codes(&v), ["missing-parent-directory"], "{v}");
    assert!(v.to_string().contains("var/task/app.py"), "{v}");

    // A hardlink.
    let l = Layout::new();
    let m = l.image(
        "amd64",
        &[
            entry_layer(0x3e),
            layer(&[
                Item::Dir("data/"),
                Item::File("data/a", 0o644, b"a"),
                Item::Hardlink("data/b", "data/a"),
            ]),
        ],
    );
    let (_, v) = check(&oci(l.index(vec![m])));
    assert_eq!(codes(&v), ["hardlink"], "{v}");
    assert!(v.to_string().contains("data/b"), "{v}");

    // An arm64 config whose entrypoint is an x86-64 binary.
    let l = Layout::new();
    let m = l.image("arm64", &[entry_layer(0x3e)]);
    let (_, v) = check(&oci(l.index(vec![m])));
    assert_eq!(codes(&v), ["architecture"], "{v}");

    // A file only its owner can read, and an entrypoint that is not there.
    let l = Layout::new();
    let m = l.image(
        "amd64",
        &[layer(&[
            Item::Dir("etc/"),
            Item::File("etc/secret", 0o600, b"s"),
        ])],
    );
    let (_, v) = check(&oci(l.index(vec![m])));
    assert_eq!(codes(&v), ["unreadable", "entrypoint"], "{v}");
}

#[test]
fn an_image_index_and_attestation_manifests_are_refused() {
    let l = Layout::new();
    let image = l.image("amd64", &[entry_layer(0x3e)]);
    let mut platform = image.clone();
    platform["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let nested = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [platform.clone()]});
    let index = l.descriptor(
        "application/vnd.oci.image.index.v1+json",
        nested.to_string().as_bytes(),
    );
    let (_, v) = check(&oci(l.index(vec![index])));
    assert_eq!(codes(&v), ["image-index"], "{v}");

    // buildx's provenance: an attestation manifest beside the image.
    let mut attestation = l.image(
        "amd64",
        &[layer(&[Item::File("provenance.json", 0o644, b"{}")])],
    );
    attestation["platform"] = json!({"os": "unknown", "architecture": "unknown"});
    attestation["annotations"] = json!({"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": platform["digest"]});
    let nested = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [platform, attestation]});
    let index = l.descriptor(
        "application/vnd.oci.image.index.v1+json",
        nested.to_string().as_bytes(),
    );
    let (_, v) = check(&oci(l.index(vec![index])));
    assert_eq!(codes(&v), ["image-index", "attestation-manifest"], "{v}");
}

/// A gzip stream of a layer holding one `size`-byte file of zeros, made without compressing
/// `size` bytes: one compressed MiB of zeros (ending on a byte boundary) repeated.
fn huge_zero_layer(size: u64) -> (String, Vec<u8>) {
    use flate2::{Compress, Compression, FlushCompress};
    const MIB: u64 = 1 << 20;
    assert_eq!(size % MIB, 0);
    let mut h = tar::Header::new_gnu();
    h.set_path("big").expect("path");
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    let head = {
        let mut t = Vec::new();
        let mut d = tar::Header::new_gnu();
        d.set_path("bin/").expect("path");
        d.set_entry_type(tar::EntryType::Directory);
        d.set_mode(0o755);
        d.set_size(0);
        d.set_mtime(0);
        d.set_cksum();
        t.extend_from_slice(d.as_bytes());
        let entry = elf(0x3e);
        let mut e = tar::Header::new_gnu();
        e.set_path("bin/entry").expect("path");
        e.set_size(entry.len() as u64);
        e.set_mode(0o755);
        e.set_mtime(0);
        e.set_cksum();
        t.extend_from_slice(e.as_bytes());
        t.extend_from_slice(&entry);
        t.resize(t.len().div_ceil(512) * 512, 0);
        t.extend_from_slice(h.as_bytes());
        t
    };
    let tail = vec![0u8; 1024];
    let deflate = |data: &[u8], flush: FlushCompress| {
        let mut c = Compress::new(Compression::fast(), false);
        let mut out = Vec::with_capacity(data.len() + 1024);
        c.compress_vec(data, &mut out, flush).expect("deflate");
        out
    };
    let zeros = vec![0u8; MIB as usize];
    let z = deflate(&zeros, FlushCompress::Sync);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    let mut zcrc = crc32fast::Hasher::new();
    zcrc.update(&zeros);
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    gz.extend(deflate(&head, FlushCompress::Sync));
    for _ in 0..size / MIB {
        gz.extend_from_slice(&z);
        crc.combine(&zcrc);
    }
    crc.update(&tail);
    gz.extend(deflate(&tail, FlushCompress::Finish));
    gz.extend_from_slice(&crc.finalize().to_le_bytes());
    let len = head.len() as u64 + size + tail.len() as u64;
    gz.extend_from_slice(&((len & 0xffff_ffff) as u32).to_le_bytes());
    // The diff_id needs the whole tar's sha256: hash it as a stream.
    let mut sha = Sha256::new();
    sha.update(&head);
    for _ in 0..size / MIB {
        sha.update(&zeros);
    }
    sha.update(&tail);
    (format!("sha256:{:x}", sha.finalize()), gz)
}

#[test]
fn an_eleven_gib_image_is_refused_with_its_size_and_largest_layer() {
    let l = Layout::new();
    let (diff_id, gz) = huge_zero_layer(11 << 30);
    let config = json!({"architecture": "amd64", "os": "linux", "config": {"Entrypoint": ["/bin/entry"]},
                        "rootfs": {"type": "layers", "diff_ids": [diff_id]}});
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": l.descriptor("application/vnd.oci.image.config.v1+json", config.to_string().as_bytes()),
        "layers": [l.descriptor("application/vnd.oci.image.layer.v1.tar+gzip", &gz)],
    });
    let m = l.descriptor(
        "application/vnd.oci.image.manifest.v1+json",
        manifest.to_string().as_bytes(),
    );
    let (accepted, v) = check(&oci(l.index(vec![m])));
    assert!(!accepted);
    assert_eq!(codes(&v), ["too-large"], "{v}");
    let message = v["findings"][0]["message"].as_str().expect("message");
    assert!(message.contains("11.00 GiB"), "{message}");
    assert!(message.contains("1.00 GiB over"), "{message}");
}

#[test]
fn lamina_images_and_a_docker_build_on_a_debian_base_are_accepted() {
    require_docker();
    let tag = "lamina-check-test/calculator:test";
    run_ok(
        lamina()
            .args(["build", "examples/calculator", "--tag", tag, "--load"])
            .current_dir(root()),
    );
    let (accepted, v) = check(tag);
    assert!(accepted, "{v}");

    // `docker build` on top of it (a Debian-package base): Docker's own layers pass too.
    let ctx = tempfile::tempdir().expect("tmp");
    std::fs::write(ctx.path().join("extra.txt"), "extra\n").expect("write");
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!("FROM {tag}\nCOPY extra.txt /var/task/extra/extra.txt\n"),
    )
    .expect("Dockerfile");
    let built = "lamina-check-test/docker-built:test";
    docker_build(ctx.path(), built, &[]);
    let (accepted, v) = check(&format!("docker-daemon:{built}"));
    assert!(accepted, "{v}");
}

#[test]
fn layers_that_do_not_match_the_configs_diff_ids_are_refused_as_build_refuses_them() {
    let l = Layout::new();
    let (_, real_gz) = entry_layer(0x3e);
    let (other_tar, _) = layer(&[Item::Dir("etc/")]);
    // The config's diff_id is another tar's.
    let m = l.image("amd64", &[(other_tar, real_gz)]);
    let (accepted, v) = check(&oci(l.index(vec![m])));
    assert!(!accepted, "{v}");
    assert_eq!(codes(&v), ["diff-ids"], "{v}");
    assert!(v.to_string().contains("diff_id"), "{v}");
}

#[test]
fn a_damaged_blob_in_a_foreign_layout_is_blamed_on_the_layout_not_the_store() {
    let l = Layout::new();
    // A layer no other test has put in the shared store (one it holds is not read again).
    let unique = format!("{:?}", std::time::SystemTime::now());
    let (tar, gz) = layer(&[Item::Dir("u/"), Item::File("u/x", 0o644, unique.as_bytes())]);
    let m = l.image("amd64", &[(tar, gz.clone())]);
    let path = l.index(vec![m]);
    let blob = path.join("blobs/sha256").join(hex(&gz));
    let mut damaged = gz;
    damaged.extend_from_slice(b"junk");
    std::fs::write(&blob, damaged).expect("damage");
    let out = run(lamina().args(["check", &oci(path)]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the input does not hold what its digest names"),
        "{err}"
    );
    assert!(!err.contains("store is corrupt"), "{err}");
}

#[test]
fn an_oversized_config_or_a_fifo_in_a_layout_is_refused_before_it_is_copied() {
    let l = Layout::new();
    // An image no other test has put in the shared store (a blob it holds is not read again).
    let unique = format!("{:?}", std::time::SystemTime::now());
    let m = l.image(
        "amd64",
        &[layer(&[
            Item::Dir("u/"),
            Item::File("u/x", 0o644, unique.as_bytes()),
        ])],
    );
    let path = l.index(vec![m.clone()]).to_path_buf();
    // The config's blob: swap it for a FIFO.
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(
            path.join("blobs/sha256").join(
                m["digest"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches("sha256:"),
            ),
        )
        .expect("manifest"),
    )
    .expect("json");
    let config = path.join("blobs/sha256").join(
        manifest["config"]["digest"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("sha256:"),
    );
    std::fs::remove_file(&config).expect("rm");
    let status = std::process::Command::new("mkfifo")
        .arg(&config)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let out = run(lamina().args(["check", &oci(&path)]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a regular file"), "{err}");
    // An index.json of 5 MiB.
    std::fs::write(path.join("index.json"), vec![b' '; 5 << 20]).expect("big index");
    let out = run(lamina().args(["check", &oci(&path)]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("more than lamina takes for an image's index"),
        "{err}"
    );
}
