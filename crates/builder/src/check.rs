//! Will Lambda accept this image? The checks `lamina check` prints and `lamina build` runs
//! before it writes, loads or pushes anything (images-and-registries.md §1).
//!
//! Each layer is read once (gunzip + tar headers) and what it taught is cached by the layer's
//! digest in the store, so checking a rebuilt image reads only its new layers. A finding names
//! what is wrong, where, and the fix.

use std::collections::HashSet;
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

use lamina_image::{read_config, read_manifest, Digest, Store, MAX_UNCOMPRESSED_SIZE};
use lamina_runtime_api::function::Arch;
use serde::{Deserialize, Serialize};

use crate::error::{BuildError, Result};

/// Kind (and version) of the per-layer scan cached in the store.
const SCAN_FACT: &str = "layer-scan-v1";
/// Kind of the cached "where is this path in that layer" answer.
const PATH_FACT: &str = "layer-path-v1";
/// Paths kept per problem in a finding (the count says how many in all).
const EXAMPLES: usize = 5;

/// One reason Lambda would refuse an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable identifier, e.g. `hardlink`.
    pub code: &'static str,
    /// What is wrong and where.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} — {}", self.message, self.fix)
    }
}

/// Paths of one kind of problem in a layer: a few examples and the count.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Problem {
    count: u64,
    examples: Vec<String>,
}

impl Problem {
    fn add(&mut self, path: &str) {
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(path.to_owned());
        }
    }
}

/// What one read of a layer tells.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct LayerScan {
    uncompressed: u64,
    hardlinks: Problem,
    missing_parents: Problem,
    unreadable: Problem,
}

/// A path as found in one layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum PathState {
    /// Not in this layer.
    Absent,
    /// Removed by a whiteout.
    WhitedOut,
    /// A regular file: its mode and its first bytes' architecture, if an ELF.
    File { mode: u32, elf: Option<String> },
    /// Something else (a symlink, a directory, …), by name.
    Other(String),
}

/// A layer lamina wrote itself, which the checks need not read: its writer never emits
/// hardlinks, always writes parents first and normalises modes (`lamina_image::tarball`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trusted {
    /// Its uncompressed size, known from writing it.
    pub uncompressed: u64,
    /// The only top-level folders it can hold (`var/task/`, `opt/`, …), or `None` for any
    /// path (a base lamina assembled): an entrypoint outside them is not looked for in it.
    pub roots: Option<&'static [&'static str]>,
}

/// Check the stored image `manifest`.
pub fn check_image(store: &Store, manifest: &Digest) -> Result<Vec<Finding>> {
    check_image_trusting(store, manifest, &std::collections::HashMap::new())
}

