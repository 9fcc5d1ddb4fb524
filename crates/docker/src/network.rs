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
//! its own container's address ([`lamina_rie::sandbox::Started::peer`]).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use bollard::models::{NetworkCreateRequest, NetworkInspect};
use bollard::query_parameters::{InspectNetworkOptions, ListNetworksOptions};
use bollard::Docker;

use crate::connect::{failed, is_not_found};
use crate::DockerError;
use lamina_rie::error::Result;

/// Docker's default bridge network, joined unless another is asked for.
pub const DEFAULT_NETWORK: &str = "bridge";
/// The fix for a network that is not a usable bridge.
const OTHER_BRIDGE: &str =
    "leave out --network for Docker's default bridge, or pass a bridge network (`--network lamina-rie`, or one made with `docker network create NAME`)";
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
            fix: OTHER_BRIDGE.into(),
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
            fix: OTHER_BRIDGE.into(),
        }
        .into());
    }
    let id = inspected.id.clone().unwrap_or_else(|| name.to_owned());
    let gateway = host_address(name, &inspected, interface_v4)?;
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

/// The host's IPv4 address on the network: where its containers reach the Runtime API.
///
/// The engine's bookkeeping alone does not always say. On a Docker daemon's first start the
/// default bridge's IPAM config lists only the subnet, no `Gateway`, although `docker0`
/// already holds 172.17.0.1 (the field is written when the daemon restores the network on
/// its next start; fixture `tests/fixtures/engine/docker-20.10-bridge-first-start.json`). So the
/// IPAM gateway is taken when there is one, and otherwise the address of the bridge's own
/// interface on this host: `com.docker.network.bridge.name` (`docker0`), or Docker's name
/// for a user bridge, `br-` and the id's first 12 digits. Podman's networks list their
/// gateway, but its bridge interface appears only when the first container joins it: the
/// listener then binds the address before the host has it (`IP_FREEBIND`, in
/// lamina-rie's environment).
pub(super) fn host_address(
    name: &str,
    network: &NetworkInspect,
    interface_v4: impl Fn(&str) -> Option<Ipv4Addr>,
) -> Result<IpAddr> {
    let from_ipam = network
        .ipam
        .as_ref()
        .and_then(|i| i.config.as_ref())
        .and_then(|c| {
            c.iter().find_map(|c| {
                c.gateway
                    .as_deref()?
                    .parse::<IpAddr>()
                    .ok()
                    .filter(IpAddr::is_ipv4)
            })
        });
    if let Some(gateway) = from_ipam {
        return Ok(gateway);
    }
    let interface = bridge_interface(network);
    if let Some(ip) = interface.as_deref().and_then(&interface_v4) {
        return Ok(IpAddr::V4(ip));
    }
    Err(DockerError::NetworkUnusable {
        name: name.to_owned(),
        reason: match interface {
            Some(i) => format!(
                "the engine lists no IPv4 gateway for it and this host's bridge interface `{i}` has no IPv4 address (is the engine running on another machine or in a VM? DOCKER_HOST must name an engine on this host)"
            ),
            None => "the engine lists no IPv4 gateway for it and names no bridge interface on this host".into(),
        },
        fix: if name == SHARED_NETWORK {
            "remove it (`docker network rm lamina-rie`) so that lamina makes it anew, or pass a bridge network you made (`docker network create NAME`, then `--network NAME`)".into()
        } else {
            format!("pass lamina's own network (`--network {SHARED_NETWORK}`) or one you made (`docker network create NAME`, then `--network NAME`)")
        },
    }
    .into())
}

/// The host interface behind a bridge network, as the engine names it.
fn bridge_interface(network: &NetworkInspect) -> Option<String> {
    if let Some(name) = network
        .options
        .as_ref()
        .and_then(|o| o.get("com.docker.network.bridge.name"))
        .filter(|n| !n.is_empty())
    {
        return Some(name.clone());
    }
    // moby's bridge driver names a user network's interface `br-` + the id's first 12 digits.
    let id = network.id.as_deref()?;
    id.get(..12).map(|short| format!("br-{short}"))
}

