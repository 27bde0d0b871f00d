//! The unit of advice: an import statement in the program's own code
//! (first-party: not the standard library, not `site-packages`, not
//! coldspy's runner), with its cumulative cost from the import tree, the
//! packages it brought in, and whether the module it names is used.
//!
//! Shared dependencies are attributed to the first statement that imported
//! them (the import tree records a module's load once). A used module keeps
//! its dependencies in its own row and never gets "remove"; a heavy
//! sub-package of it that never ran becomes a finding of its own, naming the
//! dependency's statement ([`Pattern::UnusedSubpackage`]).

use super::evidence::{Evidence, Verdict};
use super::origin::{is_within, top_level, Origin};
use super::patterns::{knowledge, python_at_least, Pattern};
use super::tree::Tree;
use super::usage::Usage;
use crate::model::profile::Profile;
use crate::model::statement;
use std::collections::HashMap;

/// Import time below which a statement is not worth a change.
pub const MIN_COST_US: u64 = 1_000;
/// Import time below which an unused sub-package is not a finding.
pub const MIN_SUBPACKAGE_US: u64 = 5_000;
/// Without exact code-use data (no `--handler`), a sub-package or dependency
/// of a used statement that no sample saw is a finding only from this
/// import time on: the package that pulls it in runs, so it may well run
/// too, briefly enough to escape sampling (markdown.postprocessors, 5.4 ms,
/// runs in every call of the bundled example and went unseen in 223
/// samples of it).
pub const MIN_SAMPLED_SUBPACKAGE_US: u64 = 20_000;

/// Where a statement is: `file:line` and the enclosing function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Source file.
    pub file: String,
    /// Line.
    pub line: u32,
    /// Function containing it (`<module>` at module level).
    pub function: String,
    /// The statement as written, when the recording read it.
    pub statement: Option<String>,
}

impl std::fmt::Display for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A package (or sub-package) brought in by a statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Brought {
    /// Top-level name, or `pkg.sub` for a sub-package of the named package.
    pub name: String,
    /// Self import time summed over its modules.
    pub self_us: u64,
    /// Modules imported.
    pub modules: usize,
    /// Whether its code ran.
    pub evidence: Evidence,
    /// The statement (inside a dependency) that first imported it.
    pub site: Option<Site>,
    /// Cumulative time of that first import.
    pub cumulative_us: u64,
}

/// One finding or row: a statement, what it costs and brings, the verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The module the statement imports.
    pub module: String,
    /// The statement.
    pub site: Site,
    /// Whether the statement is in the program (`false`: inside a dependency).
    pub first_party: bool,
    /// The program's statement whose import chain reached it (itself when first-party).
    pub via: Site,
    /// Cumulative import time of the statement.
    pub cumulative_us: u64,
    /// What removing or deferring it would save: its cumulative time minus
    /// the packages under it that run (they would be imported anyway).
    pub saving_us: u64,
    /// Standard-library import time inside it (part of its cost, never a finding).
    pub stdlib_us: u64,
    /// Third-party packages (and sub-packages of the named one) it brought in, costliest first.
    pub brought: Vec<Brought>,
    /// Evidence about the named module.
    pub evidence: Evidence,
    /// The verdict.
    pub verdict: Verdict,
    /// The pattern, when there is something to change.
    pub pattern: Option<Pattern>,
    /// The exact edit, when there is something to change.
    pub advice: Option<String>,
}

impl Finding {
    /// `saves about 12.3 ms`, or `saving not measured` for a pattern that
    /// measures none (network at init).
    pub fn saving_text(&self) -> String {
        if self.pattern.is_some_and(|p| p.measures_saving()) {
            format!("saves about {}", ms(self.saving_us))
        } else {
            "saving not measured".to_string()
        }
    }

    /// Time in brought packages whose code never ran.
    pub fn unused_us(&self) -> u64 {
        self.brought
            .iter()
            .filter(|b| b.evidence.verdict() == Verdict::Unused)
            .map(|b| b.self_us)
            .sum()
    }

