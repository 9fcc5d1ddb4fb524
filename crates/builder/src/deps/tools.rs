//! The installers lamina runs, pinned by version and sha256 and fetched once into
//! `<cache>/installers/`: pip as its own wheel from PyPI (a wheel is a zip that Python runs
//! from directly: `python3 pip.whl/pip install …`), uv as the static binary inside its wheel,
//! npm as its package from the npm registry (it bundles its own dependencies: `node
//! npm/bin/npm-cli.js ci`). None is installed into the image; each is mounted into the
//! installer's container.

use std::io::Write;
use std::path::{Path, PathBuf};

use lamina_image::{Digest, HashingWriter};

use lamina_runtime_api::function::Arch;

use crate::error::{BuildError, Result};

/// A pinned download of one installer for one architecture.
#[derive(Debug)]
pub struct Download {
    /// Where PyPI serves it.
    pub url: &'static str,
    /// Its sha256 (hex), as PyPI lists it.
    pub sha256: &'static str,
}

/// An installer, pinned.
#[derive(Debug)]
pub struct Tool {
    /// `pip` or `uv`.
    pub name: &'static str,
    /// The pinned version; part of the dependency layer's cache key.
    pub version: &'static str,
    /// For amd64 and arm64 (pip's wheel is the same for both).
    pub amd64: Download,
    /// See `amd64`.
    pub arm64: Download,
}

/// pip 26.3, pure Python.
pub static PIP: Tool = Tool {
    name: "pip",
    version: "26.3",
    amd64: PIP_WHEEL,
    arm64: PIP_WHEEL,
};
const PIP_WHEEL: Download = Download {
    url: "https://files.pythonhosted.org/packages/07/25/ee8c38ae72d66b844ce8eb9711ba905dba21ca1a8a0c960057c41cd23337/pip-26.3-py3-none-any.whl",
    sha256: "f3b60b20ffaadd4415ed7957212a38ac63fa4c5fa375bd0f4a797777940fad13",
};

/// uv 0.13.9, the musl-linked static binary of its wheels.
pub static UV: Tool = Tool {
    name: "uv",
    version: "0.13.9",
    amd64: Download {
        url: "https://files.pythonhosted.org/packages/fe/fe/794884de0efd3ac77a427cab21aa72c0483e100c55a42cd5cbb02c141b84/uv-0.13.9-py3-none-musllinux_1_1_x86_64.whl",
        sha256: "2c45530751517d6c3bbc69a19473f6effe47cce047bede01ffd8af7ea7b36b25",
    },
    arm64: Download {
        url: "https://files.pythonhosted.org/packages/57/15/94b6cd62ac3ff6550288328e8035288875197cbc183f51554b266a69877b/uv-0.13.9-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl",
        sha256: "5435c5ce14a56431208ca0996416d310f1598e8c2c8ba707688985a16bb82dbe",
    },
};

/// npm 12.2.3, the registry's tarball (sha512 integrity
/// `ovmNRRe76Jvcp1E6iOePQ6H9Zr4XMOrqgfaeGNhtRvP3XSl2Lo/a9C1N5/jRlLLrsqCem/omgGdZHpZ5a6yn1Q==`,
/// the registry's; its sha256 pinned here). Needs Node ^24.15, which the nodejs24 base has.
pub static NPM: Tool = Tool {
    name: "npm",
    version: "12.2.3",
    amd64: NPM_TARBALL,
    arm64: NPM_TARBALL,
};
const NPM_TARBALL: Download = Download {
    url: "https://registry.npmjs.org/npm/-/npm-12.2.3.tgz",
    sha256: "fa0711dd513fa1386bbad3962a292cb813461cb57dedf07d6eb7efe76dffe897",
};

