//! Credentials the way CI already provides them: Docker's `config.json`
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`) — `credHelpers[host]`, then
//! `auths[host].auth`, then `credsStore` — as `docker login` and `docker-credential-*` helpers
//! (e.g. `docker-credential-ecr-login`) leave them (images-and-registries.md §4.2).
//!
//! A helper is run as `docker-credential-<name> get` with the registry on stdin and answers
//! `{"ServerURL","Username","Secret"}`. An identity token — `auths[host].identitytoken`, or a
//! helper's answer with `Username: <token>` — is an OAuth2 refresh token that the client
//! trades at the registry's token realm ([`crate::client`]).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine as _;

use crate::error::{RegistryError, Result};

/// A user name and password (or token) for a registry.
#[derive(Clone)]
pub struct Credentials {
    /// The user name (`AWS` for ECR; [`IDENTITY_TOKEN_USER`] for an identity token).
    pub username: String,
    /// The password or token.
    pub password: String,
}

/// The user name Docker files an identity token under (`docker login` against a registry
/// whose token server hands out refresh tokens, and credential helpers answering with one).
pub const IDENTITY_TOKEN_USER: &str = "<token>";

impl Credentials {
    /// An identity token (an OAuth2 refresh token), as `config.json`'s `identitytoken` holds.
    pub fn identity_token(token: String) -> Self {
        Self {
            username: IDENTITY_TOKEN_USER.to_owned(),
            password: token,
        }
    }

    /// Whether the password is an identity token rather than a password.
    pub fn is_identity_token(&self) -> bool {
        self.username == IDENTITY_TOKEN_USER
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// `host[:port]` of a `config.json` key: `https://index.docker.io/v1/` → `index.docker.io`.
fn key_host(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

/// The hosts a registry may be filed under (Docker Hub has three names).
fn aliases(host: &str) -> Vec<&str> {
    match host {
        "docker.io" | "registry-1.docker.io" | "index.docker.io" => {
            vec!["index.docker.io", "docker.io", "registry-1.docker.io"]
        }
        other => vec![other],
    }
}

fn config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

/// Credentials for `host` from Docker's configuration, if it has any.
pub fn from_docker_config(host: &str) -> Result<Option<Credentials>> {
    let Some(path) = config_path() else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(_) => return Ok(None),
    };
    let bad = |why: String| RegistryError::Config {
        path: path.clone(),
        reason: why,
    };
    let config: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let names = aliases(host);
    let lookup = |section: &str| -> Option<(String, serde_json::Value)> {
        config[section]
            .as_object()?
            .iter()
            .find_map(|(k, v)| names.contains(&key_host(k)).then(|| (k.clone(), v.clone())))
    };
    if let Some((key, helper)) = lookup("credHelpers") {
        if let Some(helper) = helper.as_str() {
            return helper_get(helper, &key).map_err(bad);
        }
    }
    if let Some((_, entry)) = lookup("auths") {
        if let Some(token) = entry["identitytoken"].as_str().filter(|t| !t.is_empty()) {
            return Ok(Some(Credentials::identity_token(token.to_owned())));
        }
        if let Some(auth) = entry["auth"].as_str().filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| bad(format!("the `auth` of {host} is not base64")))?;
            let text = String::from_utf8(decoded)
                .map_err(|_| bad(format!("the `auth` of {host} is not UTF-8")))?;
            let (username, password) = text
                .split_once(':')
                .ok_or_else(|| bad(format!("the `auth` of {host} is not user:password")))?;
            return Ok(Some(Credentials {
                username: username.to_owned(),
                password: password.to_owned(),
            }));
        }
    }
    if let Some(store) = config["credsStore"].as_str().filter(|s| !s.is_empty()) {
        return helper_get(store, host).map_err(bad);
    }
    Ok(None)
}

/// `docker-credential-<helper> get`, with `server` on stdin.
fn helper_get(helper: &str, server: &str) -> std::result::Result<Option<Credentials>, String> {
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run the credential helper `{program}`: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("the credential helper `{program}` failed: {e}"))?;
    if !out.status.success() {
        // Helpers say "credentials not found" this way; that is no credentials, not an error.
        return Ok(None);
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let a: Answer = serde_json::from_slice(&out.stdout)
        .map_err(|_| format!("the credential helper `{program}` did not answer JSON"))?;
    Ok(Some(Credentials {
        username: a.username,
        password: a.secret,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_with_or_without_scheme_and_path() {
        assert_eq!(key_host("https://index.docker.io/v1/"), "index.docker.io");
        assert_eq!(key_host("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(key_host("http://localhost:5000/"), "localhost:5000");
        assert!(aliases("registry-1.docker.io").contains(&"index.docker.io"));
    }
}
