//! Images made elsewhere, into the store: an OCI image layout, a docker-archive (what any
//! `docker save` writes, legacy or OCI-hybrid), and the layer facts of any stored image.
//!
//! Blobs are copied byte for byte and verified by digest while they stream. The one change an
//! import makes is to compress an uncompressed layer (legacy `docker save` writes `layer.tar`,
//! OCI allows `…layer.v1.tar`): Lambda refuses uncompressed layers under Docker types
//! (reference §1), so such a layer is gzipped with lamina's own writer settings — the diffID
//! stays, and a layer lamina once wrote gets its original digest back. zstd layers are refused
//! (Lambda takes gzip only). [`stored_layers`] reads each layer once to learn its diffID and
//! uncompressed size (checked against the config) and caches that by blob digest.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use oci_spec::image::ImageManifest;
use serde::Deserialize;
use serde_json::Value;

use crate::digest::{Digest, HashingReader, HashingWriter};
use crate::error::{Error, Result};
use crate::manifest::{
    put_manifest, read_config, read_manifest, ManifestFormat, MAX_CONFIG_LEN, MAX_MANIFEST_LEN,
};
use crate::pgzip::ParGzWriter;
use crate::reference::Reference;
use crate::settings::{LayerDescriptor, LayerSettings};
use crate::store::Store;

/// OCI index media type.
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker manifest list media type.
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The largest index.json / manifest.json read.
const MAX_INDEX_LEN: u64 = 4 << 20;

/// How a layer blob is compressed, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    Gzip,
    Zstd,
    None,
}

fn compression_of(store: &Store, d: &Digest) -> Result<Compression> {
    compression_of_file(&store.blob_path(d))
}

fn compression_of_file(path: &Path) -> Result<Compression> {
    let mut head = [0u8; 4];
    let mut f = File::open(path).map_err(Error::io("open", path))?;
    let n = read_up_to(&mut f, &mut head).map_err(Error::io("read", path))?;
    Ok(match &head[..n] {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd] => Compression::Zstd,
        _ => Compression::None,
    })
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// What an image index (or Docker manifest list) held, for `lamina check`: Lambda refuses an
/// index, and buildx's provenance/SBOM attestations are what make one by surprise
/// (aws-lambda-roadmap #82).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IndexSummary {
    /// The index's digest.
    pub digest: Digest,
    /// Its entries.
    pub manifests: usize,
    /// Of those, attestation manifests (`vnd.docker.reference.type: attestation-manifest`).
    pub attestations: usize,
}

impl IndexSummary {
    /// Summarise the index `index` whose digest is `digest`.
    pub fn of(index: &Value, digest: Digest) -> Self {
        let entries = index["manifests"].as_array().map_or(&[][..], Vec::as_slice);
        IndexSummary {
            digest,
            manifests: entries.len(),
            attestations: entries
                .iter()
                .filter(|e| e["annotations"]["vnd.docker.reference.type"] == "attestation-manifest")
                .count(),
        }
    }
}

/// Whether a media type is an image index or a Docker manifest list.
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

/// The index entry for `linux/arch` in an OCI index or Docker manifest list, if any.
pub fn platform_entry(index: &Value, arch: &str) -> Option<String> {
    index["manifests"]
        .as_array()?
        .iter()
        .find(|e| e["platform"]["os"] == "linux" && e["platform"]["architecture"] == arch)
        .and_then(|e| e["digest"].as_str())
        .map(str::to_owned)
}

