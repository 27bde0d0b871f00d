//! The curated knowledge file (`data/knowledge.toml`): packages whose feature
//! means nothing in a function, and slow libraries with fast equivalents.

use serde::Deserialize;
use std::sync::OnceLock;

/// The file, compiled in so that reports work anywhere.
const KNOWLEDGE_TOML: &str = include_str!("../../data/knowledge.toml");

/// A package whose feature is useless in a function.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeatureEntry {
    /// Top-level package name.
    pub package: String,
    /// The feature (`progress bars`, `CLI framework`, …).
    pub feature: String,
    /// Why it means nothing in a function.
    pub reason: String,
    /// A document describing the package or the fact.
    pub source: String,
    /// A measurement backing the entry, when one was made.
    #[serde(default)]
    pub measured: Option<String>,
}

/// A slow or obsolete library and what to use instead.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LibraryEntry {
    /// Top-level package name.
    pub package: String,
    /// What to use instead.
    pub replacement: String,
    /// Why the replacement is better.
    pub reason: String,
    /// A document stating it.
    pub source: String,
    /// A measurement backing the entry, when one was made.
    #[serde(default)]
    pub measured: Option<String>,
    /// The CPython version from which the replacement exists (`3.11`).
    #[serde(default)]
    pub min_python: Option<String>,
}

/// The whole curated list.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Knowledge {
    /// Feature-redundancy entries.
    pub feature_redundancy: Vec<FeatureEntry>,
    /// Library-choice entries.
    pub library_choice: Vec<LibraryEntry>,
}

impl Knowledge {
    /// The compiled-in list (parsed once; its test guarantees it parses).
    pub fn builtin() -> &'static Knowledge {
        static PARSED: OnceLock<Knowledge> = OnceLock::new();
        PARSED.get_or_init(|| {
            toml::from_str(KNOWLEDGE_TOML).expect("data/knowledge.toml is checked by a unit test")
        })
    }

    /// The feature entry of a top-level package.
    pub fn feature(&self, package: &str) -> Option<&FeatureEntry> {
        self.feature_redundancy
            .iter()
            .find(|e| e.package == package)
    }

    /// The library entry of a top-level package, if its replacement exists
    /// on `python_version` (an unknown version gets the entry).
    pub fn library(
        &self,
        package: &str,
        python_version: Option<(u32, u32)>,
    ) -> Option<&LibraryEntry> {
        self.library_choice.iter().find(|e| {
            e.package == package
                && match (
                    e.min_python.as_deref().and_then(parse_python_version),
                    python_version,
                ) {
                    (Some(min), Some(target)) => target >= min,
                    _ => true,
                }
        })
    }
}

/// `(major, minor)` of a version string such as `3.12.1` or `3.15.0a2`.
pub fn parse_python_version(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.');
    let major = parts.next()?.trim().parse().ok()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_curated_list_parses_and_every_entry_is_sourced() {
        let k: Knowledge = toml::from_str(KNOWLEDGE_TOML).unwrap();
        assert!(k.feature_redundancy.len() + k.library_choice.len() >= 25);
        let mut seen = HashSet::new();
        for (package, reason, source) in k
            .feature_redundancy
            .iter()
            .map(|e| (&e.package, &e.reason, &e.source))
            .chain(
                k.library_choice
                    .iter()
                    .map(|e| (&e.package, &e.reason, &e.source)),
            )
        {
            assert!(seen.insert(package.clone()), "{package} listed twice");
            assert!(
                !package.contains('.'),
                "{package}: entries are top-level packages"
            );
            assert!(!reason.is_empty(), "{package} has no reason");
            assert!(source.starts_with("https://"), "{package} has no source");
        }
        for e in &k.library_choice {
            if let Some(v) = &e.min_python {
                assert!(
                    parse_python_version(v).is_some(),
                    "{}: bad min_python {v}",
                    e.package
                );
            }
        }
    }

    #[test]
    fn library_entries_respect_the_target_version() {
        let k = Knowledge::builtin();
        assert!(k.library("tomli", Some((3, 10))).is_none());
        assert!(k.library("tomli", Some((3, 11))).is_some());
        assert!(k.library("tomli", None).is_some());
        assert_eq!(
            k.feature("tqdm").map(|e| e.feature.as_str()),
            Some("progress bars")
        );
    }

    #[test]
    fn python_versions_parse() {
        assert_eq!(parse_python_version("3.12.1"), Some((3, 12)));
        assert_eq!(parse_python_version("3.15.0a2"), Some((3, 15)));
        assert_eq!(parse_python_version("3.15a1"), Some((3, 15)));
        assert_eq!(parse_python_version(""), None);
    }
}
