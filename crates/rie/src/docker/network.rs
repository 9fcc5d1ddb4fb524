//! Which Docker network the environments join, and the gateway address their Runtime API
//! listeners bind ([`join`]).
//!
//! The default is Docker's default bridge, the network `docker run` (and so AWS's emulator as
//! AWS documents it, and SAM CLI) puts a container on. design.md asks for a private network,
//! and [`SHARED_NETWORK`] is still there for the asking (`--network lamina-rie`), but every
//! container start on a user-defined network pays for the daemon's embedded DNS server: it
//! re-executes itself into the container's namespace and runs `iptables` eleven times
//! (moby's `libnetwork` `setupResolver`; ~100 ms of a ~290 ms start here, BENCHMARKS §3g).
//! Isolation holds where it matters either way: each environment's Runtime API accepts only
//! its own container's address ([`crate::sandbox::Started::peer`]).

use std::collections::HashMap;
use std::net::IpAddr;

use bollard::models::{NetworkCreateRequest, NetworkInspect};
use bollard::query_parameters::{InspectNetworkOptions, ListNetworksOptions};
use bollard::Docker;

use super::connect::{failed, is_not_found};
use super::DockerError;
use crate::error::Result;

/// Docker's default bridge network, joined unless another is asked for.
pub const DEFAULT_NETWORK: &str = "bridge";
/// lamina's own bridge network (`--network lamina-rie`), created on first use and kept.
pub const SHARED_NETWORK: &str = "lamina-rie";
/// Label marking [`SHARED_NETWORK`].
pub const LABEL_SHARED: &str = "dev.lamina.rie.shared";

/// The network the environments join.
#[derive(Debug, Clone)]
pub(super) struct Joined {
    /// Its name: containers list their addresses under it.
    pub name: String,
    /// What a container's `NetworkMode` names: the default bridge by its name (the daemon
    /// treats only that name as the default bridge), any other network by its id (two
    /// networks can carry one name).
    pub mode: String,
    /// Its id.
    pub id: String,
    /// The host's address on it, where the Runtime API listeners bind.
    pub gateway: IpAddr,
}

/// The network named `requested` (`None`: [`DEFAULT_NETWORK`], or [`SHARED_NETWORK`] on a
/// daemon run without a default bridge, `dockerd --bridge=none`).
pub(super) async fn join(docker: &Docker, requested: Option<&str>) -> Result<Joined> {
    let name = requested.unwrap_or(DEFAULT_NETWORK);
    if name == SHARED_NETWORK {
        return shared_network(docker).await;
    }
    if matches!(name, "host" | "none") || name.starts_with("container:") {
        return Err(DockerError::NetworkUnusable {
            name: name.to_owned(),
            reason: "each environment needs its own address on a bridge network".into(),
        }
        .into());
    }
    let inspected = match docker
        .inspect_network(name, None::<InspectNetworkOptions>)
        .await
    {
        Ok(n) => n,
        Err(e) if is_not_found(&e) && requested.is_none() => {
            tracing::info!("the daemon has no default bridge network: joining {SHARED_NETWORK}");
            return shared_network(docker).await;
        }
        Err(e) if is_not_found(&e) => {
            return Err(DockerError::NetworkNotFound(name.to_owned()).into())
        }
        Err(e) => return Err(failed(format!("inspect network {name}"))(e)),
    };
    let driver = inspected.driver.clone().unwrap_or_default();
    if driver != "bridge" {
        return Err(DockerError::NetworkUnusable {
            name: name.to_owned(),
            reason: format!(
                "it uses the `{driver}` driver, and only a bridge network gives this host an address the containers reach"
            ),
        }
        .into());
    }
    let id = inspected.id.clone().unwrap_or_else(|| name.to_owned());
    let gateway = gateway_of(name, &inspected)?;
    let is_default = inspected
        .options
        .as_ref()
        .and_then(|o| o.get("com.docker.network.bridge.default_bridge"))
        .is_some_and(|v| v == "true");
    Ok(Joined {
        name: inspected.name.clone().unwrap_or_else(|| name.to_owned()),
        mode: if is_default {
            DEFAULT_NETWORK.to_owned()
        } else {
            id.clone()
        },
        id,
        gateway,
    })
}

/// The network's IPv4 gateway.
fn gateway_of(name: &str, network: &NetworkInspect) -> Result<IpAddr> {
    network
        .ipam
        .as_ref()
        .and_then(|i| i.config.as_ref())
        .and_then(|c| {
            c.iter()
                .find_map(|c| c.gateway.as_deref()?.parse::<IpAddr>().ok())
                .filter(IpAddr::is_ipv4)
        })
        .ok_or_else(|| {
            DockerError::NetworkUnusable {
                name: name.to_owned(),
                reason: "it has no IPv4 gateway for the Runtime API to listen on".into(),
            }
            .into()
        })
}

/// [`SHARED_NETWORK`], created when the daemon has none.
///
/// Two sessions starting at once on a fresh daemon can each create it: Docker before API
/// 1.44 does not refuse a second network of the same name unless asked (`CheckDuplicate`,
/// which bollard's request model no longer carries; moby/moby#18864), and from then on
/// every lookup by name fails as ambiguous. So networks are found by listing and joined by
/// id, and when several carry the name every session takes the same one, the smallest id.
async fn shared_network(docker: &Docker) -> Result<Joined> {
    let named = || async {
        let filters = HashMap::from([("name".to_owned(), vec![SHARED_NETWORK.to_owned()])]);
        let listed = docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(failed(format!("list networks named {SHARED_NETWORK}")))?;
        // The name filter matches substrings: keep the exact name only.
        Ok::<_, crate::Error>(
            listed
                .into_iter()
                .filter(|n| n.name.as_deref() == Some(SHARED_NETWORK))
                .filter_map(|n| n.id)
                .min(),
        )
    };
    let id = match named().await? {
        Some(id) => id,
        None => {
            let created = docker
                .create_network(NetworkCreateRequest {
                    name: SHARED_NETWORK.to_owned(),
                    driver: Some("bridge".into()),
                    labels: Some(HashMap::from([(LABEL_SHARED.to_owned(), "1".to_owned())])),
                    ..Default::default()
                })
                .await;
            match created {
                Ok(_) => {}
                // A daemon that refuses duplicates: another session made it at this moment.
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 409, ..
                }) => {}
                Err(e) => return Err(failed(format!("create network {SHARED_NETWORK}"))(e)),
            }
            named().await?.ok_or_else(|| DockerError::Api {
                action: format!("find network {SHARED_NETWORK}"),
                reason: "it was created but the daemon does not list it".into(),
            })?
        }
    };
    let inspected = docker
        .inspect_network(&id, None::<InspectNetworkOptions>)
        .await
        .map_err(failed(format!("inspect network {SHARED_NETWORK}")))?;
    Ok(Joined {
        name: SHARED_NETWORK.to_owned(),
        mode: id.clone(),
        gateway: gateway_of(SHARED_NETWORK, &inspected)?,
        id,
    })
}