/// Import the image of an OCI layout at `dir`: the entry tagged `tag`, else the only one (an
/// index entry resolves to `linux/arch`). Returns the stored manifest's digest, and what the
/// index held when the entry was one.
pub fn import_oci_layout(
    store: &Store,
    dir: &Path,
    tag: Option<&str>,
    arch: &str,
) -> Result<(Digest, Option<IndexSummary>)> {
    let blob = |d: &Digest| dir.join("blobs").join("sha256").join(d.hex());
    let index_path = dir.join("index.json");
    check_input_file(&index_path, Some((MAX_INDEX_LEN, "index")))?;
    let index: Value = read_json_file(&index_path)?;
    let layout = dir.display().to_string();
    let mut entry = choose_entry(&index, tag, &layout)?;
    let mut summary = None;
    loop {
        let d: Digest = entry.0.parse()?;
        copy_in(
            store,
            &blob(&d),
            &d,
            Some((MAX_INDEX_LEN.max(MAX_MANIFEST_LEN), "manifest")),
        )?;
        if !is_index(&entry.1) {
            break;
        }
        let nested: Value = json_blob(store, &d)?;
        summary.get_or_insert_with(|| IndexSummary::of(&nested, d.clone()));
        let found = platform_entry(&nested, arch).ok_or_else(|| Error::UnsupportedManifest {
            digest: d.clone(),
            reason: format!("the index in {layout} has no linux/{arch} image; pick one with --platform or build one"),
        })?;
        entry = (found, String::new());
    }
    let manifest_digest: Digest = entry.0.parse()?;
    let manifest = read_manifest(store, &manifest_digest)?;
    let config = Digest::from_oci(manifest.config().digest())?;
    copy_in(
        store,
        &blob(&config),
        &config,
        Some((MAX_CONFIG_LEN, "config")),
    )?;
    for layer in manifest.layers() {
        let d = Digest::from_oci(layer.digest())?;
        copy_in(store, &blob(&d), &d, None)?;
    }
    Ok((normalise(store, &manifest_digest, manifest)?, summary))
}

