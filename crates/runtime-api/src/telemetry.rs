//! The subscriptions of the Telemetry API (`PUT /2022-07-01/telemetry`, §3.1) and of the
//! Logs API it superseded (`PUT /2020-08-15/logs`, §3.4): the body, its validation as the
//! cloud answers it (400 `ValidationError`), and the destinations. Both take the same body
//! and buffering ranges; they differ in schema versions and in the records delivered
//! (`crate::platform::logs_api`).

use serde::Deserialize;

use crate::body::RuntimeApiError;

/// The schema versions the Telemetry API accepts (§3.1).
pub const SCHEMA_VERSIONS: &[&str] = &["2022-07-01", "2022-12-13", "2025-01-29"];

/// The schema versions the Logs API accepts (§3.4): `2021-03-18` adds
/// `platform.runtimeDone`. A Logs API body may leave it out (the first version).
pub const LOGS_SCHEMA_VERSIONS: &[&str] = &["2020-08-15", "2021-03-18"];

/// The Logs API schema version from which `platform.runtimeDone` is delivered (§3.4).
pub const LOGS_RUNTIME_DONE_SCHEMA: &str = "2021-03-18";

/// Which API a subscription came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// The Telemetry API (`2022-07-01`).
    Telemetry,
    /// The Logs API (`2020-08-15`).
    Logs,
}

impl Api {
    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Telemetry => "Telemetry API",
            Self::Logs => "Logs API",
        }
    }
}

/// The hosts an HTTP destination may name: the environment's own (§3.1; RIE-LMI refuses any
/// other, `destination.URI host must be sandbox.localdomain`).
pub const SANDBOX_HOSTS: &[&str] = &["sandbox.localdomain", "sandbox"];

/// The Runtime API's port, which no destination may use (§3.1).
pub const RESERVED_PORT: u16 = 9001;

/// `Telemetry.SubscriptionClosed`: a subscription after init. The Logs API's is
/// `Logs.SubscriptionClosed` by analogy ([unconfirmed]: §3.1 names only the Telemetry
/// API's).
pub fn subscription_closed(api: Api) -> RuntimeApiError {
    match api {
        Api::Telemetry => RuntimeApiError::forbidden(
            "Telemetry.SubscriptionClosed",
            "Telemetry API subscription is closed",
        ),
        Api::Logs => {
            RuntimeApiError::forbidden("Logs.SubscriptionClosed", "Logs API subscription is closed")
        }
    }
}

/// An extension that subscribed through one API subscribing through the other: "any attempt
/// to subscribe using the other API returns an error" (docs `runtimes-logs-api.md`; its type
/// is [unconfirmed], §3.1: lamina answers a `ValidationError` naming both).
pub fn other_api_subscribed(name: &str, had: Api) -> RuntimeApiError {
    invalid(format!(
        "extension {name} already subscribed with the {}; an extension subscribes with either the Telemetry API or the Logs API",
        had.name()
    ))
}

fn invalid(message: impl Into<String>) -> RuntimeApiError {
    let mut e = RuntimeApiError::forbidden("ValidationError", message);
    e.status = 400;
    e
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    schema_version: Option<String>,
    types: Option<Vec<String>>,
    buffering: Option<BufferingBody>,
    destination: Option<DestinationBody>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BufferingBody {
    max_items: Option<u64>,
    max_bytes: Option<u64>,
    timeout_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct DestinationBody {
    protocol: Option<String>,
    #[serde(rename = "URI")]
    uri: Option<String>,
    port: Option<u64>,
}

/// When a subscriber's buffer is sent: at `max_items` items, `max_bytes` bytes, or
/// `timeout_ms` after its first item, whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffering {
    /// 1,000–10,000.
    pub max_items: usize,
    /// 262,144–1,048,576.
    pub max_bytes: usize,
    /// 25–30,000.
    pub timeout_ms: u64,
}

impl Default for Buffering {
    /// RIE-LMI's defaults (`internal/batch.go`): 10,000 items, 262,144 bytes, 1,000 ms.
    fn default() -> Self {
        Self {
            max_items: 10_000,
            max_bytes: 262_144,
            timeout_ms: 1_000,
        }
    }
}

/// Where a subscriber's records go, inside the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// `POST`s of a JSON array to this port and path on the environment's own host.
    Http {
        /// The port.
        port: u16,
        /// The path (`/` when the URI has none).
        path: String,
    },
    /// NDJSON to this port, no acknowledgement.
    Tcp {
        /// The port.
        port: u16,
    },
}

