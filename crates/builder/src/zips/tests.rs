use std::io::Write;

use zip::write::SimpleFileOptions;

use super::*;

/// A ZIP at `path` with `(name, unix mode, content)` entries.
fn make_zip(path: &Path, entries: &[(&str, u32, &[u8])]) {
    let mut w = zip::ZipWriter::new(File::create(path).unwrap());
    for (name, mode, data) in entries {
        let opts = SimpleFileOptions::default().unix_permissions(*mode);
        if mode & S_IFMT == S_IFLNK {
            w.add_symlink(*name, std::str::from_utf8(data).unwrap(), opts)
                .unwrap();
        } else if name.ends_with('/') {
            w.add_directory(*name, opts).unwrap();
        } else {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
    }
    w.finish().unwrap();
}

/// Set the Unix mode of entry `name` in the central directory (the writer will only store
/// permission bits, so a device entry has to be forged).
fn forge_mode(zip: &Path, name: &str, mode: u32) {
    let mut bytes = fs::read(zip).unwrap();
    let sig = [0x50, 0x4b, 0x01, 0x02];
    let at = (0..bytes.len() - 46)
        .find(|&i| {
            bytes[i..i + 4] == sig && {
                let n = u16::from_le_bytes([bytes[i + 28], bytes[i + 29]]) as usize;
                &bytes[i + 46..i + 46 + n] == name.as_bytes()
            }
        })
        .expect("entry in the central directory");
    bytes[at + 5] = 3; // made by Unix
    bytes[at + 38..at + 42].copy_from_slice(&(mode << 16).to_le_bytes());
    fs::write(zip, bytes).unwrap();
}

fn unpack_err(entries: &[(&str, u32, &[u8])]) -> String {
    unpack_err_forged(entries, None)
}

fn unpack_err_forged(entries: &[(&str, u32, &[u8])], forge: Option<(&str, u32)>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("bad.zip");
    make_zip(&zip, entries);
    if let Some((name, mode)) = forge {
        forge_mode(&zip, name, mode);
    }
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let err = unpack(&zip, &out).unwrap_err().to_string();
    assert_eq!(
        fs::read_dir(&out).unwrap().count(),
        0,
        "nothing written: {err}"
    );
    err
}

#[test]
fn a_clean_zip_unpacks_with_its_modes_and_links() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("ok.zip");
    make_zip(
        &zip,
        &[
            ("python/", 0o040755, b""),
            ("python/jieba/__init__.py", 0o100644, b"x = 1\n"),
            ("bin/tool", 0o100755, b"#!/bin/sh\n"),
            ("lib/libx.so", 0o120777, b"libx.so.1"),
            ("lib/libx.so.1", 0o100644, b"elf"),
        ],
    );
    let out = dir.path().join("out");
    unpack(&zip, &out).unwrap();
    assert_eq!(
        fs::read_to_string(out.join("python/jieba/__init__.py")).unwrap(),
        "x = 1\n"
    );
    let mode = |p: &str| fs::metadata(out.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("bin/tool"), 0o755);
    assert_eq!(mode("python/jieba/__init__.py"), 0o644);
    assert_eq!(
        fs::read_link(out.join("lib/libx.so")).unwrap(),
        Path::new("libx.so.1")
    );
}

#[test]
fn a_later_zip_overwrites_an_earlier_one() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.zip"), dir.path().join("b.zip"));
    make_zip(
        &a,
        &[
            ("python/x.py", 0o100644, b"a"),
            ("python/only_a.py", 0o100644, b"a"),
        ],
    );
    make_zip(&b, &[("python/x.py", 0o100644, b"b")]);
    let out = dir.path().join("opt");
    unpack(&a, &out).unwrap();
    unpack(&b, &out).unwrap();
    assert_eq!(fs::read_to_string(out.join("python/x.py")).unwrap(), "b");
    assert_eq!(
        fs::read_to_string(out.join("python/only_a.py")).unwrap(),
        "a"
    );
}

#[test]
fn zip_slip_absolute_names_and_backslashes_are_refused_by_name() {
    let err = unpack_err(&[("ok.py", 0o100644, b""), ("../evil.py", 0o100644, b"x")]);
    assert!(err.contains("`../evil.py`") && err.contains(".."), "{err}");
    let err = unpack_err(&[("/etc/cron.d/x", 0o100644, b"x")]);
    assert!(
        err.contains("`/etc/cron.d/x`") && err.contains("absolute"),
        "{err}"
    );
    let err = unpack_err(&[("a\\..\\..\\x", 0o100644, b"x")]);
    assert!(err.contains("backslash"), "{err}");
}

#[test]
fn symlinks_out_of_the_root_are_refused() {
    let err = unpack_err(&[("l", 0o120777, b"/etc/passwd")]);
    assert!(err.contains("`l`") && err.contains("outside"), "{err}");
    let err = unpack_err(&[("a/l", 0o120777, b"../../x")]);
    assert!(err.contains("`a/l`") && err.contains("outside"), "{err}");
    let err = unpack_err(&[("d", 0o120777, b"."), ("d/x", 0o100644, b"x")]);
    assert!(err.contains("symlinked folder"), "{err}");
}

#[test]
fn device_files_and_duplicates_are_refused() {
    let err = unpack_err_forged(&[("dev/sda", 0o100644, b"")], Some(("dev/sda", 0o060644)));
    assert!(err.contains("`dev/sda`") && err.contains("device"), "{err}");
    let err = unpack_err(&[("a.py", 0o100644, b"1"), ("./a.py", 0o100644, b"2")]);
    assert!(err.contains("twice"), "{err}");
}

#[test]
fn a_missing_or_broken_zip_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = unpack(&dir.path().join("nope.zip"), dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nope.zip") && err.contains("does not exist"),
        "{err}"
    );
    let bad = dir.path().join("bad.zip");
    fs::write(&bad, b"not a zip").unwrap();
    let err = unpack(&bad, dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("bad.zip") && err.contains("not a ZIP"),
        "{err}"
    );
}
