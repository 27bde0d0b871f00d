//! The four waste patterns (never used, rarely used, feature redundancy,
//! library choice), decided per top-level package with the evidence.
//!
//! Rules, in order (the first that matches wins), for a package whose import
//! cost is significant (see [`Thresholds`]) and that the program's own code
//! imported (not the interpreter's start-up):
//! 1. `never_used`: no run-time sample has a frame in the package, and no
//!    other module's initialization called into it;
//! 2. `library_choice`: the curated list names a faster equivalent;
//! 3. `feature_redundancy`: the curated list names its feature as useless in a function;
//! 4. `rarely_used`: imported by the program's own code (so the import can
//!    move), at most [`Thresholds::rare_share`] of the run-time samples,
//!    entered from at most [`Thresholds::rare_max_callers`] call sites.

use crate::analysis::knowledge::Knowledge;
use crate::analysis::module_tree::ModuleNode;
use crate::analysis::usage::{is_under, top_level, Usage};
use crate::model::modules::module_from_path;
use crate::model::profile::{Evidence, ImportRecord, ImportSite, PulledInBy};
use serde::Serialize;

/// A waste pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// Import cost, no run-time use.
    NeverUsed,
    /// Import cost, little run-time use from few places.
    RarelyUsed,
    /// A feature that means nothing in a function.
    FeatureRedundancy,
    /// A slow library with a fast equivalent.
    LibraryChoice,
}

impl Pattern {
    /// The name stored in the profile (`never_used`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::NeverUsed => "never_used",
            Pattern::RarelyUsed => "rarely_used",
            Pattern::FeatureRedundancy => "feature_redundancy",
            Pattern::LibraryChoice => "library_choice",
        }
    }

    /// Parses [`Pattern::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        [
            Pattern::NeverUsed,
            Pattern::RarelyUsed,
            Pattern::FeatureRedundancy,
            Pattern::LibraryChoice,
        ]
        .into_iter()
        .find(|p| p.as_str() == name)
    }

    /// A short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Pattern::NeverUsed => "never used",
            Pattern::RarelyUsed => "rarely used",
            Pattern::FeatureRedundancy => "feature redund.",
            Pattern::LibraryChoice => "library choice",
        }
    }
}

/// When a package's cost and use are worth a pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Minimum import time (self, by dot) for any pattern.
    pub min_import_us: u64,
    /// Minimum share of the program's import time for any pattern.
    pub min_import_share: f64,
    /// Largest share of run-time samples that is still "rarely used".
    pub rare_share: f64,
    /// Most distinct calling sites that are still "rarely used".
    pub rare_max_callers: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            min_import_us: 1_000,
            min_import_share: 0.01,
            rare_share: 0.05,
            rare_max_callers: 3,
        }
    }
}

/// Where a package's import came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportOrigin {
    /// The statement that imported the package first.
    pub site: Option<ImportSite>,
    /// The module being imported at that moment.
    pub imported_by: Option<String>,
    /// The import of the program's own code that led to it, when a library imported it.
    pub pulled_in_by: Option<PulledInBy>,
    /// Imported while the interpreter started (e.g. by `site`), not by the program.
    pub at_start_up: bool,
}

/// Whether a file is library code (site-packages, the standard library,
/// frozen modules) rather than the program's own.
pub fn is_library_file(file: &str) -> bool {
    file.starts_with('<') || module_from_path(file).is_some()
}

impl ImportOrigin {
    /// Follows the import tree from the package's first import up to the
    /// program's own code.
    pub fn of(package: &str, imports: &[ImportRecord]) -> Self {
        let Some(first) = imports
            .iter()
            .position(|r| r.module == package)
            .or_else(|| imports.iter().position(|r| is_under(&r.module, package)))
        else {
            return Self::default();
        };
        let record = &imports[first];
        let mut origin = ImportOrigin {
            site: record.site.clone(),
            imported_by: record.parent.clone(),
            ..Self::default()
        };
        // Walk up: the enclosing import of each parent on the same thread.
        let mut current = first;
        loop {
            let r = &imports[current];
            let user_site = r.site.as_ref().filter(|s| !is_library_file(&s.file));
            if let Some(site) = user_site {
                if current != first {
                    origin.pulled_in_by = Some(PulledInBy {
                        module: r.module.clone(),
                        site: site.clone(),
                        used_at_run_time: false,
                    });
                }
                return origin;
            }
            let enclosing = r.parent.as_ref().and_then(|parent| {
                imports[..current].iter().rposition(|p| {
                    &p.module == parent
                        && p.tid == r.tid
                        && p.start_us <= r.start_us
                        && r.start_us <= p.end_us
                })
            });
            match enclosing {
                Some(parent) => current = parent,
                None => {
                    // The outermost import: start-up when no Python code ran it
                    // and it came before the program's first import statement.
                    origin.at_start_up = r.site.is_none()
                        && (r.module == "site" || starts_before_program(imports, current));
                    return origin;
                }
            }
        }
    }
}

