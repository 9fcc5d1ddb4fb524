//! Debian archive metadata: the suite's `InRelease` and a component's `Packages` index.
//!
//! Only the fields lamina needs are kept: from `InRelease` the `Date` and the `SHA256`
//! list; from each `Packages` stanza the name, version, architecture, priority,
//! relationships (`Depends`, `Pre-Depends`, `Provides`) and where the `.deb` lives.
//! Relationship fields are stored raw and parsed with [`parse_relations`] only for the
//! packages the resolver visits. Parsing streams, so the 50 MiB uncompressed index is
//! never held as text.

use std::collections::BTreeMap;
use std::io::BufRead;

use super::error::{Error, Result};

/// The parts of a suite's `InRelease` (or `Release`) file lamina uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Release {
    /// The `Date` field, e.g. `Sat, 12 Sep 2026 07:55:41 UTC`.
    pub date: String,
    /// `SHA256` entries: path relative to the suite → (hex sha256, size).
    pub sha256: BTreeMap<String, (String, u64)>,
}

/// Parses a clear-signed `InRelease` (or a plain `Release`) file.
///
/// TODO: verify the OpenPGP signature against the Debian archive keyring; today the
/// index hashes are trusted as served (the `.deb` hashes are then pinned in the lock).
pub fn parse_release(text: &str) -> Release {
    let mut release = Release::default();
    let mut in_sha256 = false;
    let mut lines = text.lines().peekable();
    if lines
        .peek()
        .is_some_and(|l| l.starts_with("-----BEGIN PGP SIGNED MESSAGE"))
    {
        // Armor headers ("Hash: SHA256") end at the first empty line.
        for line in lines.by_ref() {
            if line.trim().is_empty() {
                break;
            }
        }
    }
    for raw in lines {
        if raw.starts_with("-----BEGIN PGP SIGNATURE") {
            break;
        }
        // Clear-signed text escapes lines starting with '-' as "- -…" (RFC 4880 §7.1).
        let line = raw.strip_prefix("- ").unwrap_or(raw);
        if let Some(rest) = line.strip_prefix(' ') {
            if in_sha256 {
                let mut parts = rest.split_whitespace();
                if let (Some(hash), Some(size), Some(path)) =
                    (parts.next(), parts.next(), parts.next())
                {
                    if let Ok(size) = size.parse() {
                        release
                            .sha256
                            .insert(path.to_owned(), (hash.to_owned(), size));
                    }
                }
            }
            continue;
        }
        in_sha256 = false;
        if let Some((field, value)) = line.split_once(':') {
            match field {
                "Date" => release.date = value.trim().to_owned(),
                "SHA256" => in_sha256 = true,
                _ => {}
            }
        }
    }
    release
}

/// One binary package from a `Packages` index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageEntry {
    /// `Package`.
    pub name: String,
    /// `Version`.
    pub version: String,
    /// `Architecture` (`amd64`, `arm64` or `all`).
    pub architecture: String,
    /// `Priority` (`required`, `important`, `standard`, `optional`, `extra`), may be empty.
    pub priority: String,
    /// `Depends`, raw.
    pub depends: String,
    /// `Pre-Depends`, raw.
    pub pre_depends: String,
    /// `Provides`, raw.
    pub provides: String,
    /// `Filename`, relative to the mirror root.
    pub filename: String,
    /// `SHA256` of the `.deb`.
    pub sha256: String,
    /// `Size` of the `.deb` in bytes.
    pub size: u64,
}

/// A parsed `Packages` index: packages by name and virtual names by provider.
#[derive(Debug, Clone, Default)]
pub struct PackageIndex {
    /// Real packages by name (the first stanza wins when a name repeats).
    pub packages: BTreeMap<String, PackageEntry>,
    /// Virtual (and real) names → the packages whose `Provides` lists them, sorted.
    pub providers: BTreeMap<String, Vec<String>>,
}

impl PackageIndex {
    /// Adds the stanzas of one `Packages` file; earlier files (components) take precedence.
    pub fn extend_from(&mut self, reader: impl BufRead, origin: &str) -> Result<()> {
        let mut reader = reader;
        let mut line = String::new();
        let mut entry = PackageEntry::default();
        let mut line_no = 0usize;
        loop {
            line.clear();
            let n = reader
                .read_line(&mut line)
                .map_err(|e| Error::IndexSyntax {
                    origin: origin.to_owned(),
                    reason: format!("read failed after line {line_no}: {e}"),
                })?;
            line_no += 1;
            let text = line.trim_end_matches(['\n', '\r']);
            if n == 0 || text.is_empty() {
                if !entry.name.is_empty() {
                    self.insert(std::mem::take(&mut entry), origin)?;
                }
                if n == 0 {
                    break;
                }
                continue;
            }
            if text.starts_with([' ', '\t']) {
                continue; // continuation of a multi-line field we do not keep (Description…)
            }
            let Some((field, value)) = text.split_once(':') else {
                return Err(Error::IndexSyntax {
                    origin: origin.to_owned(),
                    reason: format!("line {line_no} is not `Field: value`"),
                });
            };
            let value = value.trim();
            let slot = match field {
                "Package" => &mut entry.name,
                "Version" => &mut entry.version,
                "Architecture" => &mut entry.architecture,
                "Priority" => &mut entry.priority,
                "Depends" => &mut entry.depends,
                "Pre-Depends" => &mut entry.pre_depends,
                "Provides" => &mut entry.provides,
                "Filename" => &mut entry.filename,
                "SHA256" => &mut entry.sha256,
                "Size" => {
                    entry.size = value.parse().map_err(|_| Error::IndexSyntax {
                        origin: origin.to_owned(),
                        reason: format!("line {line_no}: Size `{value}` is not a number"),
                    })?;
                    continue;
                }
                _ => continue,
            };
            value.clone_into(slot);
        }
        for list in self.providers.values_mut() {
            list.sort();
            list.dedup();
        }
        Ok(())
    }

