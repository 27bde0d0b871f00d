//! Statistics for cold-start measurements, each stated with its method:
//! linear-interpolated percentiles, a percentile-bootstrap 95 % confidence
//! interval of the median (2,000 resamples, fixed seed: reproducible), and
//! the two-sided Mann–Whitney U test (normal approximation with tie
//! correction and continuity correction).

/// Linear-interpolated quantile (`q` in 0..=1) of unsorted values.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    quantile_sorted(&v, q)
}

/// The linear-interpolated quantile of values already sorted ascending
/// (what [`quantile`] computes after its sort).
pub fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// The median.
pub fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

/// A small deterministic generator (xorshift64*) for resampling.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The largest vertical distance between the empirical CDFs of `a` and `b`
/// (the Kolmogorov–Smirnov statistic D, 0 to 1).
pub fn ecdf_distance(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let ecdf = |v: &[f64], x: f64| v.iter().filter(|&&y| y <= x).count() as f64 / v.len() as f64;
    a.iter()
        .chain(b)
        .map(|&x| (ecdf(a, x) - ecdf(b, x)).abs())
        .fold(0.0, f64::max)
}

/// Resamples used by the bootstrap.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// Percentile-bootstrap 95 % confidence interval of `statistic`.
fn bootstrap(values: &[Vec<f64>], statistic: impl Fn(&[Vec<f64>]) -> f64) -> (f64, f64) {
    if values.iter().any(|v| v.is_empty()) {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let mut estimates = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    let mut resampled: Vec<Vec<f64>> = values.iter().map(|v| vec![0.0; v.len()]).collect();
    for _ in 0..BOOTSTRAP_RESAMPLES {
        for (src, dst) in values.iter().zip(resampled.iter_mut()) {
            for slot in dst.iter_mut() {
                *slot = src[rng.below(src.len())];
            }
        }
        estimates.push(statistic(&resampled));
    }
    estimates.sort_by(f64::total_cmp);
    (
        quantile_sorted(&estimates, 0.025),
        quantile_sorted(&estimates, 0.975),
    )
}

/// 95 % confidence interval of the median.
pub fn median_ci(values: &[f64]) -> (f64, f64) {
    bootstrap(&[values.to_vec()], |v| median(&v[0]))
}

/// 95 % confidence interval of `median(b) - median(a)`.
pub fn median_difference_ci(a: &[f64], b: &[f64]) -> (f64, f64) {
    bootstrap(&[a.to_vec(), b.to_vec()], |v| median(&v[1]) - median(&v[0]))
}

/// Result of a Mann–Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of the first sample.
    pub u: f64,
    /// The standardized statistic.
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// Two-sided Mann–Whitney U test (normal approximation, tie and continuity corrected).
pub fn mann_whitney(a: &[f64], b: &[f64]) -> MannWhitney {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let mut all: Vec<(f64, usize)> = a
        .iter()
        .map(|&x| (x, 0))
        .chain(b.iter().map(|&x| (x, 1)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = all.len();
    let mut ranks = vec![0.0; n];
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for r in ranks.iter_mut().take(j + 1).skip(i) {
            *r = rank;
        }
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let r1: f64 = all
        .iter()
        .zip(&ranks)
        .filter(|((_, g), _)| *g == 0)
        .map(|(_, r)| r)
        .sum();
    let u = r1 - n1 * (n1 + 1.0) / 2.0;
    let mean = n1 * n2 / 2.0;
    let nn = n1 + n2;
    let variance = n1 * n2 / 12.0 * ((nn + 1.0) - tie_term / (nn * (nn - 1.0)));
    if variance <= 0.0 {
        return MannWhitney { u, z: 0.0, p: 1.0 };
    }
    let diff = u - mean;
    let corrected = (diff.abs() - 0.5).max(0.0) * diff.signum();
    let z = corrected / variance.sqrt();
    MannWhitney {
        u,
        z,
        p: (2.0 * (1.0 - normal_cdf(z.abs()))).min(1.0),
    }
}

/// Standard normal CDF (Abramowitz and Stegun 7.1.26 erf, |error| < 1.5e-7).
fn normal_cdf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.3275911 * x.abs() / std::f64::consts::SQRT_2);
    let poly = t
        * (0.254829592
            + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    let erf = 1.0 - poly * (-(x * x) / 2.0).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 0.9), 3.7);
        assert_eq!(quantile(&v, 0.0), 1.0);
    }

    /// Expected values from scipy 1.18.1: `scipy.stats.mannwhitneyu(a, b,
    /// alternative="two-sided", method="asymptotic", use_continuity=True)`.
    #[test]
    fn mann_whitney_matches_scipy() {
        let a = [1.1, 2.3, 2.9, 3.1, 4.0, 4.2];
        let b = [5.0, 5.5, 6.1, 6.3, 3.5, 7.2, 8.0];
        let r = mann_whitney(&a, &b);
        assert_eq!(r.u, 2.0);
        assert!((r.p - 0.008221).abs() < 0.0002, "p = {}", r.p);
        // With ties: U = 3.5, p = 0.012999.
        let a2 = [1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0];
        let b2 = [3.0, 4.0, 4.0, 5.0, 5.0, 6.0];
        let r2 = mann_whitney(&a2, &b2);
        assert_eq!(r2.u, 3.5);
        assert!((r2.p - 0.012999).abs() < 0.0002, "p = {}", r2.p);
        assert!(mann_whitney(&a, &a).p > 0.9);
    }

    #[test]
    fn bootstrap_interval_brackets_the_median_and_is_reproducible() {
        let v: Vec<f64> = (0..100).map(|i| 100.0 + (i % 17) as f64).collect();
        let (lo, hi) = median_ci(&v);
        let m = median(&v);
        assert!(lo <= m && m <= hi, "{lo} {m} {hi}");
        assert_eq!(median_ci(&v), (lo, hi));
        let shifted: Vec<f64> = v.iter().map(|x| x + 10.0).collect();
        let (dlo, dhi) = median_difference_ci(&v, &shifted);
        assert!(dlo <= 10.0 && 10.0 <= dhi);
    }

    #[test]
    fn ecdf_distance_is_the_largest_gap_between_the_cdfs() {
        let a = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(ecdf_distance(&a, &a), 0.0);
        // Disjoint samples: the CDFs are 1 apart once all of `a` is below.
        assert_eq!(ecdf_distance(&a, &[10.0, 11.0]), 1.0);
        // Shifted by one of four points: a gap of 1/4.
        assert_eq!(ecdf_distance(&a, &[2.0, 3.0, 4.0, 5.0]), 0.25);
    }
}