/// A valid subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The API it came through.
    pub api: Api,
    /// The schema version asked for.
    pub schema_version: String,
    /// Of `platform`, `function`, `extension`.
    pub types: Vec<String>,
    /// Its buffering.
    pub buffering: Buffering,
    /// Its destination.
    pub destination: Destination,
}

fn in_range(
    name: &str,
    value: Option<u64>,
    lo: u64,
    hi: u64,
    default: u64,
) -> Result<u64, RuntimeApiError> {
    match value {
        None => Ok(default),
        Some(v) if (lo..=hi).contains(&v) => Ok(v),
        Some(v) => Err(invalid(format!(
            "buffering.{name} must be between {lo} and {hi}, got {v}"
        ))),
    }
}

impl Subscription {
    /// Parse and check a Telemetry API subscription body as the cloud does.
    pub fn parse(body: &[u8]) -> Result<Self, RuntimeApiError> {
        Self::parse_for(Api::Telemetry, body)
    }

    /// Parse and check a subscription body of `api` as the cloud does.
    pub fn parse_for(api: Api, body: &[u8]) -> Result<Self, RuntimeApiError> {
        let body: Body = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
        let (versions, default) = match api {
            Api::Telemetry => (SCHEMA_VERSIONS, None),
            Api::Logs => (LOGS_SCHEMA_VERSIONS, Some(LOGS_SCHEMA_VERSIONS[0])),
        };
        let schema_version = body
            .schema_version
            .or_else(|| default.map(str::to_owned))
            .ok_or_else(|| invalid("schemaVersion is required"))?;
        if !versions.contains(&schema_version.as_str()) {
            return Err(invalid(format!(
                "schemaVersion must be one of {}",
                versions.join(", ")
            )));
        }
        let types = body.types.unwrap_or_default();
        if types.is_empty() {
            return Err(invalid("types should not be empty"));
        }
        if let Some(t) = types
            .iter()
            .find(|t| !matches!(t.as_str(), "platform" | "function" | "extension"))
        {
            return Err(invalid(format!(
                "types: {t} is not one of platform, function, extension"
            )));
        }
        let defaults = Buffering::default();
        let b = body.buffering.unwrap_or(BufferingBody {
            max_items: None,
            max_bytes: None,
            timeout_ms: None,
        });
        let buffering = Buffering {
            max_items: in_range(
                "maxItems",
                b.max_items,
                1_000,
                10_000,
                defaults.max_items as u64,
            )? as usize,
            max_bytes: in_range(
                "maxBytes",
                b.max_bytes,
                262_144,
                1_048_576,
                defaults.max_bytes as u64,
            )? as usize,
            timeout_ms: in_range("timeoutMs", b.timeout_ms, 25, 30_000, defaults.timeout_ms)?,
        };
        let d = body
            .destination
            .ok_or_else(|| invalid("destination is required"))?;
        let destination = match d.protocol.as_deref() {
            Some("HTTP") => {
                let uri = d
                    .uri
                    .ok_or_else(|| invalid("destination.URI is required"))?;
                let rest = uri
                    .strip_prefix("http://")
                    .ok_or_else(|| invalid("destination.URI must be http://"))?;
                let (authority, path) = match rest.find('/') {
                    Some(i) => (&rest[..i], rest[i..].to_owned()),
                    None => (rest, "/".to_owned()),
                };
                let (host, port) = authority
                    .rsplit_once(':')
                    .ok_or_else(|| invalid("URI port is not provided"))?;
                if !SANDBOX_HOSTS.contains(&host) {
                    return Err(invalid("destination.URI host must be sandbox.localdomain"));
                }
                Destination::Http {
                    port: port_of(port.parse().ok())?,
                    path,
                }
            }
            Some("TCP") => Destination::Tcp {
                port: port_of(d.port)?,
            },
            _ => return Err(invalid("destination.protocol must be HTTP or TCP")),
        };
        Ok(Self {
            api,
            schema_version,
            types,
            buffering,
            destination,
        })
    }
}