/// Whether import `index` started before the first import that has a
/// Python frame at its site (the program's first import statement).
fn starts_before_program(imports: &[ImportRecord], index: usize) -> bool {
    match imports.iter().position(|r| r.site.is_some()) {
        Some(first_with_site) => index < first_with_site,
        // No sites at all (a recorder without stacks): only `site` is known start-up.
        None => imports[index].module == "site",
    }
}

/// The inputs of a classification, gathered once per profile.
pub struct Classifier<'a> {
    /// The curated list.
    pub knowledge: &'a Knowledge,
    /// Cut-offs.
    pub thresholds: Thresholds,
    /// Sample counts and callers.
    pub usage: &'a Usage,
    /// The dynamic import tree.
    pub imports: &'a [ImportRecord],
    /// Import time of all top-level packages.
    pub total_import_us: u64,
    /// The target's CPython `(major, minor)`.
    pub python_version: Option<(u32, u32)>,
}

impl Classifier<'_> {
    /// The pattern of a top-level package and its evidence, if any applies.
    pub fn classify(&self, node: &ModuleNode) -> Option<(Pattern, Evidence)> {
        let t = &self.thresholds;
        let share = if self.total_import_us == 0 {
            0.0
        } else {
            node.self_by_dot_us as f64 / self.total_import_us as f64
        };
        if node.self_by_dot_us < t.min_import_us || share < t.min_import_share {
            return None;
        }
        let mut origin = ImportOrigin::of(&node.name, self.imports);
        if origin.at_start_up {
            return None;
        }
        if let Some(pulled) = &mut origin.pulled_in_by {
            pulled.used_at_run_time = self
                .usage
                .run_time_by_dot
                .get(top_level(&pulled.module))
                .is_some_and(|&n| n > 0);
        }
        let run_time_total = self.usage.run_time_samples;
        let mut evidence = Evidence {
            import_us: node.self_by_dot_us,
            import_share: share,
            run_time_samples: node.cumulative_samples_by_dot,
            run_time_samples_total: run_time_total,
            init_samples: self.usage.init_use.get(&node.name).copied().unwrap_or(0),
            import_site: origin.site,
            imported_by: origin.imported_by,
            pulled_in_by: origin.pulled_in_by,
            callers: self
                .usage
                .callers
                .get(&node.name)
                .cloned()
                .unwrap_or_default(),
            ..Evidence::default()
        };
        let library = self.knowledge.library(&node.name, self.python_version);
        let feature = self.knowledge.feature(&node.name);
        if let Some(entry) = library {
            evidence.curated_reason = Some(entry.reason.clone());
            evidence.replacement = Some(entry.replacement.clone());
        } else if let Some(entry) = feature {
            evidence.curated_reason = Some(format!("{}: {}", entry.feature, entry.reason));
        }

        let imported_by_program = evidence.pulled_in_by.is_none()
            && evidence
                .import_site
                .as_ref()
                .is_some_and(|s| !is_library_file(&s.file));
        let pattern = if node.cumulative_samples_by_dot == 0 && evidence.init_samples == 0 {
            Pattern::NeverUsed
        } else if library.is_some() {
            Pattern::LibraryChoice
        } else if feature.is_some() {
            Pattern::FeatureRedundancy
        } else if imported_by_program
            && run_time_total > 0
            && node.cumulative_samples_by_dot > 0
            && (node.cumulative_samples_by_dot as f64 / run_time_total as f64) <= t.rare_share
            && !evidence.callers.is_empty()
            && evidence.callers.len() <= t.rare_max_callers
        {
            Pattern::RarelyUsed
        } else {
            return None;
        };
        Some((pattern, evidence))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::Caller;

    fn import(
        module: &str,
        parent: Option<&str>,
        depth: u32,
        start_us: u64,
        end_us: u64,
        site: Option<&str>,
    ) -> ImportRecord {
        ImportRecord {
            module: module.into(),
            parent: parent.map(str::to_string),
            tid: 1,
            start_us,
            end_us,
            self_us: 0,
            cumulative_us: end_us - start_us,
            depth,
            files: Vec::new(),
            site: site.map(|s| {
                let (file, line) = s.split_once(':').unwrap();
                ImportSite {
                    file: file.into(),
                    line: line.parse().unwrap(),
                    function: "<module>".into(),
                }
            }),
            failed: false,
        }
    }

    fn imports() -> Vec<ImportRecord> {
        let lib = "/v/lib/python3.12/site-packages";
        vec![
            import("site", None, 0, 0, 10, None),
            import("_distutils_hack", Some("site"), 1, 2, 5, None),
            import("handler", None, 0, 20, 400, Some("/app/main.py:3")),
            import(
                "boto3",
                Some("handler"),
                1,
                21,
                300,
                Some("/app/handler.py:4"),
            ),
            import(
                "botocore",
                Some("boto3"),
                2,
                22,
                290,
                Some(&format!("{lib}/boto3/__init__.py:17")),
            ),
            import(
                "jmespath",
                Some("botocore"),
                3,
                30,
                40,
                Some(&format!("{lib}/botocore/utils.py:33")),
            ),
            import(
                "tqdm",
                Some("handler"),
                1,
                300,
                350,
                Some("/app/handler.py:5"),
            ),
            import(
                "jinja2",
                Some("handler"),
                1,
                350,
                360,
                Some("/app/handler.py:7"),
            ),
            import(
                "spread",
                Some("handler"),
                1,
                360,
                370,
                Some("/app/handler.py:8"),
            ),
            import(
                "importlib",
                Some("botocore"),
                3,
                41,
                45,
                Some(&format!("{lib}/botocore/compat.py:9")),
            ),
        ]
    }

    #[test]
    fn origin_follows_library_imports_up_to_the_program() {
        let imports = imports();
        let jmespath = ImportOrigin::of("jmespath", &imports);
        assert_eq!(jmespath.imported_by.as_deref(), Some("botocore"));
        let pulled = jmespath.pulled_in_by.unwrap();
        assert_eq!((pulled.module.as_str(), pulled.site.line), ("boto3", 4));
        assert!(!jmespath.at_start_up);
        let boto3 = ImportOrigin::of("boto3", &imports);
        assert_eq!(boto3.site.unwrap().file, "/app/handler.py");
        assert!(boto3.pulled_in_by.is_none());
        assert!(ImportOrigin::of("_distutils_hack", &imports).at_start_up);
        assert!(ImportOrigin::of("site", &imports).at_start_up);
    }

    fn node(name: &str, self_by_dot_us: u64, run_time_samples: u64) -> ModuleNode {
        ModuleNode {
            name: name.into(),
            self_by_dot_us,
            cumulative_samples_by_dot: run_time_samples,
            ..ModuleNode::default()
        }
    }

    fn caller(function: &str, samples: u64) -> Caller {
        Caller {
            function: function.into(),
            file: "/app/handler.py".into(),
            line: 40,
            samples,
        }
    }

    #[test]
    fn each_rule_fires_on_its_evidence() {
        let imports = imports();
        let mut usage = Usage {
            run_time_samples: 1000,
            ..Usage::default()
        };
        usage
            .callers
            .insert("jinja2".into(), vec![caller("error_page", 12)]);
        usage.callers.insert(
            "spread".into(),
            (0..5).map(|i| caller(&format!("f{i}"), 2)).collect(),
        );
        usage
            .callers
            .insert("tqdm".into(), vec![caller("batch", 30)]);
        usage.callers.insert(
            "importlib".into(),
            vec![caller("get_installed_extensions", 3)],
        );
        usage.init_use.insert("jmespath".into(), 4);
        let classifier = Classifier {
            knowledge: Knowledge::builtin(),
            thresholds: Thresholds::default(),
            usage: &usage,
            imports: &imports,
            total_import_us: 400_000,
            python_version: Some((3, 12)),
        };
        let pattern = |n: &ModuleNode| classifier.classify(n).map(|(p, _)| p);
        assert_eq!(
            pattern(&node("boto3", 200_000, 0)),
            Some(Pattern::NeverUsed)
        );
        assert_eq!(
            pattern(&node("pkg_resources", 30_000, 400)),
            Some(Pattern::LibraryChoice)
        );
        assert_eq!(
            pattern(&node("tqdm", 4_000, 30)),
            Some(Pattern::FeatureRedundancy)
        );
        assert_eq!(
            pattern(&node("jinja2", 13_000, 12)),
            Some(Pattern::RarelyUsed)
        );
        assert_eq!(
            pattern(&node("jinja2", 13_000, 51)),
            None,
            "5.1 % of run time is not rare"
        );
        assert_eq!(
            pattern(&node("spread", 13_000, 10)),
            None,
            "too many call sites for one lazy import"
        );
        assert_eq!(pattern(&node("boto3", 900, 0)), None, "below 1 ms");
        assert_eq!(
            pattern(&node("boto3", 3_000, 0)),
            None,
            "below 1 % of import time"
        );
        assert_eq!(
            pattern(&node("site", 50_000, 0)),
            None,
            "interpreter start-up"
        );
        assert_eq!(
            pattern(&node("importlib", 13_000, 3)),
            None,
            "a library imported it: no import to move"
        );
        assert_eq!(
            pattern(&node("jmespath", 13_000, 0)),
            None,
            "used by another module's initialization"
        );
        let (_, evidence) = classifier
            .classify(&node("pkg_resources", 30_000, 400))
            .unwrap();
        assert!(evidence.replacement.unwrap().contains("importlib.metadata"));
        assert!((evidence.import_share - 0.075).abs() < 1e-9);
    }
}
