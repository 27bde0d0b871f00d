//! Advice verified by experiment: the result of starting the function cold
//! with a finding's module deferred (coldspy's runner, no code change),
//! interleaved with the unchanged function (`coldspy bench --defer`,
//! `coldspy record --verify`), as it is stored in the profile
//! (`verifications[]`) and shown beside the finding.

use serde::{Deserialize, Serialize};

/// What the experiment concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// End-to-end faster (its 95 % CI excludes 0) and the answers identical.
    Verified,
    /// The answers are identical but the end-to-end change's CI includes 0.
    NotSignificant,
    /// The deferral broke the handler, changed its answers, deferred
    /// nothing, or made the start slower.
    NotVerified,
}

/// A change of one phase: deferred minus unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Difference of the medians, ms (negative: faster).
    pub difference_ms: f64,
    /// Its 95 % confidence interval (percentile bootstrap), ms.
    pub ci95_ms: [f64; 2],
}

impl Change {
    /// Whether the CI excludes 0.
    pub fn significant(&self) -> bool {
        self.ci95_ms[0] > 0.0 || self.ci95_ms[1] < 0.0
    }
}

/// What became of one deferred module in the deferred starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeferredModule {
    /// The module.
    pub module: String,
    /// `deferred` (its code did not run at init), `loaded` (it ran at init
    /// anyway), `not_imported` (nothing imported it at init).
    pub state: String,
    /// For `loaded`: the code whose import or attribute read ran it; with
    /// `first_used_in`: the code that first used it in that invocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The first invocation (1-based) that ran a deferred module's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_used_in: Option<u64>,
}

/// One experiment: a finding's modules deferred against the unchanged function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// The finding's module.
    pub module: String,
    /// The finding's statement (`file:line`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    /// The modules deferred.
    pub deferred: Vec<String>,
    /// How: `lazy_loader` (a meta-path finder, CPython ≤ 3.14) or `pep810`
    /// (the lazy-imports filter, 3.15+).
    pub method: String,
    /// Cold starts of each variant that completed.
    pub starts: u64,
    /// The conclusion.
    pub outcome: Outcome,
    /// The line shown beside the finding ("verified: −110 ms init, …").
    pub summary: String,
    /// Init change (process start until the handler is imported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_ms: Option<Change>,
    /// Change of the first invocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_ms: Option<Change>,
    /// End-to-end change (process start until exit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_to_end_ms: Option<Change>,
    /// Whether every answer (the return value, JSON) of both variants was
    /// the same; absent when not comparable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answers_identical: Option<bool>,
    /// What became of each deferred module.
    #[serde(default)]
    pub modules: Vec<DeferredModule>,
}

impl Verification {
    /// Whether this experiment is about `module` at `statement` (`file:line`).
    pub fn is_for(&self, module: &str, statement: &str) -> bool {
        self.module == module && self.statement.as_deref().is_none_or(|s| s == statement)
    }
}

/// `−110 ms` (a true minus sign), one decimal under 10 ms.
pub fn signed_ms(ms: f64) -> String {
    let digits = if ms.abs() < 10.0 { 1 } else { 0 };
    let text = format!("{:+.*}", digits, ms);
    text.replacen('-', "\u{2212}", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_ms_uses_a_minus_sign_and_drops_decimals_past_ten() {
        assert_eq!(signed_ms(-110.4), "\u{2212}110");
        assert_eq!(signed_ms(2.26), "+2.3");
        assert_eq!(signed_ms(-0.04), "\u{2212}0.0");
    }

    #[test]
    fn significance_is_a_ci_that_excludes_zero() {
        let c = |lo, hi| Change {
            difference_ms: 0.0,
            ci95_ms: [lo, hi],
        };
        assert!(c(-20.0, -1.0).significant());
        assert!(c(1.0, 20.0).significant());
        assert!(!c(-20.0, 3.0).significant());
    }
}
