//! The ranked module table for a terminal (readable at 100 columns): global
//! stats, one row per top-level package, then the advice.

use super::Exporter;
use crate::analysis::{Analysis, ScoreKind};
use crate::model::profile::Profile;
use crate::model::verification::Verification;
use std::io::Write;

/// Terminal table writer.
pub struct Terminal {
    /// Rows shown.
    pub top: usize,
}

impl Default for Terminal {
    fn default() -> Self {
        Self { top: 15 }
    }
}

fn ms(us: u64) -> String {
    format!("{:.1}", us as f64 / 1000.0)
}

/// The end of a path, at most `width` characters.
fn tail(path: &str, width: usize) -> String {
    let chars: Vec<char> = path.chars().collect();
    if chars.len() <= width {
        return path.to_string();
    }
    let keep: String = chars[chars.len() - (width - 1)..].iter().collect();
    format!("…{keep}")
}

/// The table's short name of a pattern.
fn short_pattern(pattern: Option<crate::analysis::patterns::Pattern>) -> &'static str {
    use crate::analysis::patterns::Pattern;
    match pattern {
        Some(Pattern::NeverUsed) => "unused",
        Some(Pattern::RarelyUsed) => "rare",
        Some(Pattern::FeatureRedundancy) => "feature",
        Some(Pattern::LibraryChoice) => "choice",
        Some(Pattern::UnusedSubpackage) => "sub",
        Some(Pattern::ImportTimeIo) => "io",
        Some(Pattern::ImportTimeCompute) => "compute",
        Some(Pattern::NetworkAtInit) => "network",
        None => "-",
    }
}

/// The global stats lines.
pub fn write_stats(profile: &Profile, out: &mut dyn Write) -> std::io::Result<()> {
    let m = &profile.meta;
    let s = &profile.stats;
    writeln!(
        out,
        "CPython {} pid {} · {} samples ({} during imports, {} native) · {} lost",
        if m.python_version.is_empty() {
            "?"
        } else {
            &m.python_version
        },
        m.pid,
        s.samples,
        s.import_samples,
        s.native_samples,
        m.lost_samples
    )?;
    let import_us: u64 = profile
        .imports
        .iter()
        .filter(|i| i.depth == 0)
        .map(|i| i.cumulative_us)
        .sum();
    // A script has no invocations: its time after init is not "exec".
    let after_init = if s.exec_count == 0 {
        format!("after init {} ms (a script)", ms(s.exec_us))
    } else {
        format!("exec {} ms ({} invocations)", ms(s.exec_us), s.exec_count)
    };
    writeln!(
        out,
        "init {} ms · {after_init} · {} modules imported in {} ms · {} files opened",
        ms(s.init_us),
        profile.imports.len(),
        ms(import_us),
        s.file_count
    )
}

impl Exporter for Terminal {
    fn write(
        &self,
        profile: &Profile,
        analysis: &Analysis,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        self.write_to(profile, analysis, out)
    }
}

impl Terminal {
    /// Writes the table; control characters in names (a module called
    /// `\x1b]0;…\x07`) are shown escaped, never sent to the terminal.
    pub fn write_to(
        &self,
        profile: &Profile,
        analysis: &Analysis,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        let mut raw = Vec::new();
        self.write_raw(profile, analysis, &mut raw)?;
        out.write_all(super::escape::terminal_text(&String::from_utf8_lossy(&raw)).as_bytes())
    }