/// [`check_image`], taking lamina's own layers (by digest) as [`Trusted`]: what `lamina
/// build` runs, so a build reads only a foreign base's layers, once.
pub fn check_image_trusting(
    store: &Store,
    manifest: &Digest,
    trusted: &std::collections::HashMap<Digest, Trusted>,
) -> Result<Vec<Finding>> {
    let parsed = read_manifest(store, manifest)?;
    let config = read_config(store, &parsed)?;
    let mut findings = Vec::new();

    let arch = config.architecture().to_string();
    if config.os().to_string() != "linux" || !matches!(arch.as_str(), "amd64" | "arm64") {
        findings.push(Finding {
            code: "platform",
            message: format!("the image is for {}/{arch}", config.os()),
            fix: "Lambda runs linux/amd64 (x86_64) and linux/arm64 only; build for one of them"
                .into(),
        });
    }
    check_media_types(&parsed, &mut findings);

    let mut sizes = Vec::new();
    let mut layers = Vec::new();
    for (i, layer) in parsed.layers().iter().enumerate() {
        let digest = Digest::from_oci(layer.digest()).map_err(lamina_image::Error::from)?;
        let scan = match trusted.get(&digest) {
            Some(t) => LayerScan {
                uncompressed: t.uncompressed,
                ..LayerScan::default()
            },
            None => scan(store, &digest)?,
        };
        let n = i + 1;
        let mut report = |code: &'static str, p: &Problem, what: &str, fix: &str| {
            if p.count > 0 {
                findings.push(Finding {
                    code,
                    message: format!(
                        "layer {n} ({digest}) has {} {what}: {}",
                        p.count,
                        p.examples.join(", ")
                    ),
                    fix: fix.into(),
                });
            }
        };
        report(
            "hardlink",
            &scan.hardlinks,
            "hardlink(s)",
            "Lambda refuses hardlinks in layers; copy the files instead (or rebuild the layer with lamina, which never writes hardlinks)",
        );
        report(
            "missing-parent-directory",
            &scan.missing_parents,
            "entries whose parent directory has no entry before them",
            "Lambda refuses it with MissingParentDirectory; add every parent directory to the layer before its children (lamina's layers always do)",
        );
        report(
            "unreadable",
            &scan.unreadable,
            "entries other users cannot read",
            "Lambda runs the function as a non-root user: make files 0644 (0755 if executable) and directories 0755",
        );
        sizes.push((n, digest.clone(), scan.uncompressed));
        layers.push(digest);
    }

    // Each layer's tar must hash to its config's diff_id: Lambda refuses the image otherwise,
    // and `lamina build --base` refuses it as a base (the same check, one home).
    match lamina_image::import::stored_layers(store, manifest) {
        Ok(_) => {}
        Err(lamina_image::Error::DigestMismatch {
            what,
            expected,
            actual,
            ..
        }) => findings.push(Finding {
            code: "diff-ids",
            message: format!("{what} is {expected}, but the layer's tar hashes to {actual}"),
            fix: "the image's config does not describe its layers; rebuild it (or its base) rather than editing blobs".into(),
        }),
        Err(lamina_image::Error::UnsupportedManifest { reason, .. }) => findings.push(Finding {
            code: "diff-ids",
            message: format!("the config's rootfs.diff_ids do not match the layers: {reason}"),
            fix: "the image's config does not describe its layers; rebuild it".into(),
        }),
        Err(e) => return Err(e.into()),
    }

    let total: u64 = sizes.iter().map(|(_, _, s)| s).sum();
    if total >= MAX_UNCOMPRESSED_SIZE {
        sizes.sort_by_key(|(_, _, s)| std::cmp::Reverse(*s));
        let largest: Vec<String> = sizes
            .iter()
            .take(3)
            .map(|(n, d, s)| format!("layer {n} {d} {}", gib(*s)))
            .collect();
        findings.push(Finding {
            code: "too-large",
            message: format!(
                "the layers add up to {} uncompressed, {} over Lambda's 10 GiB; largest: {}",
                gib(total),
                gib(total - MAX_UNCOMPRESSED_SIZE + 1),
                largest.join("; ")
            ),
            fix: "move data out of the image (S3, EFS) or drop what the function does not need"
                .into(),
        });
    }

    let inner = config.config().clone().unwrap_or_default();
    match inner.entrypoint().as_deref().and_then(<[String]>::first) {
        None => findings.push(Finding {
            code: "entrypoint",
            message: "the image has no entrypoint".into(),
            fix: "set one (lamina build sets /var/runtime/lamina-ric; AWS bases have /lambda-entrypoint.sh)".into(),
        }),
        Some(entry) if !entry.starts_with('/') => findings.push(Finding {
            code: "entrypoint",
            message: format!("the entrypoint `{entry}` is not an absolute path"),
            fix: "Lambda needs an absolute ENTRYPOINT".into(),
        }),
        Some(entry) => check_entrypoint(store, &layers, trusted, entry, &arch, &mut findings)?,
    }
    Ok(findings)
}

fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
}

