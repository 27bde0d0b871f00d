//! Statistics of a benchmark: percentiles, a bootstrap confidence interval of
//! the median, and the Mann–Whitney U test, each stated with its method.
//!
//! Everything is deterministic: the bootstrap uses a fixed-seed generator, so
//! the same measurements always give the same intervals.

use serde::{Deserialize, Serialize};

/// Bootstrap resamples drawn for every interval.
pub const BOOTSTRAP_RESAMPLES: usize = 10_000;

/// Seed of the bootstrap generator (fixed: results are reproducible).
const BOOTSTRAP_SEED: u64 = 0x00c0_1d5b_e4c4_0001;

/// The methods behind the numbers, written into the JSON output.
pub const METHODS: &str = "percentiles: linear interpolation between closest ranks \
(numpy's default); median CI: 95 % percentile bootstrap, 10000 resamples, fixed seed; \
change CI: the same bootstrap of the difference (and ratio) of medians, both variants \
resampled independently; test: two-sided Mann–Whitney U, exact distribution when \
a variant has at most 8 runs and no ties, else normal approximation with tie and \
continuity correction (as scipy.stats.mannwhitneyu, method='auto'); significant when p < 0.05";

/// Significance level of the comparison.
pub const ALPHA: f64 = 0.05;

/// The `q`-quantile (0 ≤ q ≤ 1) of sorted values, interpolating linearly
/// between the closest ranks (numpy's default, Hyndman–Fan type 7).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    assert!(!sorted.is_empty(), "quantile of an empty sample");
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    let weight = position - lower as f64;
    sorted[lower] + (sorted[upper] - sorted[lower]) * weight
}

/// Sorts a copy of the values (they must not be NaN).
pub fn sorted(values: &[f64]) -> Vec<f64> {
    let mut copy = values.to_vec();
    copy.sort_by(f64::total_cmp);
    copy
}

/// The median of unsorted values.
pub fn median(values: &[f64]) -> f64 {
    quantile_sorted(&sorted(values), 0.5)
}

/// A closed interval (a 95 % confidence interval here).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl Interval {
    /// True when the interval contains `value`.
    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }
}

/// Summary of one measured quantity over the successful runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of values.
    pub count: usize,
    /// Median.
    pub median: f64,
    /// 95 % bootstrap confidence interval of the median.
    pub median_ci95: Interval,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 for a single value.
    pub stddev: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Summary {
    /// Summarizes values; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Summary> {
        if values.is_empty() {
            return None;
        }
        let sorted = sorted(values);
        let count = sorted.len();
        let mean = sorted.iter().sum::<f64>() / count as f64;
        let variance = if count > 1 {
            sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1) as f64
        } else {
            0.0
        };
        let mut rng = SplitMix64::new(BOOTSTRAP_SEED);
        let median_ci95 = percentile_interval(
            (0..BOOTSTRAP_RESAMPLES)
                .map(|_| resampled_median(&sorted, &mut rng))
                .collect(),
        );
        Some(Summary {
            count,
            median: quantile_sorted(&sorted, 0.5),
            median_ci95,
            p90: quantile_sorted(&sorted, 0.90),
            p99: quantile_sorted(&sorted, 0.99),
            mean,
            stddev: variance.sqrt(),
            min: sorted[0],
            max: sorted[count - 1],
        })
    }
}

/// How a candidate differs from a baseline: difference and ratio of medians
/// with bootstrap intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MedianChange {
    /// median(candidate) − median(baseline).
    pub difference: f64,
    /// 95 % bootstrap CI of the difference.
    pub difference_ci95: Interval,
    /// median(candidate) / median(baseline) − 1 (−0.25 = 25 % less).
    pub relative: f64,
    /// 95 % bootstrap CI of the relative change.
    pub relative_ci95: Interval,
}

