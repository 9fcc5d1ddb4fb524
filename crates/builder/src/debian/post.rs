//! Post-steps: what Debian's maintainer scripts would have done, done declaratively.
//!
//! lamina never runs `postinst`; a recipe lists the effects it needs instead (symlinks
//! such as `/usr/bin/python3`, directories such as `/tmp`, small files such as
//! `/etc/passwd`, and the CA bundle `update-ca-certificates` would have written).
//! Paths are resolved inside the rootfs like unpacked entries, so a step cannot write
//! outside it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::{io_err, Error, Result};
use super::recipe::{PostStep, Recipe};
use super::unpack::{prepare_dest, resolve_in_root, set_mode};

/// Applies `recipe.post` to the rootfs at `root` (built for Debian architecture `arch`), in
/// order.
pub(crate) fn apply(recipe: &Recipe, root: &Path, arch: &str) -> Result<()> {
    for step in &recipe.post {
        match step {
            PostStep::Symlink { path, target } => {
                let dest = prepare_dest(root, Path::new(path))?;
                std::os::unix::fs::symlink(target, &dest)
                    .map_err(io_err("create symlink", &dest))?;
            }
            PostStep::Dir { path, mode } => {
                let dir = resolve_in_root(root, Path::new(path), true)
                    .map_err(io_err("resolve", root.join(path)))?;
                fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
                set_mode(&dir, *mode)?;
            }
            PostStep::File {
                path,
                content,
                mode,
            } => {
                let dest = prepare_dest(root, Path::new(path))?;
                fs::write(&dest, content).map_err(io_err("write", &dest))?;
                set_mode(&dest, *mode)?;
            }
            PostStep::CaBundle { from, path } => ca_bundle(recipe, root, from, path)?,
            PostStep::PyCompile { python, dirs } => py_compile(recipe, root, arch, python, dirs)?,
        }
    }
    Ok(())
}

/// Concatenates every `*.crt` below `from` (sorted by relative path, as the default
/// `/etc/ca-certificates.conf` lists them) into `path`, each ending with a newline.
fn ca_bundle(recipe: &Recipe, root: &Path, from: &str, path: &str) -> Result<()> {
    let dir =
        resolve_in_root(root, Path::new(from), true).map_err(io_err("resolve", root.join(from)))?;
    let mut certs = Vec::new();
    collect_crts(&dir, &mut certs)?;
    certs.sort();
    if certs.is_empty() {
        return Err(Error::PostStep {
            recipe: recipe.name.clone(),
            step: "ca-bundle".to_owned(),
            reason: format!("no *.crt under `{from}`; add `ca-certificates` to `packages`"),
        });
    }
    let dest = prepare_dest(root, Path::new(path))?;
    let mut out = fs::File::create(&dest).map_err(io_err("create", &dest))?;
    for cert in &certs {
        let mut pem = fs::read(cert).map_err(io_err("read", cert))?;
        if !pem.ends_with(b"\n") {
            pem.push(b'\n');
        }
        out.write_all(&pem).map_err(io_err("write", &dest))?;
    }
    set_mode(&dest, 0o644)?;
    tracing::debug!(certificates = certs.len(), bundle = %dest.display(), "wrote CA bundle");
    Ok(())
}

fn collect_crts(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Error::Io {
                action: "list",
                path: dir.to_owned(),
                source: e,
            })
        }
    };
    for entry in entries {
        let entry = entry.map_err(io_err("list", dir))?;
        let kind = entry.file_type().map_err(io_err("stat", entry.path()))?;
        let path = entry.path();
        if kind.is_dir() {
            collect_crts(&path, out)?;
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "crt") {
            out.push(path);
        }
    }
    Ok(())
}

/// The dynamic loader and library directory of a Debian architecture, if this host can run
/// that architecture's binaries natively.
fn native_loader(arch: &str) -> Option<(&'static str, &'static str)> {
    match (arch, std::env::consts::ARCH) {
        ("amd64", "x86_64") => Some(("usr/lib64/ld-linux-x86-64.so.2", "usr/lib/x86_64-linux-gnu")),
        ("arm64", "aarch64") => {
            Some(("usr/lib/ld-linux-aarch64.so.1", "usr/lib/aarch64-linux-gnu"))
        }
        _ => None,
    }
}