fn check_media_types(manifest: &oci_spec::image::ImageManifest, findings: &mut Vec<Finding>) {
    use lamina_image::manifest::{DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_LAYER_GZIP};
    let docker = manifest
        .media_type()
        .as_ref()
        .is_some_and(|t| t.to_string() == DOCKER_MANIFEST);
    for (i, layer) in manifest.layers().iter().enumerate() {
        let t = layer.media_type().to_string();
        let ok = if docker {
            t == DOCKER_LAYER_GZIP
        } else {
            t == OCI_LAYER_GZIP || t == "application/vnd.oci.image.layer.v1.tar"
        };
        if !ok {
            findings.push(Finding {
                code: "media-type",
                message: format!(
                    "layer {} has media type {t} in a {} manifest",
                    i + 1,
                    if docker { "Docker" } else { "OCI" }
                ),
                fix: if docker {
                    format!("Lambda takes only {DOCKER_LAYER_GZIP} layers under a Docker manifest; recompress with gzip, or import the image with lamina (which does)")
                } else {
                    format!("use {OCI_LAYER_GZIP} (zstd and other types are not accepted by Lambda)")
                },
            });
        }
    }
}

fn check_entrypoint(
    store: &Store,
    layers: &[Digest],
    trusted: &std::collections::HashMap<Digest, Trusted>,
    entry: &str,
    arch: &str,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let path = entry.trim_start_matches('/');
    let mut state = PathState::Absent;
    for layer in layers.iter().rev() {
        let outside = trusted
            .get(layer)
            .and_then(|t| t.roots)
            .is_some_and(|roots| !roots.iter().any(|r| path.starts_with(r)));
        if outside {
            continue;
        }
        state = find_path(store, layer, path)?;
        if state != PathState::Absent {
            break;
        }
    }
    let fix = "point ENTRYPOINT at an executable file in the image";
    match state {
        PathState::Absent | PathState::WhitedOut => findings.push(Finding {
            code: "entrypoint",
            message: format!("the entrypoint {entry} is not in the image"),
            fix: fix.into(),
        }),
        PathState::Other(kind) => findings.push(Finding {
            code: "entrypoint",
            message: format!("the entrypoint {entry} is a {kind}, not a file"),
            fix: "Lambda does not follow a symlink as the entrypoint; point ENTRYPOINT at the file itself".into(),
        }),
        PathState::File { mode, .. } if mode & 0o001 == 0 => findings.push(Finding {
            code: "entrypoint",
            message: format!("the entrypoint {entry} is not executable by other users (mode {mode:o})"),
            fix: "make it 0755".into(),
        }),
        PathState::File { elf: Some(e), .. } if e != arch => findings.push(Finding {
            code: "architecture",
            message: format!("the config says {arch} but the entrypoint {entry} is an {e} binary"),
            fix: format!("build for one architecture: --platform linux/{e}, or an entrypoint built for {arch}"),
        }),
        PathState::File { .. } => {}
    }
    Ok(())
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    count: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// A layer's tar entries, decompressed as they stream (any gzip stream, or a plain tar),
/// until `each` returns an answer. Also returns the uncompressed bytes read.
fn entries_of<T>(
    store: &Store,
    digest: &Digest,
    mut each: impl FnMut(&str, &mut tar::Entry<'_, Box<dyn Read + '_>>) -> Option<T>,
) -> Result<(Option<T>, u64)> {
    use std::io::BufRead;
    let path = store.blob_path(digest);
    let io_err = |e: std::io::Error| BuildError::Io {
        path: path.clone(),
        source: e,
    };
    let mut file = BufReader::with_capacity(1 << 20, store.open_blob(digest)?);
    let gz = file.fill_buf().map_err(io_err)?.starts_with(&[0x1f, 0x8b]);
    let count = std::rc::Rc::new(std::cell::Cell::new(0));
    let reader: Box<dyn Read> = if gz {
        Box::new(Counting {
            inner: flate2::read::MultiGzDecoder::new(file),
            count: count.clone(),
        })
    } else {
        Box::new(Counting {
            inner: file,
            count: count.clone(),
        })
    };
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(io_err)? {
        let mut entry = entry.map_err(io_err)?;
        let name = clean(&entry.path().map_err(io_err)?);
        if let Some(done) = each(&name, &mut entry) {
            return Ok((Some(done), count.get()));
        }
    }
    // Read to the end: the tar's end blocks and padding count too.
    let mut rest = archive.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink()).map_err(io_err)?;
    Ok((None, count.get()))
}

