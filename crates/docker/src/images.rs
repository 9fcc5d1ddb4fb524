//! Images and build containers on the engine: make sure an image from lamina's store is
//! loaded — streamed as a docker-archive, never buffered, only the layers the engine lacks —
//! and run the builder's installer containers ([`DockerRunner`], the builder's
//! `ContainerRunner`). The connection is made in one place, [`crate::connect`].

use std::collections::HashMap;
use std::io::Write;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, ImportImageOptionsBuilder, ListContainersOptions, ListImagesOptions,
    LogsOptions, StartContainerOptions,
};
use bollard::Docker;
use bytes::Bytes;
use futures_util::StreamExt;
use lamina_build::deps::{ContainerJob, ContainerRunner};
use lamina_image::{Digest, LoadArchive, Reference, Store};

use crate::containers::{remove as remove_container, LABEL_BUILD, LABEL_BUILD_PID, LABEL_PREFIX};
use crate::DockerError;

type Result<T> = std::result::Result<T, DockerError>;

fn api(action: impl Into<String>, reason: impl std::fmt::Display) -> DockerError {
    DockerError::Api {
        action: action.into(),
        reason: reason.to_string(),
    }
}

/// The image id Docker has for `reference`, if any.
pub async fn image_id(docker: &Docker, reference: &Reference) -> Result<Option<String>> {
    match docker.inspect_image(&reference.to_string()).await {
        Ok(inspect) => Ok(inspect.id),
        Err(e) if crate::connect::is_not_found(&e) => Ok(None),
        Err(e) => Err(api(format!("inspect image `{reference}`"), e)),
    }
}

/// The labels of the image `reference` names in the engine (lamina's function settings
/// travel as labels).
pub async fn image_labels(
    docker: &Docker,
    reference: &Reference,
) -> Result<HashMap<String, String>> {
    Ok(docker
        .inspect_image(&reference.to_string())
        .await
        .map_err(|e| api(format!("inspect image `{reference}`"), e))?
        .config
        .and_then(|c| c.labels)
        .unwrap_or_default())
}

/// What a load sent to Docker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadReport {
    /// Layers whose blobs were in the archive.
    pub layers_sent: usize,
    /// Layers of the image.
    pub layers_total: usize,
    /// Bytes of the archive streamed to the daemon.
    pub bytes_sent: u64,
}

/// Load the stored image `manifest` into Docker as `reference`, unless Docker already has
/// exactly that image (its id is the config digest). Only the layers past the longest chain
/// Docker already holds are sent, uncompressed when the daemon is on this machine (it then
/// only unpacks them); if the daemon refuses that archive (a layer it held was removed
/// meanwhile, or an image store that wants every blob), the full gzip archive is sent.
/// Returns what was sent, or `None` when nothing had to be.
pub async fn ensure_loaded(
    docker: &Docker,
    store: &Store,
    manifest: &Digest,
    reference: &Reference,
) -> Result<Option<LoadReport>> {
    let parsed = lamina_image::read_manifest(store, manifest)?;
    let config = parsed.config().digest().to_string();
    if image_id(docker, reference).await?.as_deref() == Some(config.as_str()) {
        return Ok(None);
    }
    let diff_ids: Vec<String> = lamina_image::read_config(store, &parsed)?
        .rootfs()
        .diff_ids()
        .clone();
    // Podman loads only whole archives ("Some layer tarfiles are missing in the tarball"):
    // there every layer is sent, and the engine keeps one copy of each.
    let held = if crate::connect::connected_to_podman() {
        0
    } else {
        held_prefix(docker, reference, &diff_ids).await
    };
    let form = LoadArchive {
        held_layers: held,
        uncompressed: crate::daemon_is_local(),
    };
    let tagged = || async {
        image_id(docker, reference)
            .await
            .map(|id| id.as_deref() == Some(config.as_str()))
    };
    let mut sent_form = form;
    let mut report = load(docker, store, manifest, reference, form).await;
    // The short form can be refused outright, or — Podman — taken without the tag moving to
    // the new image: either way the full archive is always a correct load.
    let short_form_failed = match &report {
        Err(e) => {
            tracing::debug!("partial or uncompressed load refused ({e})");
            true
        }
        // Podman takes the short form but files the image under the archive's name
        // (`docker.io/…`) while the short name resolves elsewhere: the image is there (its id
        // is the config digest) and only needs the tag below, not the full archive again.
        Ok(_) => !tagged().await? && docker.inspect_image(&config).await.is_err(),
    };
    if form != LoadArchive::default() && short_form_failed {
        tracing::debug!("sending the full archive");
        sent_form = LoadArchive::default();
        report = load(docker, store, manifest, reference, sent_form).await;
    }
    let bytes_sent = report?;
    if !tagged().await? {
        // Podman files an archive's image under the name its index gives
        // (`docker.io/library/calculator:latest`) while a short name resolves to
        // `localhost/…` first, where an older image may sit: tag the loaded image (found by
        // its id, the config digest) with the name lamina serves it by.
        let tag = bollard::query_parameters::TagImageOptions {
            repo: Some(reference.familiar_name()),
            tag: reference.tag().map(str::to_owned),
        };
        docker
            .tag_image(&config, Some(tag))
            .await
            .map_err(|e| api(format!("tag image {config} as `{reference}`"), e))?;
    }
    if !tagged().await? {
        return Err(api(
            format!("load image `{reference}`"),
            format!("it took the archive, but `{reference}` is not image {config} after it"),
        ));
    }
    let held = sent_form.held_layers;
    Ok(Some(LoadReport {
        layers_sent: diff_ids.len() - held.min(diff_ids.len()),
        layers_total: diff_ids.len(),
        bytes_sent,
    }))
}