/// Runs the rootfs's interpreter through the rootfs's own loader (no chroot, no root, no
/// daemon): `compileall` with `unchecked-hash` pycs, whose content does not depend on source
/// mtimes (the layer writer resets them), and with the rootfs prefix stripped from the paths
/// recorded for tracebacks.
fn py_compile(
    recipe: &Recipe,
    root: &Path,
    arch: &str,
    python: &str,
    dirs: &[String],
) -> Result<()> {
    let Some((loader, libdir)) = native_loader(arch) else {
        tracing::warn!(
            recipe = %recipe.name,
            arch,
            "not byte-compiling Python: this host cannot run {arch} binaries; cold starts will compile in memory"
        );
        return Ok(());
    };
    let fail = |reason: String| Error::PostStep {
        recipe: recipe.name.clone(),
        step: "py-compile".to_owned(),
        reason,
    };
    let mut cmd = std::process::Command::new(root.join(loader));
    cmd.arg("--library-path")
        .arg(root.join(libdir))
        .arg(root.join(python))
        .args([
            "-s",
            "-m",
            "compileall",
            "-q",
            "-f",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
        ])
        .arg(root)
        .args(["-p", "/"])
        .args(dirs.iter().map(|d| root.join(d)))
        .env_clear()
        .env("PYTHONHOME", root.join("usr"))
        .env("LC_ALL", "C.UTF-8")
        .env("PYTHONHASHSEED", "0")
        // The compiler's own imports must not leave timestamp pycs (mtime-dependent, so
        // neither reproducible nor valid once the layer writer resets mtimes); `-f` then
        // compiles every file afresh.
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let out = cmd
        .output()
        .map_err(|e| fail(format!("cannot run {}: {e}", root.join(python).display())))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        return Err(fail(format!(
            "compileall failed ({}): {stderr}{stdout}",
            out.status
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debian::recipe::parse_recipe;

    fn recipe(post: &str) -> Recipe {
        parse_recipe(&format!(
            "name = \"t\"\nmirror = \"http://m\"\nsuite = \"s\"\narchitectures = [\"amd64\"]\npackages = [\"p\"]\n{post}"
        ))
        .unwrap()
    }

    #[test]
    fn steps_apply_in_order() {
        let root = tempfile::tempdir().unwrap();
        let ca = root.path().join("usr/share/ca-certificates/mozilla");
        fs::create_dir_all(&ca).unwrap();
        fs::write(ca.join("B.crt"), "B").unwrap();
        fs::write(ca.join("A.crt"), "A\n").unwrap();
        fs::write(ca.join("README"), "no").unwrap();
        let r = recipe(
            "[[post]]\nkind = \"symlink\"\npath = \"usr/bin/python3\"\ntarget = \"python3.13\"\n\
             [[post]]\nkind = \"dir\"\npath = \"tmp\"\nmode = 0o1777\n\
             [[post]]\nkind = \"file\"\npath = \"etc/group\"\ncontent = \"root:x:0:\\n\"\n\
             [[post]]\nkind = \"ca-bundle\"\n",
        );
        apply(&r, root.path(), "amd64").unwrap();
        let p = root.path();
        assert_eq!(
            fs::read_link(p.join("usr/bin/python3")).unwrap(),
            Path::new("python3.13")
        );
        assert_eq!(
            fs::metadata(p.join("tmp")).unwrap().permissions().mode() & 0o7777,
            0o1777
        );
        assert_eq!(
            fs::read_to_string(p.join("etc/group")).unwrap(),
            "root:x:0:\n"
        );
        assert_eq!(
            fs::read_to_string(p.join("etc/ssl/certs/ca-certificates.crt")).unwrap(),
            "A\nB\n"
        );
    }

    #[test]
    fn empty_ca_bundle_names_the_package() {
        let root = tempfile::tempdir().unwrap();
        let err = apply(
            &recipe("[[post]]\nkind = \"ca-bundle\"\n"),
            root.path(),
            "amd64",
        )
        .unwrap_err();
        assert!(err.to_string().contains("ca-certificates"), "{err}");
    }

    use std::os::unix::fs::PermissionsExt;
}
