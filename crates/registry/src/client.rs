//! One registry endpoint and its auth.
//!
//! Requests go out anonymously (or with Basic credentials once the registry asked for them);
//! a 401 carries a `WWW-Authenticate` challenge: `Basic` (ECR: `AWS:<token>` on every
//! request, images-and-registries.md §3.1) or `Bearer realm,service,scope`, for which a token
//! is fetched from the realm (with the credentials, if any) and the request sent again
//! (distribution `token.md`, §4.1). Credentials are never logged or put in errors.

use std::sync::Mutex;

use base64::Engine as _;
use lamina_image::Reference;
use reqwest::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, Response, StatusCode};

use crate::credentials::Credentials;
use crate::error::{RegistryError, Result};
use crate::transport::{
    idle_timeout, is_loopback, may_carry_secrets, read_capped, small_body_deadline,
};

/// Largest token answer accepted (tokens are a few KiB).
const MAX_TOKEN: usize = 1 << 20;

/// What to send in `Authorization`.
#[derive(Debug, Clone, Default)]
enum Auth {
    /// Nothing (until the registry asks).
    #[default]
    Anonymous,
    /// `Basic base64(user:password)` on every request.
    Basic,
    /// `Bearer <token>` from the realm.
    Bearer(String),
}

/// A client for one registry.
pub struct Client {
    http: reqwest::Client,
    base: String,
    registry: String,
    /// Plain HTTP to loopback allowed (`--insecure`).
    insecure: bool,
    credentials: Mutex<Option<Credentials>>,
    auth: Mutex<Auth>,
    /// Held while answering a challenge, so concurrent uploads that all got a 401 fetch one
    /// password or token, not one each.
    authenticating: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).finish()
    }
}

impl Client {
    /// A client for the registry of `reference`; `insecure` speaks plain HTTP, and only to
    /// a registry on loopback.
    pub fn new(
        reference: &Reference,
        credentials: Option<Credentials>,
        insecure: bool,
    ) -> Result<Self> {
        let registry = reference.registry_api_host().to_owned();
        if insecure && !is_loopback(&registry) {
            return Err(RegistryError::InsecureNotLoopback(registry));
        }
        let scheme = if insecure { "http" } else { "https" };
        Self::build(
            registry.clone(),
            format!("{scheme}://{registry}"),
            credentials,
            insecure,
        )
    }

    /// A client for the registry of `reference` served at `endpoint` (`scheme://host:port`),
    /// as a mirror stands in for a registry: credentials (ECR's included) are those of the
    /// registry `reference` names, and go to `endpoint`. Plain HTTP only to loopback.
    pub fn with_endpoint(
        reference: &Reference,
        endpoint: &str,
        credentials: Option<Credentials>,
    ) -> Result<Self> {
        let registry = reference.registry_api_host().to_owned();
        let url = reqwest::Url::parse(endpoint).map_err(|e| RegistryError::Unreachable {
            registry: registry.clone(),
            reason: format!("endpoint {endpoint} is not a URL: {e}"),
        })?;
        let insecure = url.scheme() == "http";
        if !may_carry_secrets(&url, true) {
            return Err(RegistryError::InsecureNotLoopback(endpoint.to_owned()));
        }
        Self::build(
            registry,
            endpoint.trim_end_matches('/').to_owned(),
            credentials,
            insecure,
        )
    }