/// `(digest, media type)` of the index.json entry named `tag`, or of the only entry.
fn choose_entry(index: &Value, tag: Option<&str>, what: &str) -> Result<(String, String)> {
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    let tag_of = |e: &Value| {
        e["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .map(str::to_owned)
    };
    let chosen = match tag {
        Some(t) => entries.iter().find(|e| {
            tag_of(e).as_deref() == Some(t)
                || e["annotations"]["io.containerd.image.name"]
                    .as_str()
                    .is_some_and(|n| n == t || n.ends_with(&format!(":{t}")))
        }),
        None if entries.len() == 1 => entries.first(),
        None => None,
    };
    let Some(e) = chosen else {
        let tags: Vec<String> = entries.iter().filter_map(tag_of).collect();
        return Err(Error::InvalidSpec(match tag {
            Some(t) => format!("{what} has no image tagged {t:?} (tags: {tags:?})"),
            None => format!(
                "{what} holds {} images; name one with :TAG (tags: {tags:?})",
                entries.len()
            ),
        }));
    };
    let digest = e["digest"].as_str().unwrap_or_default().to_owned();
    let media = e["mediaType"].as_str().unwrap_or_default().to_owned();
    Ok((digest, media))
}

/// One entry of Docker's `manifest.json`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Import a docker-archive streamed from `archive` (`what` names it in errors): the image
/// tagged `want`, else the only one. Returns the stored manifest's digest. An archive that
/// carries an OCI manifest (lamina's, Docker ≥ 25's) keeps it byte for byte; a legacy one
/// gets a Docker-typed manifest built from its `manifest.json`.
///
/// The archive is unpacked into a private scratch folder first (its entries come in any
/// order, `manifest.json` often last), so nothing but the image's own blobs — compressed —
/// ever reaches the shared store, and imports running at once never touch each other's files.
pub fn import_docker_archive(
    store: &Store,
    archive: impl Read,
    want: Option<&Reference>,
    arch: &str,
    what: &str,
) -> Result<Digest> {
    let io_err = |e| Error::Io {
        action: "read",
        path: PathBuf::from(what),
        source: e,
    };
    let scratch = store.temp_dir()?;
    let root = scratch.path();
    let mut links: HashMap<PathBuf, PathBuf> = HashMap::new();
    let mut tar = tar::Archive::new(archive);
    for entry in tar.entries().map_err(io_err)? {
        let mut entry = entry.map_err(io_err)?;
        let path = clean(&entry.path().map_err(io_err)?);
        if path.as_os_str().is_empty() {
            continue;
        }
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let dest = root.join(&path);
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent).map_err(Error::io("create", parent))?;
                }
                let mut file = File::create(&dest).map_err(Error::io("create", &dest))?;
                io::copy(&mut entry, &mut file).map_err(io_err)?;
            }
            tar::EntryType::Symlink => {
                if let Some(target) = entry.link_name().map_err(io_err)? {
                    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
                    links.insert(path, clean(&base.join(target)));
                }
            }
            _ => {}
        }
    }
    // A path of the archive, through its symlinks (legacy saves link repeated layers).
    let lookup = |p: &str| -> Result<PathBuf> {
        let mut p = clean(Path::new(p));
        for _ in 0..16 {
            if root.join(&p).is_file() {
                return Ok(root.join(&p));
            }
            match links.get(&p) {
                Some(next) => p = next.clone(),
                None => break,
            }
        }
        Err(Error::InvalidSpec(format!(
            "{what} names {} but does not contain it; is it a complete `docker save`?",
            p.display()
        )))
    };

    // The OCI form, when the archive has one and it holds the wanted image.
    if root.join("index.json").is_file() {
        let tag = want.map(|w| w.tag().unwrap_or(crate::reference::DEFAULT_TAG).to_owned());
        match import_oci_layout(store, root, tag.as_deref(), arch) {
            Ok((d, _)) => return Ok(d),
            Err(e) => {
                tracing::debug!("{what}: its OCI index is not usable ({e}); reading manifest.json")
            }
        }
    }

    let manifest_path = lookup("manifest.json")?;
    let entries: Vec<DockerEntry> = serde_json::from_slice(
        &std::fs::read(&manifest_path).map_err(Error::io("read", &manifest_path))?,
    )
    .map_err(|e| Error::Json {
        what: format!("manifest.json of {what}"),
        source: e,
    })?;
    let tags_of = |e: &DockerEntry| e.repo_tags.clone().unwrap_or_default();
    let entry = match want {
        // Podman files an image built or tagged under a short name as `localhost/NAME`.
        Some(w) => entries.iter().find(|e| {
            tags_of(e).iter().any(|t| {
                [t.as_str(), t.strip_prefix("localhost/").unwrap_or(t)]
                    .iter()
                    .any(|t| t.parse::<Reference>().is_ok_and(|r| &r == w))
            })
        }),
        None if entries.len() == 1 => entries.first(),
        None => None,
    }
    .ok_or_else(|| {
        let all: Vec<String> = entries.iter().flat_map(tags_of).collect();
        Error::InvalidSpec(match want {
            Some(w) => format!("{what} has no image {w} (it has {all:?})"),
            None => format!(
                "{what} holds {} images; name one (it has {all:?})",
                entries.len()
            ),
        })
    })?;
    let config_path = lookup(&entry.config)?;
    check_input_file(&config_path, Some((MAX_CONFIG_LEN, "config")))?;
    let config = store.put_reader(
        File::open(&config_path).map_err(Error::io("open", &config_path))?,
        None,
        what,
    )?;
    let mut layers = Vec::with_capacity(entry.layers.len());
    for path in &entry.layers {
        let file = lookup(path)?;
        layers.push(match compression_of_file(&file)? {
            Compression::Gzip => store.put_reader(
                File::open(&file).map_err(Error::io("open", &file))?,
                None,
                what,
            )?,
            Compression::Zstd => return Err(zstd_refused_path(&file)),
            Compression::None => {
                let desc = gzip_file(store, &file, None)?;
                (desc.digest, desc.size)
            }
        });
    }
    let (digest, _) = put_manifest(store, ManifestFormat::Docker, &config, &layers)?;
    Ok(digest)
}

