//! Amazon ECR: its registries (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`), and the 12-hour
//! Basic password `GetAuthorizationToken` gives for AWS credentials
//! (images-and-registries.md §3.1), so a push needs no `docker login`.
//!
//! A password is minted only for a registry whose host is ECR's own name (the reference's
//! host, or the host a [`crate::Client::with_endpoint`] mirror stands in for), never for a
//! host whose challenge merely names an ECR realm: a registry's challenge is its own word.

use base64::Engine as _;

use crate::credentials::Credentials;
use crate::error::{RegistryError, Result};
use crate::sigv4::{self, AwsCredentials};

/// An ECR registry: its account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrRegistry {
    /// The 12-digit account id.
    pub account: String,
    /// The region, e.g. `us-east-1`.
    pub region: String,
}

/// The ECR registry a host names, if it is one:
/// `ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com[.cn]`.
pub fn registry_of(host_or_url: &str) -> Option<EcrRegistry> {
    let host = host_or_url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split(['/', ':'])
        .next()?;
    let mut parts = host.split('.');
    let account = parts.next()?;
    let (dkr, ecr, region) = (parts.next()?, parts.next()?, parts.next()?);
    let rest: Vec<&str> = parts.collect();
    let ok = account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && dkr == "dkr"
        && (ecr == "ecr" || ecr == "ecr-fips")
        && (rest == ["amazonaws", "com"] || rest == ["amazonaws", "com", "cn"]);
    ok.then(|| EcrRegistry {
        account: account.to_owned(),
        region: region.to_owned(),
    })
}

/// The registry's Basic credentials (`AWS`, token) for `aws`, from `GetAuthorizationToken`.
pub async fn authorization(
    http: &reqwest::Client,
    ecr: &EcrRegistry,
    aws: &AwsCredentials,
) -> Result<Credentials> {
    let url = crate::aws::endpoint("ecr", &ecr.region);
    let parsed = reqwest::Url::parse(&url).map_err(|e| {
        RegistryError::AwsCredentials(format!("ECR endpoint {url} is not a URL: {e}"))
    })?;
    let host = match (parsed.host_str(), parsed.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => {
            return Err(RegistryError::AwsCredentials(format!(
                "ECR endpoint {url} has no host"
            )))
        }
    };
    let body = format!(r#"{{"registryIds":["{}"]}}"#, ecr.account);
    let target = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";
    let content_type = "application/x-amz-json-1.1";
    let signed = sigv4::sign(
        &sigv4::Request {
            method: "POST",
            host: &host,
            path: "/",
            query: "",
            headers: &[("content-type", content_type), ("x-amz-target", target)],
            body: body.as_bytes(),
        },
        aws,
        &ecr.region,
        "ecr",
        &sigv4::amz_date_now(),
    );
    let mut req = http
        .post(parsed.as_str())
        .header("content-type", content_type)
        .header("x-amz-target", target)
        .body(body);
    for (k, v) in signed {
        req = req.header(k, v);
    }
    let unreachable = |e: String| RegistryError::AwsCredentials(format!("ECR ({url}): {e}"));
    let resp = req.send().await.map_err(|e| unreachable(e.to_string()))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        let why: String = text.chars().take(300).collect();
        return Err(RegistryError::AwsCredentials(format!(
            "ECR refused GetAuthorizationToken for account {} with access key {} ({status}): {why}; the credentials need ecr:GetAuthorizationToken",
            ecr.account, aws.access_key_id
        )));
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Data {
        authorization_token: String,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        authorization_data: Vec<Data>,
    }
    let answer: Answer = serde_json::from_str(&text).map_err(|e| unreachable(e.to_string()))?;
    let token = answer
        .authorization_data
        .first()
        .ok_or_else(|| unreachable("no authorizationData in the answer".into()))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.authorization_token.trim())
        .map_err(|e| unreachable(format!("the token is not base64: {e}")))?;
    let decoded = String::from_utf8(decoded).map_err(|e| unreachable(e.to_string()))?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or_else(|| unreachable("the token is not USER:PASSWORD".into()))?;
    Ok(Credentials {
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_hosts_and_realms_are_recognised() {
        let want = Some(EcrRegistry {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
        });
        assert_eq!(
            registry_of("123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
            want
        );
        assert_eq!(
            registry_of("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/"),
            want
        );
        assert!(registry_of("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn").is_some());
        for not in [
            "public.ecr.aws",
            "ghcr.io",
            "12345.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.example.com",
        ] {
            assert_eq!(registry_of(not), None, "{not}");
        }
    }
}
