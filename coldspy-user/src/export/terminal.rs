//! The terminal report: global stats, then the ranked table (or, with a
//! module filter or `--cct`, the CCT view), readable at 100 columns.

use crate::analysis::module_tree::ModuleNode;
use crate::analysis::patterns::Pattern;
use crate::analysis::{Analysis, ScoreKind};
use crate::export::text::{count, fit, ms, short_path, wrap};
use crate::export::{cct_text, ExportError, Exporter, Report};
use crate::model::profile::{Evidence, Profile};
use std::io::Write;

/// Width the table is laid out for.
pub const WIDTH: usize = 100;

/// The terminal writer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Terminal;

impl Exporter for Terminal {
    fn write(&self, report: &Report<'_>, out: &mut dyn Write) -> Result<(), ExportError> {
        write_stats(report.profile, report.analysis, out)?;
        writeln!(out)?;
        if report.view.cct || report.view.filter.module.is_some() {
            cct_text::write_cct(report.profile, report.view, out)
        } else {
            write_actions(report.analysis, out)?;
            write_table(report.analysis, report.view.top, report.view.depth, out)
        }
    }
}

/// The global stats block.
pub fn write_stats(
    profile: &Profile,
    analysis: &Analysis,
    out: &mut dyn Write,
) -> Result<(), ExportError> {
    let m = &profile.meta;
    let s = &analysis.stats;
    writeln!(
        out,
        "{}",
        fit(&format!("coldspy report: {}", m.command.join(" ")), WIDTH)
    )?;
    writeln!(
        out,
        "{}",
        fit(
            &format!(
                "CPython {} · pid {} · {} Hz · host {} · started {}",
                m.python_version, m.pid, m.sample_hz, m.host, m.started_at
            ),
            WIDTH
        )
    )?;
    writeln!(
        out,
        "samples {} (import {}, run time {}, native {}) · lost {} samples, {} events",
        count(s.samples),
        count(s.import_samples),
        count(s.run_time_samples),
        count(s.native_samples),
        count(s.lost_samples),
        count(s.lost_events)
    )?;
    let invocations = match s.exec_count {
        0 => String::new(),
        1 => " (1 invocation)".to_string(),
        n => format!(" ({} invocations)", count(n)),
    };
    writeln!(
        out,
        "init {} ms · exec {} ms{invocations} · {} files opened",
        ms(s.init_us),
        ms(s.exec_us),
        count(s.files_opened)
    )?;
    writeln!(
        out,
        "{} modules imported in {} ms (self times of all top-level packages)",
        count(s.modules),
        ms(s.import_us)
    )?;
    let score = match analysis.score_kind {
        ScoreKind::RunTime => {
            "runtime (use = run-time samples in the package; --score classic: the original)"
        }
        ScoreKind::Classic => "classic (use = all samples in the package, import samples included)",
    };
    writeln!(out, "score: {score}")?;
    Ok(())
}

/// "What to change": the findings grouped by import statement, largest saving first.
pub fn write_actions(analysis: &Analysis, out: &mut dyn Write) -> Result<(), ExportError> {
    if analysis.actions.is_empty() {
        return Ok(());
    }
    writeln!(out, "What to change, largest saving first:")?;
    for (i, action) in analysis.actions.iter().enumerate() {
        let label = Pattern::parse(&action.pattern)
            .map(Pattern::label)
            .unwrap_or("");
        let head = format!(
            "{:>2}. {} ms · {} · `{}`{}",
            i + 1,
            ms(action.saving_us),
            label,
            action.module,
            match action.packages.len() {
                1 => String::new(),
                n => format!(" and what it pulls in ({n} packages)"),
            }
        );
        writeln!(out, "{}", fit(&head, WIDTH))?;
        out.write_all(wrap("    ", "    ", &action.advice, WIDTH).as_bytes())?;
    }
    writeln!(out)?;
    Ok(())
}

