//! The calling-context tree, filtered by module: the paths of the samples
//! that touch a module (or its sub-modules), all samples or only run-time or
//! only import samples.

use crate::model::profile::{CctNode, Profile};
use std::io::Write;

/// Which samples count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleKind {
    /// Every sample.
    All,
    /// Samples outside imports.
    RunTime,
    /// Samples during imports.
    Import,
}

/// What the view shows.
#[derive(Debug, Clone)]
pub struct CctFilter {
    /// Samples with a frame in this module count.
    pub module: String,
    /// Also its sub-modules (`module.*`).
    pub children: bool,
    /// Which samples.
    pub kind: SampleKind,
}

/// Lines shown at most.
const MAX_LINES: usize = 60;

struct Filtered {
    frame: Option<usize>,
    total: u64,
    own: u64,
    children: Vec<Filtered>,
}

fn matches(filter: &CctFilter, module: Option<&str>) -> bool {
    match module {
        Some(m) => {
            m == filter.module || (filter.children && m.starts_with(&format!("{}.", filter.module)))
        }
        None => false,
    }
}

fn filter_tree(profile: &Profile, node: &CctNode, filter: &CctFilter, inside: bool) -> Filtered {
    let inside = inside
        || node
            .frame
            .is_some_and(|f| matches(filter, profile.cct.frames[f].module.as_deref()));
    let own = if inside {
        match filter.kind {
            SampleKind::All => node.self_samples,
            SampleKind::RunTime => node.self_samples.saturating_sub(node.import_self),
            SampleKind::Import => node.import_self,
        }
    } else {
        0
    };
    let mut children: Vec<Filtered> = node
        .children
        .iter()
        .map(|c| filter_tree(profile, c, filter, inside))
        .filter(|c| c.total > 0)
        .collect();
    children.sort_by_key(|c| std::cmp::Reverse(c.total));
    let total = own + children.iter().map(|c| c.total).sum::<u64>();
    Filtered {
        frame: node.frame,
        total,
        own,
        children,
    }
}

/// Writes the filtered tree, largest subtrees first.
pub fn write(profile: &Profile, filter: &CctFilter, out: &mut dyn Write) -> std::io::Result<()> {
    let root = filter_tree(profile, &profile.cct.root, filter, false);
    let which = match filter.kind {
        SampleKind::All => "all samples",
        SampleKind::RunTime => "run-time samples",
        SampleKind::Import => "import samples",
    };
    let scope = if filter.children {
        format!("{} and its sub-modules", filter.module)
    } else {
        filter.module.clone()
    };
    writeln!(
        out,
        "calling-context tree of {which} touching {scope}: {} samples",
        root.total
    )?;
    let mut lines = 0;
    fn walk(
        profile: &Profile,
        node: &Filtered,
        depth: usize,
        lines: &mut usize,
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        if *lines >= MAX_LINES {
            return Ok(());
        }
        if let Some(f) = node.frame {
            let frame = &profile.cct.frames[f];
            writeln!(
                out,
                "{:>7} {:>6} {}{} ({}:{})",
                node.total,
                node.own,
                "  ".repeat(depth.min(30)),
                frame.shown_name(),
                frame.file.rsplit('/').next().unwrap_or(&frame.file),
                frame.line
            )?;
            *lines += 1;
        }
        let next = if node.frame.is_some() {
            depth + 1
        } else {
            depth
        };
        for child in &node.children {
            walk(profile, child, next, lines, out)?;
        }
        Ok(())
    }
    writeln!(out, "{:>7} {:>6} frame", "total", "self")?;
    walk(profile, &root, 0, &mut lines, out)?;
    if lines >= MAX_LINES {
        writeln!(out, "… (first {MAX_LINES} lines)")?;
    }
    Ok(())
}
