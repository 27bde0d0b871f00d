//! `coldspy diff`: what a change did, per package and in total, sorted by gain.

use crate::analysis::{self, ScoreKind};
use crate::model::profile::Profile;
use std::collections::BTreeMap;
use std::io::Write;

fn ms(us: i64) -> String {
    format!("{:+.1}", us as f64 / 1000.0)
}

/// Writes the comparison of two profiles.
pub fn write(
    before: &mut Profile,
    after: &mut Profile,
    top: usize,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let a = analysis::analyze(before, ScoreKind::Runtime);
    let b = analysis::analyze(after, ScoreKind::Runtime);
    let mut rows: BTreeMap<String, [Option<&analysis::PackageNode>; 2]> = BTreeMap::new();
    for p in &a.packages {
        rows.entry(p.name.clone()).or_default()[0] = Some(p);
    }
    for p in &b.packages {
        rows.entry(p.name.clone()).or_default()[1] = Some(p);
    }
    let import_total = |p: &Profile| {
        p.imports
            .iter()
            .filter(|i| i.depth == 0)
            .map(|i| i.cumulative_us as i64)
            .sum::<i64>()
    };
    writeln!(
        out,
        "init {} ms ({:.1} -> {:.1}) · imports {} ms · modules {} -> {} · samples {} -> {}",
        ms(after.stats.init_us as i64 - before.stats.init_us as i64),
        before.stats.init_us as f64 / 1000.0,
        after.stats.init_us as f64 / 1000.0,
        ms(import_total(after) - import_total(before)),
        before.imports.len(),
        after.imports.len(),
        before.stats.samples,
        after.stats.samples
    )?;
    let mut changes: Vec<(String, i64, i64, f64, f64)> = rows
        .into_iter()
        .map(|(name, [x, y])| {
            let cost =
                |p: Option<&analysis::PackageNode>| p.map(|p| p.self_by_dot_us as i64).unwrap_or(0);
            let used = |p: Option<&analysis::PackageNode>| {
                p.map(|p| p.runtime_samples_by_dot as i64).unwrap_or(0)
            };
            let score = |p: Option<&analysis::PackageNode>| p.map(|p| p.score).unwrap_or(0.0);
            (
                name,
                cost(y) - cost(x),
                used(y) - used(x),
                score(x),
                score(y),
            )
        })
        .filter(|c| c.1 != 0 || c.2 != 0)
        .collect();
    changes.sort_by_key(|c| c.1);
    writeln!(
        out,
        "\n{:<24} {:>12} {:>12} {:>15}",
        "package", "import ms", "samples", "score"
    )?;
    for (name, cost, used, s0, s1) in changes.iter().take(top) {
        writeln!(
            out,
            "{:<24} {:>12} {:>+12} {:>6.1} -> {:<6.1}",
            name,
            ms(*cost),
            used,
            s0,
            s1
        )?;
    }
    if changes.is_empty() {
        writeln!(out, "(no package changed)")?;
    }
    Ok(())
}