/// The ranked table: `top` packages (all if `None`), `depth` levels of the tree.
pub fn write_table(
    analysis: &Analysis,
    top: Option<usize>,
    depth: usize,
    out: &mut dyn Write,
) -> Result<(), ExportError> {
    writeln!(
        out,
        "{:>3} {:<22} {:>5} {:>8} {:>8} {:>8} {:>11} {:>10}  pattern",
        "#", "package", "score", "samples", "cum.smp", "self ms", "cum.self ms", "cum.imp ms"
    )?;
    let roots = &analysis.tree.roots;
    let shown = top.unwrap_or(roots.len()).min(roots.len());
    for (rank, root) in roots.iter().take(shown).enumerate() {
        write_row(Some(rank + 1), root, 0, out)?;
        write_details(root, out)?;
        write_children(root, 1, depth, out)?;
    }
    if shown < roots.len() {
        writeln!(
            out,
            "… {} more packages (--all shows them, --top N some)",
            roots.len() - shown
        )?;
    }
    let findings = analysis.findings().count();
    let note = format!(
        "{} of {} packages match a waste pattern. Columns: samples in the module itself; \
         cum.smp = samples by dot ({}); self = own import time; cum.self = self summed by dot; \
         cum.imp = the import's start-to-end time.",
        findings,
        roots.len(),
        match analysis.score_kind {
            ScoreKind::RunTime => "run time",
            ScoreKind::Classic => "run time; the classic score also counts import samples",
        }
    );
    writeln!(out)?;
    out.write_all(wrap("", "", &note, WIDTH).as_bytes())?;
    Ok(())
}

fn write_children(
    node: &ModuleNode,
    level: usize,
    depth: usize,
    out: &mut dyn Write,
) -> Result<(), ExportError> {
    if level >= depth {
        return Ok(());
    }
    for child in &node.children {
        write_row(None, child, level, out)?;
        write_children(child, level + 1, depth, out)?;
    }
    Ok(())
}

fn write_row(
    rank: Option<usize>,
    node: &ModuleNode,
    level: usize,
    out: &mut dyn Write,
) -> Result<(), ExportError> {
    let rank = rank.map(|r| r.to_string()).unwrap_or_default();
    let name = fit(&format!("{}{}", "  ".repeat(level), node.name), 22);
    let pattern = node
        .pattern
        .as_deref()
        .and_then(Pattern::parse)
        .map(Pattern::label)
        .unwrap_or("");
    let line = format!(
        "{:>3} {:<22} {:>5.1} {:>8} {:>8} {:>8} {:>11} {:>10}  {}",
        rank,
        name,
        node.score,
        count(node.samples),
        count(node.cumulative_samples_by_dot),
        ms(node.self_us),
        ms(node.self_by_dot_us),
        ms(node.cumulative_us),
        pattern
    );
    writeln!(out, "{}", line.trim_end())?;
    Ok(())
}

fn write_details(node: &ModuleNode, out: &mut dyn Write) -> Result<(), ExportError> {
    const INDENT: &str = "         ";
    if let Some(file) = &node.file {
        writeln!(out, "    file {}", short_path(file, WIDTH - 9))?;
    }
    if let Some(evidence) = &node.evidence {
        out.write_all(wrap("    why  ", INDENT, &why(evidence), WIDTH).as_bytes())?;
    }
    if let Some(advice) = &node.advice {
        out.write_all(wrap("    fix  ", INDENT, advice, WIDTH).as_bytes())?;
    }
    Ok(())
}

/// The evidence in one sentence.
pub fn why(e: &Evidence) -> String {
    let mut text = format!(
        "{} ms of import ({:.1} % of all imports); {} of {} run-time samples",
        ms(e.import_us),
        100.0 * e.import_share,
        count(e.run_time_samples),
        count(e.run_time_samples_total)
    );
    if !e.callers.is_empty() {
        let callers: Vec<String> = e
            .callers
            .iter()
            .take(3)
            .map(|c| {
                format!(
                    "{} ({}:{}, {})",
                    c.function,
                    short_path(&c.file, 40),
                    c.line,
                    count(c.samples)
                )
            })
            .collect();
        text.push_str(&format!(", called from {}", callers.join(", ")));
    }
    if let Some(reason) = &e.curated_reason {
        text.push_str(&format!("; curated: {reason}"));
    }
    text.push('.');
    text
}
