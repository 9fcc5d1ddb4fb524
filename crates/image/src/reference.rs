//! Validation and normalisation of image references (`calculator:latest`, `registry:5000/team/app:v1`).
//!
//! Follows Docker's reference grammar (distribution `reference/regexp.go`): an optional registry
//! host (with port), lowercase path components separated by `/`, and a tag of 1–128 characters
//! `[A-Za-z0-9_][A-Za-z0-9_.-]*`. A missing tag means `latest`. Digest references are not names.

use crate::error::{Error, Result};

/// Longest repository name Docker accepts.
const MAX_NAME_LEN: usize = 255;
/// Longest tag Docker accepts.
const MAX_TAG_LEN: usize = 128;

/// A validated reference, split into repository and tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// Repository, e.g. `calculator` or `123.dkr.ecr.us-east-1.amazonaws.com/app`.
    pub repository: String,
    /// Tag, e.g. `latest`.
    pub tag: String,
}

impl Reference {
    /// Parse and validate `name[:tag]`; the tag defaults to `latest`.
    pub fn parse(name: &str) -> Result<Reference> {
        let bad = |reason| {
            Err(Error::InvalidReference {
                name: name.to_string(),
                reason,
            })
        };
        if name.contains('@') {
            return bad("digest references cannot be used as a name; use repo:tag");
        }
        // The tag is after the last ':' that follows the last '/' (a ':' before it is a port).
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (&name[..last_slash + i], &name[last_slash + i + 1..]),
            None => (name, "latest"),
        };
        if !valid_tag(tag) {
            return bad(
                "tag must be 1-128 characters of [A-Za-z0-9_.-] not starting with '.' or '-'",
            );
        }
        if repository.is_empty() || repository.len() > MAX_NAME_LEN {
            return bad("repository name must be 1-255 characters");
        }
        let mut parts: Vec<&str> = repository.split('/').collect();
        if parts.len() > 1 && looks_like_host(parts[0]) {
            if !valid_host(parts[0]) {
                return bad("registry host must be a DNS name or IP with an optional :port");
            }
            parts.remove(0);
        }
        if !parts.iter().all(|p| valid_component(p)) {
            return bad("repository components must be lowercase [a-z0-9] separated by '.', '_', '__' or '-'");
        }
        Ok(Reference {
            repository: repository.to_string(),
            tag: tag.to_string(),
        })
    }

    /// `repository:tag`.
    pub fn full(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// Docker's fully qualified form: `docker.io/library/` added to bare names, as containerd stores them.
    pub fn qualified(&self) -> String {
        let first = self.repository.split('/').next().unwrap_or_default();
        let has_host = self.repository.contains('/') && looks_like_host(first);
        let repo = match (has_host, self.repository.contains('/')) {
            (true, _) => self.repository.clone(),
            (false, true) => format!("docker.io/{}", self.repository),
            (false, false) => format!("docker.io/library/{}", self.repository),
        };
        format!("{repo}:{}", self.tag)
    }
}

fn looks_like_host(s: &str) -> bool {
    s.contains('.')
        || s.contains(':')
        || s == "localhost"
        || s.bytes().any(|b| b.is_ascii_uppercase())
}

fn valid_host(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    port_ok && host.split('.').all(label_ok)
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
mod tests {
    use super::*;

    #[test]
    fn accepts_docker_style_names() {
        let r = Reference::parse("calculator").unwrap();
        assert_eq!(
            (r.full(), r.qualified()),
            (
                "calculator:latest".into(),
                "docker.io/library/calculator:latest".into()
            )
        );
        let r = Reference::parse("localhost:5000/team/my-app:v1.2_x").unwrap();
        assert_eq!(
            (r.repository.as_str(), r.tag.as_str()),
            ("localhost:5000/team/my-app", "v1.2_x")
        );
        assert_eq!(r.qualified(), "localhost:5000/team/my-app:v1.2_x");
        let r =
            Reference::parse("123456789012.dkr.ecr.us-east-1.amazonaws.com/fn__a:latest").unwrap();
        assert_eq!(r.tag, "latest");
        assert_eq!(
            Reference::parse("team/app:1").unwrap().qualified(),
            "docker.io/team/app:1"
        );
    }

    #[test]
    fn refuses_bad_names() {
        let long_tag = format!("a:{}", "t".repeat(129));
        for bad in [
            "",
            "Calc:1",
            "calc:",
            "calc:-x",
            "a..b",
            "-a",
            "a/",
            "/a",
            "a@sha256:00",
            "a:b c",
            &long_tag,
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
