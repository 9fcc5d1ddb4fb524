//! Handler strings: check that `module.function` is well formed and that the module's file is
//! in the function folder, before anything is built.
//!
//! Mirrors the runtime clients' resolution (language-runtimes.md §3). Python: the **last**
//! dot separates the function; `/` or `.` in the module part are package separators. Node
//! (AWS's client v4): the **first** dot of the last path segment separates the module; its
//! file is the first of `MODULE`, `.js`, `.mjs`, `.cjs` that exists, else a package in
//! `node_modules`.

use std::path::{Path, PathBuf};

use super::Runtime;
use crate::error::{BuildError, Result};

/// Check `handler` for `runtime` against the files in `dir`; returns the module file found.
pub fn check(runtime: Runtime, handler: &str, dir: &Path) -> Result<Option<PathBuf>> {
    match runtime {
        Runtime::Python313 | Runtime::Python314 => check_python(handler, dir).map(Some),
        Runtime::Nodejs24 => check_node(handler, dir).map(Some),
        Runtime::Provided => check_provided(handler, dir).map(Some),
    }
}

fn check_node(handler: &str, dir: &Path) -> Result<PathBuf> {
    let malformed = |why: &str| BuildError::MalformedHandler {
        handler: handler.to_owned(),
        why: why.to_owned(),
    };
    if handler.contains("..") {
        return Err(malformed(
            "`..` is not allowed (Runtime.MalformedHandlerName): name the module from the function folder",
        ));
    }
    let (root, base) = match handler.rsplit_once('/') {
        Some((root, base)) => (root, base),
        None => ("", handler),
    };
    let Some((module, function)) = base.split_once('.') else {
        return Err(malformed("expected file.function, e.g. index.handler"));
    };
    if module.is_empty() || function.is_empty() || handler.starts_with('/') {
        return Err(malformed("expected file.function, e.g. index.handler"));
    }
    let stem = dir.join(root).join(module);
    let candidates = ["", ".js", ".mjs", ".cjs"].map(|ext| {
        let mut p = stem.clone().into_os_string();
        p.push(ext);
        PathBuf::from(p)
    });
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    // As the client falls back to `require.resolve`: a package of that name.
    let package = dir.join("node_modules").join(module);
    if package.is_dir() {
        return Ok(package);
    }
    Err(BuildError::HandlerFileMissing {
        handler: handler.to_owned(),
        expected: candidates[2].clone(),
        dir: dir.to_path_buf(),
    })
}

fn check_python(handler: &str, dir: &Path) -> Result<PathBuf> {
    let malformed = |why: &str| BuildError::MalformedHandler {
        handler: handler.to_owned(),
        why: why.to_owned(),
    };
    let (module, function) = handler
        .rsplit_once('.')
        .ok_or_else(|| malformed("expected module.function, e.g. app.handler"))?;
    if module.is_empty() || function.is_empty() {
        return Err(malformed("expected module.function, e.g. app.handler"));
    }
    if !is_identifier(function) {
        return Err(malformed("the function part is not a Python identifier"));
    }
    let parts: Vec<&str> = module.split(['.', '/']).collect();
    if parts.iter().any(|p| !is_identifier(p)) {
        return Err(malformed(
            "each part of the module path must be a Python identifier",
        ));
    }
    let rel: PathBuf = parts.iter().collect();
    let as_file = dir.join(&rel).with_extension("py");
    let as_package = dir.join(&rel).join("__init__.py");
    for candidate in [&as_file, &as_package] {
        if candidate.is_file() {
            return Ok(candidate.clone());
        }
    }
    Err(BuildError::HandlerFileMissing {
        handler: handler.to_owned(),
        expected: as_file,
        dir: dir.to_path_buf(),
    })
}

/// An OS-only function needs something to run: its own `bootstrap` (a custom runtime, which
/// interprets the handler itself) or a handler naming an executable in the folder (run once
/// per event, event on stdin, response on stdout).
fn check_provided(handler: &str, dir: &Path) -> Result<PathBuf> {
    let bootstrap = dir.join("bootstrap");
    if is_executable(&bootstrap) {
        return Ok(bootstrap);
    }
    let named = dir.join(handler);
    let inside = !handler.is_empty()
        && Path::new(handler)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if inside && is_executable(&named) {
        return Ok(named);
    }
    Err(BuildError::NothingToRun {
        handler: handler.to_owned(),
        dir: dir.to_path_buf(),
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_handlers_resolve_as_awss_client_v4_does() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("index.mjs"),
            "export const handler = async () => 1;\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("src/api")).unwrap();
        std::fs::write(
            dir.path().join("src/api/app.cjs"),
            "exports.h = async () => 1;\n",
        )
        .unwrap();
        assert!(check(Runtime::Nodejs24, "index.handler", dir.path()).is_ok());
        assert!(check(Runtime::Nodejs24, "index.nested.handler", dir.path()).is_ok());
        assert!(check(Runtime::Nodejs24, "src/api/app.h", dir.path()).is_ok());
        let err = check(Runtime::Nodejs24, "missing.handler", dir.path()).unwrap_err();
        assert!(err.to_string().contains("missing.mjs"), "{err}");
        assert!(check(Runtime::Nodejs24, "index", dir.path()).is_err());
        assert!(check(Runtime::Nodejs24, "../index.handler", dir.path()).is_err());
    }

    #[test]
    fn python_handlers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.py"), "def handler(e, c): pass\n").unwrap();
        std::fs::create_dir_all(dir.path().join("pkg/sub")).unwrap();
        std::fs::write(dir.path().join("pkg/sub/mod.py"), "").unwrap();

        assert!(check(Runtime::Python313, "app.handler", dir.path()).is_ok());
        assert!(check(Runtime::Python313, "pkg.sub.mod.fn", dir.path()).is_ok());
        assert!(check(Runtime::Python313, "pkg/sub/mod.fn", dir.path()).is_ok());
        let err = check(Runtime::Python313, "handler", dir.path()).unwrap_err();
        assert!(matches!(err, BuildError::MalformedHandler { .. }), "{err}");
        let err = check(Runtime::Python313, "missing.handler", dir.path()).unwrap_err();
        assert!(err.to_string().contains("missing.py"), "{err}");
        assert!(check(Runtime::Python313, "app.", dir.path()).is_err());
        assert!(check(Runtime::Python313, "../x.handler", dir.path()).is_err());
    }

    #[test]
    fn provided_needs_a_bootstrap_or_an_executable_handler() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tool.sh"), "#!/bin/sh\n").unwrap();
        let err = check(Runtime::Provided, "tool.sh", dir.path()).unwrap_err();
        assert!(
            matches!(err, BuildError::NothingToRun { .. }),
            "not executable yet: {err}"
        );
        std::fs::set_permissions(
            dir.path().join("tool.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        assert!(check(Runtime::Provided, "tool.sh", dir.path()).is_ok());
        assert!(check(Runtime::Provided, "../tool.sh", dir.path()).is_err());
        std::fs::write(dir.path().join("bootstrap"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            dir.path().join("bootstrap"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        assert!(check(Runtime::Provided, "anything", dir.path()).is_ok());
    }
}
