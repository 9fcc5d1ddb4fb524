//! Image references, parsed once: `calculator`, `calculator:v2`, `team/app`,
//! `localhost:5000/team/app:v1`, `123456789012.dkr.ecr.us-east-1.amazonaws.com/fn@sha256:…`.
//!
//! Docker's grammar (distribution `reference/regexp.go`, `normalize.go`): an optional registry
//! host — a first component with a `.` or `:`, `localhost`, or capitals, possibly `[ipv6]:port`
//! — then lowercase path components joined by `/` (`.`, one or two `_`, or any run of `-`
//! between alphanumerics), then an optional `:tag` (1–128 of `[A-Za-z0-9_.-]`, not starting
//! with `.` or `-`) and an optional `@algorithm:hex` digest. Without a host the registry is
//! Docker Hub (`docker.io`), and a one-component path is in `library/`. Without tag or digest
//! the tag is `latest`. Everything that names an image — the CLI, the store, Docker loads and
//! (next) the registry client — takes this type, never a string.

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;
use crate::error::{Error, Result};

/// Docker Hub's name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's registry API actually answers.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// Longest repository name Docker accepts (host and path).
const MAX_NAME_LEN: usize = 255;
/// Longest tag Docker accepts.
const MAX_TAG_LEN: usize = 128;
/// The tag of a reference that gives neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";

/// A parsed, normalised image reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    registry: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parse and normalise a reference.
    pub fn parse(text: &str) -> Result<Reference> {
        let bad = |reason: &str| Error::InvalidReference {
            name: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (name, digest) = match text.split_once('@') {
            Some((name, d)) => (
                name,
                Some(d.parse::<Digest>().map_err(|_| {
                    bad("the digest must be sha256: followed by 64 lowercase hex digits")
                })?),
            ),
            None => (text, None),
        };
        // The tag is after a ':' that follows the last '/' (a ':' before it is a port).
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
            None => (name, None),
        };
        if let Some(tag) = tag {
            if !valid_tag(tag) {
                return Err(bad(
                    "the tag must be 1-128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'",
                ));
            }
        }
        if repository.is_empty() || repository.len() > MAX_NAME_LEN {
            return Err(bad("the repository name must be 1-255 characters"));
        }
        let (registry, path) = match repository.split_once('/') {
            Some((first, rest)) if looks_like_host(first) => {
                if !valid_host(first) {
                    return Err(bad(
                        "the registry host must be a DNS name or IP address with an optional :port from 1 to 65535",
                    ));
                }
                // Docker's grammar takes a first component with capitals for a host; nobody
                // means a registry called `MyTeam`: it is a repository that must be lowercase.
                if !first.contains(['.', ':']) && first != "localhost" {
                    return Err(bad(&format!(
                        "`{first}` would be taken for a registry host, and repository names must be lowercase: did you mean `{}`?",
                        text.to_ascii_lowercase()
                    )));
                }
                (first.to_owned(), rest.to_owned())
            }
            _ => (DOCKER_HUB.to_owned(), repository.to_owned()),
        };
        if !path.split('/').all(valid_component) {
            return Err(bad(
                "repository components must be lowercase letters and digits, separated by '.', '_', '__', '-' or '/'",
            ));
        }
        // Docker Hub's official images live in `library/`; `index.docker.io` is its old name.
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB.to_owned()
        } else {
            registry
        };
        let path = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_owned()),
            (None, None) => Some(DEFAULT_TAG.to_owned()),
            (None, Some(_)) => None,
        };
        Ok(Reference {
            registry,
            path,
            tag,
            digest,
        })
    }

    /// The registry host as written (`docker.io` for Docker Hub), with its port.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Where the registry's API answers: Docker Hub's is not `docker.io` itself.
    pub fn registry_api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// The repository path inside the registry (`library/calculator`, `team/app`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if the reference has one (`latest` when it gave neither tag nor digest).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, for `name@sha256:…`.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The last path component (`app` of `localhost:5000/team/app:v1`).
    pub fn short_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The repository as Docker shows it: without `docker.io/` and `library/`.
    pub fn familiar_name(&self) -> String {
        if self.registry == DOCKER_HUB {
            self.path
                .strip_prefix("library/")
                .unwrap_or(&self.path)
                .to_owned()
        } else {
            format!("{}/{}", self.registry, self.path)
        }
    }

    /// The same repository with another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> Result<Reference> {
        Reference::parse(&format!("{}:{tag}", self.familiar_name()))
    }

    /// Docker's fully qualified form, as containerd stores names:
    /// `docker.io/library/calculator:latest`.
    pub fn qualified(&self) -> String {
        format!("{}/{}{}", self.registry, self.path, self.suffix())
    }

    fn suffix(&self) -> String {
        let mut s = String::new();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d.as_str());
        }
        s
    }
}

/// The familiar form Docker prints: `calculator:latest`, `localhost:5000/team/app:v1`,
/// `app@sha256:…`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.familiar_name(), self.suffix())
    }
}

impl FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// Docker's rule for telling a registry host from a first path component.
fn looks_like_host(s: &str) -> bool {
    s.contains(['.', ':']) || s == "localhost" || s.bytes().any(|b| b.is_ascii_uppercase())
}

fn valid_host(s: &str) -> bool {
    // `[ipv6]` or `[ipv6]:port`.
    if let Some(rest) = s.strip_prefix('[') {
        let Some((addr, after)) = rest.split_once(']') else {
            return false;
        };
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(valid_port);
        return addr.parse::<std::net::Ipv6Addr>().is_ok() && port_ok;
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    port.is_none_or(valid_port) && host.split('.').all(label_ok)
}

fn valid_port(p: &str) -> bool {
    p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|n| n > 0)
}

fn valid_component(s: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = s.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    // Separators: one '.', one or two '_', or any run of '-', always between alphanumerics.
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        match &s[start..i] {
            "." | "_" | "__" => {}
            sep if sep.bytes().all(|b| b == b'-') => {}
            _ => return false,
        }
    }
    true
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_TAG_LEN
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests;
