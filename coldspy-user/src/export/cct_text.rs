//! The terminal CCT view: the filtered calling-context tree, indented, with
//! total and self samples per frame.

use crate::export::stacks::{filtered_tree, FilteredNode};
use crate::export::text::{count, fit, short_path, wrap};
use crate::export::{ExportError, View};
use crate::model::profile::Profile;
use std::io::Write;

/// Deepest level drawn with indentation; deeper frames show their depth.
const MAX_INDENT: usize = 24;

/// Writes the CCT through the view's filters.
pub fn write_cct(profile: &Profile, view: &View, out: &mut dyn Write) -> Result<(), ExportError> {
    let tree = filtered_tree(&profile.cct, &view.filter);
    let title = format!(
        "calling-context tree: {}: {} samples",
        view.filter.describe(),
        count(tree.total)
    );
    out.write_all(wrap("", "  ", &title, 100).as_bytes())?;
    if tree.total == 0 {
        writeln!(out, "(no sample matches the filters)")?;
        return Ok(());
    }
    writeln!(
        out,
        "(frames under {:.1} % of these samples are folded; --min-percent changes it)",
        view.min_percent
    )?;
    writeln!(out, "{:>8} {:>6} {:>7}  frame", "total", "%", "self")?;
    let min_total = ((tree.total as f64) * view.min_percent / 100.0).ceil() as u64;
    enum Line<'a> {
        Frame(&'a FilteredNode, usize),
        Folded {
            frames: usize,
            samples: u64,
            depth: usize,
        },
    }
    let indent = |depth: usize| {
        if depth <= MAX_INDENT {
            " ".repeat(depth)
        } else {
            format!("{}[{depth}] ", " ".repeat(MAX_INDENT))
        }
    };
    let mut todo: Vec<Line> = tree
        .children
        .iter()
        .rev()
        .map(|c| Line::Frame(c, 0))
        .collect();
    while let Some(line) = todo.pop() {
        let (node, depth) = match line {
            Line::Frame(node, depth) => (node, depth),
            Line::Folded {
                frames,
                samples,
                depth,
            } => {
                writeln!(
                    out,
                    "{:>8} {:>5.1}% {:>7}  {}… {} smaller callees folded",
                    count(samples),
                    100.0 * samples as f64 / tree.total as f64,
                    "",
                    indent(depth),
                    count(frames as u64)
                )?;
                continue;
            }
        };
        let Some(frame_index) = node.frame else {
            continue;
        };
        let frame = &profile.cct.frames[frame_index];
        let module = frame
            .module
            .as_deref()
            .map(|m| format!(" [{m}]"))
            .unwrap_or_default();
        let text = format!(
            "{:>8} {:>5.1}% {:>7}  {}{} ({}:{}){module}",
            count(node.total),
            100.0 * node.total as f64 / tree.total as f64,
            count(node.self_samples),
            indent(depth),
            frame.function,
            short_path(&frame.file, 48),
            frame.line
        );
        writeln!(out, "{}", fit(&text, 160))?;
        let (shown, folded): (Vec<&FilteredNode>, Vec<&FilteredNode>) = node
            .children
            .iter()
            .partition(|c| c.total >= min_total.max(1));
        if !folded.is_empty() {
            todo.push(Line::Folded {
                frames: folded.len(),
                samples: folded.iter().map(|c| c.total).sum(),
                depth: depth + 1,
            });
        }
        for child in shown.into_iter().rev() {
            todo.push(Line::Frame(child, depth + 1));
        }
    }
    Ok(())
}
