//! The ranked package table: the application's imports grouped by top-level
//! package (`botocore.client` belongs to `botocore`), with import times,
//! use and the inefficiency score. Interpreter start-up and runner imports
//! are left out (they are summarized apart); a package's pattern and advice
//! are those of the statement that names it.

use super::origin::top_level;
use super::patterns::Pattern;
use super::score::{score, ScoreKind};
use super::statements::Finding;
use super::tree::Tree;
use super::usage::Usage;
use crate::model::profile::{CctNode, Profile};
use std::collections::{HashMap, HashSet};

/// One top-level package (or a module without a package).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackageNode {
    /// The top-level name.
    pub name: String,
    /// Non-import samples whose innermost frame is in the package's top module.
    pub samples: u64,
    /// Samples of the application's work with a frame in the package.
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
    /// Inefficiency score 0-100.
    pub score: f64,
    /// Pattern of the statement naming this package, if any.
    pub pattern: Option<Pattern>,
    /// The numbers that decided the pattern.
    pub evidence: Option<String>,
    /// The statement's advice.
    pub advice: Option<String>,
}

/// Builds the ranked table (highest score first).
pub fn table(
    profile: &Profile,
    tree: &Tree,
    application: &[bool],
    usage: &Usage,
    findings: &[Finding],
    kind: ScoreKind,
) -> Vec<PackageNode> {
    let mut nodes: HashMap<String, PackageNode> = HashMap::new();
    for (i, r) in tree.records.iter().enumerate() {
        if !application[i] {
            continue;
        }
        let top = top_level(&r.module);
        let node = nodes.entry(top.to_string()).or_insert_with(|| PackageNode {
            name: top.to_string(),
            ..PackageNode::default()
        });
        node.self_by_dot_us += r.self_us;
        node.module_count += 1;
        if r.module == top && node.cumulative_us == 0 {
            node.self_us = r.self_us;
            node.cumulative_us = r.cumulative_us;
        }
    }
    for row in &profile.modules {
        if let Some(node) = nodes.get_mut(row.name.as_str()) {
            node.samples = row.samples;
            node.file = row.file.clone();
        }
    }
    let all = all_samples(profile);
    let max = nodes.values().map(|p| p.self_by_dot_us).max().unwrap_or(0);
    let mut out: Vec<PackageNode> = nodes
        .into_values()
        .map(|mut p| {
            p.runtime_samples_by_dot = usage.sampled(&p.name);
            p.all_samples_by_dot = all.get(p.name.as_str()).copied().unwrap_or(0);
            p.score = match kind {
                ScoreKind::Runtime => score(
                    p.self_by_dot_us,
                    max,
                    p.runtime_samples_by_dot,
                    usage.app_samples,
                ),
                ScoreKind::Classic => score(
                    p.self_by_dot_us,
                    max,
                    p.all_samples_by_dot,
                    profile.stats.samples,
                ),
            };
            if let Some(f) = findings
                .iter()
                .find(|f| f.first_party && f.pattern.is_some() && top_level(&f.module) == p.name)
            {
                p.pattern = f.pattern;
                p.advice = f.advice.clone();
                p.evidence = Some(f.row());
            }
            p
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(b.self_by_dot_us.cmp(&a.self_by_dot_us))
            .then(a.name.cmp(&b.name))
    });
    out
}

/// All samples (imports included) with a frame in each top-level package.
fn all_samples(profile: &Profile) -> HashMap<&str, u64> {
    let tops: Vec<Option<&str>> = profile
        .cct
        .frames
        .iter()
        .map(|f| f.module.as_deref().map(top_level))
        .collect();
    let mut counts = HashMap::new();
    let mut path: Vec<Option<&str>> = Vec::new();
    walk(&profile.cct.root, &tops, &mut path, &mut counts);
    counts
}

fn walk<'a>(
    node: &CctNode,
    tops: &[Option<&'a str>],
    path: &mut Vec<Option<&'a str>>,
    counts: &mut HashMap<&'a str, u64>,
) {
    let pushed = node.frame.and_then(|f| tops.get(f)).copied();
    if node.frame.is_some() {
        path.push(pushed.flatten());
    }
    if node.self_samples > 0 {
        let seen: HashSet<&str> = path.iter().flatten().copied().collect();
        for top in seen {
            *counts.entry(top).or_default() += node.self_samples;
        }
    }
    for child in &node.children {
        walk(child, tops, path, counts);
    }
    if node.frame.is_some() {
        path.pop();
    }
}
