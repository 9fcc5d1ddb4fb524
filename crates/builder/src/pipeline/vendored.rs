//! Packages vendored into the function folder (`pip install --target .`, `npm install`) go
//! into a layer of their own, cached apart from the handler files — as Jib splits a Java
//! app's dependencies from its classes — so a one-line edit rewrites a small layer only.
//!
//! A top-level entry of the folder is vendored when installed-package metadata claims it:
//! a `*.dist-info` folder (its `RECORD` names every file it installed) or `*.egg-info`
//! (its `top_level.txt`), those metadata folders themselves, `bin/` scripts they list,
//! and `node_modules`. Everything else is the handler's. The paths in the image are the same
//! either way.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::Path;

/// The top-level names of `dir` that belong to installed packages.
pub fn vendored_names(dir: &Path) -> BTreeSet<OsString> {
    let mut names = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return names;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let text = name.to_string_lossy();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir {
            continue;
        }
        if text == "node_modules" {
            names.insert(name.clone());
        } else if text.ends_with(".dist-info") {
            names.insert(name.clone());
            if let Ok(record) = std::fs::read_to_string(entry.path().join("RECORD")) {
                names.extend(record.lines().filter_map(top_of_record_line));
            }
        } else if text.ends_with(".egg-info") {
            names.insert(name.clone());
            if let Ok(top) = std::fs::read_to_string(entry.path().join("top_level.txt")) {
                names.extend(
                    top.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.contains(['/', '\\']))
                        .map(OsString::from),
                );
            }
        }
    }
    // A package may claim a folder the handler also lives in only if the handler put it
    // there; the folder's own lamina.toml never counts as vendored.
    names.remove(&OsString::from("lamina.toml"));
    names
}

/// The first path component of a `RECORD` line (`jieba/__init__.py,sha256=…,123`), unless
/// the path leaves the folder.
fn top_of_record_line(line: &str) -> Option<OsString> {
    // RECORD is CSV; a quoted path may hold commas. The first component ends at '/' or ','.
    let path = line.trim_start_matches('"');
    let end = path.find(['/', ',', '"'])?;
    let top = &path[..end];
    (!top.is_empty() && top != ".." && top != ".").then(|| OsString::from(top))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_packages_are_recognised_by_their_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("jieba-0.42.1.dist-info")).unwrap();
        std::fs::write(
            d.join("jieba-0.42.1.dist-info/RECORD"),
            "jieba/__init__.py,sha256=x,1\njieba-0.42.1.dist-info/RECORD,,\n../../bin/evil,,\nsix.py,sha256=y,2\n\"odd,name/x.py\",,\n",
        )
        .unwrap();
        std::fs::create_dir_all(d.join("old.egg-info")).unwrap();
        std::fs::write(d.join("old.egg-info/top_level.txt"), "oldpkg\n\n").unwrap();
        std::fs::create_dir_all(d.join("node_modules/x")).unwrap();
        std::fs::create_dir_all(d.join("jieba")).unwrap();
        std::fs::write(d.join("lambda_function.py"), "").unwrap();
        let names: Vec<String> = vendored_names(d)
            .into_iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "jieba",
                "jieba-0.42.1.dist-info",
                "node_modules",
                "odd",
                "old.egg-info",
                "oldpkg",
                "six.py"
            ]
        );
    }
}
