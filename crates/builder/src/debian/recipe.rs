//! The recipe: `base-images/<name>/recipe.toml`, what a base runtime is made of.
//!
//! A recipe names a Debian mirror and suite, the packages to install (their dependency
//! closure is computed by [`super::resolve`]), the dependencies deliberately left out,
//! the path prefixes left out of the root filesystem, and the post-steps that replace
//! the maintainer scripts lamina never runs. This module parses and validates it and
//! derives the two hashes that key the lock and the unpacked rootfs.

use std::path::Path;

use lamina_image::Digest;
use serde::{Deserialize, Serialize};

use super::error::{io_err, Error, Result};

/// Architectures a recipe may lock (Debian names, which match OCI's for these two).
pub const ARCHITECTURES: &[&str] = &["amd64", "arm64"];

/// A base runtime assembled from Debian packages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Name of the base, the directory name under `base-images/`.
    pub name: String,
    /// Mirror root, e.g. `http://deb.debian.org/debian`.
    pub mirror: String,
    /// Suite (codename), e.g. `trixie`.
    pub suite: String,
    /// The suite moves under its pins (Debian testing): pins leave the mirror within weeks,
    /// and the warning when one has says so.
    #[serde(default)]
    pub moving: bool,
    /// Archive components to search, in order.
    #[serde(default = "default_components")]
    pub components: Vec<String>,
    /// Debian architectures to lock.
    pub architectures: Vec<String>,
    /// Packages to install together with their Depends and Pre-Depends closure.
    pub packages: Vec<String>,
    /// Packages (or virtual names) never installed, even when something depends on them.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Path prefixes (relative, `/`-separated) left out of the rootfs.
    #[serde(default)]
    pub drop: Vec<String>,
    /// Exceptions to `drop`: patterns where `*` matches one path component.
    #[serde(default)]
    pub keep: Vec<String>,
    /// Steps applied after unpacking, in order.
    #[serde(default)]
    pub post: Vec<PostStep>,
}

/// One thing a maintainer script would have done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PostStep {
    /// Create (or replace) the symlink `path -> target`.
    Symlink {
        /// Link path, relative to the rootfs.
        path: String,
        /// Link target, written as is (absolute targets resolve inside the rootfs).
        target: String,
    },
    /// Create a directory (and its parents) with a mode.
    Dir {
        /// Directory path, relative to the rootfs.
        path: String,
        /// Permission bits, e.g. `0o1777` for `/tmp`.
        #[serde(default = "default_dir_mode")]
        mode: u32,
    },
    /// Write a file.
    File {
        /// File path, relative to the rootfs.
        path: String,
        /// Content, written as is.
        content: String,
        /// Permission bits.
        #[serde(default = "default_file_mode")]
        mode: u32,
    },
    /// Concatenate every `*.crt` under `from`, sorted by path, into `path`
    /// (what `update-ca-certificates` does with the default configuration).
    CaBundle {
        /// Directory holding the certificates, relative to the rootfs.
        #[serde(default = "default_ca_from")]
        from: String,
        /// Bundle path, relative to the rootfs.
        #[serde(default = "default_ca_path")]
        path: String,
    },
    /// Byte-compile Python sources with the rootfs's own interpreter (what Debian's
    /// `py3compile` trigger does), so imports need not compile on every cold start in a
    /// read-only filesystem. Runs only when the rootfs's architecture is the host's; skipped
    /// with a warning otherwise.
    PyCompile {
        /// The interpreter, relative to the rootfs (e.g. `usr/bin/python3.13`).
        python: String,
        /// Directories to compile, relative to the rootfs.
        dirs: Vec<String>,
    },
}

impl PostStep {
    /// The step's kind, as written in the recipe.
    pub fn kind(&self) -> &'static str {
        match self {
            PostStep::Symlink { .. } => "symlink",
            PostStep::Dir { .. } => "dir",
            PostStep::File { .. } => "file",
            PostStep::CaBundle { .. } => "ca-bundle",
            PostStep::PyCompile { .. } => "py-compile",
        }
    }

    fn paths(&self) -> Vec<&str> {
        match self {
            PostStep::Symlink { path, .. } | PostStep::Dir { path, .. } => vec![path],
            PostStep::File { path, .. } => vec![path],
            PostStep::CaBundle { from, path } => vec![from, path],
            PostStep::PyCompile { python, dirs } => std::iter::once(python)
                .chain(dirs)
                .map(String::as_str)
                .collect(),
        }
    }
}

fn default_components() -> Vec<String> {
    vec!["main".to_owned()]
}
fn default_dir_mode() -> u32 {
    0o755
}
fn default_file_mode() -> u32 {
    0o644
}
fn default_ca_from() -> String {
    "usr/share/ca-certificates".to_owned()
}
fn default_ca_path() -> String {
    "etc/ssl/certs/ca-certificates.crt".to_owned()
}

/// Reads and validates `dir/recipe.toml` (`dir` is `base-images/<name>`).
pub fn load_recipe(dir: &Path) -> Result<Recipe> {
    let path = dir.join("recipe.toml");
    let text = std::fs::read_to_string(&path).map_err(io_err("read recipe", &path))?;
    parse_recipe_from(&text, &path.display().to_string())
}

/// Parses and validates a recipe from its text (e.g. embedded with `include_str!`).
pub fn parse_recipe(text: &str) -> Result<Recipe> {
    parse_recipe_from(text, "<embedded>")
}

fn parse_recipe_from(text: &str, origin: &str) -> Result<Recipe> {
    let recipe: Recipe = toml::from_str(text).map_err(|source| Error::RecipeSyntax {
        origin: origin.to_owned(),
        source: Box::new(source),
    })?;
    recipe.validate()?;
    Ok(recipe)
}

