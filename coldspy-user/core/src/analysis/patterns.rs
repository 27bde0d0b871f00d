//! The four patterns of wasted start-up time, with evidence and advice:
//! never used, rarely used, feature redundancy, library choice. Curated
//! knowledge (which packages are features without use in a function, which
//! have faster equivalents) lives in `data/knowledge.json`.

use super::changes::ImportStatement;
use super::module_tree::PackageNode;
use super::origin::{is_first_party, origin_of, Origin};
use crate::model::profile::Profile;
use serde::Deserialize;
use std::sync::OnceLock;

/// Import time below which a package is not worth a finding.
pub const MIN_COST_US: u64 = 1_000;
/// Share of run-time samples below which a package counts as rarely used.
pub const RARE_SHARE: f64 = 0.05;
/// "Never used" needs the 95 % upper bound of the unseen share at or under
/// this: with 0 of N run-time samples that bound is 1 − 0.05^(1/N), so at
/// least 29 run-time samples (under 10 %, said with the verdict); fewer is
/// not enough evidence. (At 11 samples a run-time dependency of a real
/// function, called briefly on every invocation, went unseen.)
pub const MAX_UNSEEN_SHARE: f64 = 0.10;

/// The 95 % upper bound of a share never seen in `samples` draws.
pub fn unseen_share_bound(samples: u64) -> f64 {
    if samples == 0 {
        1.0
    } else {
        1.0 - 0.05f64.powf(1.0 / samples as f64)
    }
}

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

/// The package's first import, when its statement is in first-party code.
fn own_statement(profile: &Profile, package: &str) -> Option<ImportStatement> {
    let record = profile.imports.iter().find(|i| i.module == package)?;
    let site = record.site.as_ref().filter(|s| is_first_party(&s.file))?;
    Some(ImportStatement {
        module: record.module.clone(),
        site: format!("{}:{}", site.file, site.line),
        cumulative_us: record.cumulative_us,
    })
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
    for p in packages.iter_mut() {
        if p.self_by_dot_us < MIN_COST_US {
            continue;
        }
        // Only an installed package or the program's own module can be a
        // finding: the standard library is part of its importer's cost.
        let package_origin = p.file.as_deref().map(origin_of);
        if !matches!(package_origin, Some(Origin::Installed | Origin::FirstParty)) {
            continue;
        }
        // Only a statement the user can edit: the package's own import in
        // first-party code. A dependency pulled in by another package is part
        // of that package's cost, never told "remove".
        let Some(statement) = own_statement(profile, &p.name) else {
            continue;
        };
        let evidence = Evidence::of(p, runtime_total);
        let installed = package_origin == Some(Origin::Installed);
        match verdict(p, profile, &statement, &evidence, installed) {
            Verdict::Finding(pattern, advice) => {
                p.pattern = Some(pattern);
                p.advice = Some(advice);
                p.evidence = Some(evidence.text);
                p.statement = Some(statement);
            }
            Verdict::NotEnoughEvidence(advice) => {
                p.advice = Some(advice);
                p.evidence = Some(evidence.text);
            }
            Verdict::Used => {}
        }
    }
}

/// What the samples say about one package.
struct Evidence {
    /// Run-time samples of the recording.
    runtime_total: u64,
    /// Their share touching the package.
    share: f64,
    /// The 95 % upper bound of the share when none touched it.
    bound: f64,
    /// "not seen in N run-time samples: under X % …" or "K of N …".
    seen: String,
    /// The evidence line of the report.
    text: String,
}

