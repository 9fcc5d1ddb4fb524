//! `--base` sources that live outside lamina's store — OCI layouts, docker-archives, images in
//! the local Docker Engine and registry references — brought into the store before a build,
//! so the builder only ever sees a stored image ([`Base::Image`]); `lamina check` reads images
//! the same way.

use std::io::Read;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use lamina_build::pipeline::base::{Base, BaseSource};
use lamina_image::{Digest, Reference, Store};
use lamina_runtime_api::function::Arch;

use crate::cli::RegistryArgs;
use lamina_docker::DockerRunner;

/// Where the store remembers an image exported from Docker, by its image id.
fn daemon_ref(id: &str) -> Result<Reference> {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    Ok(format!("lamina-imports/docker-daemon:{hex}").parse()?)
}

/// An image brought into the store from outside.
pub struct Imported {
    /// Its manifest in the store.
    pub manifest: Digest,
    /// The index the source named, when it named one (resolved to the platform's image).
    pub index: Option<lamina_image::import::IndexSummary>,
}

/// The base the pipeline builds on, importing or pulling it into `store` when it comes from
/// outside. `registry` gives the credentials and `--insecure` of a registry base.
pub async fn resolve(
    source: &BaseSource,
    store: &Store,
    arch: Arch,
    runner: &DockerRunner,
    registry: Option<&RegistryArgs>,
) -> Result<Base> {
    Ok(match source {
        BaseSource::Recipe(r) => Base::Recipe(*r),
        BaseSource::Scratch => Base::Scratch,
        BaseSource::Dir(d) => Base::Dir(d.clone()),
        other => Base::Image {
            manifest: import(other, store, arch, runner, registry).await?.manifest,
            source: source.to_string(),
        },
    })
}

/// Bring an image source (`oci:`, `docker-archive:`, `docker-daemon:`, a registry
/// reference) into the store.
pub async fn import(
    source: &BaseSource,
    store: &Store,
    arch: Arch,
    runner: &DockerRunner,
    registry: Option<&RegistryArgs>,
) -> Result<Imported> {
    let image = |manifest: Digest| Imported {
        manifest,
        index: None,
    };
    Ok(match source {
        BaseSource::Recipe(_) | BaseSource::Scratch | BaseSource::Dir(_) => {
            anyhow::bail!("`{source}` is not an image; name an image, oci:PATH, docker-archive:PATH, docker-daemon:NAME or a registry reference")
        }
        BaseSource::Oci(dir, tag) => {
            let (store, dir2, tag) = (store.clone(), dir.clone(), tag.clone());
            let (manifest, index) = tokio::task::spawn_blocking(move || {
                lamina_image::import::import_oci_layout(&store, &dir2, tag.as_deref(), arch.name())
            })
            .await?
            .with_context(|| format!("cannot read the OCI layout {}", dir.display()))?;
            Imported { manifest, index }
        }
        BaseSource::DockerArchive(path) => {
            let (store, path2) = (store.clone(), path.clone());
            let d = tokio::task::spawn_blocking(move || -> Result<Digest> {
                let file = std::fs::File::open(&path2).with_context(|| {
                    format!("docker-archive {} cannot be opened", path2.display())
                })?;
                let what = path2.display().to_string();
                Ok(lamina_image::import::import_docker_archive(
                    &store,
                    std::io::BufReader::with_capacity(1 << 20, file),
                    None,
                    arch.name(),
                    &what,
                )?)
            })
            .await?
            .with_context(|| format!("cannot read the docker-archive {}", path.display()))?;
            image(d)
        }
        BaseSource::DockerDaemon(name) => image(from_daemon(store, runner, name, arch).await?),
        BaseSource::Registry(reference) => {
            let given = match registry {
                Some(args) => super::credentials::credentials(args)?,
                None => None,
            };
            let insecure = registry.is_some_and(|r| r.insecure);
            let client = lamina_registry::Client::new(
                reference,
                super::credentials::credentials_for(given.as_ref(), reference)?,
                insecure,
            )?;
            let pulled = lamina_registry::pull(&client, store, reference, arch.name())
                .await
                .with_context(|| format!("cannot pull {reference}"))?;
            Imported {
                manifest: pulled.digest,
                index: pulled.index,
            }
        }
    })
}

/// Export `name` from the local Docker Engine into the store (once per Docker image id).
async fn from_daemon(
    store: &Store,
    runner: &DockerRunner,
    name: &Reference,
    arch: Arch,
) -> Result<Digest> {
    let docker = runner.docker().await?;
    let Some(id) = lamina_docker::image_id(docker, name).await? else {
        anyhow::bail!(
            "base docker-daemon:{name}: Docker has no image `{name}`; `docker pull` or `docker build` it first"
        );
    };
    let remembered = daemon_ref(&id)?;
    if let Some(d) = store.get_ref(&remembered)? {
        if lamina_image::image_blobs(store, &d).is_ok() {
            return Ok(d);
        }
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(8);
    let (store2, name2) = (store.clone(), name.clone());
    let importer = tokio::task::spawn_blocking(move || {
        let reader = ChannelReader {
            rx,
            current: bytes::Bytes::new(),
        };
        lamina_image::import::import_docker_archive(
            &store2,
            reader,
            Some(&name2),
            arch.name(),
            &format!("docker save {name2}"),
        )
    });
    let mut export = docker.export_image(&name.to_string());
    while let Some(chunk) = export.next().await {
        let item = chunk.map_err(std::io::Error::other);
        let failed = item.is_err();
        if tx.send(item).await.is_err() || failed {
            break;
        }
    }
    drop(tx);
    let d = importer
        .await?
        .with_context(|| format!("cannot import docker-daemon:{name} as the base"))?;
    store.set_ref(&remembered, &d)?;
    Ok(d)
}

/// The blocking side of an async byte stream (`docker save` output).
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>,
    current: bytes::Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}
