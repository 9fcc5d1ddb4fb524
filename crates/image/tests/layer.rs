//! Layer writer: determinism, tar format (reference §6), refusals and the layer cache.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

use flate2::read::GzDecoder;
use lamina_image::{write_layer, Digest, Error, LayerPlan, LayerSettings, Store};

/// One tar entry as read back: (path bytes, type flag, mode, uid, gid, uname, gname, mtime, link, data).
#[derive(Debug, PartialEq)]
struct TarEntry {
    path: String,
    kind: u8,
    mode: u32,
    uid: u64,
    gid: u64,
    uname: Vec<u8>,
    gname: Vec<u8>,
    mtime: u64,
    link: Option<String>,
    data: Vec<u8>,
}

fn read_layer(store: &Store, d: &Digest) -> Vec<TarEntry> {
    let file = fs::File::open(store.blob_path(d)).unwrap();
    let mut archive = tar::Archive::new(GzDecoder::new(file));
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut e = entry.unwrap();
        let h = e.header().clone();
        let path = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        let link = e
            .link_name_bytes()
            .map(|l| String::from_utf8(l.into_owned()).unwrap());
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.push(TarEntry {
            path,
            kind: h.entry_type().as_byte(),
            mode: h.mode().unwrap(),
            uid: h.uid().unwrap(),
            gid: h.gid().unwrap(),
            uname: h.username_bytes().unwrap_or_default().to_vec(),
            gname: h.groupname_bytes().unwrap_or_default().to_vec(),
            mtime: h.mtime().unwrap(),
            link,
            data,
        });
    }
    out
}

const LONG_DIR: &str =
    "this-directory-name-is-deliberately-long-so-that-the-path-goes-past-one-hundred-bytes";

/// A host tree with a file, an executable, a name with spaces, a long path and a relative symlink.
fn sample_tree(root: &Path) {
    fs::create_dir_all(root.join("pkg").join(LONG_DIR)).unwrap();
    fs::write(root.join("app.py"), "def handler(e, c):\n    return e\n").unwrap();
    fs::write(root.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(root.join("Transparent Busy.ani"), b"\x00\x01spaces").unwrap();
    fs::write(
        root.join("pkg")
            .join(LONG_DIR)
            .join("module_with_a_long_name.py"),
        "x = 1\n",
    )
    .unwrap();
    fs::set_permissions(root.join("app.py"), fs::Permissions::from_mode(0o600)).unwrap();
    symlink("../app.py", root.join("pkg").join("link.py")).unwrap();
}

fn plan_of(root: &Path) -> LayerPlan {
    let mut plan = LayerPlan::new();
    plan.add_tree(root, "var/task", &|_, _| false).unwrap();
    plan.add_bytes("var/runtime/bootstrap", b"#!/bin/sh\n".to_vec(), true)
        .unwrap();
    plan
}

fn fresh_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

#[test]
fn same_plan_twice_gives_identical_layers_and_any_change_changes_them() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let settings = LayerSettings::default();
    let (_a, store_a) = fresh_store();
    let (_b, store_b) = fresh_store();
    let (first, hit) = write_layer(&store_a, &plan_of(src.path()), &settings).unwrap();
    assert!(!hit);
    let (second, _) = write_layer(&store_b, &plan_of(src.path()), &settings).unwrap();
    assert_eq!(first, second);
    assert_eq!(
        fs::read(store_a.blob_path(&first.digest)).unwrap(),
        fs::read(store_b.blob_path(&second.digest)).unwrap()
    );

    // One byte of content (same size, so only the content hash sees it).
    fs::write(
        src.path().join("app.py"),
        "def handler(e, c):\n    return f\n",
    )
    .unwrap();
    let (edited, _) = write_layer(&store_a, &plan_of(src.path()), &settings).unwrap();
    assert_ne!(edited.diff_id, first.diff_id);
    assert_ne!(edited.digest, first.digest);

    // The x bit of one file.
    fs::set_permissions(src.path().join("app.py"), fs::Permissions::from_mode(0o700)).unwrap();
    let (chmodded, _) = write_layer(&store_a, &plan_of(src.path()), &settings).unwrap();
    assert_ne!(chmodded.diff_id, edited.diff_id);

    // The mtime setting.
    let later = LayerSettings {
        mtime: 1_700_000_000,
        ..settings
    };
    let (retimed, _) = write_layer(&store_a, &plan_of(src.path()), &later).unwrap();
    assert_ne!(retimed.diff_id, chmodded.diff_id);
    assert_ne!(retimed.digest, chmodded.digest);
}