/// The first IPv4 address of this host's interface `name`, from `getifaddrs(3)` (std has no
/// interface listing, and one libc call is all this needs).
pub(super) fn interface_v4(name: &str) -> Option<Ipv4Addr> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return None;
    }
    let mut found = None;
    let mut cursor = list;
    while !cursor.is_null() {
        // SAFETY: `cursor` is a node of the list getifaddrs returned, not yet freed.
        let entry = unsafe { &*cursor };
        cursor = entry.ifa_next;
        if entry.ifa_addr.is_null() || entry.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let entry_name = unsafe { std::ffi::CStr::from_ptr(entry.ifa_name) };
        // SAFETY: ifa_addr is non-null and points at a sockaddr of the family it names.
        let family = unsafe { (*entry.ifa_addr).sa_family };
        if entry_name.to_bytes() != name.as_bytes() || i32::from(family) != libc::AF_INET {
            continue;
        }
        // SAFETY: an AF_INET address is a sockaddr_in.
        let sin = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in) };
        found = Some(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
        break;
    }
    // SAFETY: `list` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(list) };
    found
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
        Ok::<_, lamina_rie::Error>(
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
                // A daemon that refuses duplicates: another session made it at this moment
                // (Docker answers 409; Podman 500 "network already exists").
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 409, ..
                }) => {}
                Err(bollard::errors::Error::DockerResponseServerError { message, .. })
                    if message.contains("already exists") => {}
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
        gateway: host_address(SHARED_NETWORK, &inspected, interface_v4)?,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> NetworkInspect {
        let path = format!(
            "{}/tests/fixtures/engine/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn no_interfaces(_: &str) -> Option<Ipv4Addr> {
        None
    }

    #[test]
    fn a_first_start_default_bridge_is_reached_at_its_interfaces_address() {
        let bridge = fixture("docker-20.10-bridge-first-start.json");
        let docker0 = |name: &str| (name == "docker0").then(|| Ipv4Addr::new(172, 17, 0, 1));
        assert_eq!(
            host_address("bridge", &bridge, docker0).unwrap(),
            IpAddr::V4(Ipv4Addr::new(172, 17, 0, 1))
        );
    }

    #[test]
    fn a_listed_gateway_is_taken_without_asking_the_host() {
        let user = fixture("docker-20.10-user-network.json");
        assert_eq!(
            host_address("fxnet", &user, no_interfaces).unwrap(),
            IpAddr::V4(Ipv4Addr::new(172, 18, 0, 1))
        );
        // Podman lists its gateway before its bridge interface exists on the host.
        let podman = fixture("podman-4.3-network.json");
        assert_eq!(
            host_address("podman", &podman, no_interfaces).unwrap(),
            IpAddr::V4(Ipv4Addr::new(10, 88, 0, 1))
        );
    }

    #[test]
    fn a_user_bridge_without_a_gateway_is_found_by_dockers_interface_name() {
        let mut user = fixture("docker-20.10-user-network.json");
        user.ipam = None;
        let asked = std::cell::RefCell::new(Vec::new());
        let found = host_address("fxnet", &user, |name: &str| {
            asked.borrow_mut().push(name.to_owned());
            (name == "br-b7add1efe82f").then(|| Ipv4Addr::new(172, 18, 0, 1))
        });
        assert_eq!(found.unwrap(), IpAddr::V4(Ipv4Addr::new(172, 18, 0, 1)));
        assert_eq!(asked.into_inner(), ["br-b7add1efe82f"]);
    }

    #[test]
    fn no_address_anywhere_is_an_error_that_names_the_interface_and_not_the_same_network() {
        let bridge = fixture("docker-20.10-bridge-first-start.json");
        let message = host_address("bridge", &bridge, no_interfaces)
            .unwrap_err()
            .to_string();
        assert!(message.contains("`docker0`"), "{message}");
        assert!(message.contains("DOCKER_HOST"), "{message}");
        assert!(!message.contains("--network bridge"), "{message}");
    }

    #[test]
    fn the_loopback_interface_is_read_from_the_host() {
        assert_eq!(interface_v4("lo"), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(interface_v4("no-such-interface0"), None);
    }
}
