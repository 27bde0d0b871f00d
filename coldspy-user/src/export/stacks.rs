//! The CCT seen through the view's filters (`--module NAME [--children]`,
//! `--hide-import-samples` / `--only-import-samples`), shared by every
//! CCT-based writer so that they all count the same samples.
//!
//! A sample is kept when some frame of its stack belongs to the module (or,
//! with `children`, to a sub-module by dot); the kept stacks keep their whole
//! calling context, from the outermost frame.

use crate::analysis::usage::is_under;
use crate::model::profile::{Cct, CctNode, Frame};

/// Which samples to keep by import state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleFilter {
    /// Every sample.
    #[default]
    All,
    /// Samples taken outside any import (run time).
    HideImport,
    /// Samples taken during an import.
    OnlyImport,
}

/// The CCT filters of a view.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct StackFilter {
    /// Keep only samples with a frame in this module.
    pub module: Option<String>,
    /// With `module`: its sub-modules by dot count too.
    pub children: bool,
    /// Import / run-time samples.
    pub samples: SampleFilter,
}

/// Samples of a stack, split by import state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Taken outside any import.
    pub run_time: u64,
    /// Taken during an import.
    pub import: u64,
}

impl Counts {
    /// Both.
    pub fn total(self) -> u64 {
        self.run_time + self.import
    }
}

impl StackFilter {
    /// Whether a frame belongs to the filtered module (always, without a module).
    pub fn frame_matches(&self, frame: &Frame) -> bool {
        match (&self.module, frame.module.as_deref()) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(wanted), Some(module)) => {
                if self.children {
                    is_under(module, wanted)
                } else {
                    module == wanted
                }
            }
        }
    }

    /// A node's own samples that this filter keeps (ignoring the module).
    pub fn self_counts(&self, node: &CctNode) -> Counts {
        let import = node.import_self.min(node.self_samples);
        let run_time = node.self_samples - import;
        match self.samples {
            SampleFilter::All => Counts { run_time, import },
            SampleFilter::HideImport => Counts {
                run_time,
                import: 0,
            },
            SampleFilter::OnlyImport => Counts {
                run_time: 0,
                import,
            },
        }
    }

    /// A few words for titles: `all samples`, `run-time samples of markdown.*`.
    pub fn describe(&self) -> String {
        let samples = match self.samples {
            SampleFilter::All => "all samples",
            SampleFilter::HideImport => "run-time samples (import samples hidden)",
            SampleFilter::OnlyImport => "import samples only",
        };
        match &self.module {
            None => samples.to_string(),
            Some(m) if self.children => format!("{samples} through {m} and its sub-modules"),
            Some(m) => format!("{samples} through {m}"),
        }
    }
}

/// Calls `visit(stack, counts)` for every CCT node with kept samples;
/// `stack` holds frame indices, outermost first.
pub fn for_each_stack(cct: &Cct, filter: &StackFilter, mut visit: impl FnMut(&[usize], Counts)) {
    let mut path: Vec<usize> = Vec::new();
    // (node, depth of its frame in `path`, whether the module matched above or at it)
    let mut todo: Vec<(&CctNode, usize, bool)> =
        cct.root.children.iter().map(|c| (c, 0, false)).collect();
    while let Some((node, depth, matched_above)) = todo.pop() {
        path.truncate(depth);
        let Some(frame) = node.frame else { continue };
        path.push(frame);
        let matched = matched_above || filter.frame_matches(&cct.frames[frame]);
        if matched {
            let counts = filter.self_counts(node);
            if counts.total() > 0 {
                visit(&path, counts);
            }
        }
        todo.extend(node.children.iter().map(|c| (c, depth + 1, matched)));
    }
}

/// A node of the filtered CCT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilteredNode {
    /// Index into the CCT's frames; `None` for the root.
    pub frame: Option<usize>,
    /// Kept samples whose innermost frame is this node.
    pub self_samples: u64,
    /// Kept samples in the subtree.
    pub total: u64,
    /// Children with kept samples, largest first.
    pub children: Vec<FilteredNode>,
}

/// The CCT restricted to the kept samples (nodes without any are dropped).
pub fn filtered_tree(cct: &Cct, filter: &StackFilter) -> FilteredNode {
    fn build(node: &CctNode, cct: &Cct, filter: &StackFilter, matched_above: bool) -> FilteredNode {
        let matched = matched_above
            || node
                .frame
                .is_some_and(|f| filter.frame_matches(&cct.frames[f]));
        let self_samples = if matched && node.frame.is_some() {
            filter.self_counts(node).total()
        } else {
            0
        };
        let mut children: Vec<FilteredNode> = node
            .children
            .iter()
            .map(|c| build(c, cct, filter, matched))
            .filter(|c| c.total > 0)
            .collect();
        children.sort_by(|a, b| b.total.cmp(&a.total).then(a.frame.cmp(&b.frame)));
        FilteredNode {
            frame: node.frame,
            self_samples,
            total: self_samples + children.iter().map(|c| c.total).sum::<u64>(),
            children,
        }
    }
    build(&cct.root, cct, filter, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cct::CctBuilder;

    fn cct() -> Cct {
        let frame = |function: &str, module: Option<&str>| Frame {
            function: function.into(),
            file: format!("/{function}.py"),
            line: 1,
            module: module.map(str::to_string),
        };
        let frames = vec![
            frame("main", None),
            frame("convert", Some("md")),
            frame("inline", Some("md.inline")),
            frame("dumps", Some("json")),
        ];
        let mut b = CctBuilder::default();
        b.add(&[2, 1, 0], false);
        b.add(&[2, 0], false);
        b.add(&[3, 0], false);
        b.add(&[1, 0], true);
        b.add(&[0], false);
        Cct {
            frames,
            root: b.finish(),
        }
    }

    fn kept(filter: &StackFilter) -> u64 {
        let mut n = 0;
        for_each_stack(&cct(), filter, |_, c| n += c.total());
        assert_eq!(
            n,
            filtered_tree(&cct(), filter).total,
            "both views count the same samples"
        );
        n
    }

    #[test]
    fn module_and_import_filters() {
        let all = StackFilter::default();
        assert_eq!(kept(&all), 5);
        let md = |children, samples| StackFilter {
            module: Some("md".into()),
            children,
            samples,
        };
        assert_eq!(kept(&md(false, SampleFilter::All)), 2);
        assert_eq!(kept(&md(true, SampleFilter::All)), 3);
        assert_eq!(kept(&md(true, SampleFilter::HideImport)), 2);
        assert_eq!(kept(&md(true, SampleFilter::OnlyImport)), 1);
        let mut stacks = Vec::new();
        for_each_stack(&cct(), &md(false, SampleFilter::HideImport), |s, c| {
            stacks.push((s.to_vec(), c.run_time))
        });
        assert_eq!(
            stacks,
            vec![(vec![0, 1, 2], 1)],
            "kept stacks keep their callers"
        );
    }
}
