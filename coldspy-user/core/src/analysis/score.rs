//! The inefficiency score, 0-100: high when a package's import time is a
//! large share and its use is small.
//!
//! Both scores are `100 × (self_by_dot_us / max self_by_dot_us over the
//! top-level packages) × (1 − use)`:
//! - `runtime` (default): use = samples of the application's work touching
//!   the package / all such samples (see [`super::usage`]). A library's own
//!   import is not use.
//! - `classic` (the original method): use = all samples touching the package
//!   / all samples, imports included; it hides a package that is expensive to
//!   import and never used afterwards, because its own import samples count.

/// Which score ranks the packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScoreKind {
    /// Use = run-time (non-import) samples touching the package.
    #[default]
    Runtime,
    /// The original method: use = any sample touching the package.
    Classic,
}

/// The score of one package.
pub fn score(self_by_dot_us: u64, max_self_by_dot_us: u64, used: u64, total: u64) -> f64 {
    if max_self_by_dot_us == 0 {
        return 0.0;
    }
    let cost = self_by_dot_us as f64 / max_self_by_dot_us as f64;
    let use_share = if total == 0 {
        0.0
    } else {
        used as f64 / total as f64
    };
    100.0 * cost * (1.0 - use_share.min(1.0))
}

/// A score as the profile and the report show it: one decimal.
pub fn rounded(score: f64) -> f64 {
    (score * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The original method's table for StreamAlert on Lambda (86,689 samples):
    /// (node, score, cumulative samples by dot, cumulative self by dot µs).
    const STREAMALERT: &[(&str, f64, u64, u64)] = &[
        ("policyuniverse", 99.9, 57, 1_109_012),
        ("botocore", 19.1, 223, 212_306),
        ("pathlib2", 18.5, 1, 204_844),
        ("publishers", 10.9, 0, 120_480),
        ("boto3", 9.7, 36, 108_016),
        ("urllib3", 7.0, 433, 78_843),
        ("netaddr", 4.6, 13, 50_565),
    ];

    #[test]
    fn classic_score_reproduces_the_streamalert_table() {
        let max = STREAMALERT.iter().map(|r| r.3).max().unwrap();
        for &(node, expected, by_dot, self_by_dot) in STREAMALERT {
            let got = score(self_by_dot, max, by_dot, 86_689);
            assert!(
                (got - expected).abs() <= 0.1,
                "{node}: {got:.2} vs {expected}"
            );
        }
    }

    #[test]
    fn unused_packages_score_by_cost_alone_and_use_lowers_it() {
        assert_eq!(score(50, 100, 0, 10), 50.0);
        assert_eq!(score(100, 100, 10, 10), 0.0);
        assert_eq!(score(100, 100, 0, 0), 100.0);
        assert_eq!(score(0, 0, 0, 0), 0.0);
    }
}
