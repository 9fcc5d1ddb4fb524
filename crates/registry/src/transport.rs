//! How lamina talks to registries it does not control: plain HTTP only to loopback, secrets
//! only over HTTPS (or loopback under `--insecure`), an idle timeout and a whole-request
//! deadline, bodies capped while they stream, and errors that carry their cause chain.

use reqwest::Response;

use crate::error::{RegistryError, Result};

/// Whether a registry host (with its port) is this machine.
pub(crate) fn is_loopback(host: &str) -> bool {
    let name = host
        .rsplit_once(':')
        .filter(|(h, p)| {
            !h.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':')
        })
        .map_or(host, |(h, _)| h);
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// How long a registry may go without sending a byte before a request fails
/// (`LAMINA_REGISTRY_TIMEOUT`, seconds; default 120): a stalled registry must not hang a
/// pull, a `build --base` or a push forever.
pub fn idle_timeout() -> std::time::Duration {
    let secs = std::env::var("LAMINA_REGISTRY_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(120);
    std::time::Duration::from_secs(secs)
}

/// The whole-request deadline for a manifest or a token (a few KiB to 4 MiB): the idle
/// timeout alone lets a registry that drips a byte a minute hold a pull forever.
pub fn small_body_deadline() -> std::time::Duration {
    idle_timeout() * 3
}

/// Whether `url` may carry a credential: HTTPS, or plain HTTP to loopback when the user
/// said `--insecure`.
pub(crate) fn may_carry_secrets(url: &reqwest::Url, insecure: bool) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => insecure && url.host_str().is_some_and(is_loopback),
        _ => false,
    }
}

/// A response body of at most `cap` bytes, read as it streams: a registry that sends more
/// (or declares more) is refused once it passes the cap, before it fills memory.
pub(crate) async fn read_capped(
    registry: &str,
    resp: Response,
    cap: usize,
    what: &str,
) -> Result<Vec<u8>> {
    use futures_util::StreamExt;
    let too_large = || RegistryError::Protocol {
        registry: registry.to_owned(),
        what: format!("GET {what}"),
        status: 200,
        body: format!(
            "it is larger than {} KiB, more than lamina accepts",
            cap >> 10
        ),
    };
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let mut out = Vec::new();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| RegistryError::Unreachable {
            registry: registry.to_owned(),
            reason: format!("reading {what}: {}", describe(&e)),
        })?;
        if out.len() + chunk.len() > cap {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The start of a refusal's body, for an error message (registries explain there); at most
/// a few KiB are read, whatever the registry sends.
pub(crate) async fn body_excerpt(resp: Response) -> String {
    use futures_util::StreamExt;
    let mut got = Vec::new();
    let mut body = resp.bytes_stream();
    while let Some(Ok(chunk)) = body.next().await {
        got.extend_from_slice(&chunk);
        if got.len() >= 4096 {
            break;
        }
    }
    String::from_utf8_lossy(&got).chars().take(300).collect()
}

/// `e` and every cause under it (reqwest's own message says only "error sending request";
/// the causes say a timeout, a refused redirect, a reset).
pub(crate) fn describe(e: &dyn std::error::Error) -> String {
    let mut reason = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !reason.contains(&text) {
            reason.push_str(": ");
            reason.push_str(&text);
        }
        cause = c.source();
    }
    reason
}
