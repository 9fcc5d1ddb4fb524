//! The static lamina-ric binary that `lamina build` injects, embedded at compile time by
//! `build.rs` (see there for how it is built).

/// The bytes of `lamina-ric` for this lamina's target architecture.
pub const BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lamina-ric"));

/// [`BINARY`] as a file under `cache/tools` (named by its digest, written once, atomically),
/// for `lamina rie` to run as every container's init (`lamina_runtime_api::init`).
pub fn on_disk(cache: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    use anyhow::Context as _;
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;

    let digest = lamina_image::digest::Digest::sha256_of(BINARY);
    let dir = cache.join("tools");
    let path = dir.join(format!("lamina-ric-{}", &digest.hex()[..16]));
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == BINARY.len() as u64) {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut file = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot write a file in {}", dir.display()))?;
    file.write_all(BINARY)
        .and_then(|()| file.as_file().sync_all())
        .and_then(|()| {
            file.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o755))
        })
        .with_context(|| format!("cannot write lamina-ric to {}", dir.display()))?;
    file.persist(&path)
        .with_context(|| format!("cannot write lamina-ric to {}", path.display()))?;
    Ok(path)
}
