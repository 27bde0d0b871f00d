//! The patterns of wasted start-up time: never used, rarely used, feature
//! redundancy, library choice, an unused sub-package inside a used
//! dependency, data read at import, module-level computation at import and network at init. Curated knowledge (which packages are features without use in
//! a function, which have faster equivalents) lives in `data/knowledge.json`:
//! it adds a reason or a replacement to a measured finding, never a verdict.

use serde::Deserialize;
use std::sync::OnceLock;

/// A pattern of wasted start-up time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Import cost, no run-time use.
    NeverUsed,
    /// Import cost, little run-time use.
    RarelyUsed,
    /// A feature that means nothing in a function.
    FeatureRedundancy,
    /// A slow library with a faster equivalent.
    LibraryChoice,
    /// A heavy sub-package (or dependency) of a used package whose code never
    /// ran: the statement to change is inside the dependency.
    UnusedSubpackage,
    /// An import that spends its time reading data files (a package
    /// `__init__` json-loading a table): load the data on first use.
    ImportTimeIo,
    /// An import that spends its time running its module-level code on the
    /// CPU (a table built, a thousand regexes compiled): compute on first use.
    ImportTimeCompute,
    /// A network connection opened during init: the cold start waits for it.
    NetworkAtInit,
}

impl Pattern {
    /// The name used in the profile and the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::NeverUsed => "never_used",
            Pattern::RarelyUsed => "rarely_used",
            Pattern::FeatureRedundancy => "feature_redundancy",
            Pattern::LibraryChoice => "library_choice",
            Pattern::UnusedSubpackage => "unused_subpackage",
            Pattern::ImportTimeIo => "import_time_io",
            Pattern::ImportTimeCompute => "import_time_compute",
            Pattern::NetworkAtInit => "network_at_init",
        }
    }

    /// Whether findings of this pattern carry a measured saving (a network
    /// exchange's length is not measured).
    pub fn measures_saving(self) -> bool {
        self != Pattern::NetworkAtInit
    }
}

/// A package providing a feature with no use in a function.
#[derive(Debug, Deserialize)]
pub struct FeatureEntry {
    /// Top-level package.
    pub package: String,
    /// What it provides.
    pub feature: String,
    /// Why that is wasted in a function.
    pub reason: String,
    /// Where the claim comes from.
    pub source: String,
}

/// A slow package with a faster equivalent.
#[derive(Debug, Deserialize)]
pub struct ChoiceEntry {
    /// Top-level package.
    pub package: String,
    /// What to use instead.
    pub replacement: String,
    /// Why.
    pub reason: String,
    /// Where the claim comes from.
    pub source: String,
}

/// The curated knowledge file.
#[derive(Debug, Deserialize)]
pub struct Knowledge {
    /// Feature redundancy entries.
    pub feature_redundancy: Vec<FeatureEntry>,
    /// Library choice entries.
    pub library_choice: Vec<ChoiceEntry>,
}

/// The built-in knowledge.
pub fn knowledge() -> &'static Knowledge {
    static KNOWLEDGE: OnceLock<Knowledge> = OnceLock::new();
    KNOWLEDGE.get_or_init(|| {
        serde_json::from_str(include_str!("../../data/knowledge.json"))
            .expect("data/knowledge.json is valid (checked by a unit test)")
    })
}

/// Whether `version` (`3.15.0`) is at least `major.minor`.
pub fn python_at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut parts = version.split('.').filter_map(|p| p.parse::<u32>().ok());
    match (parts.next(), parts.next()) {
        (Some(a), Some(b)) => (a, b) >= (major, minor),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knowledge_covers_at_least_25_packages_each_with_a_reason_and_source() {
        let k = knowledge();
        assert!(k.feature_redundancy.len() + k.library_choice.len() >= 25);
        for e in &k.feature_redundancy {
            assert!(
                !e.reason.is_empty() && !e.source.is_empty(),
                "{}",
                e.package
            );
        }
        for e in &k.library_choice {
            assert!(
                !e.reason.is_empty() && !e.source.is_empty(),
                "{}",
                e.package
            );
        }
        assert!(k
            .library_choice
            .iter()
            .any(|e| e.package == "pkg_resources"));
    }

    #[test]
    fn knowledge_curated_overrides_measurement_never_and_names_no_stdlib_backport() {
        // Failure 10: an entry whose "replacement" is a lazy import is a verdict
        // copied from one study, not a faster equivalent.
        for e in &knowledge().library_choice {
            assert!(
                !e.replacement.to_lowercase().contains("lazy import"),
                "{}: {}",
                e.package,
                e.replacement
            );
        }
        // Failure 3: a backport entry only applies to the PyPI package, which
        // the analysis tells from the standard module by its file.
        assert_eq!(
            crate::origin::of_module("dataclasses", Some("/usr/lib/python3.12/dataclasses.py")),
            crate::origin::Origin::Stdlib
        );
    }

    #[test]
    fn version_comparison() {
        assert!(python_at_least("3.15.2", 3, 15));
        assert!(!python_at_least("3.12.1", 3, 15));
        assert!(!python_at_least("", 3, 15));
    }
}