    fn build(
        registry: String,
        base: String,
        credentials: Option<Credentials>,
        insecure: bool,
    ) -> Result<Self> {
        // Redirects (blob downloads go to a CDN or S3) are followed to HTTPS only, or to
        // plain HTTP on loopback under --insecure: reqwest's default follows HTTPS -> HTTP.
        // reqwest drops `Authorization` itself when a redirect changes host.
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 10 {
                attempt.error("more than 10 redirects")
            } else if !may_carry_secrets(attempt.url(), insecure) {
                let to = attempt.url().to_string();
                attempt.error(format!(
                    "refused a redirect to {to}: only HTTPS (or plain HTTP on loopback with --insecure) is followed"
                ))
            } else {
                attempt.follow()
            }
        });
        let http = reqwest::Client::builder()
            .user_agent(concat!("lamina/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(30))
            .read_timeout(idle_timeout())
            .redirect(redirects)
            .build()
            .map_err(|e| RegistryError::Unreachable {
                registry: registry.clone(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            http,
            base,
            registry,
            insecure,
            credentials: Mutex::new(credentials),
            auth: Mutex::new(Auth::Anonymous),
            authenticating: tokio::sync::Mutex::new(()),
        })
    }

    /// The registry host.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// `scheme://host` + `path`, or `location` verbatim when it is absolute (a registry's
    /// `Location` may be either, §4 end-4a).
    pub fn url(&self, path_or_location: &str) -> String {
        if path_or_location.starts_with("http://") || path_or_location.starts_with("https://") {
            path_or_location.to_owned()
        } else {
            format!("{}{path_or_location}", self.base)
        }
    }

    /// Send the request `make` builds, with auth; after a 401 challenge, authenticate and
    /// send a fresh one once more. `make` is called again for the retry (bodies are streams).
    pub async fn send(
        &self,
        repository: &str,
        make: impl Fn(&reqwest::Client) -> std::io::Result<RequestBuilder>,
    ) -> Result<Response> {
        let first = self.send_once(&make).await?;
        if first.status() != StatusCode::UNAUTHORIZED {
            return Ok(first);
        }
        let challenge = first
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        self.authenticate(repository, &challenge).await?;
        let again = self.send_once(&make).await?;
        if again.status() == StatusCode::UNAUTHORIZED || again.status() == StatusCode::FORBIDDEN {
            return Err(self.refused(repository, again.status().as_u16()));
        }
        Ok(again)
    }

    async fn send_once(
        &self,
        make: &impl Fn(&reqwest::Client) -> std::io::Result<RequestBuilder>,
    ) -> Result<Response> {
        let mut req = make(&self.http).map_err(|e| self.unreachable(e))?;
        if let Some(value) = self.authorization() {
            req = req.header(AUTHORIZATION, value);
        }
        req.send().await.map_err(|e| self.unreachable(e))
    }

    /// The registry said no: to the credentials given (check them), or to none (log in).
    fn refused(&self, repository: &str, status: u16) -> RegistryError {
        let (registry, repository) = (self.registry.clone(), repository.to_owned());
        match self.credentials() {
            Some(c) => RegistryError::CredentialsRefused {
                registry,
                repository,
                status,
                username: c.username,
            },
            None => RegistryError::Unauthorized {
                registry,
                repository,
                status,
            },
        }
    }

    /// The registry failed us: `e` and every cause under it
    /// ([`crate::transport::describe`]).
    pub(crate) fn unreachable(&self, e: impl std::error::Error) -> RegistryError {
        RegistryError::Unreachable {
            registry: self.registry.clone(),
            reason: crate::transport::describe(&e),
        }
    }

    fn credentials(&self) -> Option<Credentials> {
        self.credentials
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn basic(&self) -> Option<HeaderValue> {
        let c = self.credentials()?;
        let raw = format!("{}:{}", c.username, c.password);
        let mut v = HeaderValue::from_str(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ))
        .ok()?;
        v.set_sensitive(true);
        Some(v)
    }

    fn authorization(&self) -> Option<HeaderValue> {
        let auth = self.auth.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match auth {
            Auth::Anonymous => None,
            Auth::Basic => self.basic(),
            Auth::Bearer(token) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
                v.set_sensitive(true);
                Some(v)
            }
        }
    }

    /// Answer a challenge: switch to Basic, or fetch a bearer token from the realm.
    async fn authenticate(&self, repository: &str, challenge: &str) -> Result<()> {
        let _one_at_a_time = self.authenticating.lock().await;
        let unauthorized = || self.refused(repository, 401);
        let (scheme, params) = parse_challenge(challenge);
        let next = if scheme.eq_ignore_ascii_case("basic") {
            if self.credentials().is_none() {
                // ECR: its password comes from the AWS credential chain (§3.1) — but only
                // for a registry whose own host is ECR's. The challenge is the registry's
                // word, and any registry can name an ECR realm: trusting it would mint a
                // password with the user's AWS credentials and hand it to that registry.
                let Some(ecr) = crate::ecr::registry_of(&self.registry) else {
                    return Err(unauthorized());
                };
                let aws = crate::aws::credentials(&self.http, &ecr.region)
                    .await?
                    .ok_or_else(|| RegistryError::EcrNoCredentials(self.registry.clone()))?;
                let password = crate::ecr::authorization(&self.http, &ecr, &aws).await?;
                *self.credentials.lock().unwrap_or_else(|e| e.into_inner()) = Some(password);
            }
            Auth::Basic
        } else if scheme.eq_ignore_ascii_case("bearer") {
            let realm = params
                .iter()
                .find(|(k, _)| k == "realm")
                .map(|(_, v)| v.clone())
                .ok_or_else(unauthorized)?;
            // The realm gets the password (or the identity token): never in cleartext, and
            // only to a URL at all.
            let realm_ok =
                reqwest::Url::parse(&realm).is_ok_and(|url| may_carry_secrets(&url, self.insecure));
            if !realm_ok {
                return Err(RegistryError::InsecureRealm {
                    registry: self.registry.clone(),
                    realm,
                });
            }
            let mut query: Vec<(String, String)> = params
                .iter()
                .filter(|(k, _)| k == "service")
                .cloned()
                .collect();
            let scope = params.iter().find(|(k, _)| k == "scope").map_or_else(
                || format!("repository:{repository}:pull,push"),
                |(_, v)| v.clone(),
            );
            query.push(("scope".into(), scope));
            let req = match self.credentials().filter(Credentials::is_identity_token) {
                // An identity token is an OAuth2 refresh token, traded at the realm by POST
                // (distribution docs/spec/auth/oauth.md; what Docker's client does with it).
                Some(identity) => {
                    query.extend([
                        ("grant_type".into(), "refresh_token".into()),
                        ("refresh_token".into(), identity.password),
                        ("client_id".into(), "lamina".into()),
                    ]);
                    self.http
                        .post(&realm)
                        .form(&query)
                        .timeout(small_body_deadline())
                }
                None => {
                    let req = self
                        .http
                        .get(&realm)
                        .query(&query)
                        .timeout(small_body_deadline());
                    match self.basic() {
                        Some(basic) => req.header(AUTHORIZATION, basic),
                        None => req,
                    }
                }
            };
            let resp = req.send().await.map_err(|e| self.unreachable(e))?;
            if !resp.status().is_success() {
                return Err(self.refused(repository, resp.status().as_u16()));
            }
            #[derive(serde::Deserialize)]
            struct Token {
                token: Option<String>,
                access_token: Option<String>,
            }
            let bytes = read_capped(
                &self.registry,
                resp,
                MAX_TOKEN,
                &format!("token from {realm}"),
            )
            .await?;
            let t: Token = serde_json::from_slice(&bytes).map_err(|e| self.unreachable(e))?;
            Auth::Bearer(t.token.or(t.access_token).ok_or_else(unauthorized)?)
        } else {
            return Err(unauthorized());
        };
        *self.auth.lock().unwrap_or_else(|e| e.into_inner()) = next;
        Ok(())
    }
}