#[test]
fn tar_follows_the_deterministic_rules() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let (_d, store) = fresh_store();
    let plan = plan_of(src.path());
    let settings = LayerSettings {
        mtime: 1_234_567_890,
        gzip_level: 6,
    };
    let (desc, _) = write_layer(&store, &plan, &settings).unwrap();
    assert_eq!(
        desc.uncompressed_size,
        plan.uncompressed_estimate(),
        "estimate must be exact"
    );
    assert_eq!(
        desc.size,
        fs::metadata(store.blob_path(&desc.digest)).unwrap().len()
    );

    let entries = read_layer(&store, &desc.digest);
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    let long_file = format!("var/task/pkg/{LONG_DIR}/module_with_a_long_name.py");
    let long_dir = format!("var/task/pkg/{LONG_DIR}/");
    assert!(long_file.len() > 100);
    assert_eq!(
        paths,
        [
            "var/",
            "var/runtime/",
            "var/runtime/bootstrap",
            "var/task/",
            "var/task/Transparent Busy.ani",
            "var/task/app.py",
            "var/task/pkg/",
            "var/task/pkg/link.py",
            long_dir.as_str(),
            long_file.as_str(),
            "var/task/run.sh",
        ]
    );
    for e in &entries {
        assert_eq!((e.uid, e.gid), (0, 0), "{}", e.path);
        assert!(e.uname.is_empty() && e.gname.is_empty(), "{}", e.path);
        assert_eq!(e.mtime, 1_234_567_890, "{}", e.path);
        let expected_mode = match e.kind {
            b'5' => 0o755,
            b'2' => 0o777,
            _ if e.path.ends_with("run.sh") || e.path.ends_with("bootstrap") => 0o755,
            _ => 0o644,
        };
        assert_eq!(e.mode, expected_mode, "{}", e.path);
        assert_eq!(e.kind == b'5', e.path.ends_with('/'), "{}", e.path);
    }
    let by_path = |p: &str| entries.iter().find(|e| e.path == p).unwrap();
    assert_eq!(
        by_path("var/task/Transparent Busy.ani").data,
        b"\x00\x01spaces"
    );
    assert_eq!(by_path(&long_file).data, b"x = 1\n");
    assert_eq!(
        by_path("var/task/pkg/link.py").link.as_deref(),
        Some("../app.py")
    );

    // The diffID is the sha256 of the uncompressed stream.
    let mut raw = Vec::new();
    GzDecoder::new(fs::File::open(store.blob_path(&desc.digest)).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    assert_eq!(Digest::sha256_of(&raw), desc.diff_id);
    assert_eq!(raw.len() as u64, desc.uncompressed_size);
}

#[test]
fn cache_hit_returns_the_cached_descriptor_without_rewriting() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let (dir, store) = fresh_store();
    let plan = plan_of(src.path());
    let settings = LayerSettings::default();
    let (first, hit) = write_layer(&store, &plan, &settings).unwrap();
    assert!(!hit);

    // Doctor the cache entry: a hit must return it verbatim (proving nothing was re-tarred).
    let key = lamina_image::plan_key(&plan, &settings).unwrap();
    let entry = dir
        .path()
        .join("layers")
        .join(format!("{}.json", key.hex()));
    assert!(entry.is_file());
    let marker = Digest::sha256_of(b"marker");
    let mut doctored = first.clone();
    doctored.diff_id = marker.clone();
    store.cache_layer(&key, &doctored).unwrap();
    let (again, hit) = write_layer(&store, &plan, &settings).unwrap();
    assert!(hit);
    assert_eq!(again, doctored);

    // With the blob gone the cache entry is not trusted and the layer is written again.
    fs::remove_file(store.blob_path(&first.digest)).unwrap();
    let (rewritten, hit) = write_layer(&store, &plan, &settings).unwrap();
    assert!(!hit);
    assert_eq!(rewritten, first);
    assert!(store.has_blob(&first.digest));
}

#[test]
fn a_file_that_changes_size_after_planning_is_refused() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let plan = plan_of(src.path());
    fs::write(src.path().join("app.py"), "shorter").unwrap();
    let (_d, store) = fresh_store();
    let err = write_layer(&store, &plan, &LayerSettings::default()).unwrap_err();
    assert!(matches!(err, Error::FileChanged { .. }), "{err}");
}

