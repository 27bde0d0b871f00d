//! Module-level computation at import: a module whose own import time goes
//! to running its top-level code on the CPU — a table built in a loop, a
//! thousand regular expressions compiled (ua-parser's `_regexes`), a model
//! constructed — rather than to importing other modules or reading data.
//!
//! Measured, not guessed: the samples taken in the module's body
//! (`<module>` frame of its file) while it was imported, nested imports left
//! out, times the sampling period, must account for at least
//! [`MIN_COMPUTE_US`], and for half of the samples taken while it was the
//! innermost import (samples against samples: on a loaded machine its wall
//! time grows, its samples do not). The evidence
//! names the lines they were on and the function the body called in most
//! of them. An import whose time follows its data files is
//! [`super::data_read`]'s, not this.

use super::data_read;
use super::tree::Tree;
use crate::model::profile::Profile;

/// CPU time of a module body at import below which it is not this pattern.
pub const MIN_COMPUTE_US: u64 = 20_000;
/// Samples of the body needed before its time is estimated from them.
pub const MIN_BODY_SAMPLES: u64 = 3;

/// Where a module body's import-time CPU went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Computation {
    /// The module's file.
    pub file: String,
    /// Samples in its body during its import (nested imports left out).
    pub samples: u64,
    /// Their time: samples × the sampling period, at most the import's own time.
    pub cpu_us: u64,
    /// First and last line of the body that a sample was on.
    pub lines: (u32, u32),
    /// The line with the most samples, and its samples.
    pub hot_line: (u32, u64),
    /// The function the body called in most samples, and in how many.
    pub callee: Option<(String, u64)>,
}

/// Whether import record `i` spends its own time computing in its body.
pub fn of_import(profile: &Profile, tree: &Tree, i: usize) -> Option<Computation> {
    let r = tree.records.get(i)?;
    if r.self_us < MIN_COMPUTE_US || profile.meta.sample_hz == 0 {
        return None;
    }
    if data_read::of_import(profile, tree, i).is_some() {
        return None;
    }
    let row = profile.modules.iter().find(|m| m.name == r.module)?;
    let file = row.file.as_deref()?;
    let lines = data_read::body_lines(profile, file);
    let samples: u64 = lines.values().map(|(n, _)| n).sum();
    let estimate = samples * 1_000_000 / u64::from(profile.meta.sample_hz);
    // Half of the samples taken while it was the innermost import: samples
    // against samples, so a loaded machine (wall time longer than CPU
    // time) does not hide the computation.
    if samples < MIN_BODY_SAMPLES
        || estimate < MIN_COMPUTE_US
        || samples.saturating_mul(2) < row.import_samples
    {
        return None;
    }
    // Sampling's estimate, bounded by the import's own measured time.
    let cpu_us = estimate.min(r.self_us);
    let sampled = lines.iter().filter(|(_, (n, _))| *n > 0);
    let first = sampled.clone().map(|(&l, _)| l).min()?;
    let last = sampled.clone().map(|(&l, _)| l).max()?;
    let (&hot, &(hot_samples, _)) =
        sampled.max_by_key(|(&l, (n, _))| (*n, std::cmp::Reverse(l)))?;
    // By name: the frames of one function at different lines are one callee.
    let mut callees: std::collections::BTreeMap<String, u64> = Default::default();
    for (_, per) in lines.values() {
        for (&f, &n) in per {
            if let Some(frame) = profile.cct.frames.get(f) {
                *callees.entry(frame.dotted_name()).or_default() += n;
            }
        }
    }
    let callee = callees
        .into_iter()
        .max_by(|(a, n), (b, m)| n.cmp(m).then_with(|| b.cmp(a)));
    Some(Computation {
        file: file.to_string(),
        samples,
        cpu_us,
        lines: (first, last),
        hot_line: (hot, hot_samples),
        callee,
    })
}