impl Tool {
    /// Where the tool is mounted in the installer's container.
    pub fn mount_path(&self) -> &'static str {
        match self.name {
            "pip" => "/lamina/pip.whl",
            "npm" => "/lamina/npm",
            _ => "/lamina/uv",
        }
    }

    /// The install command, reading `/lamina/requirements.txt` (npm: `/lamina/out/package.json`
    /// and, when `locked`, its lock file), writing `/lamina/out`.
    pub fn command(&self, locked: bool) -> Vec<String> {
        if self.name == "npm" {
            // `npm ci` installs exactly the lock; without one, `npm install` resolves (and
            // writes no lock into the image). Dev dependencies stay out, as in a deployment.
            let mut args = vec!["node", "/lamina/npm/bin/npm-cli.js"];
            args.extend(if locked {
                &["ci"][..]
            } else {
                &["install", "--no-package-lock"][..]
            });
            args.extend([
                "--omit=dev",
                "--no-audit",
                "--no-fund",
                "--no-update-notifier",
                "--cache",
                "/lamina/cache",
                "--prefix",
                "/lamina/out",
            ]);
            return args.into_iter().map(str::to_owned).collect();
        }
        let args: &[&str] = if self.name == "pip" {
            &[
                "python3",
                "/lamina/pip.whl/pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--no-compile",
                "--root-user-action=ignore",
                "--cache-dir",
                "/lamina/cache",
                "--target",
                "/lamina/out",
                "-r",
                "/lamina/requirements.txt",
            ]
        } else {
            &[
                "/lamina/uv",
                "pip",
                "install",
                "--no-progress",
                "--python",
                "python3",
                "--cache-dir",
                "/lamina/cache",
                "--target",
                "/lamina/out",
                "-r",
                "/lamina/requirements.txt",
            ]
        };
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    fn download(&self, arch: Arch) -> &Download {
        match arch {
            Arch::Amd64 => &self.amd64,
            Arch::Arm64 => &self.arm64,
        }
    }
}

/// The tool's file on the host (the pip wheel, or the uv binary), fetched and checked once.
pub fn ensure(tool: &Tool, arch: Arch, cache_root: &Path) -> Result<PathBuf> {
    let dir = cache_root.join("installers").join(tool.name).join(format!(
        "{}-{}",
        tool.version,
        arch.name()
    ));
    let path = dir.join(match tool.name {
        "pip" => "pip.whl",
        "npm" => "npm",
        _ => "uv",
    });
    if path.is_file() || path.join("bin/npm-cli.js").is_file() {
        return Ok(path);
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let download = tool.download(arch);
    let wheel = fetch(download, &dir)?;
    if tool.name == "pip" {
        wheel.persist(&path).map_err(|e| BuildError::Io {
            path: path.clone(),
            source: e.error,
        })?;
        return Ok(path);
    }
    if tool.name == "npm" {
        // The tarball's `package/` is npm; unpacked beside, then moved into place whole.
        let unpacked = tempfile::tempdir_in(&dir).map_err(io(&dir))?;
        let gz = flate2::read::GzDecoder::new(wheel.reopen().map_err(io(wheel.path()))?);
        tar::Archive::new(gz)
            .unpack(unpacked.path())
            .map_err(|e| BuildError::ToolDownload {
                url: download.url.into(),
                reason: format!("not a package tarball: {e}"),
            })?;
        std::fs::rename(unpacked.path().join("package"), &path).map_err(io(&path))?;
        return Ok(path);
    }
    // uv: the binary is `uv-<version>.data/scripts/uv` in the wheel.
    let inner = format!("uv-{}.data/scripts/uv", tool.version);
    let mut archive =
        zip::ZipArchive::new(wheel.reopen().map_err(io(wheel.path()))?).map_err(|e| {
            BuildError::ToolDownload {
                url: download.url.into(),
                reason: format!("not a wheel: {e}"),
            }
        })?;
    let mut entry = archive
        .by_name(&inner)
        .map_err(|e| BuildError::ToolDownload {
            url: download.url.into(),
            reason: format!("no {inner} in the wheel: {e}"),
        })?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io(&dir))?;
    std::io::copy(&mut entry, &mut tmp).map_err(io(tmp.path()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
        .map_err(io(tmp.path()))?;
    tmp.persist(&path).map_err(|e| BuildError::Io {
        path: path.clone(),
        source: e.error,
    })?;
    Ok(path)
}

/// Stream a pinned download into a temp file in `dir`, checking its sha256.
fn fetch(download: &Download, dir: &Path) -> Result<tempfile::NamedTempFile> {
    let failed = |reason: String| BuildError::ToolDownload {
        url: download.url.into(),
        reason,
    };
    let client = reqwest::blocking::Client::builder()
        .user_agent(concat!("lamina/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let mut resp = client
        .get(download.url)
        .send()
        .and_then(|r| r.error_for_status())
        .map_err(|e| failed(e.to_string()))?;
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|source| BuildError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut writer = HashingWriter::new(std::io::BufWriter::new(tmp));
    std::io::copy(&mut resp, &mut writer).map_err(|e| failed(e.to_string()))?;
    let (buffered, digest, _) = writer.finish();
    let mut tmp = buffered
        .into_inner()
        .map_err(|e| failed(e.error().to_string()))?;
    tmp.flush().map_err(|e| failed(e.to_string()))?;
    let want: Digest = format!("sha256:{}", download.sha256)
        .parse()
        .map_err(|e: lamina_image::digest::DigestError| failed(e.to_string()))?;
    if digest != want {
        return Err(failed(format!("its sha256 is {digest}, not {want}")));
    }
    Ok(tmp)
}