/// The change of the median from `baseline` to `candidate`; `None` if either is empty.
pub fn median_change(baseline: &[f64], candidate: &[f64]) -> Option<MedianChange> {
    if baseline.is_empty() || candidate.is_empty() {
        return None;
    }
    let (base_sorted, cand_sorted) = (sorted(baseline), sorted(candidate));
    let (base_median, cand_median) = (
        quantile_sorted(&base_sorted, 0.5),
        quantile_sorted(&cand_sorted, 0.5),
    );
    let mut rng = SplitMix64::new(BOOTSTRAP_SEED);
    let mut differences = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    let mut ratios = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    for _ in 0..BOOTSTRAP_RESAMPLES {
        let base = resampled_median(&base_sorted, &mut rng);
        let cand = resampled_median(&cand_sorted, &mut rng);
        differences.push(cand - base);
        ratios.push(relative_change(base, cand));
    }
    Some(MedianChange {
        difference: cand_median - base_median,
        difference_ci95: percentile_interval(differences),
        relative: relative_change(base_median, cand_median),
        relative_ci95: percentile_interval(ratios),
    })
}

fn relative_change(base: f64, candidate: f64) -> f64 {
    if base == 0.0 {
        0.0
    } else {
        candidate / base - 1.0
    }
}

/// The 2.5 % and 97.5 % quantiles of bootstrap statistics.
fn percentile_interval(statistics: Vec<f64>) -> Interval {
    let statistics = sorted(&statistics);
    Interval {
        low: quantile_sorted(&statistics, 0.025),
        high: quantile_sorted(&statistics, 0.975),
    }
}

/// The median of one resample (with replacement) of `values`.
fn resampled_median(values: &[f64], rng: &mut SplitMix64) -> f64 {
    let mut resample: Vec<f64> = (0..values.len())
        .map(|_| values[rng.below(values.len())])
        .collect();
    resample.sort_by(f64::total_cmp);
    quantile_sorted(&resample, 0.5)
}

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast, and good enough to
/// draw bootstrap indices; no dependency needed for it.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform index below `n` (Lemire's multiply-shift; the bias is < n / 2⁶⁴).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// How the p-value of a Mann–Whitney test was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MannWhitneyMethod {
    /// The exact distribution of U (small samples without ties).
    Exact,
    /// Normal approximation with tie and continuity correction.
    Asymptotic,
}

/// Result of a two-sided Mann–Whitney U test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MannWhitney {
    /// U of the first sample: its rank sum minus n₁(n₁+1)/2 (scipy's statistic).
    pub u: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// How the p-value was computed.
    pub method: MannWhitneyMethod,
}

/// Two-sided Mann–Whitney U test of `x` against `y` (scipy's `method="auto"`:
/// exact when either sample has at most 8 values and there are no ties).
/// `None` if either sample is empty.
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (ranks, tie_groups) = midranks(x.iter().chain(y).copied().collect());
    let rank_sum_x: f64 = ranks[..n1].iter().sum();
    let u1 = rank_sum_x - (n1 * (n1 + 1)) as f64 / 2.0;
    let u2 = (n1 * n2) as f64 - u1;
    let u_big = u1.max(u2);
    let has_ties = tie_groups.iter().any(|&t| t > 1);
    let (p_value, method) = if (n1 <= 8 || n2 <= 8) && !has_ties {
        (
            exact_upper_tail(n1, n2, u_big.round() as usize) * 2.0,
            MannWhitneyMethod::Exact,
        )
    } else {
        let n = (n1 + n2) as f64;
        let tie_term: f64 = tie_groups
            .iter()
            .map(|&t| (t as f64).powi(3) - t as f64)
            .sum();
        let variance = (n1 * n2) as f64 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
        let mean = (n1 * n2) as f64 / 2.0;
        let p = if variance <= 0.0 {
            1.0
        } else {
            let z = (u_big - mean - 0.5) / variance.sqrt();
            2.0 * normal_upper_tail(z)
        };
        (p, MannWhitneyMethod::Asymptotic)
    };
    Some(MannWhitney {
        u: u1,
        p_value: p_value.clamp(0.0, 1.0),
        method,
    })
}

/// Mid-ranks (1-based, ties get their average rank) in input order, and the
/// size of every group of equal values.
fn midranks(values: Vec<f64>) -> (Vec<f64>, Vec<usize>) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut groups = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let average_rank = (start + end + 1) as f64 / 2.0;
        for &index in &order[start..end] {
            ranks[index] = average_rank;
        }
        groups.push(end - start);
        start = end;
    }
    (ranks, groups)
}

