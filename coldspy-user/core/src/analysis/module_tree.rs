//! The module tree by dot: `botocore.client` belongs to `botocore`. Per
//! top-level package: import times summed over its sub-modules, and how many
//! samples touched it (any frame in the package, counted once per sample).

use crate::model::profile::{CctNode, Profile};
use std::collections::HashMap;

/// One top-level package (or a module without a package).
#[derive(Debug, Clone, Default)]
pub struct PackageNode {
    /// The top-level name.
    pub name: String,
    /// Samples whose innermost frame is in the package's own top module (outside imports).
    pub samples: u64,
    /// Run-time (non-import) samples with any frame in the package or its sub-modules.
    pub runtime_samples_by_dot: u64,
    /// All samples (imports included) with any frame in the package: the original method's count.
    pub all_samples_by_dot: u64,
    /// Self import time of the top module itself.
    pub self_us: u64,
    /// Self import time summed over the package and its sub-modules.
    pub self_by_dot_us: u64,
    /// Cumulative import time of the top module's own import.
    pub cumulative_us: u64,
    /// The top module's file.
    pub file: Option<String>,
    /// Sub-modules imported.
    pub module_count: usize,
    /// Run-time samples per calling frame (the frame just outside the package).
    pub callers: HashMap<usize, u64>,
    /// Inefficiency score 0-100.
    pub score: f64,
    /// Pattern found.
    pub pattern: Option<super::patterns::Pattern>,
    /// The numbers that decided the pattern.
    pub evidence: Option<String>,
    /// One-line advice.
    pub advice: Option<String>,
    /// The import statement in the program that brought the package in
    /// (its own, or the top-level import whose chain pulled it in).
    pub statement: Option<super::changes::ImportStatement>,
}

/// The top-level package of a dotted name.
pub fn top_level(module: &str) -> &str {
    module.split('.').next().unwrap_or(module)
}

/// Builds the top-level package nodes of a profile.
pub fn build(profile: &Profile) -> Vec<PackageNode> {
    let mut nodes: HashMap<String, PackageNode> = HashMap::new();
    for row in &profile.modules {
        let top = top_level(&row.name);
        let node = nodes.entry(top.to_string()).or_insert_with(|| PackageNode {
            name: top.to_string(),
            ..PackageNode::default()
        });
        node.self_by_dot_us += row.self_us;
        node.module_count += 1;
        if row.name == top {
            node.self_us = row.self_us;
            node.cumulative_us = row.cumulative_us;
            node.samples = row.samples;
            node.file = row.file.clone();
        }
    }
    let frame_top: Vec<Option<String>> = profile
        .cct
        .frames
        .iter()
        .map(|f| f.module.as_deref().map(|m| top_level(m).to_string()))
        .collect();
    let mut usage = Usage::default();
    let mut path = Vec::new();
    usage.walk(&profile.cct.root, &frame_top, &mut path);
    for (name, node) in nodes.iter_mut() {
        node.runtime_samples_by_dot = usage.runtime.get(name).copied().unwrap_or(0);
        node.all_samples_by_dot = usage.all.get(name).copied().unwrap_or(0);
        node.callers = usage.callers.remove(name).unwrap_or_default();
    }
    nodes.into_values().collect()
}

#[derive(Default)]
struct Usage {
    runtime: HashMap<String, u64>,
    all: HashMap<String, u64>,
    callers: HashMap<String, HashMap<usize, u64>>,
}

impl Usage {
    /// `path`: (frame index, top-level package) from the root to `node`.
    fn walk(
        &mut self,
        node: &CctNode,
        frame_top: &[Option<String>],
        path: &mut Vec<(usize, Option<String>)>,
    ) {
        if let Some(frame) = node.frame {
            path.push((frame, frame_top.get(frame).cloned().flatten()));
        }
        let runtime_self = node.self_samples.saturating_sub(node.import_self);
        if node.self_samples > 0 {
            // Each package once per sample, with the frame that first called into it.
            let mut seen: Vec<(&str, Option<usize>)> = Vec::new();
            for (i, (_, top)) in path.iter().enumerate() {
                let Some(top) = top.as_deref() else { continue };
                if seen.iter().any(|(t, _)| *t == top) {
                    continue;
                }
                let caller = i.checked_sub(1).map(|c| path[c].0);
                seen.push((top, caller));
            }
            for (top, caller) in seen {
                *self.all.entry(top.to_string()).or_default() += node.self_samples;
                if runtime_self > 0 {
                    *self.runtime.entry(top.to_string()).or_default() += runtime_self;
                    if let Some(caller) = caller {
                        *self
                            .callers
                            .entry(top.to_string())
                            .or_default()
                            .entry(caller)
                            .or_default() += runtime_self;
                    }
                }
            }
        }
        for child in &node.children {
            self.walk(child, frame_top, path);
        }
        if node.frame.is_some() {
            path.pop();
        }
    }
}
