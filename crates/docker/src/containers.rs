//! Container chores every part of lamina shares — the labels lamina puts on what it starts,
//! waiting for a container's exit code, removal — for the emulator's environments, the
//! builder's installers, and what a crashed run left.

use bollard::query_parameters::{RemoveContainerOptions, WaitContainerOptions};
use bollard::Docker;
use futures_util::StreamExt;

/// Every label lamina sets starts so (images it builds, containers it runs).
pub(crate) const LABEL_PREFIX: &str = "dev.lamina.";
/// Label naming the `lamina rie` session that owns a container or network.
pub const LABEL_SESSION: &str = "dev.lamina.rie";
/// Label holding the owning process id.
pub const LABEL_PID: &str = "dev.lamina.rie.pid";
/// Label holding the owning host name.
pub const LABEL_HOST: &str = "dev.lamina.rie.host";
/// Label holding the function name (containers only).
pub const LABEL_FUNCTION: &str = "dev.lamina.rie.function";
/// Label of the containers a build runs (installers).
pub(crate) const LABEL_BUILD: &str = "dev.lamina.build";
/// Label with the pid of the build that runs them.
pub(crate) const LABEL_BUILD_PID: &str = "dev.lamina.build.pid";

/// Wait for a container to end: its exit code (the engine's answer either way: a non-zero
/// exit comes back as an error carrying the code), or why it could not be waited for.
pub(crate) async fn wait(docker: &Docker, id: &str) -> Result<i64, bollard::errors::Error> {
    match docker
        .wait_container(id, None::<WaitContainerOptions>)
        .next()
        .await
    {
        Some(Ok(r)) => Ok(r.status_code),
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(e)) => Err(e),
        None => Ok(-1),
    }
}

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

/// This process's own hard limit of `resource` (`i64::MAX` when unlimited or unreadable):
/// a container's rlimit the engine may set even where its root lacks `CAP_SYS_RESOURCE`.
pub(crate) fn own_hard_limit(resource: libc::__rlimit_resource_t) -> i64 {
    let mut own = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit struct we own.
    let read = unsafe { libc::getrlimit(resource, &mut own) } == 0;
    if read && own.rlim_max != libc::RLIM_INFINITY {
        i64::try_from(own.rlim_max).unwrap_or(i64::MAX)
    } else {
        i64::MAX
    }
}

/// An rlimit at `value` (soft and hard).
pub(crate) fn ulimit(name: &str, value: i64) -> bollard::models::ResourcesUlimits {
    bollard::models::ResourcesUlimits {
        name: Some(name.to_owned()),
        soft: Some(value),
        hard: Some(value),
    }
}
