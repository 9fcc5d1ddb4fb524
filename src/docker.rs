//! The local Docker Engine, as the CLI needs it: make sure an image from lamina's store is
//! loaded — streamed as a docker-archive, never buffered. The connection itself is made in
//! one place, `lamina_rie::docker::connect`, and handed in.

use std::io::Write;

use anyhow::{bail, Context, Result};
use bollard::query_parameters::ImportImageOptionsBuilder;
use bollard::Docker;
use bytes::Bytes;
use futures_util::StreamExt;
use lamina_image::{Digest, Reference, Store};

/// The image id Docker has for `reference`, if any.
pub async fn image_id(docker: &Docker, reference: &Reference) -> Result<Option<String>> {
    match docker.inspect_image(&reference.to_string()).await {
        Ok(inspect) => Ok(inspect.id),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot inspect image `{reference}` in Docker")),
    }
}

/// Load the stored image `manifest` into Docker as `reference`, unless Docker already has
/// exactly that image (its id is the config digest). Returns true when it loaded.
pub async fn ensure_loaded(
    docker: &Docker,
    store: &Store,
    manifest: &Digest,
    reference: &Reference,
) -> Result<bool> {
    let config = lamina_image::read_manifest(store, manifest)?
        .config()
        .digest()
        .to_string();
    if image_id(docker, reference).await?.as_deref() == Some(config.as_str()) {
        return Ok(false);
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
    let store = store.clone();
    let manifest = manifest.clone();
    let tags = vec![reference.clone()];
    let writer = tokio::task::spawn_blocking(move || -> Result<()> {
        let sink = ChannelWriter { tx: tx.clone() };
        let mut sink = lamina_image::write_docker_archive(&store, &manifest, &tags, sink)?;
        sink.flush()?;
        Ok(())
    });
    let body = tokio_stream_from(rx);
    let options = ImportImageOptionsBuilder::new().quiet(true).build();
    let mut progress = docker.import_image_stream(options, body, None);
    while let Some(item) = progress.next().await {
        let info = item.with_context(|| format!("Docker refused to load image `{reference}`"))?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            bail!("Docker refused to load image `{reference}`: {err}");
        }
    }
    writer.await.context("the archive writer stopped")??;
    if image_id(docker, reference).await?.as_deref() != Some(config.as_str()) {
        bail!("Docker loaded the archive but `{reference}` is not image {config}");
    }
    Ok(true)
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
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
