//! AWS credentials the way AWS's own tools find them, so a CI job that has AWS credentials
//! pushes to ECR with no `docker login`: the environment (`AWS_ACCESS_KEY_ID`, …), web
//! identity (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, what GitHub's and GitLab's OIDC
//! setups provide, exchanged at STS), then the shared files (`AWS_PROFILE`, default
//! `default`: `~/.aws/credentials`, `~/.aws/config` with static keys, `credential_process`, or
//! a web-identity role). Container (ECS) and instance (IMDS) credentials are not read yet.
//!
//! Endpoints follow the SDKs' overrides (`AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`), which is
//! also how the tests point them at a local fixture.

use std::path::PathBuf;

use crate::error::{RegistryError, Result};
use crate::sigv4::AwsCredentials;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn home() -> Option<PathBuf> {
    env("HOME").map(PathBuf::from)
}

/// The endpoint of `service` (`ecr`, `sts`) in `region`: the SDKs' environment override, else
/// AWS's public one.
pub fn endpoint(service: &str, region: &str) -> String {
    env(&format!(
        "AWS_ENDPOINT_URL_{}",
        service.to_ascii_uppercase()
    ))
    .or_else(|| env("AWS_ENDPOINT_URL"))
    .unwrap_or_else(|| {
        let domain = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        match service {
            "ecr" => format!("https://api.ecr.{region}.{domain}"),
            _ => format!("https://{service}.{region}.{domain}"),
        }
    })
}

/// Sections of an INI file (`[name]` → key = value), as AWS's shared files are written.
fn ini(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.push((name.trim().to_owned(), Vec::new()));
        } else if let (Some((k, v)), Some(section)) = (line.split_once('='), out.last_mut()) {
            section
                .1
                .push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    out
}

/// The keys of `profile` in the credentials file and the config file (config's section is
/// `[profile NAME]`, or `[default]`); credentials-file keys win.
fn profile_keys(profile: &str) -> Vec<(String, String)> {
    let read = |var: &str, default: &str| {
        env(var)
            .map(PathBuf::from)
            .or_else(|| home().map(|h| h.join(default)))
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    };
    let mut keys = Vec::new();
    for (name, section) in ini(&read("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials")) {
        if name == profile {
            keys.extend(section);
        }
    }
    let config_name = if profile == "default" {
        "default".to_owned()
    } else {
        format!("profile {profile}")
    };
    for (name, section) in ini(&read("AWS_CONFIG_FILE", ".aws/config")) {
        if name == config_name || name == profile {
            keys.extend(section);
        }
    }
    keys
}

/// The first credentials the chain finds, or `None` when there are none anywhere.
pub async fn credentials(http: &reqwest::Client, region: &str) -> Result<Option<AwsCredentials>> {
    if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        return Ok(Some(AwsCredentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: env("AWS_SESSION_TOKEN"),
        }));
    }
    if let (Some(file), Some(role)) = (env("AWS_WEB_IDENTITY_TOKEN_FILE"), env("AWS_ROLE_ARN")) {
        return web_identity(http, region, &file, &role).await.map(Some);
    }
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
    let keys = profile_keys(&profile);
    let get = |k: &str| keys.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if let (Some(id), Some(secret)) = (get("aws_access_key_id"), get("aws_secret_access_key")) {
        return Ok(Some(AwsCredentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: get("aws_session_token"),
        }));
    }
    if let Some(command) = get("credential_process") {
        return credential_process(&command, &profile).map(Some);
    }
    if let (Some(file), Some(role)) = (get("web_identity_token_file"), get("role_arn")) {
        return web_identity(http, region, &file, &role).await.map(Some);
    }
    Ok(None)
}

fn chain_error(reason: String) -> RegistryError {
    RegistryError::AwsCredentials(reason)
}

/// `credential_process`: a command that prints `{"AccessKeyId", "SecretAccessKey",
/// "SessionToken"}` (AWS CLI's "Sourcing credentials with an external process").
fn credential_process(command: &str, profile: &str) -> Result<AwsCredentials> {
    let out = std::process::Command::new("sh")
        .args(["-c", command])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| {
            chain_error(format!(
                "profile {profile}'s credential_process cannot run: {e}"
            ))
        })?;
    if !out.status.success() {
        return Err(chain_error(format!(
            "profile {profile}'s credential_process failed ({})",
            out.status
        )));
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Process {
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
    }
    let p: Process = serde_json::from_slice(&out.stdout).map_err(|e| {
        chain_error(format!(
            "profile {profile}'s credential_process printed no credentials JSON: {e}"
        ))
    })?;
    Ok(AwsCredentials {
        access_key_id: p.access_key_id,
        secret_access_key: p.secret_access_key,
        session_token: p.session_token,
    })
}

/// The text of `<tag>…</tag>` in an STS answer. STS's XML is flat and fixed, so three
/// lookups do what an XML parser would.
fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..end].trim())
}

/// Exchange a web-identity token (CI's OIDC token) for role credentials at STS
/// (`AssumeRoleWithWebIdentity`, which needs no signature).
async fn web_identity(
    http: &reqwest::Client,
    region: &str,
    token_file: &str,
    role: &str,
) -> Result<AwsCredentials> {
    let token = std::fs::read_to_string(token_file).map_err(|e| {
        chain_error(format!(
            "the web identity token file {token_file} (AWS_WEB_IDENTITY_TOKEN_FILE) cannot be read: {e}"
        ))
    })?;
    let session = env("AWS_ROLE_SESSION_NAME").unwrap_or_else(|| "lamina".into());
    let url = endpoint("sts", region);
    let resp = http
        .post(&url)
        .form(&[
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", role),
            ("RoleSessionName", session.as_str()),
            ("WebIdentityToken", token.trim()),
        ])
        .send()
        .await
        .map_err(|e| chain_error(format!("STS at {url} is unreachable: {e}")))?;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        let why = xml_text(&body, "Message").unwrap_or("no message");
        return Err(chain_error(format!(
            "STS refused AssumeRoleWithWebIdentity for {role} ({status}): {why}"
        )));
    }
    match (
        xml_text(&body, "AccessKeyId"),
        xml_text(&body, "SecretAccessKey"),
        xml_text(&body, "SessionToken"),
    ) {
        (Some(id), Some(secret), token) => Ok(AwsCredentials {
            access_key_id: id.to_owned(),
            secret_access_key: secret.to_owned(),
            session_token: token.map(str::to_owned),
        }),
        _ => Err(chain_error(format!(
            "STS answered AssumeRoleWithWebIdentity for {role} without credentials"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_sections_and_keys_read_as_aws_writes_them() {
        let s = ini("[default]\naws_access_key_id = AKIA1\n# c\n[profile ci]\nRole_Arn=arn:x\n");
        assert_eq!(s[0].0, "default");
        assert_eq!(s[0].1, [("aws_access_key_id".into(), "AKIA1".into())]);
        assert_eq!(s[1].1, [("role_arn".into(), "arn:x".into())]);
    }

    #[test]
    fn sts_answers_give_their_fields() {
        let xml = "<AssumeRoleWithWebIdentityResponse><Credentials><AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken></Credentials></AssumeRoleWithWebIdentityResponse>";
        assert_eq!(xml_text(xml, "AccessKeyId"), Some("ASIA1"));
        assert_eq!(xml_text(xml, "SessionToken"), Some("t"));
        assert_eq!(xml_text(xml, "Nope"), None);
    }
}
