//! Findings of work done at import: data read ([`Pattern::ImportTimeIo`],
//! measured by [`data_read`]) and module-level computation
//! ([`Pattern::ImportTimeCompute`], measured by [`compute`]). An import of
//! the application — the module its own statement names, a first-party
//! module, or a library inside a used dependency — whose own time goes to
//! reading data files or to running its top-level code. The fix is to do
//! that work on first use, not to drop the import: the module is usually
//! used. Standard-library modules are never findings of their own, and an
//! import the analysis already advises removing is not advised twice.

use super::compute::{self, Computation};
use super::data_read::{self, DataRead};
use super::evidence::Verdict;
use super::origin::Origin;
use super::patterns::Pattern;
use super::statements::{ms, site_of, statement, Finding, Site};
use super::tree::Tree;
use super::usage::Usage;
use crate::model::profile::Profile;

/// What an import spent its own time on.
enum Work {
    /// Reading data files.
    Data(DataRead),
    /// Running its module-level code.
    Compute(Computation),
}

impl Work {
    fn pattern(&self) -> Pattern {
        match self {
            Work::Data(_) => Pattern::ImportTimeIo,
            Work::Compute(_) => Pattern::ImportTimeCompute,
        }
    }

    /// What doing the work on first use would save at init, at most.
    fn saving_us(&self, self_us: u64) -> u64 {
        match self {
            Work::Data(d) => d.after_us,
            Work::Compute(c) => c.cpu_us.min(self_us),
        }
    }

    /// The work in words, with the numbers measured.
    fn measured(&self, tree: &Tree, i: usize) -> String {
        match self {
            Work::Data(d) => measured(tree, i, d),
            Work::Compute(c) => computed(tree, i, c),
        }
    }

    /// The line inside a dependency to name (the busiest of its body).
    fn hot_site(&self) -> Option<Site> {
        let (file, line) = match self {
            Work::Data(d) => d.hot.as_ref().map(|h| (h.file.clone(), h.line))?,
            Work::Compute(c) => (c.file.clone(), c.hot_line.0),
        };
        Some(Site {
            file,
            line,
            function: "<module>".to_string(),
            statement: None,
        })
    }

    /// What the work is, for the advice: `reads data`, `computes`.
    fn verb(&self) -> &'static str {
        match self {
            Work::Data(_) => "reads data",
            Work::Compute(_) => "runs its module-level code on the CPU",
        }
    }

    /// The remedy's object: what to do on first use.
    fn lazy(&self) -> &'static str {
        match self {
            Work::Data(_) => "load that data on first use (a function under functools.cache, or a module-level __getattr__)",
            Work::Compute(_) => "build what that code builds on first use (a function under functools.cache, or a module-level __getattr__)",
        }
    }
}

/// Adds (or turns rows into) the findings of work done at import.
pub fn add(profile: &Profile, tree: &Tree, usage: &Usage, findings: &mut Vec<Finding>) {
    for i in 0..tree.records.len() {
        if matches!(tree.origin[i], Origin::Stdlib | Origin::Runner) {
            continue;
        }
        let Some(root) = statement_of(tree, i) else {
            continue;
        };
        let work = data_read::of_import(profile, tree, i)
            .map(Work::Data)
            .or_else(|| compute::of_import(profile, tree, i).map(Work::Compute));
        let Some(work) = work else {
            continue;
        };
        let (Some(site), Some(via)) = (site_of(tree, i), site_of(tree, root)) else {
            continue;
        };
        if root == i {
            own_statement(tree, usage, i, site, &work, findings);
        } else {
            inside_dependency(tree, usage, i, via, &work, findings);
        }
    }
}

/// The outermost import on `i`'s chain (itself included) made by a
/// statement of the program: the statement the user can edit.
fn statement_of(tree: &Tree, i: usize) -> Option<usize> {
    let mut found = None;
    let mut at = Some(i);
    while let Some(j) = at {
        if tree.site_origin(j) == Some(Origin::FirstParty) {
            found = Some(j);
        }
        at = tree.parent[j];
    }
    found
}

/// The program's own statement imports the module that does the work: its
/// row becomes the finding, unless it already has advice (remove, replace).
fn own_statement(
    tree: &Tree,
    usage: &Usage,
    i: usize,
    site: Site,
    work: &Work,
    findings: &mut Vec<Finding>,
) {
    let module = &tree.records[i].module;
    let existing = findings
        .iter()
        .position(|f| f.first_party && &f.module == module && f.site == site);
    let mut f = match existing {
        Some(k) if findings[k].pattern.is_some() => return,
        Some(k) => findings.remove(k),
        None => statement(tree, usage, i, site.clone(), site, true),
    };
    f.pattern = Some(work.pattern());
    f.saving_us = work.saving_us(tree.records[i].self_us);
    f.advice = Some(format!(
        "The `import {module}` at {} {} at import: {}. {}",
        f.site,
        work.verb(),
        work.measured(tree, i),
        remedy(&f, work)
    ));
    findings.push(f);
}

