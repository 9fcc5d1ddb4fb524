//! The shape of the code, checked: no import circle between the modules of any crate (a
//! type two modules share lives in a third), and Lambda's numeric function limits written in
//! one module only (`crates/runtime-api/src/limits.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read source dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its tests and comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `a::b` for `src/a/b.rs` or `src/a/b/mod.rs`; `""` for the crate root.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    if parts.last().is_some_and(|p| p == "tests") {
        return None;
    }
    Some(parts.join("::"))
}

/// Module → the sibling or other modules its code names through `crate::` or `super::`.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeMap<String, String> = files
        .iter()
        .filter_map(|f| Some((module_of(src, f)?, code(&std::fs::read_to_string(f).ok()?))))
        .collect();
    let mut edges = BTreeMap::new();
    for (module, text) in &modules {
        let mut to = BTreeSet::new();
        let parent: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
        for (prefix, base) in [
            ("crate::", Vec::new()),
            ("super::", parent[..parent.len().saturating_sub(1)].to_vec()),
        ] {
            for (i, _) in text.match_indices(prefix) {
                let path: Vec<&str> = text[i + prefix.len()..]
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                    .next()
                    .unwrap_or("")
                    .split("::")
                    .collect();
                for n in (1..=path.len()).rev() {
                    let target = base
                        .iter()
                        .copied()
                        .chain(path[..n].iter().copied())
                        .collect::<Vec<_>>()
                        .join("::");
                    let is_ancestor = module.starts_with(&format!("{target}::"));
                    if modules.contains_key(&target)
                        && &target != module
                        && !is_ancestor
                        && !target.is_empty()
                    {
                        to.insert(target);
                        break;
                    }
                }
            }
        }
        edges.insert(module.clone(), to);
    }
    edges
}

fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            return Some(stack[i..].to_vec());
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_owned());
        for t in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(t, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

/// The source folder of every crate in the workspace: the root package's `src`, and each
/// `crates/*/src`, found on disk so that a new crate is checked without being listed.
fn crate_sources() -> Vec<PathBuf> {
    let mut dirs = vec![root().join("src")];
    let mut members: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .expect("read crates/")
        .flatten()
        .map(|e| e.path().join("src"))
        .filter(|src| src.is_dir())
        .collect();
    members.sort();
    dirs.extend(members);
    dirs
}

#[test]
fn every_crate_is_found_without_a_list() {
    let found: Vec<String> = crate_sources()
        .iter()
        .filter_map(|d| Some(d.parent()?.file_name()?.to_string_lossy().into_owned()))
        .collect();
    for member in ["registry", "rie", "builder", "image", "ric", "runtime-api"] {
        assert!(
            found.iter().any(|f| f == member),
            "{member} not in {found:?}"
        );
    }
}

#[test]
fn no_crate_has_an_import_circle() {
    for dir in crate_sources() {
        let edges = graph(&dir);
        assert!(edges.len() > 1, "{}: no modules found", dir.display());
        if let Some(cycle) = find_cycle(&edges) {
            panic!(
                "{}: modules import each other in a circle: {}",
                dir.display(),
                cycle.join(" → ")
            );
        }
    }
}

#[test]
fn the_graph_sees_crate_and_super_imports() {
    let image = graph(&root().join("crates/image/src"));
    assert!(image["layer"].contains("key"), "{image:?}");
    let function = graph(&root().join("crates/runtime-api/src"));
    assert!(
        function["function::values"].contains("function::error"),
        "{function:?}"
    );
}

#[test]
fn the_cycle_finder_finds_a_circle() {
    let mut edges = BTreeMap::new();
    edges.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    edges.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert!(find_cycle(&edges).is_some());
    edges.insert("b".to_owned(), BTreeSet::new());
    assert!(find_cycle(&edges).is_none());
}

#[test]
fn lambdas_function_limits_are_written_in_one_module() {
    let limits = root().join("crates/runtime-api/src/limits.rs");
    let mut files = Vec::new();
    for dir in ["src", "crates"] {
        rust_files(&root().join(dir), &mut files);
    }
    for file in files.iter().filter(|f| {
        **f != limits
            && !f.ends_with("tests.rs")
            && !f.components().any(|c| c.as_os_str() == "tests")
    }) {
        let text = code(&std::fs::read_to_string(file).expect("read"));
        for limit in ["10_240", "10240", "900", "3008", "3_008"] {
            let hit = text.match_indices(limit).any(|(i, _)| {
                let before = text[..i].chars().next_back();
                let after = text[i + limit.len()..].chars().next();
                !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            assert!(
                !hit,
                "{} writes Lambda's limit {limit}; use lamina_runtime_api::limits",
                file.display()
            );
        }
    }
}