/// P(U ≥ u) under H₀ for samples of sizes n1 and n2, from the exact count of
/// arrangements: f(m, n, u) = f(m−1, n, u−n) + f(m, n−1, u).
fn exact_upper_tail(n1: usize, n2: usize, u: usize) -> f64 {
    let max_u = n1 * n2;
    // counts[n][u] for the current m, built up from m = 0.
    let mut previous: Vec<Vec<f64>> = (0..=n2)
        .map(|_| {
            let mut row = vec![0.0; max_u + 1];
            row[0] = 1.0;
            row
        })
        .collect();
    for m in 1..=n1 {
        let mut current = vec![vec![0.0; max_u + 1]; n2 + 1];
        current[0][0] = 1.0;
        for n in 1..=n2 {
            for value in 0..=m * n {
                let from_m = if value >= n {
                    previous[n][value - n]
                } else {
                    0.0
                };
                current[n][value] = from_m + current[n - 1][value];
            }
        }
        previous = current;
    }
    let counts = &previous[n2];
    let total: f64 = counts.iter().sum();
    counts[u.min(max_u)..].iter().sum::<f64>() / total
}

/// P(Z > z) for a standard normal Z.
fn normal_upper_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function, by the Chebyshev fit of Numerical
/// Recipes (2nd ed., §6.2, `erfcc`): fractional error below 1.2 × 10⁻⁷
/// everywhere, plenty for a p-value.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let polynomial = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let value = t * polynomial.exp();
    if x >= 0.0 {
        value
    } else {
        2.0 - value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, relative: f64) -> bool {
        (actual - expected).abs() <= relative * expected.abs().max(1e-300)
    }

    #[test]
    fn quantiles_match_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4, 10], [50, 90, 99]) = [3.0, 7.6, 9.76]
        let values = sorted(&[10.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!(quantile_sorted(&values, 0.5), 3.0);
        assert!((quantile_sorted(&values, 0.9) - 7.6).abs() < 1e-12);
        assert!((quantile_sorted(&values, 0.99) - 9.76).abs() < 1e-12);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn summary_of_constant_values_has_a_point_interval() {
        let summary = Summary::of(&[5.0; 20]).unwrap();
        assert_eq!(summary.median, 5.0);
        assert_eq!(
            summary.median_ci95,
            Interval {
                low: 5.0,
                high: 5.0
            }
        );
        assert_eq!(summary.stddev, 0.0);
        assert!(Summary::of(&[]).is_none());
    }

    #[test]
    fn bootstrap_interval_covers_the_median_and_is_reproducible() {
        let values: Vec<f64> = (0..101).map(|i| 100.0 + f64::from(i % 17) * 1.5).collect();
        let first = Summary::of(&values).unwrap();
        let second = Summary::of(&values).unwrap();
        assert_eq!(first, second, "fixed seed: same interval every time");
        assert!(first.median_ci95.contains(first.median));
        assert!(first.median_ci95.high - first.median_ci95.low < 10.0);
    }

    #[test]
    fn median_change_of_shifted_samples() {
        let base: Vec<f64> = (0..50).map(|i| 300.0 + f64::from(i % 10)).collect();
        let candidate: Vec<f64> = base.iter().map(|v| v - 150.0).collect();
        let change = median_change(&base, &candidate).unwrap();
        assert_eq!(change.difference, -150.0);
        assert!(change.difference_ci95.contains(-150.0));
        assert!(change.difference_ci95.high < 0.0);
        assert!((change.relative - (154.5 / 304.5 - 1.0)).abs() < 1e-12);
    }

    // Reference values computed with scipy 1.18.1 (Python 3.12.1):
    //   from scipy.stats import mannwhitneyu
    //   mannwhitneyu(x, y)   # alternative='two-sided', method='auto'

    #[test]
    fn mann_whitney_exact_small_samples() {
        // mannwhitneyu([1.1, 2.3, 3.2, 4.8], [5.5, 6.1, 7.4, 8.9, 9.3])
        //   -> statistic=0.0, pvalue=0.015873015873015872 (exact: 2/126)
        let result = mann_whitney_u(&[1.1, 2.3, 3.2, 4.8], &[5.5, 6.1, 7.4, 8.9, 9.3]).unwrap();
        assert_eq!(result.method, MannWhitneyMethod::Exact);
        assert_eq!(result.u, 0.0);
        assert!(close(result.p_value, 0.015873015873015872, 1e-12));
        // mannwhitneyu([3, 7, 1, 9, 5], [2, 8, 4, 6, 10, 12])
        //   -> statistic=10.0, pvalue=0.42857142857142855
        let result = mann_whitney_u(
            &[3.0, 7.0, 1.0, 9.0, 5.0],
            &[2.0, 8.0, 4.0, 6.0, 10.0, 12.0],
        )
        .unwrap();
        assert_eq!(result.u, 10.0);
        assert!(close(result.p_value, 0.42857142857142855, 1e-12));
    }

    #[test]
    fn mann_whitney_asymptotic_with_ties() {
        // x = [19, 22, 16, 29, 24, 20, 22, 24, 30, 28]
        // y = [20, 11, 17, 12, 22, 13, 15, 16, 18, 14]
        // mannwhitneyu(x, y) -> statistic=91.0, pvalue=0.002143450713482958
        let x = [19.0, 22.0, 16.0, 29.0, 24.0, 20.0, 22.0, 24.0, 30.0, 28.0];
        let y = [20.0, 11.0, 17.0, 12.0, 22.0, 13.0, 15.0, 16.0, 18.0, 14.0];
        let result = mann_whitney_u(&x, &y).unwrap();
        assert_eq!(result.method, MannWhitneyMethod::Asymptotic);
        assert_eq!(result.u, 91.0);
        assert!(close(result.p_value, 0.002143450713482958, 1e-5));
    }

    #[test]
    fn mann_whitney_asymptotic_large_identical_distributions() {
        // x = [i % 7 for i in range(30)], y = [(i * 3) % 7 for i in range(25)]
        // mannwhitneyu(x, y) -> statistic=361.5, pvalue=0.8242931674340902
        let x: Vec<f64> = (0..30).map(|i| f64::from(i % 7)).collect();
        let y: Vec<f64> = (0..25).map(|i| f64::from((i * 3) % 7)).collect();
        let result = mann_whitney_u(&x, &y).unwrap();
        assert_eq!(result.u, 361.5);
        assert!(close(result.p_value, 0.8242931674340902, 1e-5));
    }

    #[test]
    fn mann_whitney_asymptotic_without_ties() {
        // x = [100 + ((i * 37) % 23) * 0.7 for i in range(20)]
        // y = [103 + ((i * 53) % 29) * 0.61 for i in range(20)]
        // mannwhitneyu(x, y) -> statistic=113.0, pvalue=0.019292379706561613
        let x: Vec<f64> = (0..20)
            .map(|i| 100.0 + f64::from((i * 37) % 23) * 0.7)
            .collect();
        let y: Vec<f64> = (0..20)
            .map(|i| 103.0 + f64::from((i * 53) % 29) * 0.61)
            .collect();
        let result = mann_whitney_u(&x, &y).unwrap();
        assert_eq!(result.method, MannWhitneyMethod::Asymptotic);
        assert_eq!(result.u, 113.0);
        assert!(close(result.p_value, 0.019292379706561613, 1e-5));
        assert!(mann_whitney_u(&[], &[1.0]).is_none());
    }

    #[test]
    fn erfc_known_values() {
        // math.erfc(0.5) = 0.4795001221869535, math.erfc(-1) = 1.842700792949715,
        // math.erfc(3) = 2.2090496998585438e-05
        assert!(close(erfc(0.5), 0.4795001221869535, 2e-7));
        assert!(close(erfc(-1.0), 1.842700792949715, 2e-7));
        assert!(close(erfc(3.0), 2.2090496998585438e-05, 2e-7));
    }
}
