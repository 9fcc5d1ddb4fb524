//! The metadata of one event as it crosses the Runtime API (`/next` reply headers, §1.3).
//!
//! The emulator renders an [`Invocation`] into headers with [`Invocation::to_headers`]; the
//! client reads it back with [`Invocation::from_headers`]. Headers are only set when non-empty,
//! as AWS's emulator does (`rendering.go` `renderInvokeHeaders`).

use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};

use crate::error::{Error, Result};
use crate::headers as h;

/// Everything the runtime learns about an event besides its payload.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Invocation {
    /// The request id (a UUID).
    pub request_id: String,
    /// Deadline as Unix epoch milliseconds (invoke start + timeout).
    pub deadline_ms: u64,
    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
    pub invoked_function_arn: String,
    /// X-Ray trace header; always sent by lamina (strict clients crash without it, §10).
    pub trace_id: Option<String>,
    /// Client context JSON text (already base64-decoded).
    pub client_context: Option<String>,
    /// Cognito identity JSON text.
    pub cognito_identity: Option<String>,
    /// Tenant id.
    pub tenant_id: Option<String>,
    /// Content type of the payload; `application/json` when the caller sent none.
    pub content_type: String,
    /// The invoke's nonce (`Lambda-Runtime-Invocation-Id`), opaque: never parsed, only
    /// echoed on the answer (§1.3).
    pub invocation_id: Option<String>,
}

/// Content type used when the invoker sent none (§1.3).
pub const DEFAULT_CONTENT_TYPE: &str = "application/json";

impl Invocation {
    /// Headers of the `/next` reply for this invocation.
    pub fn to_headers(&self) -> Result<HeaderMap> {
        let mut map = HeaderMap::new();
        put(&mut map, h::REQUEST_ID, &self.request_id)?;
        put(&mut map, h::DEADLINE_MS, &self.deadline_ms.to_string())?;
        put(
            &mut map,
            h::INVOKED_FUNCTION_ARN,
            &self.invoked_function_arn,
        )?;
        for (name, value) in [
            (h::TRACE_ID, &self.trace_id),
            (h::CLIENT_CONTEXT, &self.client_context),
            (h::COGNITO_IDENTITY, &self.cognito_identity),
            (h::TENANT_ID, &self.tenant_id),
            (h::INVOCATION_ID, &self.invocation_id),
        ] {
            if let Some(v) = value {
                put(&mut map, name, v)?;
            }
        }
        let content_type = if self.content_type.is_empty() {
            DEFAULT_CONTENT_TYPE
        } else {
            &self.content_type
        };
        map.insert(CONTENT_TYPE, value(CONTENT_TYPE.as_str(), content_type)?);
        Ok(map)
    }

    /// Read an invocation back from `/next` reply headers.
    ///
    /// Only the request id is required. A missing or unparsable deadline is treated as
    /// "no deadline" (`u64::MAX`) rather than a crash, unlike `lambda_runtime`'s panic under
    /// sparse emulators (rust-runtime #410).
    pub fn from_headers(headers: &HeaderMap) -> Result<Self> {
        let text = |name: &'static str| -> Result<Option<String>> {
            match headers.get(name) {
                None => Ok(None),
                // UTF-8 rather than `to_str`'s visible ASCII: a non-ASCII id or trace
                // header is still one the runtime can answer.
                Some(v) => std::str::from_utf8(v.as_bytes())
                    .map(|s| (!s.is_empty()).then(|| s.to_owned()))
                    .map_err(|e| Error::InvalidHeader {
                        name,
                        reason: e.to_string(),
                    }),
            }
        };
        let request_id = text(h::REQUEST_ID)?.ok_or(Error::MissingHeader(h::REQUEST_ID))?;
        let deadline_ms = text(h::DEADLINE_MS)?
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(u64::MAX);
        let content_type = match headers.get(CONTENT_TYPE).map(|v| v.to_str()) {
            Some(Ok(v)) if !v.trim().is_empty() => v.to_owned(),
            _ => DEFAULT_CONTENT_TYPE.to_owned(),
        };
        Ok(Self {
            request_id,
            deadline_ms,
            invoked_function_arn: text(h::INVOKED_FUNCTION_ARN)?.unwrap_or_default(),
            trace_id: text(h::TRACE_ID)?,
            client_context: text(h::CLIENT_CONTEXT)?,
            cognito_identity: text(h::COGNITO_IDENTITY)?,
            tenant_id: text(h::TENANT_ID)?,
            content_type,
            invocation_id: text(h::INVOCATION_ID)?,
        })
    }
}

fn value(name: &'static str, v: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(v).map_err(|e| Error::InvalidHeader {
        name,
        reason: e.to_string(),
    })
}

fn put(map: &mut HeaderMap, name: &'static str, v: &str) -> Result<()> {
    if v.is_empty() {
        return Ok(());
    }
    map.insert(HeaderName::from_static(name), value(name, v)?);
    Ok(())
}

/// The function ARN the platform reports for a function (§1.3, §10: derive, don't fake).
pub fn function_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:function:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let inv = Invocation {
            request_id: "8f50c6b4-0000-4000-8000-000000000000".into(),
            deadline_ms: 1_542_409_706_888,
            invoked_function_arn: function_arn("us-east-1", "123456789012", "calc"),
            trace_id: Some(
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=0".into(),
            ),
            client_context: None,
            cognito_identity: Some(
                r#"{"cognitoIdentityId":"a","cognitoIdentityPoolId":"b"}"#.into(),
            ),
            tenant_id: None,
            content_type: "application/json".into(),
            invocation_id: Some("5b0c1a9e-7c1d-4e55-9f60-2b3c4d5e6f70".into()),
        };
        let headers = inv.to_headers().unwrap();
        assert!(
            headers.get(h::CLIENT_CONTEXT).is_none(),
            "empty headers are not sent"
        );
        assert_eq!(headers.get(h::DEADLINE_MS).unwrap(), "1542409706888");
        assert_eq!(
            headers.get(h::INVOCATION_ID).unwrap(),
            "5b0c1a9e-7c1d-4e55-9f60-2b3c4d5e6f70"
        );
        assert_eq!(Invocation::from_headers(&headers).unwrap(), inv);
    }

    #[test]
    fn missing_request_id_is_an_error() {
        let err = Invocation::from_headers(&HeaderMap::new()).unwrap_err();
        assert!(matches!(err, Error::MissingHeader(h::REQUEST_ID)));
    }
}
