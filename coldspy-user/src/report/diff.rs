//! `coldspy diff before.json after.json`: what an optimisation changed, per
//! top-level package and in total, sorted by gain (import time saved).

use crate::analysis::module_tree::ModuleNode;
use crate::analysis::{Analysis, ScoreKind};
use crate::export::text::{count, fit, ms};
use crate::export::ExportError;
use clap::Args;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `coldspy diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The profile before the change.
    pub before: PathBuf,
    /// The profile after the change.
    pub after: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = DiffFormat::Terminal)]
    pub format: DiffFormat,
    /// Write to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Which samples count as use in the scores.
    #[arg(long, value_enum, default_value_t = ScoreKind::RunTime)]
    pub score: ScoreKind,
    /// Terminal: how many packages to list.
    #[arg(long, default_value_t = 25, value_name = "N")]
    pub top: usize,
    /// Terminal: list every package that changed.
    #[arg(long, conflicts_with = "top")]
    pub all: bool,
}

impl DiffArgs {
    /// The row limit (`None`: all).
    pub fn top_limit(&self) -> Option<usize> {
        (!self.all).then_some(self.top)
    }
}

/// Output formats of `coldspy diff`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// A table for a terminal.
    #[default]
    Terminal,
    /// The diff as JSON.
    Json,
}

/// One package on one side.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Side {
    /// Import time (self, by dot).
    pub import_us: u64,
    /// Run-time samples by dot.
    pub run_time_samples: u64,
    /// Score.
    pub score: f64,
}

impl Side {
    fn of(node: &ModuleNode) -> Self {
        Self {
            import_us: node.self_by_dot_us,
            run_time_samples: node.cumulative_samples_by_dot,
            score: node.score,
        }
    }
}

/// One top-level package in both profiles.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PackageDiff {
    /// Package name.
    pub name: String,
    /// Before the change (None: not imported).
    pub before: Option<Side>,
    /// After the change (None: no longer imported).
    pub after: Option<Side>,
    /// Import time saved (negative: it got slower).
    pub gain_us: i64,
}

/// A before/after pair of totals.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Change {
    /// Before.
    pub before: u64,
    /// After.
    pub after: u64,
}

impl Change {
    fn new(before: u64, after: u64) -> Self {
        Self { before, after }
    }
}

/// What changed between two profiles.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProfileDiff {
    /// Initialization time.
    pub init_us: Change,
    /// Import time of all packages.
    pub import_us: Change,
    /// Execution time.
    pub exec_us: Change,
    /// Modules imported.
    pub modules: Change,
    /// Files opened.
    pub files_opened: Change,
    /// Samples.
    pub samples: Change,
    /// Packages whose numbers changed, largest gain first.
    pub packages: Vec<PackageDiff>,
}

impl ProfileDiff {
    /// Compares two analyses.
    pub fn of(before: &Analysis, after: &Analysis) -> Self {
        let mut by_name: BTreeMap<&str, (Option<Side>, Option<Side>)> = BTreeMap::new();
        for node in &before.tree.roots {
            by_name.entry(&node.name).or_default().0 = Some(Side::of(node));
        }
        for node in &after.tree.roots {
            by_name.entry(&node.name).or_default().1 = Some(Side::of(node));
        }
        let mut packages: Vec<PackageDiff> = by_name
            .into_iter()
            .filter(|(_, (b, a))| b != a)
            .map(|(name, (b, a))| PackageDiff {
                name: name.to_string(),
                gain_us: b.map_or(0, |s| s.import_us as i64) - a.map_or(0, |s| s.import_us as i64),
                before: b,
                after: a,
            })
            .collect();
        packages.sort_by(|x, y| y.gain_us.cmp(&x.gain_us).then_with(|| x.name.cmp(&y.name)));
        let (b, a) = (&before.stats, &after.stats);
        Self {
            init_us: Change::new(b.init_us, a.init_us),
            import_us: Change::new(b.import_us, a.import_us),
            exec_us: Change::new(b.exec_us, a.exec_us),
            modules: Change::new(b.modules, a.modules),
            files_opened: Change::new(b.files_opened, a.files_opened),
            samples: Change::new(b.samples, a.samples),
            packages,
        }
    }

    /// Writes the diff.
    pub fn write(
        &self,
        format: DiffFormat,
        top: Option<usize>,
        before: &Path,
        after: &Path,
        out: &mut dyn Write,
    ) -> Result<(), ExportError> {
        match format {
            DiffFormat::Json => {
                serde_json::to_writer_pretty(&mut *out, self)?;
                writeln!(out)?;
                Ok(())
            }
            DiffFormat::Terminal => self.write_terminal(top, before, after, out),
        }
    }

    fn write_terminal(
        &self,
        top: Option<usize>,
        before: &Path,
        after: &Path,
        out: &mut dyn Write,
    ) -> Result<(), ExportError> {
        writeln!(
            out,
            "{}",
            fit(
                &format!("coldspy diff: {} → {}", before.display(), after.display()),
                100
            )
        )?;
        writeln!(
            out,
            "{:<16} {:>12} {:>12} {:>12}",
            "", "before", "after", "change"
        )?;
        // (label, totals, value format, change format): times in ms, counts as integers.
        type Show = fn(u64) -> String;
        type ShowChange = fn(i64) -> String;
        let signed_count: ShowChange = |n| format!("{n:+}");
        let rows: [(&str, Change, Show, ShowChange); 6] = [
            ("init ms", self.init_us, ms, signed_ms),
            ("import ms", self.import_us, ms, signed_ms),
            ("exec ms", self.exec_us, ms, signed_ms),
            ("modules", self.modules, count, signed_count),
            ("files opened", self.files_opened, count, signed_count),
            ("samples", self.samples, count, signed_count),
        ];
        for (label, c, show, show_change) in rows {
            let line = format!(
                "{:<16} {:>12} {:>12} {:>12} {:>8}",
                label,
                show(c.before),
                show(c.after),
                show_change(c.after as i64 - c.before as i64),
                relative(c)
            );
            writeln!(out, "{}", line.trim_end())?;
        }
        writeln!(out)?;
        if self.packages.is_empty() {
            writeln!(out, "No package changed.")?;
            return Ok(());
        }
        writeln!(
            out,
            "{:<24} {:>10} {:>10} {:>9} {:>8} {:>8} {:>6} {:>6}  status",
            "package", "import ms", "→ after", "gain ms", "rt.smp", "→ after", "score", "→"
        )?;
        let shown = top.unwrap_or(self.packages.len()).min(self.packages.len());
        for p in &self.packages[..shown] {
            let side =
                |s: Option<Side>, f: fn(Side) -> String| s.map(f).unwrap_or_else(|| "-".into());
            let status = match (&p.before, &p.after) {
                (Some(_), None) => "removed",
                (None, Some(_)) => "new",
                _ => "",
            };
            let line = format!(
                "{:<24} {:>10} {:>10} {:>9} {:>8} {:>8} {:>6} {:>6}  {}",
                fit(&p.name, 24),
                side(p.before, |s| ms(s.import_us)),
                side(p.after, |s| ms(s.import_us)),
                signed_ms(p.gain_us),
                side(p.before, |s| count(s.run_time_samples)),
                side(p.after, |s| count(s.run_time_samples)),
                side(p.before, |s| format!("{:.1}", s.score)),
                side(p.after, |s| format!("{:.1}", s.score)),
                status
            );
            writeln!(out, "{}", line.trim_end())?;
        }
        if shown < self.packages.len() {
            writeln!(
                out,
                "… {} more packages changed (--all shows them)",
                self.packages.len() - shown
            )?;
        }
        Ok(())
    }
}

/// A signed duration in ms (`+1.5`, `-115.6`).
fn signed_ms(us: i64) -> String {
    format!(
        "{}{}",
        if us < 0 { "-" } else { "+" },
        ms(us.unsigned_abs())
    )
}

/// The relative change (`-42.0 %`), or empty when the base is zero.
fn relative(c: Change) -> String {
    if c.before == 0 {
        return String::new();
    }
    format!(
        "{:+.1} %",
        100.0 * (c.after as f64 - c.before as f64) / c.before as f64
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::module_tree::ModuleTree;
    use crate::analysis::GlobalStats;

    fn analysis(packages: &[(&str, u64)]) -> Analysis {
        Analysis {
            score_kind: ScoreKind::RunTime,
            tree: ModuleTree {
                roots: packages
                    .iter()
                    .map(|(name, us)| ModuleNode {
                        name: name.to_string(),
                        self_by_dot_us: *us,
                        ..ModuleNode::default()
                    })
                    .collect(),
            },
            stats: GlobalStats {
                import_us: packages.iter().map(|p| p.1).sum(),
                ..GlobalStats::default()
            },
            actions: Vec::new(),
        }
    }

    #[test]
    fn packages_are_sorted_by_gain_and_unchanged_ones_dropped() {
        let before = analysis(&[
            ("boto3", 100_000),
            ("json", 5_000),
            ("tqdm", 3_000),
            ("jinja2", 10_000),
        ]);
        let after = analysis(&[("json", 5_000), ("jinja2", 12_000), ("orjson", 1_000)]);
        let d = ProfileDiff::of(&before, &after);
        let names: Vec<(&str, i64)> = d
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.gain_us))
            .collect();
        assert_eq!(
            names,
            [
                ("boto3", 100_000),
                ("tqdm", 3_000),
                ("orjson", -1_000),
                ("jinja2", -2_000)
            ]
        );
        assert_eq!((d.import_us.before, d.import_us.after), (118_000, 18_000));
        let mut text = Vec::new();
        d.write(
            DiffFormat::Terminal,
            None,
            Path::new("a.json"),
            Path::new("b.json"),
            &mut text,
        )
        .unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains("import ms               118.0         18.0       -100.0  -84.7 %"),
            "{text}"
        );
        assert!(text.lines().all(|l| l.chars().count() <= 100));
    }
}
