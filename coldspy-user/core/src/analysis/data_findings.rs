//! Findings of data read at import ([`Pattern::ImportTimeIo`], measured by
//! [`data_read`]): an import of the application — the module its own
//! statement names, a first-party module, or a library inside a used
//! dependency — whose time goes to reading data files. The fix is to load
//! the data on first use, not to drop the import: the module is usually
//! used. Standard-library modules are never findings of their own, and an
//! import the analysis already advises removing is not advised twice.

use super::data_read::{self, DataRead};
use super::evidence::Verdict;
use super::origin::Origin;
use super::patterns::Pattern;
use super::statements::{ms, site_of, statement, Finding, Site};
use super::tree::Tree;
use super::usage::Usage;
use crate::model::profile::Profile;

/// Adds (or turns rows into) the findings of data read at import.
pub fn add(profile: &Profile, tree: &Tree, usage: &Usage, findings: &mut Vec<Finding>) {
    for i in 0..tree.records.len() {
        if matches!(tree.origin[i], Origin::Stdlib | Origin::Runner) {
            continue;
        }
        let Some(root) = statement_of(tree, i) else {
            continue;
        };
        let Some(data) = data_read::of_import(profile, tree, i) else {
            continue;
        };
        let (Some(site), Some(via)) = (site_of(tree, i), site_of(tree, root)) else {
            continue;
        };
        if root == i {
            own_statement(tree, usage, i, site, &data, findings);
        } else {
            inside_dependency(tree, usage, i, via, &data, findings);
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

/// The program's own statement imports the module that reads: its row
/// becomes the finding, unless it already has advice (remove, replace).
fn own_statement(
    tree: &Tree,
    usage: &Usage,
    i: usize,
    site: Site,
    data: &DataRead,
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
    f.pattern = Some(Pattern::ImportTimeIo);
    f.saving_us = data.after_us;
    f.advice = Some(format!(
        "The `import {module}` at {} reads data at import: {}. {}",
        f.site,
        measured(tree, i, data),
        remedy(&f, data)
    ));
    findings.push(f);
}

/// A library inside the program's statement reads data: a finding named at
/// the library's own line, when the statement's module is kept (used, or
/// without a verdict) and nothing already covers the library.
fn inside_dependency(
    tree: &Tree,
    usage: &Usage,
    i: usize,
    via: Site,
    data: &DataRead,
    findings: &mut Vec<Finding>,
) {
    let module = &tree.records[i].module;
    // Removing, moving or replacing the statement's module covers its
    // dependencies; a finding inside the dependency may already cover it.
    let advised = findings.iter().any(|f| {
        f.first_party
            && f.site == via
            && (f.verdict == Verdict::Unused
                || f.pattern.is_some_and(|p| p != Pattern::ImportTimeIo))
    });
    let covered = findings.iter().any(|f| {
        !f.first_party
            && f.via == via
            && (module == &f.module || module.starts_with(&format!("{}.", f.module)))
    });
    if advised || covered {
        return;
    }
    let site = data
        .hot
        .as_ref()
        .map(|h| Site {
            file: h.file.clone(),
            line: h.line,
            function: "<module>".to_string(),
        })
        .or_else(|| site_of(tree, i));
    let Some(site) = site else { return };
    let mut f = statement(tree, usage, i, site, via, false);
    f.pattern = Some(Pattern::ImportTimeIo);
    f.saving_us = data.after_us;
    f.advice = Some(format!(
        "{module} reads data when it is imported, inside the dependency: {}. Not a statement of yours to change: a release that loads it on first use, or deferring {module} (importlib.util.LazyLoader) when your code does not need it at init, would save up to {} of init.",
        measured(tree, i, data),
        ms(data.after_us)
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

/// The fix for the program's statement, by what the evidence says of use.
fn remedy(f: &Finding, data: &DataRead) -> String {
    let lazy = "load that data on first use (a function under functools.cache, or a module-level __getattr__)";
    let saving = ms(data.after_us);
    match f.verdict {
        Verdict::Unused => format!(
            "{} never ran ({}): remove the import, or {lazy}; saves up to {saving} of init.",
            f.module,
            f.evidence.describe()
        ),
        Verdict::Used | Verdict::Rare => format!(
            "{} is used ({}): keep the import and {lazy}; saves up to {saving} of init, paid by the first call that needs the data.",
            f.module,
            f.evidence.describe()
        ),
        Verdict::Unknown => format!(
            "{lazy}: saves up to {saving} of init, paid by the first call that needs the data ({})."
            ,
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
