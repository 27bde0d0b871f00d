//! The answer: modules grouped into packages by dot ([`module_tree`]), the
//! inefficiency score ([`score`]) and the four patterns with advice
//! ([`patterns`]). [`analyze`] fills the analysis fields of a profile and
//! returns the ranked packages.

pub mod changes;
pub mod module_tree;
pub mod origin;
pub mod patterns;
pub mod score;

use crate::model::profile::Profile;
pub use module_tree::PackageNode;
pub use score::ScoreKind;

/// The ranked result of an analysis.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Top-level packages, highest score first.
    pub packages: Vec<PackageNode>,
    /// Which score ranked them.
    pub score_kind: ScoreKind,
}

/// Analyses a profile: fills `modules[].{cumulative_samples_by_dot, score,
/// pattern, advice}` for top-level packages and returns the ranking.
pub fn analyze(profile: &mut Profile, kind: ScoreKind) -> Analysis {
    let mut packages = module_tree::build(profile);
    score::apply(&mut packages, profile, kind);
    patterns::classify(&mut packages, profile);
    packages.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(b.self_by_dot_us.cmp(&a.self_by_dot_us))
            .then(a.name.cmp(&b.name))
    });
    for package in &packages {
        if let Some(row) = profile.modules.iter_mut().find(|m| m.name == package.name) {
            row.cumulative_samples_by_dot = Some(package.runtime_samples_by_dot);
            row.score = Some((package.score * 10.0).round() / 10.0);
            row.pattern = package.pattern.map(|p| p.as_str().to_string());
            row.advice = package.advice.clone();
        }
    }
    Analysis {
        packages,
        score_kind: kind,
    }
}
