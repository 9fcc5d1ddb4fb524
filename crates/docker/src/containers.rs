//! Container chores every part of lamina shares: removal (the emulator's environments, the
//! builder's installers, what a crashed run left).

use bollard::query_parameters::RemoveContainerOptions;
use bollard::Docker;

/// Remove a container and its anonymous volumes, running or not; whether it went (best
/// effort: a container already gone is no error worth reporting).
pub(crate) async fn remove(docker: &Docker, id: &str) -> bool {
    docker
        .remove_container(
            id,
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            }),
        )
        .await
        .is_ok()
}
