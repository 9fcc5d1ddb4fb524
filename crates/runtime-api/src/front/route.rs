//! Route keys as API Gateway writes them (`GET /items/{id}`, `ANY /{proxy+}`, `$default`) and
//! the most-specific-match rule that picks one for a request (§8; API Gateway's "Working
//! with routes for HTTP APIs": a full match beats a path variable, a path variable beats a
//! greedy one, a method beats `ANY`).

use std::fmt;
use std::str::FromStr;

use crate::function::FunctionError;

/// One segment of a route's path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Matches exactly this text.
    Literal(String),
    /// `{name}`: one whole segment.
    Param(String),
    /// `{name+}`: the rest of the path, one segment or more; last only.
    Greedy(String),
}

/// A route key: a method (or `ANY`) and a path template, or `$default` (every request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    key: String,
    method: Option<String>,
    segments: Option<Vec<Segment>>,
}

/// A request matched to a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    /// The route that matched.
    pub route: &'a Route,
    /// Its position in the routes searched.
    pub index: usize,
    /// Path variables by name, percent-decoded, in the order of the template.
    pub params: Vec<(String, String)>,
}

impl Route {
    /// The `$default` route: every method and path.
    pub fn default_route() -> Self {
        Self {
            key: "$default".into(),
            method: None,
            segments: None,
        }
    }

    /// The route key as written (`GET /items/{id}`), the `routeKey` of the event.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The path template (`/items/{id}`), REST's `resource`; `None` for `$default`.
    pub fn template(&self) -> Option<&str> {
        self.key.split_once(' ').map(|(_, p)| p)
    }

    /// Whether this route is `$default`.
    pub fn is_default(&self) -> bool {
        self.segments.is_none()
    }

    /// Match `method` and `path` (as sent, still percent-encoded) against this route.
    pub fn matches(&self, method: &str, path: &str) -> Option<Vec<(String, String)>> {
        if let Some(m) = &self.method {
            if !m.eq_ignore_ascii_case(method) {
                return None;
            }
        }
        let Some(segments) = &self.segments else {
            return Some(Vec::new());
        };
        let parts: Vec<&str> = split_path(path);
        let mut params = Vec::new();
        for (i, seg) in segments.iter().enumerate() {
            match seg {
                Segment::Literal(l) => {
                    if parts.get(i).map(|p| decode(p)) != Some(l.clone()) {
                        return None;
                    }
                }
                Segment::Param(name) => params.push((name.clone(), decode(parts.get(i)?))),
                Segment::Greedy(name) => {
                    let rest = parts.get(i..).filter(|r| !r.is_empty())?;
                    params.push((name.clone(), decode(&rest.join("/"))));
                    return Some(params);
                }
            }
        }
        (parts.len() == segments.len()).then_some(params)
    }

    /// Sort key: lower is more specific.
    fn rank(&self) -> (u8, usize, u8) {
        let Some(segments) = &self.segments else {
            return (3, 0, 1);
        };
        let kind = if segments.iter().any(|s| matches!(s, Segment::Greedy(_))) {
            2
        } else if segments.iter().any(|s| matches!(s, Segment::Param(_))) {
            1
        } else {
            0
        };
        let literals = segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count();
        (kind, usize::MAX - literals, u8::from(self.method.is_none()))
    }
}

/// The most specific of `routes` that matches, if any.
pub fn select<'a>(routes: &'a [Route], method: &str, path: &str) -> Option<RouteMatch<'a>> {
    routes
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.matches(method, path).map(|params| (i, r, params)))
        .min_by_key(|(_, r, _)| r.rank())
        .map(|(index, route, params)| RouteMatch {
            route,
            index,
            params,
        })
}

