//! Analysis: from a profile to the ranked answer. Groups modules by dot
//! ([`module_tree`]), measures use from the CCT ([`usage`]), scores
//! ([`score`]), classifies the waste patterns ([`patterns`]) with the curated
//! list ([`knowledge`]) and writes the advice ([`advice`]).

pub mod actions;
pub mod advice;
pub mod knowledge;
pub mod module_tree;
pub mod patterns;
pub mod score;
pub mod usage;

pub use score::ScoreKind;

use crate::model::profile::Profile;
use knowledge::Knowledge;
use module_tree::{ModuleNode, ModuleTree};
use patterns::{Classifier, Thresholds};
use serde::Serialize;
use std::collections::HashMap;
use usage::Usage;

/// The global numbers shown at the top of every report.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct GlobalStats {
    /// Samples with a Python frame.
    pub samples: u64,
    /// Of those, taken during an import.
    pub import_samples: u64,
    /// Of those, taken outside any import.
    pub run_time_samples: u64,
    /// Samples without a Python frame.
    pub native_samples: u64,
    /// Samples the kernel could not hand over.
    pub lost_samples: u64,
    /// Other events lost.
    pub lost_events: u64,
    /// Initialization phase.
    pub init_us: u64,
    /// Execution phase.
    pub exec_us: u64,
    /// Handler invocations.
    pub exec_count: u64,
    /// Files opened.
    pub files_opened: u64,
    /// Modules imported.
    pub modules: u64,
    /// Import time of all top-level packages.
    pub import_us: u64,
}

/// The analysis of one profile: the ranked module tree and the global stats.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Analysis {
    /// Which score ranks the tree.
    pub score_kind: ScoreKind,
    /// Top-level packages, highest score first, with their sub-modules.
    pub tree: ModuleTree,
    /// Global numbers.
    pub stats: GlobalStats,
    /// What to change, by import statement, largest saving first.
    pub actions: Vec<actions::Action>,
}

/// Analyses a profile and fills its analysis fields (`cumulative_samples_by_dot`,
/// `score`, `pattern`, `advice`, `evidence` of each module row).
pub fn analyze(profile: &mut Profile, kind: ScoreKind) -> Analysis {
    let analysis = Analysis::of(profile, kind);
    analysis.fill(profile);
    analysis
}

impl Analysis {
    /// Analyses a profile without changing it.
    pub fn of(profile: &Profile, kind: ScoreKind) -> Self {
        let usage = Usage::of(&profile.cct);
        let mut tree = ModuleTree::build(&profile.modules, &usage);
        let max_self_by_dot_us = tree
            .roots
            .iter()
            .map(|r| r.self_by_dot_us)
            .max()
            .unwrap_or(0);
        let (total_samples, used): (u64, fn(&ModuleNode) -> u64) = match kind {
            ScoreKind::RunTime => (usage.run_time_samples, |n| n.cumulative_samples_by_dot),
            ScoreKind::Classic => (usage.all_samples, |n| n.all_samples_by_dot),
        };
        fn set_scores(node: &mut ModuleNode, max: u64, total: u64, used: fn(&ModuleNode) -> u64) {
            node.score = score::score(node.self_by_dot_us, max, used(node), total);
            for child in &mut node.children {
                set_scores(child, max, total, used);
            }
        }
        for root in &mut tree.roots {
            set_scores(root, max_self_by_dot_us, total_samples, used);
        }

        let knowledge = Knowledge::builtin();
        let python_version = knowledge::parse_python_version(&profile.meta.python_version);
        let total_import_us = tree.total_import_us();
        let classifier = Classifier {
            knowledge,
            thresholds: Thresholds::default(),
            usage: &usage,
            imports: &profile.imports,
            total_import_us,
            python_version,
        };
        for root in &mut tree.roots {
            if let Some((pattern, evidence)) = classifier.classify(root) {
                root.advice = Some(advice::advice(
                    &root.name,
                    pattern,
                    &evidence,
                    knowledge,
                    python_version,
                ));
                root.pattern = Some(pattern.as_str().to_string());
                root.evidence = Some(evidence);
            }
        }
        tree.roots.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| b.self_by_dot_us.cmp(&a.self_by_dot_us))
                .then_with(|| a.name.cmp(&b.name))
        });

        let s = &profile.stats;
        let stats = GlobalStats {
            samples: s.samples,
            import_samples: s.import_samples,
            run_time_samples: s.samples.saturating_sub(s.import_samples),
            native_samples: s.native_samples,
            lost_samples: profile.meta.lost_samples,
            lost_events: profile.meta.lost_events,
            init_us: s.init_us,
            exec_us: s.exec_us,
            exec_count: s.exec_count,
            files_opened: s.file_count,
            modules: profile.modules.len() as u64,
            import_us: total_import_us,
        };
        let actions = actions::actions(&tree.roots);
        Self {
            score_kind: kind,
            tree,
            stats,
            actions,
        }
    }

    /// Writes the analysis fields into the profile's module rows.
    pub fn fill(&self, profile: &mut Profile) {
        let nodes: HashMap<&str, &ModuleNode> =
            self.tree.walk().map(|n| (n.name.as_str(), n)).collect();
        for module in &mut profile.modules {
            let Some(node) = nodes.get(module.name.as_str()) else {
                continue;
            };
            module.cumulative_samples_by_dot = Some(node.cumulative_samples_by_dot);
            module.score = Some(round_score(node.score));
            module.pattern = node.pattern.clone();
            module.advice = node.advice.clone();
            module.evidence = node.evidence.clone();
        }
    }

    /// The top-level packages that have a pattern, in rank order.
    pub fn findings(&self) -> impl Iterator<Item = &ModuleNode> {
        self.tree.roots.iter().filter(|r| r.pattern.is_some())
    }
}

/// Scores are stored with one decimal, as they are shown.
pub fn round_score(score: f64) -> f64 {
    (score * 10.0).round() / 10.0
}
