//! AWS Signature Version 4 for the one kind of request lamina sends to AWS: a POST of a small
//! JSON body (ECR's `GetAuthorizationToken`). Written here (HMAC-SHA256 over a canonical
//! request, AWS's "Create a signed AWS API request" guide) rather than taken from
//! `aws-sigv4`, which brings the Smithy runtime along for one header; it is checked against
//! AWS's published `get-vanilla` test vector.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// AWS credentials: an access key, its secret and, for temporary credentials, a session token.
#[derive(Clone)]
pub struct AwsCredentials {
    /// `AKIA…` / `ASIA…`.
    pub access_key_id: String,
    /// The secret key.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// One request to sign.
pub struct Request<'a> {
    /// `GET`, `POST`.
    pub method: &'a str,
    /// The host header's value.
    pub host: &'a str,
    /// The path, already URI-encoded (`/`).
    pub path: &'a str,
    /// The canonical query string (`""`, or sorted `k=v&…`, encoded).
    pub query: &'a str,
    /// Headers besides `host` and `x-amz-date` (names in any case).
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a [u8],
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The headers to add to `req` (`x-amz-date`, `x-amz-security-token` when there is a session,
/// `authorization`) for `service` in `region` at `amz_date` (`YYYYMMDDTHHMMSSZ`).
pub fn sign(
    req: &Request<'_>,
    creds: &AwsCredentials,
    region: &str,
    service: &str,
    amz_date: &str,
) -> Vec<(String, String)> {
    let date = &amz_date[..amz_date.len().min(8)];
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    headers.push(("host".into(), req.host.to_owned()));
    headers.push(("x-amz-date".into(), amz_date.to_owned()));
    if let Some(token) = &creds.session_token {
        headers.push(("x-amz-security-token".into(), token.clone()));
    }
    headers.sort();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let canonical = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed}\n{}",
        req.method,
        req.path,
        req.query,
        hex(&Sha256::digest(req.body))
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{}", creds.secret_access_key).as_bytes(), date);
    let k_region = hmac(&k_date, region);
    let k_service = hmac(&k_region, service);
    let k_signing = hmac(&k_service, "aws4_request");
    let signature = hex(&hmac(&k_signing, &to_sign));
    let mut out = vec![("x-amz-date".to_owned(), amz_date.to_owned())];
    if let Some(token) = &creds.session_token {
        out.push(("x-amz-security-token".into(), token.clone()));
    }
    out.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            creds.access_key_id
        ),
    ));
    out
}

/// `YYYYMMDDTHHMMSSZ` for now.
pub fn amz_date_now() -> String {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    // 2026-12-01T21:00:00Z → 20261201T210000Z
    now.chars().filter(|c| *c != '-' && *c != ':').collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's SigV4 test suite, `get-vanilla`: the published signature.
    #[test]
    fn the_get_vanilla_vector_signs_as_aws_publishes() {
        let creds = AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let req = Request {
            method: "GET",
            host: "example.amazonaws.com",
            path: "/",
            query: "",
            headers: &[],
            body: b"",
        };
        let out = sign(&req, &creds, "us-east-1", "service", "20150830T123600Z");
        let auth = &out.iter().find(|(k, _)| k == "authorization").unwrap().1;
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn a_session_token_is_signed_and_sent() {
        let creds = AwsCredentials {
            access_key_id: "ASIAX".into(),
            secret_access_key: "s".into(),
            session_token: Some("tok".into()),
        };
        let req = Request {
            method: "POST",
            host: "api.ecr.us-east-1.amazonaws.com",
            path: "/",
            query: "",
            headers: &[("Content-Type", "application/x-amz-json-1.1")],
            body: b"{}",
        };
        let out = sign(&req, &creds, "us-east-1", "ecr", "20261201T000000Z");
        assert!(out.contains(&("x-amz-security-token".into(), "tok".into())));
        let auth = &out.iter().find(|(k, _)| k == "authorization").unwrap().1;
        assert!(auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"));
        assert_eq!(amz_date_now().len(), 16);
    }
}