    fn insert(&mut self, entry: PackageEntry, origin: &str) -> Result<()> {
        if entry.filename.is_empty() || entry.sha256.len() != 64 || entry.version.is_empty() {
            return Err(Error::IndexSyntax {
                origin: origin.to_owned(),
                reason: format!("package `{}` lacks Version, Filename or SHA256", entry.name),
            });
        }
        if self.packages.contains_key(&entry.name) {
            tracing::debug!(package = %entry.name, "duplicate stanza in {origin}; keeping the first");
            return Ok(());
        }
        for group in parse_relations(&entry.provides) {
            for provided in group {
                self.providers
                    .entry(provided)
                    .or_default()
                    .push(entry.name.clone());
            }
        }
        self.packages.insert(entry.name.clone(), entry);
        Ok(())
    }
}

/// Parses a relationship field (`Depends`, `Pre-Depends`, `Provides`) into groups of
/// alternatives: `a (>= 1) | b:any, c [amd64]` → `[[a, b], [c]]`.
///
/// Version constraints, architecture qualifiers (`:any`, `:amd64`), architecture
/// restrictions (`[…]`) and build profiles (`<…>`) are dropped: a suite holds one
/// version of each package and a per-architecture index only lists installable ones.
pub fn parse_relations(field: &str) -> Vec<Vec<String>> {
    field
        .split(',')
        .map(|group| {
            group
                .split('|')
                .filter_map(|alt| {
                    let name = alt
                        .trim()
                        .split([' ', '(', '[', '<'])
                        .next()
                        .unwrap_or_default();
                    let name = name.split(':').next().unwrap_or_default();
                    (!name.is_empty()).then(|| name.to_owned())
                })
                .collect::<Vec<_>>()
        })
        .filter(|group| !group.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_drop_versions_and_qualifiers() {
        let got = parse_relations(
            "libc6 (>= 2.38), debconf (>= 0.5) | debconf-2.0, python3:any, foo [amd64] <!nocheck>",
        );
        assert_eq!(
            got,
            vec![
                vec!["libc6".to_owned()],
                vec!["debconf".to_owned(), "debconf-2.0".to_owned()],
                vec!["python3".to_owned()],
                vec!["foo".to_owned()],
            ]
        );
        assert!(parse_relations("").is_empty());
    }

    #[test]
    fn release_reads_sha256_and_date_through_armor() {
        let text = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nOrigin: Debian\nDate: Sat, 12 Sep 2026 07:55:41 UTC\nMD5Sum:\n 2d47 9678380 main/binary-amd64/Packages.xz\nSHA256:\n 7778 9678380 main/binary-amd64/Packages.xz\n abcd 12 main/binary-arm64/Packages.xz\nAcquire-By-Hash: yes\n-----BEGIN PGP SIGNATURE-----\n\nxyz\n";
        let r = parse_release(text);
        assert_eq!(r.date, "Sat, 12 Sep 2026 07:55:41 UTC");
        assert_eq!(
            r.sha256["main/binary-amd64/Packages.xz"],
            ("7778".to_owned(), 9678380)
        );
        assert_eq!(r.sha256.len(), 2);
    }

    #[test]
    fn packages_parse_keeps_first_and_records_providers() {
        let sha = "a".repeat(64);
        let text = format!(
            "Package: mawk\nVersion: 1.3\nArchitecture: amd64\nPriority: required\nProvides: awk\nDescription: x\n more text\nFilename: pool/m/mawk.deb\nSize: 10\nSHA256: {sha}\n\n\
             Package: gawk\nVersion: 5\nArchitecture: amd64\nProvides: awk\nFilename: pool/g/gawk.deb\nSize: 20\nSHA256: {sha}\n\n\
             Package: mawk\nVersion: 0.1\nArchitecture: amd64\nFilename: pool/m/old.deb\nSize: 1\nSHA256: {sha}\n"
        );
        let mut idx = PackageIndex::default();
        idx.extend_from(text.as_bytes(), "test").unwrap();
        assert_eq!(idx.packages["mawk"].version, "1.3");
        assert_eq!(idx.packages["mawk"].size, 10);
        assert_eq!(
            idx.providers["awk"],
            vec!["gawk".to_owned(), "mawk".to_owned()]
        );
    }

    #[test]
    fn packages_parse_rejects_incomplete_stanzas() {
        let mut idx = PackageIndex::default();
        let err = idx
            .extend_from("Package: x\nVersion: 1\n".as_bytes(), "test")
            .unwrap_err();
        assert!(matches!(err, Error::IndexSyntax { .. }));
    }
}