/// Images inspected when looking for layers Docker already holds, newest first.
const HELD_LAYER_CANDIDATES: usize = 64;

/// How many of `diff_ids`, from the bottom, Docker already holds as one chain: the longest
/// prefix shared with the layers of an image it has. Asked first: the image `reference` names
/// now (the previous build of an edit loop), then lamina's images (bases and functions; their
/// creation time is the source epoch, so age says nothing), then the newest others. Any
/// failure counts as holding nothing: the full archive is always a correct load.
async fn held_prefix(docker: &Docker, reference: &Reference, diff_ids: &[String]) -> usize {
    let Ok(mut images) = docker
        .list_images(Some(ListImagesOptions {
            all: false,
            ..Default::default()
        }))
        .await
    else {
        return 0;
    };
    // By qualified name: Podman lists `lamina-e2e/app:v1` as `docker.io/lamina-e2e/app:v1`.
    let name = reference.qualified();
    let same_name = |tag: &String| Reference::parse(tag).is_ok_and(|r| r.qualified() == name);
    let rank = |i: &bollard::models::ImageSummary| {
        if i.repo_tags.iter().any(same_name) {
            0
        } else if i.labels.keys().any(|k| k.starts_with(LABEL_PREFIX))
            || i.repo_tags.iter().any(|t| {
                t.strip_prefix(lamina_build::deps::BASE_IMAGE_REPOSITORY)
                    .is_some_and(|rest| rest.starts_with(':'))
            })
        {
            1
        } else {
            2
        }
    };
    images.sort_by_key(|i| (rank(i), std::cmp::Reverse(i.created)));
    let mut best = 0;
    for image in images.iter().take(HELD_LAYER_CANDIDATES) {
        let Ok(inspect) = docker.inspect_image(&image.id).await else {
            continue;
        };
        let layers = inspect.root_fs.and_then(|r| r.layers).unwrap_or_default();
        let shared = layers
            .iter()
            .zip(diff_ids)
            .take_while(|(a, b)| a == b)
            .count();
        best = best.max(shared);
        if best == diff_ids.len() {
            break;
        }
    }
    best
}

/// Stream one docker-archive of `manifest`, shaped by `form`, into Docker's load endpoint;
/// returns the bytes sent.
async fn load(
    docker: &Docker,
    store: &Store,
    manifest: &Digest,
    reference: &Reference,
    form: LoadArchive,
) -> Result<u64> {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
    let store = store.clone();
    let manifest = manifest.clone();
    let tags = vec![reference.clone()];
    let writer = tokio::task::spawn_blocking(move || -> Result<u64> {
        let sink = ChannelWriter { tx, sent: 0 };
        let mut sink =
            lamina_image::write_docker_load_archive(&store, &manifest, &tags, form, sink)?;
        sink.flush()
            .map_err(|e| api("stream the image archive", e))?;
        Ok(sink.sent)
    });
    let body = tokio_stream_from(rx);
    let options = ImportImageOptionsBuilder::new().quiet(true).build();
    let mut progress = docker.import_image_stream(options, body, None);
    let mut refused = None;
    while let Some(item) = progress.next().await {
        match item {
            Ok(info) => {
                if let Some(err) = info.error_detail.and_then(|d| d.message) {
                    refused = Some(api(format!("load image `{reference}`"), err));
                }
            }
            Err(e) => {
                refused = Some(api(format!("load image `{reference}`"), e));
                break;
            }
        }
    }
    drop(progress);
    let written = writer
        .await
        .map_err(|e| api("write the image archive", e))?;
    if let Some(e) = refused {
        return Err(e);
    }
    written
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// A `Write` that hands 256 KiB chunks to an async consumer (blocking when it is behind), so
/// the archive streams from disk to the daemon in bounded memory.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    sent: u64,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(256 * 1024);
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(&buf[..n])))
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "Docker closed the load stream",
                )
            })?;
        self.sent += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs the builder's container jobs (dependency installers) on the local Docker Engine,