/// `Bearer realm="…",service="…",scope="…"` → (`Bearer`, [(realm, …), …]).
fn parse_challenge(header: &str) -> (String, Vec<(String, String)>) {
    let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((v, t)) => (v.to_owned(), t),
                None => (quoted.to_owned(), ""),
            }
        } else {
            match after.split_once(',') {
                Some((v, t)) => (v.trim().to_owned(), t),
                None => (after.trim().to_owned(), ""),
            }
        };
        params.push((key, value));
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    (scheme.to_owned(), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_with_quoted_commas() {
        let (scheme, params) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(scheme, "Bearer");
        assert_eq!(
            params,
            vec![
                ("realm".into(), "https://auth.example/token".into()),
                ("service".into(), "registry.example".into()),
                ("scope".into(), "repository:a/b:pull,push".into()),
            ]
        );
        let (scheme, params) = parse_challenge(
            r#"Basic realm="https://123.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com""#,
        );
        assert_eq!(scheme, "Basic");
        assert_eq!(params.len(), 2);
    }

    #[test]
    fn plain_http_is_for_loopback_only() {
        for host in [
            "127.0.0.1:5000",
            "localhost:5000",
            "[::1]:5000",
            "localhost",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["10.0.0.1:5000", "registry.example:5000", "example.com"] {
            assert!(!is_loopback(host), "{host}");
        }
        let r: Reference = "registry.example:5000/app:1".parse().unwrap();
        assert!(matches!(
            Client::new(&r, None, true),
            Err(RegistryError::InsecureNotLoopback(_))
        ));
    }

    #[test]
    fn credentials_do_not_print() {
        let c = Credentials {
            username: "AWS".into(),
            password: "s3cr3t-token".into(),
        };
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }
}