fn port_of(port: Option<u64>) -> Result<u16, RuntimeApiError> {
    match port.and_then(|p| u16::try_from(p).ok()) {
        Some(p) if p != 0 && p != RESERVED_PORT => Ok(p),
        Some(_) => Err(invalid(format!("port {RESERVED_PORT} is reserved"))),
        None => Err(invalid("URI port is not provided")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_subscribes() {
        let s = Subscription::parse(
            br#"{"schemaVersion":"2025-01-29","types":["platform","function","extension"],
                "buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":100},
                "destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:8080"}}"#,
        )
        .unwrap();
        assert_eq!(
            s.destination,
            Destination::Http {
                port: 8080,
                path: "/".into()
            }
        );
        assert_eq!(s.buffering.timeout_ms, 100);
        let tcp = Subscription::parse(
            br#"{"schemaVersion":"2022-12-13","types":["platform"],"destination":{"protocol":"TCP","port":4243}}"#,
        )
        .unwrap();
        assert_eq!(tcp.destination, Destination::Tcp { port: 4243 });
        assert_eq!(tcp.buffering, Buffering::default());
    }

    #[test]
    fn invalid_subscriptions_get_the_clouds_validation_error() {
        for body in [
            r#"{"types":["platform"],"destination":{"protocol":"TCP","port":1}}"#,
            r#"{"schemaVersion":"2020-01-01","types":["platform"],"destination":{"protocol":"TCP","port":1}}"#,
            r#"{"schemaVersion":"2022-07-01","types":[],"destination":{"protocol":"TCP","port":1}}"#,
            r#"{"schemaVersion":"2022-07-01","types":["logs"],"destination":{"protocol":"TCP","port":1}}"#,
            r#"{"schemaVersion":"2022-07-01","types":["platform"]}"#,
            r#"{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://example.com:80"}}"#,
            r#"{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain"}}"#,
            r#"{"schemaVersion":"2022-07-01","types":["platform"],"destination":{"protocol":"TCP","port":9001}}"#,
            r#"{"schemaVersion":"2022-07-01","types":["platform"],"buffering":{"timeoutMs":5},"destination":{"protocol":"TCP","port":1}}"#,
            "nope",
        ] {
            let e = Subscription::parse(body.as_bytes()).unwrap_err();
            assert_eq!(
                (e.status, e.error_type.as_str()),
                (400, "ValidationError"),
                "{body}"
            );
        }
    }

    #[test]
    fn a_logs_api_body_may_leave_out_its_schema_version_but_not_name_a_telemetry_one() {
        let s = Subscription::parse_for(
            Api::Logs,
            br#"{"types":["platform","function"],"destination":{"protocol":"HTTP","URI":"http://sandbox:4243"}}"#,
        )
        .unwrap();
        assert_eq!(
            (s.api, s.schema_version.as_str()),
            (Api::Logs, "2020-08-15")
        );
        let e = Subscription::parse_for(
            Api::Logs,
            br#"{"schemaVersion":"2022-12-13","types":["platform"],"destination":{"protocol":"TCP","port":4243}}"#,
        )
        .unwrap_err();
        assert_eq!(e.status, 400);
        assert!(
            e.error_message.contains("2021-03-18"),
            "{}",
            e.error_message
        );
    }
}
