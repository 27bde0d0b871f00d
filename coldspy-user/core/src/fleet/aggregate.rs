//! The fold of a merge: starts go in one at a time, per-group aggregates
//! stay, and nothing of a start is kept but numbers.
//!
//! Memory is bounded by what the fleet has in common, not by its rows:
//! one copy of each distinct name ([`Interner`]: functions, hosts, packages,
//! import sites and own-code modules), per group one accumulator per package
//! and per own import statement, plus the values the medians need: 4 bytes
//! per start for each of the three phases (12 bytes per start), and 4 bytes
//! per start for each package it imported and each own statement it ran
//! (values past `u32::MAX` µs, 71 minutes, take 8 bytes). Import rows,
//! usage rows and the start's strings are dropped when the start is folded.

use super::intern::{FxHashMap, Interner, Sym};
use super::time::Since;
use super::{
    is_own_code, pattern_of, Distribution, Group, GroupBy, Merged, PackageAggregate, Skipped,
    StartRecord, StatementAggregate, MERGED_SCHEMA, MERGED_SCHEMA_VERSION,
};
use crate::origin::top_level;

/// One import row of an [`InternedStart`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InternedImport {
    /// The module, when the reader was asked for it ([`StartSink::wants_module`]).
    pub module: Option<Sym>,
    /// Its top-level package.
    pub package: Sym,
    /// `file:line` of the import statement, when known.
    pub site: Option<Sym>,
    /// Self import time.
    pub self_us: u64,
    /// Cumulative import time.
    pub cumulative_us: u64,
}

/// One usage row of an [`InternedStart`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InternedUsage {
    /// Top-level package.
    pub package: Sym,
    /// Run-time samples with a frame in the package.
    pub runtime_samples: u64,
    /// Exact use, when a tracer knew it.
    pub exact_use: Option<bool>,
}

/// A [`StartRecord`] whose names are symbols of a sink's [`Interner`]: what
/// a table reader fills (one buffer reused for every start).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InternedStart {
    /// The function.
    pub function: Sym,
    /// The host.
    pub host: Sym,
    /// The cgroup (the symbol of `""` when unknown).
    pub cgroup: Sym,
    /// CPython version.
    pub python: Sym,
    /// RFC 3339 start time (not interned: nearly every start has its own).
    pub started_at: String,
    /// Initialization phase.
    pub init_us: u64,
    /// Execution phase.
    pub exec_us: u64,
    /// End to end.
    pub e2e_us: u64,
    /// Samples with Python frames.
    pub samples: u64,
    /// Samples lost by the kernel.
    pub lost: u64,
    /// Import rows.
    pub imports: Vec<InternedImport>,
    /// Usage rows.
    pub usage: Vec<InternedUsage>,
}

/// Where a reader of interned starts hands them: the [`Aggregator`], or a
/// collector that turns them back into [`StartRecord`]s.
pub trait StartSink {
    /// The string table the reader interns names into.
    fn strings(&mut self) -> &mut Interner;
    /// Whether the sink needs the module of an import row at `site` (the
    /// aggregate needs it only for the function's own import statements).
    fn wants_module(&mut self, site: Option<Sym>) -> bool;
    /// Takes one start.
    fn add_interned(&mut self, start: &InternedStart);
}

/// Non-negative µs values for a median: 4 bytes each below `u32::MAX`.
#[derive(Debug, Default)]
pub(super) struct Values {
    small: Vec<u32>,
    large: Vec<u64>,
}

impl Values {
    fn push(&mut self, value: u64) {
        match u32::try_from(value) {
            Ok(v) => self.small.push(v),
            Err(_) => self.large.push(value),
        }
    }

    fn len(&self) -> u64 {
        (self.small.len() + self.large.len()) as u64
    }

    /// The distribution of the values (the same as [`Distribution::of`] on them).
    pub(super) fn distribution(&self) -> Distribution {
        let values: Vec<f64> = (self.small.iter().map(|&v| f64::from(v)))
            .chain(self.large.iter().map(|&v| v as f64))
            .collect();
        Distribution::of_f64(values)
    }
}

/// A package or a statement across a group's starts.
#[derive(Debug, Default)]
struct Acc {
    total_us: u64,
    used_starts: u64,
    per_start_us: Values,
}

impl Acc {
    fn push(&mut self, us: u64, used: bool) {
        self.total_us += us;
        self.used_starts += u64::from(used);
        self.per_start_us.push(us);
    }

    /// (starts, total, median, used starts, used share).
    fn summary(&self) -> (u64, u64, f64, u64, f64) {
        let n = self.per_start_us.len();
        let share = if n == 0 {
            0.0
        } else {
            self.used_starts as f64 / n as f64
        };
        let median = self.per_start_us.distribution().median;
        (n, self.total_us, median, self.used_starts, share)
    }
}