    fn write_raw(
        &self,
        profile: &Profile,
        analysis: &Analysis,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        write_stats(profile, out)?;
        write_changes(analysis, &profile.verifications, out)?;
        let score_name = match analysis.score_kind {
            ScoreKind::Runtime => "score (run-time use)",
            ScoreKind::Classic => "score (classic)",
        };
        writeln!(out)?;
        writeln!(
            out,
            "{:>5} {:>6} {:>6} {:>7} {:>8} {:>8} {:<7} {:<20} file",
            "score", "smpls", "by dot", "self ms", "dot ms", "imp ms", "pattern", "package"
        )?;
        let shown: Vec<_> = analysis.packages.iter().take(self.top).collect();
        for p in &shown {
            writeln!(
                out,
                "{:>5.1} {:>6} {:>6} {:>7} {:>8} {:>8} {:<7} {:<20} {}",
                p.score,
                p.samples,
                p.runtime_samples_by_dot,
                ms(p.self_us),
                ms(p.self_by_dot_us),
                ms(p.cumulative_us),
                short_pattern(p.pattern),
                tail(&p.name, 20),
                tail(p.file.as_deref().unwrap_or("-"), 24),
            )?;
        }
        if analysis.packages.len() > shown.len() {
            writeln!(
                out,
                "… {} more packages (--top N)",
                analysis.packages.len() - shown.len()
            )?;
        }
        writeln!(out, "{score_name}.")?;
        writeln!(
            out,
            "smpls, by dot: run-time samples in the top module, in any module of the package"
        )?;
        writeln!(
            out,
            "self, dot, imp ms: self import time of the top module, summed over the package,"
        )?;
        writeln!(out, "  cumulative time of the top module's import")?;
        writeln!(
            out,
            "pattern: unused, rare (rarely used), feature (redundancy), choice (library choice),\n  sub (unused sub-package), io (data read at import),\n  compute (module-level computation at import), network (network at init)"
        )?;
        Ok(())
    }
}

/// "What to change" first: each statement worth changing with its saving,
/// the exact edit, the evidence and, when it was verified by experiment
/// (`record --verify`), the measured result; then the program's other
/// import statements (used: their cost and unused sub-dependencies), then
/// the interpreter's and runner's own imports, apart.
pub fn write_changes(
    analysis: &Analysis,
    verifications: &[Verification],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let exact = if analysis.exact {
        "; use during invocations is exact (runner hook)"
    } else {
        ""
    };
    writeln!(
        out,
        "\nwhat to change ({} samples of the application's work{exact}):",
        analysis.evidence_samples
    )?;
    let changes: Vec<_> = analysis.changes().collect();
    if changes.is_empty() {
        writeln!(
            out,
            "  nothing: no import statement of the program is worth changing"
        )?;
    }
    for f in &changes {
        // The headline fits 100 columns (the site is shortened); the
        // indented detail may run on.
        let pattern = f.pattern.map(|p| p.as_str()).unwrap_or("");
        let saving = f.saving_text();
        let head = format!("  {pattern}: `{}` at : {saving}", f.module);
        let site = tail(
            &f.site.to_string(),
            98usize.saturating_sub(head.chars().count()).max(12),
        );
        writeln!(out, "  {pattern}: `{}` at {site}: {saving}", f.module)?;
        writeln!(out, "    {}", f.advice.as_deref().unwrap_or(""))?;
        if !f.first_party {
            writeln!(out, "    reached from your statement at {}", f.via)?;
        }
        let statement = f.site.to_string();
        if let Some(v) = verifications
            .iter()
            .find(|v| v.is_for(&f.module, &statement))
        {
            writeln!(out, "    {}", v.summary)?;
        }
    }
    let rows: Vec<_> = analysis
        .findings
        .iter()
        .filter(|f| f.pattern.is_none())
        .collect();
    if !rows.is_empty() {
        writeln!(out, "\nyour other import statements (nothing to change):")?;
        for f in rows.iter().take(10) {
            let site = tail(&f.site.to_string(), 60);
            writeln!(out, "  {site}")?;
            writeln!(out, "    {}", f.row())?;
        }
    }
    let s = &analysis.startup;
    if s.modules > 0 {
        writeln!(
            out,
            "\ninterpreter start-up and runner (not the application's): {} modules, {} ms\n    {}{}",
            s.modules,
            ms(s.cumulative_us),
            s.names.join(", "),
            if s.names.len() < s.modules { ", …" } else { "" }
        )?;
    }
    Ok(())
}