    /// One line: the module, its use and its cost.
    pub fn row(&self) -> String {
        let use_ = match self.verdict {
            Verdict::Used | Verdict::Rare => "used",
            Verdict::Unused => "not used",
            Verdict::Unknown => "use unknown",
        };
        let unused: Vec<&str> = self
            .brought
            .iter()
            .filter(|b| b.evidence.verdict() == Verdict::Unused && b.name != self.module)
            .take(4)
            .map(|b| b.name.as_str())
            .collect();
        let how = if self.evidence.exact_first.is_some() {
            "that never ran"
        } else {
            "that no sample saw"
        };
        let never = if unused.is_empty() {
            String::new()
        } else {
            format!(
                ", {} of it in sub-dependencies {how} ({})",
                ms(self.unused_us()),
                unused.join(", ")
            )
        };
        format!(
            "{} ({use_}: {}); its import costs {}{never}",
            self.module,
            self.evidence.describe(),
            ms(self.cumulative_us),
        )
    }
}

/// `12.3 ms`.
pub fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

/// All statement rows and findings of a profile, unordered ([`rank`] orders them).
pub fn find(profile: &Profile, tree: &Tree, usage: &Usage) -> Vec<Finding> {
    let statements = roots(tree);
    let lazy = python_at_least(&profile.meta.python_version, 3, 15);
    let mut out = Vec::new();
    for &i in &statements {
        let r = &tree.records[i];
        if r.cumulative_us < MIN_COST_US {
            continue;
        }
        let Some(site) = site_of(tree, i) else {
            continue;
        };
        let mut finding = statement(tree, usage, i, site.clone(), site.clone(), true);
        finding.pattern_and_advice(profile, usage, lazy);
        // Moving a rarely used import covers what it brings.
        let inside = if matches!(finding.verdict, Verdict::Used | Verdict::Rare)
            && finding.pattern != Some(Pattern::RarelyUsed)
        {
            inside_dependency(tree, usage, &finding, i)
        } else {
            Vec::new()
        };
        out.push(finding);
        out.extend(inside);
    }
    out
}

/// The program's other statements that import a package a change removes,
/// moves or replaces (`from rich.table import Table` beside `from
/// rich.console import Console`): the saving needs every one of them
/// changed, however little each costs alone. Each becomes a finding of the
/// same pattern, and the change names them. The scope is the whole package
/// for a curated pattern, the module named for a measured one.
pub fn companions(tree: &Tree, usage: &Usage, findings: &mut Vec<Finding>) {
    let whole_package = |p: Option<Pattern>| {
        matches!(
            p,
            Some(
                Pattern::NeverUsed
                    | Pattern::FeatureRedundancy
                    | Pattern::RarelyUsed
                    | Pattern::LibraryChoice
            )
        )
    };
    let mut added: Vec<(Site, Finding)> = Vec::new();
    for lead in findings
        .iter()
        .filter(|f| f.first_party && whole_package(f.pattern))
    {
        // A curated pattern is about the whole package (rich, pkg_resources);
        // a measured one about the module named (skimage.io, not skimage).
        let scope = match lead.pattern {
            Some(Pattern::FeatureRedundancy | Pattern::LibraryChoice) => top_level(&lead.module),
            _ => lead.module.as_str(),
        };
        let top = top_level(&lead.module);
        for i in roots(tree) {
            let Some(site) = site_of(tree, i) else {
                continue;
            };
            let module = &tree.records[i].module;
            let advised = |f: &Finding| f.first_party && f.site == site && f.pattern.is_some();
            if !is_within(module, scope)
                || site == lead.site
                || findings.iter().any(advised)
                || added.iter().any(|(_, f)| f.site == site)
            {
                continue;
            }
            let mut f = statement(tree, usage, i, site.clone(), site, true);
            f.verdict = lead.verdict;
            f.pattern = lead.pattern;
            f.saving_us = 0;
            f.advice = Some(format!(
                "Part of the change at {}: `{}` here loads {top} too; change it with that one, or {top} stays loaded and that saving is not made.",
                lead.site,
                f.statement_text()
            ));
            added.push((lead.site.clone(), f));
        }
    }
    for (lead, f) in added {
        findings.retain(|g| !(g.first_party && g.site == f.site && g.pattern.is_none()));
        if let Some(advice) = findings
            .iter_mut()
            .find(|g| g.first_party && g.site == lead)
            .and_then(|g| g.advice.as_mut())
        {
            advice.push_str(&format!(
                " The statement at {} (`{}`) imports {} too: change it with this one.",
                f.site,
                f.statement_text(),
                top_level(&f.module)
            ));
        }
        findings.push(f);
    }
}

