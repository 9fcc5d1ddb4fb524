//! Dependency closure: which packages a recipe installs for one architecture.
//!
//! Starting from the recipe's `packages`, follow `Depends` and `Pre-Depends`
//! breadth-first. For a group of alternatives `a | b` the first usable one wins: an
//! excluded name satisfies the group by decision (nothing is installed), a name already
//! selected satisfies it, then a real package, then a provider of a virtual name
//! (preferring one already selected, then by Debian priority, then by name). The result
//! is sorted by name, so the same index and recipe always give the same closure.

use std::collections::{BTreeSet, VecDeque};

use super::error::{Error, Result};
use super::index::{parse_relations, PackageEntry, PackageIndex};
use super::recipe::Recipe;

/// What a group of alternatives resolves to.
enum Choice {
    /// Satisfied without installing anything new (excluded, or already selected).
    Satisfied,
    /// Install this package.
    Install(String),
}

/// Computes the sorted dependency closure of `recipe.packages` in `index`.
pub fn resolve<'a>(
    recipe: &Recipe,
    index: &'a PackageIndex,
    arch: &str,
) -> Result<Vec<&'a PackageEntry>> {
    let excluded: BTreeSet<&str> = recipe.exclude.iter().map(String::as_str).collect();
    let mut selected: BTreeSet<String> = BTreeSet::new();
    let mut queue: VecDeque<String> = VecDeque::new();

    // Requested names first, so a requested provider wins over other providers.
    for name in &recipe.packages {
        let real = if index.packages.contains_key(name) {
            Some(name.clone())
        } else {
            best_provider(index, name, &excluded, &selected)
        };
        let Some(real) = real else {
            return Err(Error::UnknownPackage {
                recipe: recipe.name.clone(),
                package: name.clone(),
                suite: recipe.suite.clone(),
                arch: arch.to_owned(),
            });
        };
        if selected.insert(real.clone()) {
            queue.push_back(real);
        }
    }

    while let Some(name) = queue.pop_front() {
        let Some(entry) = index.packages.get(&name) else {
            continue;
        };
        let relations = format!("{}, {}", entry.pre_depends, entry.depends);
        for group in parse_relations(&relations) {
            match choose(index, &group, &excluded, &selected) {
                Some(Choice::Satisfied) => {}
                Some(Choice::Install(dep)) => {
                    if selected.insert(dep.clone()) {
                        queue.push_back(dep);
                    }
                }
                None => {
                    return Err(Error::Unsatisfiable {
                        recipe: recipe.name.clone(),
                        package: name.clone(),
                        dependency: group.join(" | "),
                        suite: recipe.suite.clone(),
                        arch: arch.to_owned(),
                    })
                }
            }
        }
    }
    Ok(selected
        .iter()
        .filter_map(|n| index.packages.get(n))
        .collect())
}

fn choose(
    index: &PackageIndex,
    group: &[String],
    excluded: &BTreeSet<&str>,
    selected: &BTreeSet<String>,
) -> Option<Choice> {
    for alt in group {
        if excluded.contains(alt.as_str()) || selected.contains(alt) {
            return Some(Choice::Satisfied);
        }
        if index.packages.contains_key(alt) {
            return Some(Choice::Install(alt.clone()));
        }
        if let Some(providers) = index.providers.get(alt) {
            if providers.iter().any(|p| selected.contains(p)) {
                return Some(Choice::Satisfied);
            }
            if providers.iter().all(|p| excluded.contains(p.as_str())) {
                return Some(Choice::Satisfied); // e.g. debconf-2.0, provided only by debconf
            }
            if let Some(p) = best_provider(index, alt, excluded, selected) {
                return Some(Choice::Install(p));
            }
        }
    }
    None
}

/// The provider of `virtual_name` to install: one already selected, else the one with the
/// highest Debian priority, else the first by name.
fn best_provider(
    index: &PackageIndex,
    virtual_name: &str,
    excluded: &BTreeSet<&str>,
    selected: &BTreeSet<String>,
) -> Option<String> {
    let providers = index.providers.get(virtual_name)?;
    let usable = providers.iter().filter(|p| !excluded.contains(p.as_str()));
    usable
        .min_by_key(|p| {
            let priority = index.packages.get(*p).map_or("", |e| e.priority.as_str());
            (
                !selected.contains(*p),
                priority_rank(priority),
                (*p).clone(),
            )
        })
        .cloned()
}

fn priority_rank(priority: &str) -> u8 {
    match priority {
        "required" => 0,
        "important" => 1,
        "standard" => 2,
        "optional" => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debian::recipe::parse_recipe;

    fn index() -> PackageIndex {
        let sha = "0".repeat(64);
        let stanzas = [
            (
                "app",
                "",
                "libc6 (>= 2), debconf (>= 0.5) | debconf-2.0, media-types | mime-support, awk",
                "",
            ),
            ("libc6", "", "libgcc-s1", ""),
            ("libgcc-s1", "", "", ""),
            ("debconf", "", "perl-base", "debconf-2.0"),
            ("media-types", "", "", ""),
            ("mime-support", "", "", ""),
            ("gawk", "optional", "", "awk"),
            ("mawk", "required", "", "awk"),
            ("unused", "", "", ""),
        ];
        let text: String = stanzas
            .iter()
            .map(|(name, prio, deps, prov)| {
                format!("Package: {name}\nVersion: 1\nArchitecture: amd64\nPriority: {prio}\nDepends: {deps}\nProvides: {prov}\nFilename: pool/{name}.deb\nSize: 1\nSHA256: {sha}\n\n")
            })
            .collect();
        let mut idx = PackageIndex::default();
        idx.extend_from(text.as_bytes(), "test").unwrap();
        idx
    }

    fn recipe(packages: &str, exclude: &str) -> Recipe {
        parse_recipe(&format!(
            "name = \"t\"\nmirror = \"http://m\"\nsuite = \"s\"\narchitectures = [\"amd64\"]\npackages = [{packages}]\nexclude = [{exclude}]\n"
        ))
        .unwrap()
    }

    fn names(r: &Recipe, idx: &PackageIndex) -> Vec<String> {
        resolve(r, idx, "amd64")
            .unwrap()
            .iter()
            .map(|e| e.name.clone())
            .collect()
    }

    #[test]
    fn closure_follows_first_alternative_and_priority() {
        let idx = index();
        let r = recipe("\"app\"", "\"debconf\"");
        assert_eq!(
            names(&r, &idx),
            ["app", "libc6", "libgcc-s1", "mawk", "media-types"]
        );
    }

    #[test]
    fn requested_provider_wins_and_excluded_alternative_installs_nothing() {
        let idx = index();
        let r = recipe("\"app\", \"gawk\"", "\"debconf\"");
        assert!(!names(&r, &idx).contains(&"mawk".to_owned()));
        let r = recipe("\"app\"", "");
        let err = resolve(&r, &idx, "amd64").unwrap_err();
        assert!(
            matches!(err, Error::Unsatisfiable { ref dependency, .. } if dependency == "perl-base")
        );
    }

    #[test]
    fn unknown_requested_package_is_an_error() {
        let idx = index();
        let r = recipe("\"nope\"", "");
        assert!(matches!(
            resolve(&r, &idx, "amd64"),
            Err(Error::UnknownPackage { .. })
        ));
    }
}