/// `./usr/bin/` → `usr/bin`.
fn clean(p: &Path) -> String {
    let mut out = PathBuf::new();
    for c in p.components() {
        if let Component::Normal(n) = c {
            out.push(n);
        }
    }
    out.to_string_lossy().into_owned()
}

fn scan(store: &Store, digest: &Digest) -> Result<LayerScan> {
    if let Some(s) = store
        .fact(SCAN_FACT, digest)
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        return Ok(s);
    }
    let mut scan = LayerScan::default();
    let mut dirs: HashSet<String> = HashSet::new();
    let (_, uncompressed) = entries_of::<()>(store, digest, |name, entry| {
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0o644);
        if name.is_empty() {
            return None;
        }
        let base = name.rsplit('/').next().unwrap_or(name);
        let whiteout = base.starts_with(".wh.");
        if let Some((parent, _)) = name.rsplit_once('/') {
            if !dirs.contains(parent) {
                scan.missing_parents.add(name);
            }
        }
        match kind {
            tar::EntryType::Link => scan.hardlinks.add(name),
            tar::EntryType::Directory => {
                if mode & 0o005 != 0o005 {
                    scan.unreadable.add(name);
                }
                dirs.insert(name.to_owned());
            }
            tar::EntryType::Regular | tar::EntryType::Continuous
                if !whiteout && mode & 0o004 == 0 =>
            {
                scan.unreadable.add(name)
            }
            _ => {}
        }
        None
    })?;
    scan.uncompressed = uncompressed;
    if let Ok(bytes) = serde_json::to_vec(&scan) {
        let _ = store.set_fact(SCAN_FACT, digest, &bytes);
    }
    Ok(scan)
}

fn find_path(store: &Store, layer: &Digest, path: &str) -> Result<PathState> {
    let key = {
        let mut k = lamina_image::KeyBuilder::new(PATH_FACT, &Default::default());
        k.field(layer.as_str().as_bytes()).field(path.as_bytes());
        k.finish()
    };
    if let Some(s) = store
        .fact(PATH_FACT, &key)
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        return Ok(s);
    }
    let (dir, base) = path.rsplit_once('/').unwrap_or(("", path));
    let whiteout = if dir.is_empty() {
        format!(".wh.{base}")
    } else {
        format!("{dir}/.wh.{base}")
    };
    let found = entries_of(store, layer, |name, entry| {
        if name == whiteout {
            return Some(PathState::WhitedOut);
        }
        if name != path {
            return None;
        }
        let header = entry.header();
        Some(match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mode = header.mode().unwrap_or(0);
                let mut head = [0u8; 20];
                let mut n = 0;
                while n < head.len() {
                    match entry.read(&mut head[n..]) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => n += k,
                    }
                }
                PathState::File {
                    mode,
                    elf: Arch::of_elf(&head[..n]).map(|a| a.name().to_owned()),
                }
            }
            tar::EntryType::Symlink => PathState::Other("symlink".into()),
            tar::EntryType::Link => PathState::Other("hardlink".into()),
            tar::EntryType::Directory => PathState::Other("directory".into()),
            other => PathState::Other(format!("{other:?}")),
        })
    })?
    .0
    .unwrap_or(PathState::Absent);
    if let Ok(bytes) = serde_json::to_vec(&found) {
        let _ = store.set_fact(PATH_FACT, &key, &bytes);
    }
    Ok(found)
}