/// Orders findings: those with something to change first, largest saving
/// first, then the other rows by cost.
pub fn rank(findings: &mut [Finding]) {
    findings.sort_by_key(|f| {
        (
            f.pattern.is_none(),
            std::cmp::Reverse(if f.pattern.is_some() {
                f.saving_us
            } else {
                f.cumulative_us
            }),
        )
    });
}

/// The program's statements: records imported from a first-party file
/// whose module is a library (not first-party, not the standard library),
/// outermost only.
fn roots(tree: &Tree) -> Vec<usize> {
    let mut is_root = vec![false; tree.records.len()];
    let mut inside = vec![false; tree.records.len()];
    for i in 0..tree.records.len() {
        let parent_inside = tree.parent[i].is_some_and(|p| inside[p] || is_root[p]);
        let statement = tree.site_origin(i) == Some(Origin::FirstParty)
            && matches!(tree.origin[i], Origin::ThirdParty | Origin::Unknown);
        is_root[i] = statement && !parent_inside;
        inside[i] = parent_inside;
    }
    (0..tree.records.len()).filter(|&i| is_root[i]).collect()
}

/// The site of record `i`'s import statement.
pub fn site_of(tree: &Tree, i: usize) -> Option<Site> {
    tree.records[i].site.as_ref().map(|s| Site {
        file: s.file.clone(),
        line: s.line,
        function: s.function.clone(),
        statement: s.statement.clone(),
    })
}

/// The row of record `i`: its cost, the packages under it, the evidence.
pub fn statement(
    tree: &Tree,
    usage: &Usage,
    i: usize,
    site: Site,
    via: Site,
    first_party: bool,
) -> Finding {
    let r = &tree.records[i];
    let own = top_level(&r.module).to_string();
    let mut groups: HashMap<String, Brought> = HashMap::new();
    let mut stdlib_us = 0;
    for j in tree.subtree(i) {
        let m = &tree.records[j];
        if tree.origin[j] == Origin::Stdlib {
            stdlib_us += m.self_us;
            continue;
        }
        let top = top_level(&m.module);
        // Sub-packages of the named package by their second level; others by top level.
        let key = if top == own && m.module != own {
            m.module
                .splitn(3, '.')
                .take(2)
                .collect::<Vec<_>>()
                .join(".")
        } else {
            top.to_string()
        };
        let entry = groups.entry(key.clone()).or_insert_with(|| Brought {
            evidence: Evidence::of(usage, &key),
            site: site_of(tree, j),
            cumulative_us: m.cumulative_us,
            name: key,
            self_us: 0,
            modules: 0,
        });
        entry.self_us += m.self_us;
        entry.modules += 1;
    }
    let mut brought: Vec<Brought> = groups.into_values().collect();
    brought.sort_by(|a, b| b.self_us.cmp(&a.self_us).then(a.name.cmp(&b.name)));
    let evidence = Evidence::of(usage, &r.module);
    let used_elsewhere: u64 = brought
        .iter()
        .filter(|b| {
            top_level(&b.name) != own
                && matches!(b.evidence.verdict(), Verdict::Used | Verdict::Rare)
        })
        .map(|b| b.self_us)
        .sum();
    Finding {
        module: r.module.clone(),
        site,
        first_party,
        via,
        cumulative_us: r.cumulative_us,
        saving_us: r.cumulative_us.saturating_sub(used_elsewhere),
        stdlib_us,
        brought,
        verdict: evidence.verdict(),
        evidence,
        pattern: None,
        advice: None,
    }
}