impl Recipe {
    fn invalid(&self, reason: String) -> Error {
        Error::RecipeInvalid {
            recipe: self.name.clone(),
            reason,
        }
    }

    fn validate(&self) -> Result<()> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            && !self.name.starts_with('.');
        if !name_ok {
            return Err(self.invalid(format!(
                "`name = {:?}` must be a directory name made of letters, digits, `.`, `_` and `-`",
                self.name
            )));
        }
        if !(self.mirror.starts_with("http://") || self.mirror.starts_with("https://")) {
            return Err(self.invalid(format!(
                "`mirror = {:?}` must be an http(s) URL",
                self.mirror
            )));
        }
        if self.suite.is_empty() || self.suite.contains('/') || self.components.is_empty() {
            return Err(self.invalid("`suite` and `components` must be set".to_owned()));
        }
        if self.architectures.is_empty() {
            return Err(self.invalid("`architectures` is empty; use [\"amd64\", \"arm64\"]".into()));
        }
        if let Some(a) = self
            .architectures
            .iter()
            .find(|a| !ARCHITECTURES.contains(&a.as_str()))
        {
            return Err(self.invalid(format!(
                "architecture `{a}` is not one of {ARCHITECTURES:?}"
            )));
        }
        if self.packages.is_empty() {
            return Err(self.invalid("`packages` is empty".to_owned()));
        }
        if let Some(p) = self.packages.iter().find(|p| self.exclude.contains(p)) {
            return Err(self.invalid(format!("`{p}` is in both `packages` and `exclude`")));
        }
        let paths = self.drop.iter().chain(&self.keep).map(String::as_str);
        for path in paths.chain(self.post.iter().flat_map(PostStep::paths)) {
            if !is_safe_relative(path) {
                return Err(self.invalid(format!(
                    "path `{path}` must be relative to the rootfs, without `..` or a leading `/`"
                )));
            }
        }
        Ok(())
    }

    /// The mirror URL without a trailing slash.
    pub fn mirror_url(&self) -> &str {
        self.mirror.trim_end_matches('/')
    }

    /// Hash of everything that decides which packages get pinned (mirror, suite,
    /// components, architectures, packages, exclude), as `sha256:<hex>`. A lock whose
    /// `recipe_hash` differs is stale; editing `drop` or `post` does not need a new lock.
    pub fn resolve_hash(&self) -> Digest {
        let input = serde_json::json!({
            "mirror": self.mirror_url(),
            "suite": self.suite,
            "components": self.components,
            "architectures": self.architectures,
            "packages": self.packages,
            "exclude": self.exclude,
        });
        Digest::sha256_of(input.to_string().as_bytes())
    }

    /// Serialised form of what shapes the rootfs beyond the pinned packages (drop, keep,
    /// post-steps); part of the rootfs cache key.
    pub(crate) fn layout_fingerprint(&self) -> String {
        serde_json::json!({ "drop": self.drop, "keep": self.keep, "post": self.post }).to_string()
    }
}

/// True when `path` is relative, non-empty and has no `..` component.
pub(crate) fn is_safe_relative(path: &str) -> bool {
    !path.is_empty() && !path.starts_with('/') && !path.split('/').any(|c| c == "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        name = "tiny"
        mirror = "http://deb.debian.org/debian/"
        suite = "trixie"
        architectures = ["amd64"]
        packages = ["dash"]
        exclude = ["debianutils"]
        drop = ["usr/share/doc/"]
        [[post]]
        kind = "dir"
        path = "tmp"
        mode = 0o1777
        [[post]]
        kind = "ca-bundle"
    "#;

    #[test]
    fn parses_defaults_and_post_steps() {
        let r = parse_recipe(MINIMAL).unwrap();
        assert_eq!(r.components, vec!["main"]);
        assert_eq!(r.mirror_url(), "http://deb.debian.org/debian");
        assert_eq!(
            r.post[0],
            PostStep::Dir {
                path: "tmp".into(),
                mode: 0o1777
            }
        );
        assert_eq!(
            r.post[1],
            PostStep::CaBundle {
                from: "usr/share/ca-certificates".into(),
                path: "etc/ssl/certs/ca-certificates.crt".into()
            }
        );
    }

    #[test]
    fn resolve_hash_ignores_layout_but_not_packages() {
        let a = parse_recipe(MINIMAL).unwrap();
        let mut b = a.clone();
        b.drop.push("usr/share/man/".into());
        assert_eq!(a.resolve_hash(), b.resolve_hash());
        assert_ne!(a.layout_fingerprint(), b.layout_fingerprint());
        b.packages.push("tzdata".into());
        assert_ne!(a.resolve_hash(), b.resolve_hash());
    }

    #[test]
    fn refuses_unsafe_paths_and_contradictions() {
        let bad = MINIMAL.replace("usr/share/doc/", "../etc");
        assert!(matches!(
            parse_recipe(&bad),
            Err(Error::RecipeInvalid { .. })
        ));
        let bad = MINIMAL.replace("[\"debianutils\"]", "[\"dash\"]");
        assert!(matches!(
            parse_recipe(&bad),
            Err(Error::RecipeInvalid { .. })
        ));
        let bad = MINIMAL.replace("[\"amd64\"]", "[\"s390x\"]");
        assert!(matches!(
            parse_recipe(&bad),
            Err(Error::RecipeInvalid { .. })
        ));
        let bad = MINIMAL.replace("suite", "sweet");
        assert!(matches!(
            parse_recipe(&bad),
            Err(Error::RecipeSyntax { .. })
        ));
    }
}