impl Evidence {
    fn of(p: &PackageNode, runtime_total: u64) -> Self {
        let share = if runtime_total == 0 {
            0.0
        } else {
            p.runtime_samples_by_dot as f64 / runtime_total as f64
        };
        let bound = unseen_share_bound(runtime_total);
        let seen = if p.runtime_samples_by_dot == 0 {
            format!(
                "not seen in {runtime_total} run-time sample{}: under {:.0} % of run time at 95 % confidence",
                if runtime_total == 1 { "" } else { "s" },
                bound * 100.0
            )
        } else {
            format!(
                "{} of {runtime_total} run-time samples touch it",
                p.runtime_samples_by_dot
            )
        };
        let text = format!(
            "{} of import time over {} module{}; {seen}",
            ms(p.self_by_dot_us),
            p.module_count,
            if p.module_count == 1 { "" } else { "s" },
        );
        Self {
            runtime_total,
            share,
            bound,
            seen,
            text,
        }
    }
}

/// The outcome for one package with an editable statement.
enum Verdict {
    /// A pattern and its advice.
    Finding(Pattern, String),
    /// No verdict: too few run-time samples; the advice says so.
    NotEnoughEvidence(String),
    /// Used enough at run time: nothing to say.
    Used,
}

fn verdict(
    p: &PackageNode,
    profile: &Profile,
    statement: &ImportStatement,
    evidence: &Evidence,
    installed: bool,
) -> Verdict {
    let where_ = format!("the `import {}` at {}", p.name, statement.site);
    // What the statement costs: its import with everything first imported
    // under it (a dependency shared with an earlier import is charged to
    // that one).
    let cost = format!(
        "{} of import time with what it imports",
        ms(statement.cumulative_us.max(p.self_by_dot_us))
    );
    let k = knowledge();
    let seen = &evidence.seen;
    if let Some(entry) = k
        .library_choice
        .iter()
        .find(|e| installed && e.package == p.name)
    {
        return Verdict::Finding(
            Pattern::LibraryChoice,
            format!(
                "Replace {} with {}: {} ({cost}; {where_}).",
                p.name, entry.replacement, entry.reason
            ),
        );
    }
    if let Some(entry) = k
        .feature_redundancy
        .iter()
        .find(|e| installed && e.package == p.name)
    {
        return Verdict::Finding(
            Pattern::FeatureRedundancy,
            format!(
                "{} provides {}: {}. Remove it and {where_} ({cost}).",
                p.name, entry.feature, entry.reason
            ),
        );
    }
    if p.runtime_samples_by_dot == 0 && evidence.bound > MAX_UNSEEN_SHARE {
        // Prefer no verdict to a wrong one.
        return Verdict::NotEnoughEvidence(format!(
            "Not enough evidence for a verdict on {} ({seen}); record more invocations (--invocations) or a higher --rate.",
            p.name
        ));
    }
    if p.runtime_samples_by_dot == 0 {
        return Verdict::Finding(
            Pattern::NeverUsed,
            format!("Remove {where_}: {} was {seen} ({cost}).", p.name),
        );
    }
    if evidence.share >= RARE_SHARE || evidence.runtime_total == 0 {
        return Verdict::Used;
    }
    rarely_used(p, profile, &where_, &cost, evidence.share)
}

/// Lazy-import advice for a package a few run-time samples use: where it is
/// called from, and the PEP 810 keyword where the interpreter has it.
fn rarely_used(
    p: &PackageNode,
    profile: &Profile,
    where_: &str,
    cost: &str,
    share: f64,
) -> Verdict {
    let caller = p
        .callers
        .iter()
        .max_by_key(|(frame, n)| (**n, usize::MAX - **frame))
        .and_then(|(&frame, _)| profile.cct.frames.get(frame));
    let at = caller
        .map(|f| format!("inside {} ({}:{})", f.shown_name(), f.file, f.line))
        .unwrap_or_else(|| "in the function that uses it".to_string());
    let keyword = if python_at_least(&profile.meta.python_version, 3, 15) {
        format!(", or write `lazy import {}` (PEP 810)", p.name)
    } else {
        String::new()
    };
    Verdict::Finding(
        Pattern::RarelyUsed,
        format!(
            "Import {} lazily {at} instead of {where_}{keyword}: {:.1} % of run-time samples use it, {cost}.",
            p.name,
            share * 100.0
        ),
    )
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