impl Finding {
    fn pattern_and_advice(&mut self, profile: &Profile, usage: &Usage, lazy: bool) {
        let k = knowledge();
        let top = top_level(&self.module).to_string();
        let import = self.quoted();
        let saving = ms(self.saving_us);
        match self.verdict {
            Verdict::Unused => {
                let feature = k.feature_redundancy.iter().find(|e| e.package == top);
                self.pattern = Some(if feature.is_some() {
                    Pattern::FeatureRedundancy
                } else {
                    Pattern::NeverUsed
                });
                let why = feature
                    .map(|e| {
                        format!(
                            " ({} provides {}: {}; source: {})",
                            top, e.feature, e.reason, e.source
                        )
                    })
                    .unwrap_or_default();
                self.advice = Some(format!(
                    "{}: its code never ran ({}){why}; saves about {saving} of init.",
                    self.acting_on("Remove", "from"),
                    self.evidence.describe()
                ));
            }
            Verdict::Rare => {
                self.pattern = Some(Pattern::RarelyUsed);
                let at = usage
                    .top_caller(&self.module)
                    .and_then(|f| profile.cct.frames.get(f))
                    .map(|f| format!("into {} ({}:{})", f.shown_name(), f.file, f.line))
                    .or_else(|| self.named_at(usage))
                    .unwrap_or_else(|| "into the function that uses it".to_string());
                let keyword = if lazy {
                    format!(", or write `lazy import {}` (PEP 810)", self.module)
                } else {
                    String::new()
                };
                self.advice = Some(format!(
                    "{} {at}{keyword}: {}; saves about {saving} of init, paid on first use.",
                    self.acting_on("Move", "out of"),
                    self.evidence.describe()
                ));
            }
            Verdict::Used | Verdict::Unknown => {
                if let Some(e) = k.library_choice.iter().find(|e| e.package == top) {
                    self.pattern = Some(Pattern::LibraryChoice);
                    self.advice = Some(format!(
                        "Replace {top} with {} at {}: {} (source: {}); its import costs {}.",
                        e.replacement,
                        self.site,
                        e.reason,
                        e.source,
                        ms(self.cumulative_us)
                    ));
                } else if let (Verdict::Used, Some(e)) = (
                    self.verdict,
                    k.feature_redundancy.iter().find(|e| e.package == top),
                ) {
                    // Used, so never "remove": the feature is what to drop
                    // (with no evidence of use, no verdict at all).
                    self.pattern = Some(Pattern::FeatureRedundancy);
                    self.advice = Some(format!(
                        "Drop the feature behind the {import}: {top} provides {} ({}; source: {}), which a function does not need; its code runs ({}), so replace those calls (plain logging, a loop) and the import goes; its import costs {}.",
                        e.feature,
                        e.reason,
                        e.source,
                        self.evidence.describe(),
                        ms(self.cumulative_us)
                    ));
                }
            }
        }
    }
}