/// Gzip the uncompressed layers of a stored manifest (keeping its format) and refuse zstd;
/// a manifest that needs nothing is kept byte for byte.
fn normalise(store: &Store, digest: &Digest, manifest: ImageManifest) -> Result<Digest> {
    let mut changed = false;
    let mut layers = Vec::new();
    for layer in manifest.layers() {
        let d = Digest::from_oci(layer.digest())?;
        let media = layer.media_type().to_string();
        if media.contains("zstd") || compression_of(store, &d)? == Compression::Zstd {
            return Err(zstd_refused(&d));
        }
        if compression_of(store, &d)? == Compression::None {
            let desc = gzip_file(store, &store.blob_path(&d), Some(&d))?;
            layers.push((desc.digest, desc.size));
            changed = true;
        } else {
            layers.push((d, layer.size()));
        }
    }
    if !changed {
        return Ok(digest.clone());
    }
    let config = Digest::from_oci(manifest.config().digest())?;
    let config_size = manifest.config().size();
    let (d, _) = put_manifest(
        store,
        ManifestFormat::of(&manifest),
        &(config, config_size),
        &layers,
    )?;
    Ok(d)
}

fn zstd_refused(d: &Digest) -> Error {
    Error::InvalidSpec(format!(
        "layer {d} is zstd-compressed; Lambda takes gzip layers only — rebuild the base with gzip (e.g. `docker buildx build --output type=image,compression=gzip`)"
    ))
}

/// Gzip the uncompressed layer at `path` into a new blob of the store, with lamina's writer
/// settings; when `diff_id` is given, the tar must hash to it.
fn gzip_file(store: &Store, path: &Path, diff_id: Option<&Digest>) -> Result<LayerDescriptor> {
    let tmp = store.temp_file()?;
    let tmp_path = tmp.path().to_path_buf();
    let source = File::open(path).map_err(Error::io("open", path))?;
    let mut reader = HashingReader::new(BufReader::with_capacity(1 << 20, source));
    let settings = LayerSettings::default();
    let out = io::BufWriter::with_capacity(1 << 20, tmp.as_file());
    let mut gz = ParGzWriter::new(HashingWriter::new(out), settings.gzip_level);
    io::copy(&mut reader, &mut gz).map_err(Error::io("compress", &tmp_path))?;
    let (_, got, uncompressed_size) = reader.finish();
    let (out, digest, size) = gz
        .finish()
        .map_err(Error::io("compress", &tmp_path))?
        .finish();
    out.into_inner()
        .map_err(|e| Error::io("write", &tmp_path)(e.into_error()))?;
    if let Some(want) = diff_id.filter(|w| **w != got) {
        return Err(Error::DigestMismatch {
            what: format!("uncompressed layer {}", path.display()),
            expected: want.clone(),
            actual: got,
            fix: crate::error::FIX_DIFF_ID,
        });
    }
    tmp.as_file()
        .sync_all()
        .map_err(Error::io("sync", &tmp_path))?;
    store.commit_temp(tmp, &digest)?;
    let desc = LayerDescriptor {
        diff_id: got,
        digest,
        size,
        uncompressed_size,
    };
    store.remember_layer(&desc)?;
    Ok(desc)
}

fn zstd_refused_path(path: &Path) -> Error {
    Error::InvalidSpec(format!(
        "layer {} is zstd-compressed; Lambda takes gzip layers only — rebuild the base with gzip (e.g. `docker buildx build --output type=image,compression=gzip`)",
        path.display()
    ))
}

