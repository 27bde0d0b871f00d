//! The module tree by dot: `botocore.client` sits under `botocore`, and a
//! package's import time is the sum over its sub-modules.

use crate::analysis::usage::Usage;
use crate::model::profile::{Evidence, ModuleRecord};
use serde::Serialize;
use std::collections::BTreeMap;

/// One node of the module tree (a module, or a package prefix nobody imported).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ModuleNode {
    /// Full dotted name.
    pub name: String,
    /// Source or extension file of the module, when known.
    pub file: Option<String>,
    /// Non-import samples whose innermost frame is in this module's file.
    pub samples: u64,
    /// Non-import samples with any frame in this module or a sub-module.
    pub cumulative_samples_by_dot: u64,
    /// Like `cumulative_samples_by_dot`, import samples included (`--score classic`).
    pub all_samples_by_dot: u64,
    /// Samples taken while this module was the innermost import.
    pub import_samples: u64,
    /// Import time minus the imports it triggered.
    pub self_us: u64,
    /// Sum of `self_us` over the sub-tree.
    pub self_by_dot_us: u64,
    /// The import's own cumulative time (start to end).
    pub cumulative_us: u64,
    /// Files opened by the imports of the sub-tree.
    pub files_opened_by_dot: u64,
    /// Inefficiency score 0–100 (see [`crate::analysis::score`]).
    pub score: f64,
    /// `never_used`, `rarely_used`, `feature_redundancy`, `library_choice` (top level only).
    pub pattern: Option<String>,
    /// One-sentence advice for the pattern.
    pub advice: Option<String>,
    /// The numbers that decided the pattern.
    pub evidence: Option<Evidence>,
    /// Sub-modules, largest `self_by_dot_us` first.
    pub children: Vec<ModuleNode>,
}

/// Top-level packages with their sub-trees.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ModuleTree {
    /// The top-level packages (ranked by the analysis).
    pub roots: Vec<ModuleNode>,
}

impl ModuleTree {
    /// Groups module rows by dot and sums their times and counts.
    pub fn build(modules: &[ModuleRecord], usage: &Usage) -> Self {
        #[derive(Default)]
        struct Building {
            record: Option<usize>,
            children: BTreeMap<String, Building>,
        }
        let mut top: BTreeMap<String, Building> = BTreeMap::new();
        for (index, module) in modules.iter().enumerate() {
            let mut level = &mut top;
            let mut parts = module.name.split('.').peekable();
            while let Some(part) = parts.next() {
                let node = level.entry(part.to_string()).or_default();
                if parts.peek().is_none() {
                    node.record.get_or_insert(index);
                }
                level = &mut node.children;
            }
        }

        fn freeze(
            name: String,
            building: Building,
            modules: &[ModuleRecord],
            usage: &Usage,
        ) -> ModuleNode {
            let mut children: Vec<ModuleNode> = building
                .children
                .into_iter()
                .map(|(part, child)| freeze(format!("{name}.{part}"), child, modules, usage))
                .collect();
            children.sort_by(|a, b| {
                b.self_by_dot_us
                    .cmp(&a.self_by_dot_us)
                    .then_with(|| a.name.cmp(&b.name))
            });
            let record = building.record.map(|i| &modules[i]);
            let own = |f: fn(&ModuleRecord) -> u64| record.map(f).unwrap_or(0);
            let self_us = own(|m| m.self_us);
            let files_opened = own(|m| m.files_opened);
            ModuleNode {
                file: record.and_then(|m| m.file.clone()),
                samples: own(|m| m.samples),
                cumulative_samples_by_dot: usage.run_time_by_dot.get(&name).copied().unwrap_or(0),
                all_samples_by_dot: usage.all_by_dot.get(&name).copied().unwrap_or(0),
                import_samples: own(|m| m.import_samples),
                self_us,
                self_by_dot_us: self_us + children.iter().map(|c| c.self_by_dot_us).sum::<u64>(),
                cumulative_us: own(|m| m.cumulative_us),
                files_opened_by_dot: files_opened
                    + children.iter().map(|c| c.files_opened_by_dot).sum::<u64>(),
                children,
                name,
                ..ModuleNode::default()
            }
        }
        let roots = top
            .into_iter()
            .map(|(name, building)| freeze(name, building, modules, usage))
            .collect();
        Self { roots }
    }

    /// Every node, depth first (parents before children).
    pub fn walk(&self) -> impl Iterator<Item = &ModuleNode> {
        let mut todo: Vec<&ModuleNode> = self.roots.iter().rev().collect();
        std::iter::from_fn(move || {
            let node = todo.pop()?;
            todo.extend(node.children.iter().rev());
            Some(node)
        })
    }

    /// The node of a dotted name.
    pub fn find(&self, name: &str) -> Option<&ModuleNode> {
        self.walk().find(|n| n.name == name)
    }

    /// Import time of the whole program: the sum of the top-level packages.
    pub fn total_import_us(&self) -> u64 {
        self.roots.iter().map(|r| r.self_by_dot_us).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(name: &str, self_us: u64, samples: u64) -> ModuleRecord {
        ModuleRecord {
            name: name.into(),
            self_us,
            cumulative_us: self_us * 2,
            samples,
            files_opened: 1,
            ..ModuleRecord::default()
        }
    }

    #[test]
    fn packages_sum_their_sub_modules() {
        let modules = [
            module("botocore", 10, 1),
            module("botocore.client", 100, 0),
            module("botocore.docs.bcdoc", 5, 0),
            module("json", 7, 3),
        ];
        let mut usage = Usage::default();
        usage.run_time_by_dot.insert("botocore".into(), 4);
        let tree = ModuleTree::build(&modules, &usage);
        assert_eq!(tree.roots.len(), 2);
        let boto = tree.find("botocore").unwrap();
        assert_eq!(
            (boto.self_us, boto.self_by_dot_us, boto.files_opened_by_dot),
            (10, 115, 3)
        );
        assert_eq!(boto.cumulative_samples_by_dot, 4);
        assert_eq!(boto.children[0].name, "botocore.client");
        // `botocore.docs` was never imported itself: a prefix node with the sum below it.
        let docs = tree.find("botocore.docs").unwrap();
        assert_eq!(
            (docs.self_us, docs.self_by_dot_us, docs.file.as_deref()),
            (0, 5, None)
        );
        assert_eq!(tree.total_import_us(), 122);
        assert_eq!(tree.walk().count(), 5);
    }
}