impl Finding {
    /// The statement as the recording read it, if it names the module (its
    /// top-level package or its last component): a line that does not is
    /// not the statement advice is about.
    fn written_statement(&self) -> Option<&str> {
        let written = self.site.statement.as_deref()?;
        let last = self.module.rsplit('.').next().unwrap_or(&self.module);
        let words = |w: &str| {
            written
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|word| word == w)
        };
        (words(top_level(&self.module)) || words(last)).then_some(written)
    }

    /// "`from scipy import special, stats` at app.py:11": the statement as
    /// written when known, else `import MODULE`.
    fn quoted(&self) -> String {
        format!("`{}` at {}", self.statement_text(), self.site)
    }

    /// The statement as written when known, else `import MODULE`.
    fn statement_text(&self) -> String {
        self.written_statement()
            .map_or_else(|| format!("import {}", self.module), str::to_string)
    }

    /// "Remove the `import boto3` at …", or for one name of several
    /// "Remove `stats` from the `from scipy import special, stats` at …".
    fn acting_on(&self, verb: &str, preposition: &str) -> String {
        let name = self
            .written_statement()
            .and_then(|w| statement::name_of(w, &self.module));
        match name {
            Some(name) => format!("{verb} `{name}` {preposition} the {}", self.quoted()),
            None => format!("{verb} the {}", self.quoted()),
        }
    }

    /// "into to_xlsx (app.py:26), …": the function of the handler that
    /// names the module in code no recorded invocation ran.
    fn named_at(&self, usage: &Usage) -> Option<String> {
        let (function, line) = usage.code_named(&self.module)?.rsplit_once(':')?;
        Some(format!(
            "into {function} ({}:{line}), the function that names it (if most requests call {function}, this saves nothing)",
            self.site.file
        ))
    }
}

/// Whether a sub-package or dependency costing `cumulative_us` of a used
/// statement, which no sample saw, is worth a finding without exact code
/// use (see [`MIN_SAMPLED_SUBPACKAGE_US`]).
fn heavy_enough_unseen(cumulative_us: u64) -> bool {
    cumulative_us >= MIN_SAMPLED_SUBPACKAGE_US
}

/// Unused heavy sub-packages and dependencies of a used statement, each
/// named at the dependency's own import statement.
fn inside_dependency(tree: &Tree, usage: &Usage, used: &Finding, root: usize) -> Vec<Finding> {
    let mut out = Vec::new();
    for b in &used.brought {
        if b.name == used.module
            || b.evidence.verdict() != Verdict::Unused
            || b.cumulative_us < MIN_SUBPACKAGE_US
        {
            continue;
        }
        let exact = b.evidence.exact_first.is_some();
        if !exact && !heavy_enough_unseen(b.cumulative_us) {
            continue;
        }
        let Some(site) = b.site.clone() else { continue };
        // A site whose file is not a path (a code object read while being
        // freed) names no statement anyone can edit.
        if !(site.file.starts_with('/') || site.file.starts_with('<')) {
            continue;
        }
        let Some(i) = tree.subtree(root).into_iter().find(|&j| {
            let m = &tree.records[j].module;
            is_within(m, &b.name)
        }) else {
            continue;
        };
        let mut f = statement(tree, usage, i, site, used.site.clone(), false);
        f.module = b.name.clone();
        f.evidence = b.evidence;
        f.verdict = Verdict::Unused;
        f.pattern = Some(Pattern::UnusedSubpackage);
        let sub = top_level(&b.name) == top_level(&used.module);
        let what = if sub { "sub-package" } else { "dependency" };
        let ran = if exact {
            "its code never ran"
        } else {
            "no sample saw its code (sampling cannot show that it never runs; `--handler` records exact use)"
        };
        f.advice = Some(format!(
            "{} ({}, a {what} of the used {}) is imported by {} inside the dependency, and {ran} ({}): not a statement of yours to delete; a newer release, a lazy import upstream, or deferring it (importlib.util.LazyLoader) would save about {}.",
            b.name,
            ms(f.cumulative_us),
            top_level(&used.module),
            f.site,
            b.evidence.describe(),
            ms(f.saving_us)
        ));
        out.push(f);
    }
    out.truncate(3);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unseen_sub_package_of_a_used_package_needs_weight_without_exact_use() {
        // The CI run that advised markdown.postprocessors: 5.4 ms.
        assert!(!heavy_enough_unseen(5_400));
        // scipy.stats under skimage in examples/functions/heavy_subpackages.
        assert!(heavy_enough_unseen(175_000));
    }
}
