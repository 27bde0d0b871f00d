//! The inefficiency score (0–100): high when a package's import time is a
//! large share and its use is small.
//!
//! `score = 100 × (self_by_dot_us / max self_by_dot_us over top-level packages)
//!              × (1 − used_samples / total_samples)`
//!
//! The two kinds differ only in what counts as use:
//! - [`ScoreKind::RunTime`] (default): non-import samples with a frame in the
//!   package, over all non-import samples. A package that is expensive to
//!   import and never called afterwards scores as high as its import cost.
//! - [`ScoreKind::Classic`]: the original method, all samples with a frame
//!   in the package (its own import samples included), over all samples.

use serde::Serialize;

/// Which samples count as "use" of a package.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ScoreKind {
    /// Run-time use only: samples taken outside any import.
    #[default]
    #[value(name = "runtime")]
    RunTime,
    /// The original method: every sample, import samples included.
    Classic,
}

impl ScoreKind {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            ScoreKind::RunTime => "runtime",
            ScoreKind::Classic => "classic",
        }
    }
}

/// The score of one node. `max_self_by_dot_us` is the largest import time of
/// a top-level package; a zero total counts as no use.
pub fn score(
    self_by_dot_us: u64,
    max_self_by_dot_us: u64,
    used_samples: u64,
    total_samples: u64,
) -> f64 {
    if max_self_by_dot_us == 0 {
        return 0.0;
    }
    let cost = self_by_dot_us as f64 / max_self_by_dot_us as f64;
    let used = if total_samples == 0 {
        0.0
    } else {
        (used_samples as f64 / total_samples as f64).min(1.0)
    };
    100.0 * cost * (1.0 - used)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The original method's table for StreamAlert on Lambda (86,689 samples):
    /// node, score, cumulative samples by dot, cumulative self by dot µs.
    const STREAMALERT: [(&str, f64, u64, u64); 7] = [
        ("policyuniverse", 99.9, 57, 1_109_012),
        ("botocore", 19.1, 223, 212_306),
        ("pathlib2", 18.5, 1, 204_844),
        ("publishers", 10.9, 0, 120_480),
        ("boto3", 9.7, 36, 108_016),
        ("urllib3", 7.0, 433, 78_843),
        ("netaddr", 4.6, 13, 50_565),
    ];

    #[test]
    fn classic_formula_reproduces_the_streamalert_table() {
        let total_samples = 86_689;
        let max = STREAMALERT.iter().map(|row| row.3).max().unwrap();
        for (node, expected, samples_by_dot, self_by_dot_us) in STREAMALERT {
            let got = score(self_by_dot_us, max, samples_by_dot, total_samples);
            assert!(
                (got - expected).abs() <= 0.1,
                "{node}: score {got:.2}, table says {expected}"
            );
        }
    }

    #[test]
    fn no_use_keeps_the_cost_share_and_full_use_scores_zero() {
        assert_eq!(score(50, 100, 0, 10), 50.0);
        assert_eq!(score(50, 100, 10, 10), 0.0);
        assert_eq!(score(50, 100, 0, 0), 50.0);
        assert_eq!(score(0, 0, 0, 0), 0.0);
    }
}
