//! The four patterns of wasted start-up time, with evidence and advice:
//! never used, rarely used, feature redundancy, library choice. Curated
//! knowledge (which packages are features without use in a function, which
//! have faster equivalents) lives in `data/knowledge.json`.

use super::changes::ImportStatement;
use super::module_tree::PackageNode;
use crate::model::profile::{ImportRecord, Profile};
use serde::Deserialize;
use std::sync::OnceLock;

/// Import time below which a package is not worth a finding.
pub const MIN_COST_US: u64 = 1_000;
/// Share of run-time samples below which a package counts as rarely used.
pub const RARE_SHARE: f64 = 0.05;

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
}

impl Pattern {
    /// The name used in the profile and the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::NeverUsed => "never_used",
            Pattern::RarelyUsed => "rarely_used",
            Pattern::FeatureRedundancy => "feature_redundancy",
            Pattern::LibraryChoice => "library_choice",
        }
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

/// How a package came to be imported: its first import, the package that
/// pulled it in, and the top-level import statement the chain started from.
struct Provenance {
    /// `file:line` of the package's own import statement (when in user code).
    site: Option<String>,
    /// The other package whose import pulled this one in.
    importer: Option<String>,
    /// The top-level import (depth 0) of the chain, and its `file:line`.
    root: Option<(String, Option<String>)>,
    /// The statement that started the chain (the package's own, or the root's).
    statement: Option<ImportStatement>,
}

/// Index of the import each import record was nested in.
fn parent_indices(imports: &[ImportRecord]) -> Vec<Option<usize>> {
    (0..imports.len())
        .map(|i| {
            let r = &imports[i];
            let parent = r.parent.as_deref()?;
            (0..i).rev().find(|&j| {
                let c = &imports[j];
                c.module == parent
                    && c.tid == r.tid
                    && c.start_us <= r.start_us
                    && c.end_us >= r.end_us
            })
        })
        .collect()
}

fn provenance(profile: &Profile, parents: &[Option<usize>], package: &str) -> Provenance {
    let site_of = |r: &ImportRecord| r.site.as_ref().map(|s| format!("{}:{}", s.file, s.line));
    let Some(first) = profile.imports.iter().position(|i| i.module == package) else {
        return Provenance {
            site: None,
            importer: None,
            root: None,
            statement: None,
        };
    };
    let mut importer = None;
    let mut at = first;
    while let Some(up) = parents[at] {
        let module = &profile.imports[up].module;
        if importer.is_none() && super::module_tree::top_level(module) != package {
            importer = Some(super::module_tree::top_level(module).to_string());
        }
        at = up;
    }
    let root = &profile.imports[at];
    Provenance {
        site: site_of(&profile.imports[first]).filter(|_| parents[first].is_none()),
        importer,
        root: (at != first).then(|| (root.module.clone(), site_of(root))),
        statement: site_of(root).map(|site| ImportStatement {
            module: root.module.clone(),
            site,
            cumulative_us: root.cumulative_us,
        }),
    }
}

fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

/// Classifies each package and writes its evidence and advice.
pub fn classify(packages: &mut [PackageNode], profile: &Profile) {
    let runtime_total = profile
        .stats
        .samples
        .saturating_sub(profile.stats.import_samples);
    let lazy_keyword = python_at_least(&profile.meta.python_version, 3, 15);
    let parents = parent_indices(&profile.imports);
    for p in packages.iter_mut() {
        if p.self_by_dot_us < MIN_COST_US {
            continue;
        }
        let origin = provenance(profile, &parents, &p.name);
        let where_ = match (&origin.site, &origin.importer, &origin.root) {
            (Some(site), _, _) => format!("the `import {}` at {site}", p.name),
            (None, Some(importer), Some((root, Some(site)))) => {
                format!("the `import {root}` at {site}, which pulls it in through {importer}")
            }
            (None, Some(importer), _) => format!("{importer}, which pulls it in"),
            (None, None, Some((root, Some(site)))) => format!("the `import {root}` at {site}"),
            _ => format!("the import of {}", p.name),
        };
        let share = if runtime_total == 0 {
            0.0
        } else {
            p.runtime_samples_by_dot as f64 / runtime_total as f64
        };
        let evidence = format!(
            "{} of import time over {} module{}; {} of {} run-time samples touch it",
            ms(p.self_by_dot_us),
            p.module_count,
            if p.module_count == 1 { "" } else { "s" },
            p.runtime_samples_by_dot,
            runtime_total
        );
        let k = knowledge();
        if let Some(entry) = k.library_choice.iter().find(|e| e.package == p.name) {
            p.pattern = Some(Pattern::LibraryChoice);
            p.advice = Some(format!(
                "Replace {} with {}: {} ({} of import time; {}).",
                p.name,
                entry.replacement,
                entry.reason,
                ms(p.self_by_dot_us),
                where_
            ));
        } else if let Some(entry) = k.feature_redundancy.iter().find(|e| e.package == p.name) {
            p.pattern = Some(Pattern::FeatureRedundancy);
            p.advice = Some(format!(
                "{} provides {}: {}. Remove it and {} ({} of import time).",
                p.name,
                entry.feature,
                entry.reason,
                where_,
                ms(p.self_by_dot_us)
            ));
        } else if p.runtime_samples_by_dot == 0 {
            p.pattern = Some(Pattern::NeverUsed);
            p.advice = Some(format!(
                "Remove {where_}: no run-time sample touched {} ({} of import time).",
                p.name,
                ms(p.self_by_dot_us)
            ));
        } else if share < RARE_SHARE {
            p.pattern = Some(Pattern::RarelyUsed);
            let caller = p
                .callers
                .iter()
                .max_by_key(|(frame, n)| (**n, usize::MAX - **frame))
                .and_then(|(&frame, _)| profile.cct.frames.get(frame));
            let at = caller
                .map(|f| format!("inside {} ({}:{})", f.shown_name(), f.file, f.line))
                .unwrap_or_else(|| "in the function that uses it".to_string());
            let keyword = if lazy_keyword {
                format!(", or write `lazy import {}` (PEP 810)", p.name)
            } else {
                String::new()
            };
            p.advice = Some(format!(
                "Import {} lazily {at} instead of {where_}{keyword}: {:.1} % of run-time samples use it, {} of import time.",
                p.name,
                share * 100.0,
                ms(p.self_by_dot_us)
            ));
        }
        if p.pattern.is_some() {
            p.evidence = Some(evidence);
            p.statement = origin.statement;
        }
    }
}

fn python_at_least(version: &str, major: u32, minor: u32) -> bool {
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
    fn version_comparison() {
        assert!(python_at_least("3.15.2", 3, 15));
        assert!(!python_at_least("3.12.1", 3, 15));
        assert!(!python_at_least("", 3, 15));
    }
}