/// from the build's own thread (it blocks on the async client).
pub struct DockerRunner {
    handle: tokio::runtime::Handle,
    store: Store,
    docker: tokio::sync::OnceCell<Docker>,
}

impl DockerRunner {
    /// A runner that connects on first use (a build without dependencies needs no daemon),
    /// or uses `docker` when the caller is already connected.
    pub fn new(handle: tokio::runtime::Handle, store: Store, docker: Option<Docker>) -> Self {
        Self {
            handle,
            store,
            docker: tokio::sync::OnceCell::new_with(docker),
        }
    }

    /// The Docker client, connecting now if nothing has yet.
    pub async fn docker(&self) -> Result<&Docker> {
        self.docker
            .get_or_try_init(|| async { crate::connect().await })
            .await
    }

    /// Remove the installer containers this process started (when told to stop mid-build).
    pub async fn remove_own_containers(&self) {
        let Some(docker) = self.docker.get() else {
            return;
        };
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![format!("{LABEL_BUILD_PID}={}", std::process::id())],
        )]);
        let listed = docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .unwrap_or_default();
        for c in listed {
            if let Some(id) = c.id {
                remove_container(docker, &id).await;
            }
        }
    }

    async fn run_async(&self, job: &ContainerJob, output: &mut dyn FnMut(&[u8])) -> Result<i64> {
        let docker = self.docker().await?;
        ensure_loaded(docker, &self.store, &job.image, &job.name).await?;
        let body = ContainerCreateBody {
            image: Some(job.name.to_string()),
            cmd: Some(job.command.clone()),
            env: Some(job.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            user: Some(job.user.clone()),
            working_dir: Some("/tmp".into()),
            labels: Some(HashMap::from([
                (LABEL_BUILD.to_owned(), "installer".to_owned()),
                (LABEL_BUILD_PID.to_owned(), std::process::id().to_string()),
            ])),
            host_config: Some(HostConfig {
                binds: Some(
                    job.mounts
                        .iter()
                        .map(|m| {
                            let mode = if m.read_only { "ro" } else { "rw" };
                            format!("{}:{}:{mode}", m.host.display(), m.container)
                        })
                        .collect(),
                ),
                // Podman raises the rlimits a container leaves unset past what its root may
                // where that root lacks CAP_SYS_RESOURCE: the environments' own limits.
                ulimits: crate::connect::connected_to_podman()
                    .then(|| crate::sandbox::ulimits(true)),
                ..Default::default()
            }),
            ..Default::default()
        };
        let id = docker
            .create_container(None::<CreateContainerOptions>, body)
            .await
            .map_err(|e| api("create the installer's container", e))?
            .id;
        let ran = async {
            docker
                .start_container(&id, None::<StartContainerOptions>)
                .await
                .map_err(|e| api("start the installer's container", e))?;
            let mut logs = docker.logs(
                &id,
                Some(LogsOptions {
                    follow: true,
                    stdout: true,
                    stderr: true,
                    ..Default::default()
                }),
            );
            while let Some(chunk) = logs.next().await {
                match chunk {
                    Ok(out) => output(&out.into_bytes()),
                    Err(e) => return Err(api("follow the installer's output", e)),
                }
            }
            crate::containers::wait(docker, &id)
                .await
                .map_err(|e| api("wait for the installer's container", e))
        }
        .await;
        remove_container(docker, &id).await;
        ran
    }
}

impl ContainerRunner for DockerRunner {
    fn run(
        &self,
        job: &ContainerJob,
        output: &mut dyn FnMut(&[u8]),
    ) -> std::result::Result<i64, String> {
        self.handle
            .block_on(self.run_async(job, output))
            .map_err(|e| e.to_string())
    }
}