/// Every layer of a stored image with its diffID and uncompressed size, each checked
/// against the config's `rootfs.diff_ids` (read once per layer, then cached).
pub fn stored_layers(store: &Store, manifest_digest: &Digest) -> Result<Vec<LayerDescriptor>> {
    let manifest = read_manifest(store, manifest_digest)?;
    let config = read_config(store, &manifest)?;
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != manifest.layers().len() {
        return Err(Error::UnsupportedManifest {
            digest: manifest_digest.clone(),
            reason: format!(
                "its config lists {} diff_ids for {} layers",
                diff_ids.len(),
                manifest.layers().len()
            ),
        });
    }
    let mut out = Vec::with_capacity(diff_ids.len());
    for (layer, want) in manifest.layers().iter().zip(diff_ids) {
        let digest = Digest::from_oci(layer.digest())?;
        let desc = match store.known_layer(&digest)? {
            Some(d) => d,
            None => {
                let desc = read_layer_facts(store, &digest)?;
                store.remember_layer(&desc)?;
                desc
            }
        };
        if desc.diff_id.as_str() != want {
            return Err(Error::DigestMismatch {
                what: format!("layer {digest} of image {manifest_digest} (its config's diff_id)"),
                expected: want.parse()?,
                actual: desc.diff_id,
                fix: crate::error::FIX_DIFF_ID,
            });
        }
        out.push(desc);
    }
    Ok(out)
}

fn read_layer_facts(store: &Store, digest: &Digest) -> Result<LayerDescriptor> {
    let path = store.blob_path(digest);
    let size = store.blob_len(digest).unwrap_or(0);
    let file = BufReader::with_capacity(1 << 20, store.open_blob(digest)?);
    let (diff_id, uncompressed_size) = match compression_of(store, digest)? {
        Compression::Gzip => {
            let mut r = HashingReader::new(flate2::read::MultiGzDecoder::new(file));
            io::copy(&mut r, &mut io::sink()).map_err(Error::io("decompress layer", &path))?;
            let (_, d, n) = r.finish();
            (d, n)
        }
        Compression::None => (digest.clone(), size),
        Compression::Zstd => return Err(zstd_refused(digest)),
    };
    Ok(LayerDescriptor {
        diff_id,
        digest: digest.clone(),
        size,
        uncompressed_size,
    })
}

/// Bring a layout's blob into the store, verified against `d`. Only a regular file is read,
/// and one larger than `cap` (`(bytes, what it is)`, for manifests and configs) is refused
/// before a byte is copied.
fn copy_in(store: &Store, path: &Path, d: &Digest, cap: Option<(u64, &str)>) -> Result<()> {
    if store.has_blob(d) {
        return Ok(());
    }
    check_input_file(path, cap)?;
    let file = File::open(path).map_err(Error::io("open", path))?;
    store.put_reader(file, Some(d), &path.display().to_string())?;
    Ok(())
}

/// An input file must be a regular file (not a FIFO, a device or a link to one) and, when
/// `cap` is given, no larger than it.
fn check_input_file(path: &Path, cap: Option<(u64, &str)>) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(Error::io("read metadata of", path))?;
    if !meta.is_file() {
        return Err(Error::InvalidSpec(format!(
            "{} is not a regular file; an image's blobs must be",
            path.display()
        )));
    }
    if let Some((max, what)) = cap.filter(|(max, _)| meta.len() > *max) {
        return Err(Error::InvalidSpec(format!(
            "{} is {} bytes, more than lamina takes for an image's {what} ({max} bytes)",
            path.display(),
            meta.len()
        )));
    }
    Ok(())
}

fn read_json_file(path: &Path) -> Result<Value> {
    let data = std::fs::read(path).map_err(Error::io("read", path))?;
    serde_json::from_slice(&data).map_err(|e| Error::Json {
        what: path.display().to_string(),
        source: e,
    })
}

fn json_blob(store: &Store, d: &Digest) -> Result<Value> {
    serde_json::from_slice(&store.read_small_blob(d, MAX_INDEX_LEN, "index")?).map_err(|e| {
        Error::Json {
            what: format!("blob {d}"),
            source: e,
        }
    })
}

/// `./a/../b` → `b`: archive paths compared as written by different tools.
fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}