#[test]
fn fifo_is_refused_unless_skipped() {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("ok.txt"), "ok").unwrap();
    let status = Command::new("mkfifo")
        .arg(src.path().join("pipe"))
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo failed");
    let err = LayerPlan::new()
        .add_tree(src.path(), "var/task", &|_, _| false)
        .unwrap_err();
    assert!(
        matches!(err, Error::UnsupportedFileType { kind: "FIFO", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("pipe"), "{err}");
    let err = LayerPlan::new()
        .add_tree_allow_abs_links(src.path(), "", &|_, _| false)
        .unwrap_err();
    assert!(matches!(err, Error::UnsupportedFileType { .. }), "{err}");

    let mut plan = LayerPlan::new();
    plan.add_tree(src.path(), "var/task", &|p, _| p == Path::new("pipe"))
        .unwrap();
    let paths: Vec<&str> = plan.entries().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["var", "var/task", "var/task/ok.txt"]);
}

#[test]
fn skip_prunes_whole_directories() {
    let src = tempfile::tempdir().unwrap();
    fs::create_dir_all(src.path().join("__pycache__/deep")).unwrap();
    fs::write(src.path().join("__pycache__/deep/x.pyc"), "x").unwrap();
    fs::write(src.path().join("app.py"), "x").unwrap();
    let mut plan = LayerPlan::new();
    plan.add_tree(src.path(), "", &|p, is_dir| {
        is_dir && p.ends_with("__pycache__")
    })
    .unwrap();
    let paths: Vec<&str> = plan.entries().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["app.py"]);
}

#[test]
fn escaping_and_absolute_symlinks_are_refused() {
    for (name, target) in [("abs", "/etc/passwd"), ("up", "../outside")] {
        let src = tempfile::tempdir().unwrap();
        symlink(target, src.path().join(name)).unwrap();
        let err = LayerPlan::new()
            .add_tree(src.path(), "var/task", &|_, _| false)
            .unwrap_err();
        assert!(matches!(err, Error::UnsafeSymlink { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains(name) && msg.contains(target), "{msg}");
    }
    // A root filesystem may have absolute links, but still not escaping relative ones.
    let src = tempfile::tempdir().unwrap();
    fs::create_dir(src.path().join("bin")).unwrap();
    symlink("/usr/bin/python3.13", src.path().join("bin/python3")).unwrap();
    let mut plan = LayerPlan::new();
    plan.add_tree_allow_abs_links(src.path(), "", &|_, _| false)
        .unwrap();
    assert_eq!(plan.len(), 2);
    symlink("../../x", src.path().join("bin/bad")).unwrap();
    assert!(LayerPlan::new()
        .add_tree_allow_abs_links(src.path(), "", &|_, _| false)
        .is_err());
}

#[test]
fn dotdot_and_absolute_plan_paths_are_refused() {
    let mut plan = LayerPlan::new();
    for bad in ["../etc/passwd", "var/../../x", "/var/task", "var/task/"] {
        assert!(
            matches!(
                plan.add_bytes(bad, vec![], false),
                Err(Error::InvalidPath { .. })
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        plan.add_tree(Path::new("/tmp"), "../x", &|_, _| true),
        Err(Error::InvalidPath { .. })
    ));
    assert!(plan.is_empty());
}

#[test]
fn sticky_world_writable_dirs_keep_1777_and_others_are_normalised() {
    let src = tempfile::tempdir().unwrap();
    fs::create_dir(src.path().join("tmp")).unwrap();
    fs::set_permissions(src.path().join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::create_dir(src.path().join("open")).unwrap();
    fs::set_permissions(src.path().join("open"), fs::Permissions::from_mode(0o777)).unwrap();
    fs::write(src.path().join("tmp/f"), b"x").unwrap();
    let mut plan = LayerPlan::new();
    plan.add_tree(src.path(), "", &|_, _| false).unwrap();
    let (_d, store) = fresh_store();
    let (desc, _) = write_layer(&store, &plan, &LayerSettings::default()).unwrap();
    let modes: Vec<(String, u32)> = read_layer(&store, &desc.digest)
        .into_iter()
        .map(|e| (e.path, e.mode))
        .collect();
    assert_eq!(
        modes,
        vec![
            ("open/".into(), 0o755),
            ("tmp/".into(), 0o1777),
            ("tmp/f".into(), 0o644)
        ]
    );
    assert_eq!(plan.uncompressed_estimate(), desc.uncompressed_size);
}