#[derive(Debug, Default)]
struct GroupAcc {
    init: Values,
    exec: Values,
    e2e: Values,
    packages: FxHashMap<Sym, Acc>,
    /// Key: (module, site).
    statements: FxHashMap<(Sym, Sym), Acc>,
}

/// Per symbol, what the fold knows of it (indexed by [`Sym`]).
#[derive(Debug, Default)]
struct SymbolFacts {
    /// 0: not asked yet, 1: a site of the function's own code, 2: not.
    own_site: Vec<u8>,
    /// A module's top-level package, `Sym::MAX` until asked.
    package_of: Vec<Sym>,
    /// Per package: its slot in the start being folded, `u32::MAX` if none.
    slot: Vec<u32>,
    /// Per package: used at run time in the start being folded.
    used: Vec<bool>,
}

impl SymbolFacts {
    fn grow(&mut self, len: usize) {
        if self.slot.len() < len {
            self.own_site.resize(len, 0);
            self.package_of.resize(len, Sym::MAX);
            self.slot.resize(len, u32::MAX);
            self.used.resize(len, false);
        }
    }
}

/// Folds starts into per-group aggregates, one start at a time.
#[derive(Debug, Default)]
pub struct Aggregator {
    by: GroupBy,
    since: Option<Since>,
    starts: u64,
    strings: Interner,
    facts: SymbolFacts,
    groups: FxHashMap<Sym, GroupAcc>,
    skipped: Vec<Skipped>,
    /// Scratch of the start being folded: (package, self µs) in first-seen order.
    per_package: Vec<(Sym, u64)>,
    /// Scratch: ((module, site), cumulative µs) of own statements.
    per_statement: FxHashMap<(Sym, Sym), u64>,
    /// The buffer [`Aggregator::add`] interns a [`StartRecord`] into.
    interned: InternedStart,
}

impl Aggregator {
    /// An empty aggregate grouping on `by`, keeping starts at or after `since`.
    pub fn new(by: GroupBy, since: Option<Since>) -> Self {
        Self {
            by,
            since,
            ..Self::default()
        }
    }

    /// Adds one start (ignored when it is older than `since`).
    pub fn add(&mut self, start: &StartRecord) {
        let mut interned = std::mem::take(&mut self.interned);
        self.intern_start(start, &mut interned);
        self.add_interned(&interned);
        self.interned = interned;
    }

    fn intern_start(&mut self, start: &StartRecord, out: &mut InternedStart) {
        out.function = self.strings.intern(&start.function);
        out.host = self.strings.intern(&start.host);
        out.cgroup = self.strings.intern(&start.cgroup);
        out.python = self.strings.intern(&start.python);
        out.started_at.clone_from(&start.started_at);
        (out.init_us, out.exec_us, out.e2e_us) = (start.init_us, start.exec_us, start.e2e_us);
        (out.samples, out.lost) = (start.samples, start.lost);
        out.imports.clear();
        for row in &start.imports {
            let site = row.site.as_deref().map(|s| self.strings.intern(s));
            let module = self
                .wants_module(site)
                .then(|| self.strings.intern(&row.module));
            out.imports.push(InternedImport {
                module,
                package: self.strings.intern(&row.package),
                site,
                self_us: row.self_us,
                cumulative_us: row.cumulative_us,
            });
        }
        out.usage.clear();
        for row in &start.usage {
            out.usage.push(InternedUsage {
                package: self.strings.intern(&row.package),
                runtime_samples: row.runtime_samples,
                exact_use: row.exact_use,
            });
        }
    }

    /// Whether `site` is in the function's own code (asked once per site).
    fn is_own_site(&mut self, site: Sym) -> bool {
        self.facts.grow(self.strings.len());
        let fact = &mut self.facts.own_site[site as usize];
        if *fact == 0 {
            *fact = if is_own_code(self.strings.name(site)) {
                1
            } else {
                2
            };
        }
        *fact == 1
    }

    /// The top-level package of a module (asked once per module).
    fn package_of(&mut self, module: Sym) -> Sym {
        self.facts.grow(self.strings.len());
        let known = self.facts.package_of[module as usize];
        if known != Sym::MAX {
            return known;
        }
        let top = top_level(self.strings.name(module)).to_string();
        let package = self.strings.intern(&top);
        self.facts.grow(self.strings.len());
        self.facts.package_of[module as usize] = package;
        package
    }

    /// The start's package and own-statement sums into the scratch, its
    /// used packages marked.
    fn sum_start(&mut self, start: &InternedStart) {
        self.facts.grow(self.strings.len());
        for row in &start.imports {
            let slot = &mut self.facts.slot[row.package as usize];
            if *slot == u32::MAX {
                *slot = self.per_package.len() as u32;
                self.per_package.push((row.package, 0));
            }
            self.per_package[*slot as usize].1 += row.self_us;
            if let (Some(site), Some(module)) = (row.site, row.module) {
                if self.is_own_site(site) {
                    *self.per_statement.entry((module, site)).or_default() += row.cumulative_us;
                }
            }
        }
        for row in &start.usage {
            if row.exact_use == Some(true) || row.runtime_samples > 0 {
                self.facts.used[row.package as usize] = true;
            }
        }
    }

