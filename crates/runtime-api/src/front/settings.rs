//! A function's HTTP front settings, part of the function model: which payload the front
//! sends (`apigw-http`, `apigw-rest`, `function-url`), how it returns the answer (buffered
//! or streamed), its routes and its CORS origins.

use std::fmt;
use std::str::FromStr;

use super::route::Route;
use crate::function::FunctionError;

/// Which front's event the function receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Payload {
    /// API Gateway HTTP API, payload format 2.0 (the console's default for HTTP APIs).
    #[default]
    ApigwHttp,
    /// API Gateway REST API proxy integration, payload format 1.0 (`multiValue*` fields).
    ApigwRest,
    /// A Lambda function URL (payload 2.0, `routeKey` `$default`, a `lambda-url` domain).
    FunctionUrl,
}

impl Payload {
    /// Every payload, by its name.
    pub const ALL: [Payload; 3] = [Payload::ApigwHttp, Payload::ApigwRest, Payload::FunctionUrl];

    /// The name used in flags, `lamina.toml` and `lamina event`.
    pub fn as_str(self) -> &'static str {
        match self {
            Payload::ApigwHttp => "apigw-http",
            Payload::ApigwRest => "apigw-rest",
            Payload::FunctionUrl => "function-url",
        }
    }
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Payload {
    type Err = FunctionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Payload::ALL
            .into_iter()
            .find(|p| p.as_str() == s.trim())
            .ok_or_else(|| FunctionError::Payload(s.to_owned()))
    }
}

impl<'de> serde::Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How the front returns the function's answer: a function URL's `InvokeMode` (API Gateway
/// REST's `responseTransferMode` is the same choice, named `BUFFERED` / `STREAM` there).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InvokeMode {
    /// `Invoke`: the whole proxy response, decoded (the default).
    #[default]
    Buffered,
    /// `InvokeWithResponseStream`: the body streamed as the function writes it, status and
    /// headers from its HTTP-integration prelude (runtime-api.md §8).
    ResponseStream,
}

impl InvokeMode {
    /// The cloud's name.
    pub fn as_str(self) -> &'static str {
        match self {
            InvokeMode::Buffered => "BUFFERED",
            InvokeMode::ResponseStream => "RESPONSE_STREAM",
        }
    }
}

impl fmt::Display for InvokeMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InvokeMode {
    type Err = FunctionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "BUFFERED" => Ok(InvokeMode::Buffered),
            // API Gateway REST's name for the same mode.
            "RESPONSE_STREAM" | "STREAM" => Ok(InvokeMode::ResponseStream),
            _ => Err(FunctionError::InvokeMode(s.to_owned())),
        }
    }
}

impl<'de> serde::Deserialize<'de> for InvokeMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// CORS as the HTTP API and function URLs configure it: the front answers preflight
/// `OPTIONS` itself, without invoking the function, and adds the allow headers to answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// Allowed origins; `*` allows any.
    pub allow_origins: Vec<String>,
}

impl Cors {
    /// The `access-control-allow-origin` value for a request from `origin`, if allowed.
    pub fn allow(&self, origin: &str) -> Option<String> {
        if self.allow_origins.iter().any(|o| o == "*") {
            Some("*".into())
        } else {
            self.allow_origins
                .iter()
                .find(|o| o.eq_ignore_ascii_case(origin))
                .cloned()
        }
    }
}

/// The HTTP front settings of one function; each optional, layered like the rest of the
/// model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpSettings {
    /// Which event the function receives.
    pub payload: Option<Payload>,
    /// Buffered or streamed answers.
    pub invoke_mode: Option<InvokeMode>,
    /// Routes to this function; none means every path (`$default`).
    pub routes: Vec<Route>,
    /// CORS, when configured.
    pub cors: Option<Cors>,
}

impl HttpSettings {
    /// `self` where it says something, else `lower`.
    pub fn over(self, lower: HttpSettings) -> HttpSettings {
        HttpSettings {
            payload: self.payload.or(lower.payload),
            invoke_mode: self.invoke_mode.or(lower.invoke_mode),
            routes: if self.routes.is_empty() {
                lower.routes
            } else {
                self.routes
            },
            cors: self.cors.or(lower.cors),
        }
    }

    /// The routes, `$default` when none were given.
    pub fn routes_or_default(&self) -> Vec<Route> {
        if self.routes.is_empty() {
            vec![Route::default_route()]
        } else {
            self.routes.clone()
        }
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.payload.is_none()
            && self.invoke_mode.is_none()
            && self.routes.is_empty()
            && self.cors.is_none()
    }

    /// Whether the front streams the function's answers.
    pub fn streams(&self) -> bool {
        self.invoke_mode == Some(InvokeMode::ResponseStream)
    }
}

/// `[http]` in `lamina.toml`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpTable {
    #[serde(default)]
    payload: Option<Payload>,
    #[serde(default)]
    invoke_mode: Option<InvokeMode>,
    #[serde(default)]
    routes: Vec<Route>,
    #[serde(default)]
    cors: Option<Vec<String>>,
}

impl<'de> serde::Deserialize<'de> for HttpSettings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = HttpTable::deserialize(d)?;
        Ok(HttpSettings {
            payload: t.payload,
            invoke_mode: t.invoke_mode,
            routes: t.routes,
            cors: t.cors.map(|allow_origins| Cors { allow_origins }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_names_round_trip_and_bad_ones_list_the_good() {
        for p in Payload::ALL {
            assert_eq!(p.as_str().parse::<Payload>().unwrap(), p);
        }
        let e = "apigw".parse::<Payload>().unwrap_err().to_string();
        assert!(e.contains("`apigw`") && e.contains("function-url"), "{e}");
    }

    #[test]
    fn invoke_modes_take_the_function_url_and_rest_names() {
        assert_eq!(
            "BUFFERED".parse::<InvokeMode>().unwrap(),
            InvokeMode::Buffered
        );
        for s in ["RESPONSE_STREAM", "STREAM"] {
            assert_eq!(s.parse::<InvokeMode>().unwrap(), InvokeMode::ResponseStream);
        }
        let e = "stream".parse::<InvokeMode>().unwrap_err().to_string();
        assert!(
            e.contains("BUFFERED") && e.contains("RESPONSE_STREAM"),
            "{e}"
        );
    }

    #[test]
    fn cors_allows_listed_origins_or_any() {
        let c = Cors {
            allow_origins: vec!["http://localhost:3000".into()],
        };
        assert_eq!(
            c.allow("http://localhost:3000").as_deref(),
            Some("http://localhost:3000")
        );
        assert_eq!(c.allow("http://evil.example"), None);
        let any = Cors {
            allow_origins: vec!["*".into()],
        };
        assert_eq!(any.allow("http://x").as_deref(), Some("*"));
    }
}
