//! Unit tests for unpacking: synthetic `.deb`s built in memory.

use super::*;

enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
    Hard(&'a str, &'a str),
    Char(&'a str),
}

/// A header whose name is written raw, so tests can include `..` and absolute paths.
fn header(path: &str, kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    let name = &mut h.as_gnu_mut().unwrap().name;
    name[..path.len()].copy_from_slice(path.as_bytes());
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h
}

fn deb(dir: &Path, entries: &[E<'_>]) -> PathBuf {
    let mut tar = tar::Builder::new(Vec::new());
    for e in entries {
        let (mut h, data): (tar::Header, &[u8]) = match e {
            E::Dir(p) => (header(p, tar::EntryType::Directory, 0, 0o755), b""),
            E::File(p, d, m) => (header(p, tar::EntryType::Regular, d.len() as u64, *m), d),
            E::Symlink(p, t) | E::Hard(p, t) => {
                let kind = if matches!(e, E::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                };
                let mut h = header(p, kind, 0, 0o777);
                let link = &mut h.as_gnu_mut().unwrap().linkname;
                link[..t.len()].copy_from_slice(t.as_bytes());
                (h, b"")
            }
            E::Char(p) => (header(p, tar::EntryType::Char, 0, 0o666), b""),
        };
        h.set_cksum();
        tar.append(&h, data).unwrap();
    }
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    io::Write::write_all(&mut gz, &tar).unwrap();
    let data = gz.finish().unwrap();
    let path = dir.join("test.deb");
    let mut ar = ar::Builder::new(File::create(&path).unwrap());
    for (name, body) in [
        ("debian-binary", &b"2.0\n"[..]),
        ("control.tar.gz", b""),
        ("data.tar.gz", &data),
    ] {
        ar.append(
            &ar::Header::new(name.as_bytes().to_vec(), body.len() as u64),
            body,
        )
        .unwrap();
    }
    path
}

const NO_FILTER: Filter<'static> = Filter {
    drop: &[],
    keep: &[],
};

#[test]
fn unpacks_with_usr_merge_links_and_filter() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("rootfs");
    fs::create_dir(&root).unwrap();
    let deb = deb(
        work.path(),
        &[
            E::Dir("./"),
            E::Dir("./bin/"),
            E::File("./bin/tool", b"#!/bin/sh\n", 0o755),
            E::Symlink("./usr/bin/alias", "tool"),
            E::Symlink("./lib64", "usr/lib64"),
            E::Hard("./usr/bin/hard", "./bin/tool"),
            E::Char("./dev/null"),
            E::File("./usr/share/doc/pkg/changelog.gz", b"x", 0o644),
            E::File("./usr/share/doc/pkg/copyright", b"GPL", 0o644),
        ],
    );
    let drop = ["usr/share/doc/".to_owned()];
    let keep = ["usr/share/doc/*/copyright".to_owned()];
    let stats = unpack_deb(
        &deb,
        &root,
        &Filter {
            drop: &drop,
            keep: &keep,
        },
    )
    .unwrap();
    assert_eq!(fs::read(root.join("usr/bin/tool")).unwrap(), b"#!/bin/sh\n");
    let mode = fs::metadata(root.join("usr/bin/tool"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        fs::read_link(root.join("usr/bin/alias")).unwrap(),
        Path::new("tool")
    );
    assert_eq!(fs::read(root.join("usr/bin/hard")).unwrap(), b"#!/bin/sh\n");
    assert!(!root.join("bin").exists() && fs::symlink_metadata(root.join("lib64")).is_err());
    assert!(!root.join("dev/null").exists());
    assert!(!root.join("usr/share/doc/pkg/changelog.gz").exists());
    assert_eq!(
        fs::read(root.join("usr/share/doc/pkg/copyright")).unwrap(),
        b"GPL"
    );
    assert_eq!(stats.bytes, 10 + 10 + 3);
}

#[test]
fn refuses_entries_that_escape() {
    for bad in ["./../evil", "/etc/passwd", "usr/../../evil"] {
        let work = tempfile::tempdir().unwrap();
        let root = work.path().join("rootfs");
        fs::create_dir(&root).unwrap();
        let deb = deb(work.path(), &[E::File(bad, b"x", 0o644)]);
        let err = unpack_deb(&deb, &root, &NO_FILTER).unwrap_err();
        assert!(matches!(err, Error::UnsafeEntry { .. }), "{bad}: {err}");
    }
}

#[test]
fn symlinks_in_the_rootfs_are_followed_inside_it() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("rootfs");
    fs::create_dir(&root).unwrap();
    let outside = work.path().join("outside");
    let deb = deb(
        work.path(),
        &[
            E::Symlink("./etc", outside.to_str().unwrap()),
            E::File("./etc/passwd", b"root", 0o644),
            E::Symlink("./up", "../../../../../../.."),
            E::File("./up/escaped", b"no", 0o644),
        ],
    );
    unpack_deb(&deb, &root, &NO_FILTER).unwrap();
    assert!(
        !outside.exists(),
        "wrote through an absolute symlink onto the host"
    );
    let inside: PathBuf = root.join(outside.strip_prefix("/").unwrap()).join("passwd");
    assert_eq!(fs::read(inside).unwrap(), b"root");
    assert_eq!(fs::read(root.join("escaped")).unwrap(), b"no");
    assert!(!work.path().join("escaped").exists());
}

#[test]
fn later_files_replace_earlier_ones() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("rootfs");
    fs::create_dir(&root).unwrap();
    let first = deb(work.path(), &[E::Symlink("./usr/bin/sh", "bash")]);
    unpack_deb(&first, &root, &NO_FILTER).unwrap();
    let second = deb(work.path(), &[E::Symlink("./usr/bin/sh", "dash")]);
    unpack_deb(&second, &root, &NO_FILTER).unwrap();
    assert_eq!(
        fs::read_link(root.join("usr/bin/sh")).unwrap(),
        Path::new("dash")
    );
}

#[test]
fn filter_matches_directories_and_keep_patterns() {
    let drop = ["usr/share/doc/".to_owned(), "usr/share/locale".to_owned()];
    let keep = ["usr/share/doc/*/copyright".to_owned()];
    let f = Filter {
        drop: &drop,
        keep: &keep,
    };
    assert!(f.excludes("usr/share/doc"));
    assert!(f.excludes("usr/share/doc/a/README"));
    assert!(!f.excludes("usr/share/doc/a/copyright"));
    assert!(f.excludes("usr/share/doc/a/b/copyright"));
    assert!(f.excludes("usr/share/locale/de"));
    assert!(!f.excludes("usr/share/docs"));
}