    /// Folds the scratch into the group and clears it.
    fn fold_start(&mut self, key: Sym, start: &InternedStart) {
        let mut statements: Vec<((Sym, Sym), u64, bool)> = Vec::new();
        for (key, us) in std::mem::take(&mut self.per_statement) {
            let package = self.package_of(key.0);
            statements.push((key, us, self.facts.used[package as usize]));
        }
        let group = self.groups.entry(key).or_default();
        group.init.push(start.init_us);
        group.exec.push(start.exec_us);
        group.e2e.push(start.e2e_us);
        for &(package, us) in &self.per_package {
            let used = self.facts.used[package as usize];
            group.packages.entry(package).or_default().push(us, used);
            self.facts.slot[package as usize] = u32::MAX;
        }
        for (key, us, used) in statements {
            group.statements.entry(key).or_default().push(us, used);
        }
        self.per_package.clear();
        for row in &start.usage {
            self.facts.used[row.package as usize] = false;
        }
    }

    /// Records an input that could not be read.
    pub fn skip(&mut self, path: String, reason: String) {
        self.skipped.push(Skipped { path, reason });
    }

    /// Starts added so far (after `since`).
    pub fn starts(&self) -> u64 {
        self.starts
    }

    /// Inputs skipped so far.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Distinct names held (the interner's size).
    pub fn distinct_names(&self) -> usize {
        self.strings.len()
    }

    /// The merged file.
    pub fn finish(self) -> Merged {
        let mut groups: Vec<Group> = self
            .groups
            .iter()
            .map(|(&key, g)| self.group(key, g))
            .collect();
        groups.sort_by(|a, b| b.starts.cmp(&a.starts).then_with(|| a.key.cmp(&b.key)));
        Merged {
            schema: MERGED_SCHEMA.to_string(),
            schema_version: MERGED_SCHEMA_VERSION,
            by: self.by,
            since: self.since.map(|s| s.text),
            starts: self.starts,
            skipped: self.skipped,
            groups,
        }
    }

    fn group(&self, key: Sym, g: &GroupAcc) -> Group {
        let name = |s: Sym| self.strings.name(s).to_string();
        let mut packages: Vec<PackageAggregate> = g
            .packages
            .iter()
            .map(|(&package, acc)| {
                let (n, total, median, used, share) = acc.summary();
                let (pattern, advice) = pattern_of(self.strings.name(package), total, share);
                PackageAggregate {
                    package: name(package),
                    starts_imported: n,
                    total_us: total,
                    median_us: median,
                    used_starts: used,
                    used_share: share,
                    pattern,
                    advice,
                }
            })
            .collect();
        packages
            .sort_by(|a, b| (b.total_us.cmp(&a.total_us)).then_with(|| a.package.cmp(&b.package)));
        let mut statements: Vec<StatementAggregate> = g
            .statements
            .iter()
            .map(|(&(module, site), acc)| {
                let (n, total, median, used, share) = acc.summary();
                let module = name(module);
                StatementAggregate {
                    statement: format!("import {module}"),
                    package: top_level(&module).to_string(),
                    module,
                    site: name(site),
                    starts_imported: n,
                    total_us: total,
                    median_us: median,
                    used_starts: used,
                    used_share: share,
                }
            })
            .collect();
        statements.sort_by(|a, b| {
            (b.total_us.cmp(&a.total_us))
                .then_with(|| a.module.cmp(&b.module))
                .then_with(|| a.site.cmp(&b.site))
        });
        Group {
            key: name(key),
            starts: g.init.len(),
            init_us: g.init.distribution(),
            exec_us: g.exec.distribution(),
            e2e_us: g.e2e.distribution(),
            packages,
            statements,
        }
    }
}

impl StartSink for Aggregator {
    fn strings(&mut self) -> &mut Interner {
        &mut self.strings
    }

    fn wants_module(&mut self, site: Option<Sym>) -> bool {
        site.is_some_and(|s| self.is_own_site(s))
    }

    fn add_interned(&mut self, start: &InternedStart) {
        if let Some(since) = &self.since {
            if !since.keeps(&start.started_at) {
                return;
            }
        }
        self.starts += 1;
        let key = match self.by {
            GroupBy::Function => start.function,
            GroupBy::Host => start.host,
            GroupBy::Cgroup => start.cgroup,
            GroupBy::Python => start.python,
        };
        self.sum_start(start);
        self.fold_start(key, start);
    }
}