fn split_path(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

fn decode(s: &str) -> String {
    crate::paths::percent_decode(s).unwrap_or_else(|| s.to_owned())
}

const METHODS: &[&str] = &[
    "ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
];

impl FromStr for Route {
    type Err = FunctionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| FunctionError::Route {
            route: s.to_owned(),
            why: why.to_owned(),
        };
        let s = s.trim();
        if s == "$default" {
            return Ok(Self::default_route());
        }
        let (method, path) = s.split_once(' ').ok_or_else(|| {
            bad("write it as METHOD /path, e.g. `GET /items/{id}`, or `$default`")
        })?;
        let method = method.to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(bad(
                "the method must be one of ANY, GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS",
            ));
        }
        let path = path.trim();
        if !path.starts_with('/') {
            return Err(bad("the path must start with `/`"));
        }
        if path.contains(|c: char| c.is_whitespace() || c == ',' || c == '?') {
            return Err(bad(
                "the path may not hold spaces, commas or a query string",
            ));
        }
        let raw: Vec<&str> = split_path(path);
        let mut segments = Vec::with_capacity(raw.len());
        for (i, seg) in raw.iter().enumerate() {
            let segment = match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(inner) => {
                    let (name, greedy) = match inner.strip_suffix('+') {
                        Some(n) => (n, true),
                        None => (inner, false),
                    };
                    if name.is_empty()
                        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return Err(bad(
                            "a path variable is `{name}` or `{name+}`, letters, digits and `_`",
                        ));
                    }
                    if greedy && i + 1 != raw.len() {
                        return Err(bad(
                            "a greedy path variable `{name+}` must be the last segment",
                        ));
                    }
                    if greedy {
                        Segment::Greedy(name.to_owned())
                    } else {
                        Segment::Param(name.to_owned())
                    }
                }
                None if seg.contains(['{', '}']) => {
                    return Err(bad("a path variable must be a whole segment, `/{name}`"))
                }
                None => Segment::Literal((*seg).to_owned()),
            };
            segments.push(segment);
        }
        Ok(Self {
            key: format!("{method} {path}"),
            method: (method != "ANY").then_some(method),
            segments: Some(segments),
        })
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

impl<'de> serde::Deserialize<'de> for Route {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(keys: &[&str]) -> Vec<Route> {
        keys.iter().map(|k| k.parse().unwrap()).collect()
    }

    #[test]
    fn path_variables_are_captured_and_decoded() {
        let r: Route = "GET /items/{id}".parse().unwrap();
        assert_eq!(
            r.matches("GET", "/items/a%20b"),
            Some(vec![("id".into(), "a b".into())])
        );
        assert_eq!(r.matches("POST", "/items/1"), None);
        assert_eq!(r.matches("GET", "/items"), None);
        assert_eq!(r.matches("GET", "/items/1/2"), None);
        let g: Route = "ANY /files/{proxy+}".parse().unwrap();
        assert_eq!(
            g.matches("DELETE", "/files/a/b/c"),
            Some(vec![("proxy".into(), "a/b/c".into())])
        );
        assert_eq!(g.matches("GET", "/files"), None, "greedy needs a segment");
    }

    #[test]
    fn the_most_specific_route_wins() {
        let rs = routes(&[
            "$default",
            "ANY /{proxy+}",
            "GET /items/{id}",
            "GET /items/new",
            "ANY /items/new",
        ]);
        let key = |m, p| select(&rs, m, p).map(|r| r.route.key().to_owned());
        assert_eq!(key("GET", "/items/new").as_deref(), Some("GET /items/new"));
        assert_eq!(key("POST", "/items/new").as_deref(), Some("ANY /items/new"));
        assert_eq!(key("GET", "/items/7").as_deref(), Some("GET /items/{id}"));
        assert_eq!(key("GET", "/other/x").as_deref(), Some("ANY /{proxy+}"));
        assert_eq!(key("GET", "/").as_deref(), Some("$default"));
        assert!(select(&routes(&["GET /a"]), "GET", "/b").is_none());
    }

    #[test]
    fn bad_route_keys_say_how_to_write_them() {
        for (bad, says) in [
            ("/items", "METHOD /path"),
            ("FETCH /x", "method must be one of"),
            ("GET items", "start with `/`"),
            ("GET /{proxy+}/x", "last segment"),
            ("GET /a{b}", "whole segment"),
            ("GET /{}", "path variable"),
        ] {
            let e = bad.parse::<Route>().unwrap_err().to_string();
            assert!(e.contains(says) && e.contains(bad), "{bad}: {e}");
        }
    }
}