/// A library inside the program's statement does the work: a finding named
/// at the library's own line, when the statement's module is kept (used, or
/// without a verdict) and nothing already covers the library.
fn inside_dependency(
    tree: &Tree,
    usage: &Usage,
    i: usize,
    via: Site,
    work: &Work,
    findings: &mut Vec<Finding>,
) {
    let module = &tree.records[i].module;
    let at_import = |p: Pattern| matches!(p, Pattern::ImportTimeIo | Pattern::ImportTimeCompute);
    // Removing, moving or replacing the statement's module covers its
    // dependencies; a finding inside the dependency may already cover it.
    let advised = findings.iter().any(|f| {
        f.first_party
            && f.site == via
            && (f.verdict == Verdict::Unused || f.pattern.is_some_and(|p| !at_import(p)))
    });
    let covered = findings
        .iter()
        .any(|f| !f.first_party && f.via == via && super::origin::is_within(module, &f.module));
    if advised || covered {
        return;
    }
    let Some(site) = work.hot_site().or_else(|| site_of(tree, i)) else {
        return;
    };
    let saving = work.saving_us(tree.records[i].self_us);
    let mut f = statement(tree, usage, i, site, via, false);
    f.pattern = Some(work.pattern());
    f.saving_us = saving;
    let remedy = match work {
        Work::Data(_) => format!(
            "a release that loads it on first use, or deferring {module} (importlib.util.LazyLoader) when your code does not need it at init, would save up to {} of init",
            ms(saving)
        ),
        Work::Compute(_) => format!(
            "a release (or another library) that does that work on first use would save up to {} of init; deferring the import only moves it into the first call that needs {module}",
            ms(saving)
        ),
    };
    f.advice = Some(format!(
        "{module} {} when it is imported, inside the dependency: {}. Not a statement of yours to change: {remedy}.",
        work.verb(),
        work.measured(tree, i),
    ));
    findings.push(f);
}

/// What was measured: the line, its callee and samples, the file, the time.
fn measured(tree: &Tree, i: usize, data: &DataRead) -> String {
    let r = &tree.records[i];
    let base = package_root(&r.module, data.file.as_deref());
    let line = match &data.hot {
        Some(h) => format!(
            "{}:{} {} ({} of the {} samples of its body)",
            relative(&h.file, base.as_deref()),
            h.line,
            h.callee
                .as_deref()
                .map(|c| format!("calls {c}"))
                .unwrap_or_else(|| "runs".to_string()),
            h.samples,
            h.of
        ),
        None => "its body (not sampled) runs".to_string(),
    };
    let file = data
        .main_file()
        .map(|f| relative(&f.path, base.as_deref()))
        .unwrap_or_default();
    let others = match data.files.len() {
        0 | 1 => String::new(),
        n => format!(
            " (and {} other data file{})",
            n - 1,
            if n == 2 { "" } else { "s" }
        ),
    };
    format!(
        "{line} after opening {file}{others}: {} of its {} of own import time",
        ms(data.after_us),
        ms(r.self_us)
    )
}

/// What was measured of a computation: its lines, its callee, its time.
fn computed(tree: &Tree, i: usize, c: &Computation) -> String {
    let r = &tree.records[i];
    let base = package_root(&r.module, Some(&c.file));
    let file = relative(&c.file, base.as_deref());
    let lines = if c.lines.0 == c.lines.1 {
        format!("{file}:{}", c.lines.0)
    } else {
        format!("{file}:{}-{}", c.lines.0, c.lines.1)
    };
    let callee = c
        .callee
        .as_ref()
        .map(|(name, n)| format!(", {n} in {name}"))
        .unwrap_or_default();
    format!(
        "its body ({lines}) ran for about {} ({} samples{callee}; most at line {}) of its {} of own import time",
        ms(c.cpu_us),
        c.samples,
        c.hot_line.0,
        ms(r.self_us)
    )
}

/// The fix for the program's statement, by what the evidence says of use.
fn remedy(f: &Finding, work: &Work) -> String {
    let lazy = work.lazy();
    let saving = ms(f.saving_us);
    let needs = match work {
        Work::Data(_) => "the data",
        Work::Compute(_) => "it; nothing when every call does",
    };
    match f.verdict {
        Verdict::Unused => format!(
            "{} never ran ({}): remove the import, or {lazy}; saves up to {saving} of init.",
            f.module,
            f.evidence.describe()
        ),
        Verdict::Used | Verdict::Rare => format!(
            "{} is used ({}): keep the import and {lazy}; saves up to {saving} of init, paid by the first call that needs {needs}.",
            f.module,
            f.evidence.describe()
        ),
        Verdict::Unknown => format!(
            "{lazy}: saves up to {saving} of init, paid by the first call that needs {needs} ({}).",
            f.evidence.describe()
        ),
    }
}

/// The directory holding `module`'s top-level package, from the file of
/// one of its modules (`…/fn/vendor_pkg/__init__.py` → `…/fn`).
fn package_root(module: &str, file: Option<&str>) -> Option<String> {
    let file = file?;
    let mut up = module.matches('.').count() + 1;
    if file.ends_with("/__init__.py") {
        up += 1;
    }
    let mut dir = file;
    for _ in 0..up {
        dir = dir.rsplit_once('/')?.0;
    }
    Some(dir.to_string())
}

/// `path` relative to `base` when it lies under it.
fn relative(path: &str, base: Option<&str>) -> String {
    base.and_then(|b| path.strip_prefix(b))
        .and_then(|p| p.strip_prefix('/'))
        .unwrap_or(path)
        .to_string()
}
