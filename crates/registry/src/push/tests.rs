//! The push against a fixture registry that behaves as ECR does for a repository that was
//! never created: HEAD 404, then `POST …/uploads/` 404 `NAME_UNKNOWN`.

use std::sync::Arc;

use lamina_image::{ImageSpec, LayerPlan, LayerSettings, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

mod resume;

/// Answer every request with `status` and `body` (HEAD and POST alike), recording request lines.
async fn fixture(status: u16, body: &'static str) -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                loop {
                    let n = match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let text = String::from_utf8_lossy(&buf[..n]).to_string();
                    let line = text.lines().next().unwrap_or_default().to_owned();
                    log.lock().unwrap().push(line.clone());
                    let payload = if line.starts_with("HEAD") { "" } else { body };
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
                        body.len()
                    );
                    if s.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

fn small_image(store: &Store) -> Digest {
    image_with(store, b"x = 1\n".to_vec()).0
}

/// A stored one-layer image whose layer holds `data` as one file; the manifest's digest and
/// the layer's descriptor.
fn image_with(store: &Store, data: Vec<u8>) -> (Digest, lamina_image::LayerDescriptor) {
    let mut plan = LayerPlan::new();
    plan.add_bytes("var/task/app.py", data, false).unwrap();
    let (layer, _) = lamina_image::write_layer(store, &plan, &LayerSettings::default()).unwrap();
    let spec = ImageSpec {
        architecture: "amd64".into(),
        os: "linux".into(),
        entrypoint: vec![],
        cmd: vec![],
        working_dir: "/var/task".into(),
        env: vec![],
        labels: Default::default(),
        created: lamina_image::created_from_epoch(0),
        layers: vec![(layer.clone(), "test".into())],
        format: Default::default(),
    };
    let manifest = lamina_image::write_image(store, &spec)
        .unwrap()
        .manifest_digest;
    (manifest, layer)
}

#[tokio::test]
async fn a_repository_ecr_never_created_is_named_with_the_fix_and_nothing_is_published() {
    let (port, seen) = fixture(
        404,
        r#"{"errors":[{"code":"NAME_UNKNOWN","message":"The repository with name 'calc' does not exist in the registry with id '123456789012'"}]}"#,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let manifest = small_image(&store);
    let target: Reference = format!("127.0.0.1:{port}/calc:v1").parse().unwrap();
    let client = Client::new(&target, None, true).unwrap();
    let progress: Progress = Arc::new(|_: &str, _: u64, _: u64| {});
    let err = push(&client, &store, &manifest, &target, &progress)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("repository `calc` does not exist")
            && msg.contains("aws ecr create-repository --repository-name calc"),
        "{msg}"
    );
    let requests = seen.lock().unwrap().clone();
    assert!(
        !requests.iter().any(|l| l.starts_with("PUT")),
        "no blob or manifest PUT after the refusal: {requests:?}"
    );
}
