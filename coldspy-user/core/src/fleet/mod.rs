//! The fleet: many process starts reduced to one aggregate per group.
//!
//! Every input — a JSON profile, or a row set of the Parquet fleet table — is
//! first turned into one [`StartRecord`] (a process start with its import
//! rows and per-package run-time use). An [`Aggregator`] folds starts in one
//! at a time and keeps only aggregates (per group: the phase times of each
//! start, and per package / import statement a few numbers per start), so a
//! merge never holds more than one profile in memory. [`Aggregator::finish`]
//! gives the [`Merged`] file (`coldspy-merged`, versioned, documented in the
//! README), which [`render`] writes for a terminal or as HTML.

mod aggregate;
pub mod intern;
pub mod render;
pub mod time;

pub use aggregate::{Aggregator, InternedImport, InternedStart, InternedUsage, StartSink};
pub use time::Since;

use crate::model::profile::{self, CctNode, ImportRecord, Profile};
use crate::origin::top_level;
use crate::stats::quantile_sorted;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Value of [`Merged::schema`].
pub const MERGED_SCHEMA: &str = "coldspy-merged";
/// Current [`Merged::schema_version`].
pub const MERGED_SCHEMA_VERSION: u32 = 1;
/// Value of the fleet table's `coldspy.schema` key-value metadata.
pub const TABLE_SCHEMA: &str = "coldspy-fleet";
/// Current fleet table schema version (`coldspy.schema_version`).
pub const TABLE_SCHEMA_VERSION: u32 = 1;

/// One process start, as both the JSON profile and the fleet table give it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StartRecord {
    /// Host name.
    pub host: String,
    /// The function (label `function`, or the handler file's stem).
    pub function: String,
    /// The cgroup (label `cgroup`), empty when unknown.
    pub cgroup: String,
    /// CPython version.
    pub python: String,
    /// RFC 3339 start time.
    pub started_at: String,
    /// Initialization phase.
    pub init_us: u64,
    /// Execution phase.
    pub exec_us: u64,
    /// End to end (the recording's length; init + exec when unknown).
    pub e2e_us: u64,
    /// Samples with Python frames.
    pub samples: u64,
    /// Samples lost by the kernel.
    pub lost: u64,
    /// One row per module import.
    pub imports: Vec<ImportRow>,
    /// Per top-level package with imports or samples: run-time use.
    pub usage: Vec<UsageRow>,
}

/// One module import of one start (a row of the `imports` table).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImportRow {
    /// Absolute module name.
    pub module: String,
    /// Its top-level package.
    pub package: String,
    /// The module being imported when this one started.
    pub parent: Option<String>,
    /// Self import time.
    pub self_us: u64,
    /// Cumulative import time.
    pub cumulative_us: u64,
    /// Nesting depth.
    pub depth: u32,
    /// `file:line` of the import statement, when known.
    pub site: Option<String>,
    /// Whether the import raised.
    pub failed: bool,
}

/// Run-time use of one package in one start (a row of the `usage` table).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UsageRow {
    /// Top-level package.
    pub package: String,
    /// Run-time (non-import) samples with a frame in the package.
    pub runtime_samples: u64,
    /// Exact use (a tracer's answer), when known; sampling alone leaves it `None`.
    pub exact_use: Option<bool>,
}

impl StartRecord {
    /// The value of the grouping key for this start.
    pub fn key(&self, by: GroupBy) -> &str {
        match by {
            GroupBy::Function => &self.function,
            GroupBy::Host => &self.host,
            GroupBy::Cgroup => &self.cgroup,
            GroupBy::Python => &self.python,
        }
    }

    /// Whether the package was used at run time in this start.
    pub fn used(&self, package: &str) -> bool {
        self.usage
            .iter()
            .any(|u| u.package == package && (u.exact_use == Some(true) || u.runtime_samples > 0))
    }
}

/// Whether an import site (`file:line`) is in the function's own code: not
/// frozen, not the standard library or an installed package (anything under
/// `lib/pythonX.Y/`, `site-packages`, `dist-packages`), not coldspy's runner.
pub fn is_own_code(site: &str) -> bool {
    let file = site.rsplit_once(':').map_or(site, |(f, _)| f);
    !file.is_empty() && crate::origin::of_file(file) == crate::origin::Origin::FirstParty
}

/// What `coldspy merge --by` groups on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// The function label.
    #[default]
    Function,
    /// The host.
    Host,
    /// The cgroup label.
    Cgroup,
    /// The CPython version.
    Python,
}

impl GroupBy {
    /// The name used in the merged file.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Function => "function",
            GroupBy::Host => "host",
            GroupBy::Cgroup => "cgroup",
            GroupBy::Python => "python",
        }
    }
}

/// Why one input was not merged.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Not JSON, or JSON cut short.
    #[error("corrupt or truncated JSON: {0}")]
    Corrupt(String),
    /// Valid JSON of another schema or a newer version.
    #[error(
        "schema {schema:?} version {version}, not {:?} up to version {}",
        profile::SCHEMA,
        profile::SCHEMA_VERSION
    )]
    Unsupported {
        /// Its schema name.
        schema: String,
        /// Its version.
        version: u32,
    },
}

/// Only what the fleet needs of a profile; `files` and `modules` are skipped
/// by the parser without being built.
#[derive(Deserialize)]
struct View {
    schema: String,
    schema_version: u32,
    meta: MetaView,
    stats: StatsView,
    cct: CctView,
    imports: Vec<ImportRecord>,
}

#[derive(Deserialize)]
struct MetaView {
    #[serde(default)]
    host: String,
    #[serde(default)]
    python_version: String,
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    started_at: String,
    #[serde(default)]
    duration_us: u64,
    #[serde(default)]
    lost_samples: u64,
    /// Labels set by the writer (`function`, `cgroup`, …), when any.
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct StatsView {
    samples: u64,
    init_us: u64,
    exec_us: u64,
}

#[derive(Deserialize)]
struct CctView {
    frames: Vec<FrameView>,
    root: CctNode,
}

#[derive(Deserialize)]
struct FrameView {
    module: Option<String>,
}

#[derive(Deserialize)]
struct Tag {
    schema: Option<String>,
    schema_version: Option<u32>,
}

/// The function a profile belongs to: its `function` label, else the stem of
/// the first `.py` argument of its command (the handler file), else the
/// command's program name.
pub fn function_of(command: &[String], labels: &BTreeMap<String, String>) -> String {
    if let Some(f) = labels.get("function") {
        return f.clone();
    }
    let stem = |s: &str| {
        let base = s.rsplit('/').next().unwrap_or(s);
        base.strip_suffix(".py").unwrap_or(base).to_string()
    };
    if let Some(py) = command.iter().skip(1).find(|a| a.ends_with(".py")) {
        return stem(py);
    }
    command.first().map(|c| stem(c)).unwrap_or_default()
}

/// Parses one JSON profile into a start (the input is dropped by the caller).
pub fn start_from_json(bytes: &[u8]) -> Result<StartRecord, InputError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    deserializer.disable_recursion_limit();
    let parsed = View::deserialize(&mut deserializer).and_then(|v| deserializer.end().map(|_| v));
    let view = match parsed {
        Ok(view) => view,
        Err(error) => {
            // Valid JSON of another schema says so; anything else is corrupt.
            if let Ok(Tag {
                schema: Some(schema),
                schema_version,
            }) = serde_json::from_slice::<Tag>(bytes)
            {
                if schema != profile::SCHEMA {
                    return Err(InputError::Unsupported {
                        schema,
                        version: schema_version.unwrap_or(0),
                    });
                }
            }
            return Err(InputError::Corrupt(error.to_string()));
        }
    };
    if view.schema != profile::SCHEMA || view.schema_version > profile::SCHEMA_VERSION {
        return Err(InputError::Unsupported {
            schema: view.schema,
            version: view.schema_version,
        });
    }
    Ok(start_from_view(view))
}

fn start_from_view(view: View) -> StartRecord {
    let imports = view
        .imports
        .into_iter()
        .map(|r| ImportRow {
            package: top_level(&r.module).to_string(),
            site: r.site.map(|s| format!("{}:{}", s.file, s.line)),
            module: r.module,
            parent: r.parent,
            self_us: r.self_us,
            cumulative_us: r.cumulative_us,
            depth: r.depth,
            failed: r.failed,
        })
        .collect();
    let frames: Vec<Option<&str>> = view
        .cct
        .frames
        .iter()
        .map(|f| f.module.as_deref())
        .collect();
    assemble(view.meta, &view.stats, &frames, &view.cct.root, imports)
}

/// The start of a whole profile, the same as [`start_from_json`] reads
/// from the profile's JSON (labels from `meta.labels`).
pub fn start_from_profile(profile: &Profile) -> StartRecord {
    let meta = &profile.meta;
    let view_meta = MetaView {
        host: meta.host.clone(),
        python_version: meta.python_version.clone(),
        command: meta.command.clone(),
        started_at: meta.started_at.clone(),
        duration_us: meta.duration_us,
        lost_samples: meta.lost_samples,
        labels: meta.labels.clone(),
    };
    let stats = StatsView {
        samples: profile.stats.samples,
        init_us: profile.stats.init_us,
        exec_us: profile.stats.exec_us,
    };
    let imports = profile
        .imports
        .iter()
        .map(|r| ImportRow {
            package: top_level(&r.module).to_string(),
            site: r.site.as_ref().map(|s| format!("{}:{}", s.file, s.line)),
            module: r.module.clone(),
            parent: r.parent.clone(),
            self_us: r.self_us,
            cumulative_us: r.cumulative_us,
            depth: r.depth,
            failed: r.failed,
        })
        .collect();
    let frames: Vec<Option<&str>> = profile
        .cct
        .frames
        .iter()
        .map(|f| f.module.as_deref())
        .collect();
    assemble(view_meta, &stats, &frames, &profile.cct.root, imports)
}

/// A start from its parts: the usage rows from the CCT's run-time samples.
fn assemble(
    meta: MetaView,
    stats: &StatsView,
    frame_modules: &[Option<&str>],
    root: &CctNode,
    imports: Vec<ImportRow>,
) -> StartRecord {
    let frame_top: Vec<Option<&str>> = frame_modules.iter().map(|m| m.map(top_level)).collect();
    let mut runtime: HashMap<&str, u64> = HashMap::new();
    runtime_use(root, &frame_top, &mut Vec::new(), &mut runtime);
    let mut packages: Vec<&str> = imports.iter().map(|r| r.package.as_str()).collect();
    packages.extend(runtime.keys().copied());
    packages.sort_unstable();
    packages.dedup();
    let usage = packages
        .into_iter()
        .map(|p| UsageRow {
            package: p.to_string(),
            runtime_samples: runtime.get(p).copied().unwrap_or(0),
            exact_use: None,
        })
        .collect();
    let e2e_us = if meta.duration_us > 0 {
        meta.duration_us
    } else {
        stats.init_us + stats.exec_us
    };
    StartRecord {
        function: function_of(&meta.command, &meta.labels),
        cgroup: meta.labels.get("cgroup").cloned().unwrap_or_default(),
        host: meta.labels.get("host").cloned().unwrap_or(meta.host),
        python: meta.python_version,
        started_at: meta.started_at,
        init_us: stats.init_us,
        exec_us: stats.exec_us,
        e2e_us,
        samples: stats.samples,
        lost: meta.lost_samples,
        imports,
        usage,
    }
}

/// Run-time samples per top-level package, each package once per sample
/// (the rule of the analysis' `runtime_samples_by_dot`).
fn runtime_use<'a>(
    node: &CctNode,
    frame_top: &[Option<&'a str>],
    path: &mut Vec<&'a str>,
    out: &mut HashMap<&'a str, u64>,
) {
    let pushed = match node.frame.and_then(|f| frame_top.get(f).copied().flatten()) {
        Some(top) if !path.contains(&top) => {
            path.push(top);
            true
        }
        _ => false,
    };
    let runtime_self = node.self_samples.saturating_sub(node.import_self);
    if runtime_self > 0 {
        for top in path.iter() {
            *out.entry(top).or_default() += runtime_self;
        }
    }
    for child in &node.children {
        runtime_use(child, frame_top, path, out);
    }
    if pushed {
        path.pop();
    }
}

/// Median, p90 and p99 of a distribution (µs), linear-interpolated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Distribution {
    /// Values it summarizes.
    pub n: u64,
    /// The median.
    pub median: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Distribution {
    /// The distribution of `values`.
    pub fn of(values: &[u64]) -> Self {
        Self::of_f64(values.iter().map(|&x| x as f64).collect())
    }

    /// The distribution of `values` (sorted once for the three quantiles).
    pub fn of_f64(mut values: Vec<f64>) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        values.sort_by(f64::total_cmp);
        Self {
            n: values.len() as u64,
            median: quantile_sorted(&values, 0.5),
            p90: quantile_sorted(&values, 0.9),
            p99: quantile_sorted(&values, 0.99),
        }
    }
}

/// The merged file: one aggregate per group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Merged {
    /// Always [`MERGED_SCHEMA`].
    pub schema: String,
    /// [`MERGED_SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// What the groups are (`function`, `host`, `cgroup`, `python`).
    pub by: GroupBy,
    /// Starts before this time were left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Starts merged.
    pub starts: u64,
    /// Inputs that could not be read, with the reason.
    pub skipped: Vec<Skipped>,
    /// One aggregate per group, most starts first.
    pub groups: Vec<Group>,
}

/// An input left out of a merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// The file.
    pub path: String,
    /// Why, in one line.
    pub reason: String,
}

/// The aggregate of one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The group's key (a function name, a host, …).
    pub key: String,
    /// Starts seen.
    pub starts: u64,
    /// Initialization phase.
    pub init_us: Distribution,
    /// Execution phase.
    pub exec_us: Distribution,
    /// End to end.
    pub e2e_us: Distribution,
    /// Packages, highest total import time first.
    pub packages: Vec<PackageAggregate>,
    /// Import statements of the function's own code, highest total first.
    pub statements: Vec<StatementAggregate>,
}

/// A package across a group's starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageAggregate {
    /// Top-level package.
    pub package: String,
    /// Starts in which it was imported.
    pub starts_imported: u64,
    /// Self import time of the package and its sub-modules, summed over starts.
    pub total_us: u64,
    /// Median per start (of the starts that imported it).
    pub median_us: f64,
    /// Starts that imported it and used it at run time.
    pub used_starts: u64,
    /// `used_starts / starts_imported`.
    pub used_share: f64,
    /// `never_used` or `rarely_used` (the analysis' names), when it applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// One-line advice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

/// An import statement of the function's own code across a group's starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementAggregate {
    /// `import boto3`.
    pub statement: String,
    /// The module imported.
    pub module: String,
    /// Its top-level package.
    pub package: String,
    /// `file:line` of the statement.
    pub site: String,
    /// Starts in which it ran.
    pub starts_imported: u64,
    /// Cumulative import time, summed over starts.
    pub total_us: u64,
    /// Median per start.
    pub median_us: f64,
    /// Starts in which the package was used at run time.
    pub used_starts: u64,
    /// `used_starts / starts_imported`.
    pub used_share: f64,
}

/// The analysis' use patterns applied to a package's aggregate: an import
/// cost (≥ 1 ms in total) with no run-time use in any start is `never_used`;
/// use in fewer than 5 % of the starts that imported it is `rarely_used`.
fn pattern_of(package: &str, total_us: u64, share: f64) -> (Option<String>, Option<String>) {
    use crate::analysis::evidence::RARE_SHARE;
    use crate::analysis::statements::MIN_COST_US;
    if total_us < MIN_COST_US {
        return (None, None);
    }
    if share == 0.0 {
        (
            Some("never_used".into()),
            Some(format!("`{package}` is never used at run time in these starts: remove the import or make it lazy")),
        )
    } else if share < RARE_SHARE {
        (
            Some("rarely_used".into()),
            Some(format!("`{package}` is used in {:.0} % of the starts that import it: import it where it is used", share * 100.0)),
        )
    } else {
        (None, None)
    }
}

impl Merged {
    /// Parses a merged file, refusing other schemas and newer versions.
    pub fn from_json(bytes: &[u8]) -> Result<Self, InputError> {
        let tag: Tag =
            serde_json::from_slice(bytes).map_err(|e| InputError::Corrupt(e.to_string()))?;
        let schema = tag.schema.unwrap_or_default();
        let version = tag.schema_version.unwrap_or(0);
        if schema != MERGED_SCHEMA || version > MERGED_SCHEMA_VERSION {
            return Err(InputError::Unsupported { schema, version });
        }
        serde_json::from_slice(bytes).map_err(|e| InputError::Corrupt(e.to_string()))
    }

    /// Whether `bytes` look like a merged file (its schema tag says so).
    pub fn is_merged(bytes: &[u8]) -> bool {
        matches!(serde_json::from_slice::<Tag>(bytes), Ok(Tag { schema: Some(s), .. }) if s == MERGED_SCHEMA)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(
        function: &str,
        host: &str,
        imports: &[(&str, u64, Option<&str>)],
        used: &[&str],
    ) -> StartRecord {
        StartRecord {
            host: host.into(),
            function: function.into(),
            started_at: "2026-11-25T04:18:09Z".into(),
            init_us: 100,
            exec_us: 10,
            e2e_us: 110,
            imports: imports
                .iter()
                .map(|(m, us, site)| ImportRow {
                    module: m.to_string(),
                    package: top_level(m).to_string(),
                    self_us: *us,
                    cumulative_us: *us,
                    site: site.map(String::from),
                    ..ImportRow::default()
                })
                .collect(),
            usage: used
                .iter()
                .map(|p| UsageRow {
                    package: p.to_string(),
                    runtime_samples: 3,
                    exact_use: None,
                })
                .collect(),
            ..StartRecord::default()
        }
    }

    #[test]
    fn packages_sum_sub_modules_and_count_use_per_start() {
        let mut agg = Aggregator::new(GroupBy::Function, None);
        let own = Some("/srv/app/handler.py:3");
        for i in 0..4 {
            let used: &[&str] = if i == 0 { &["boto3"] } else { &[] };
            agg.add(&start(
                "resize",
                "h",
                &[
                    ("boto3", 1000, own),
                    (
                        "boto3.session",
                        500,
                        Some("/x/lib/python3.12/site-packages/boto3/__init__.py:1"),
                    ),
                    ("json", 10, own),
                ],
                used,
            ));
        }
        agg.add(&start("other", "h", &[("json", 7, None)], &[]));
        let merged = agg.finish();
        assert_eq!(merged.starts, 5);
        let resize = &merged.groups[0];
        assert_eq!((resize.key.as_str(), resize.starts), ("resize", 4));
        let boto = &resize.packages[0];
        assert_eq!(
            (boto.package.as_str(), boto.starts_imported, boto.total_us),
            ("boto3", 4, 6000)
        );
        assert_eq!(boto.median_us, 1500.0);
        assert_eq!((boto.used_starts, boto.used_share), (1, 0.25));
        // Only the statements of the handler's own file.
        let names: Vec<&str> = resize
            .statements
            .iter()
            .map(|s| s.statement.as_str())
            .collect();
        assert_eq!(names, ["import boto3", "import json"]);
        assert_eq!(resize.statements[0].total_us, 4000);
        assert!(
            merged.groups[1].statements.is_empty(),
            "no site, no statement"
        );
        let json = serde_json::to_vec(&merged).unwrap();
        assert!(Merged::is_merged(&json));
        assert_eq!(Merged::from_json(&json).unwrap(), merged);
    }

    #[test]
    fn since_drops_older_starts_and_grouping_follows_the_key() {
        let mut agg = Aggregator::new(GroupBy::Host, Some(Since::parse("2026-11-26").unwrap()));
        let mut old = start("f", "a", &[], &[]);
        old.started_at = "2026-11-25T00:00:00Z".into();
        let mut new = start("f", "b", &[], &[]);
        new.started_at = "2026-11-27T00:00:00Z".into();
        agg.add(&old);
        agg.add(&new);
        let merged = agg.finish();
        assert_eq!(merged.starts, 1);
        assert_eq!(merged.groups[0].key, "b");
    }

    #[test]
    fn other_schemas_and_truncated_json_are_told_apart() {
        assert!(matches!(
            start_from_json(br#"{"schema":"coldspy-merged","schema_version":1}"#),
            Err(InputError::Unsupported { .. })
        ));
        assert!(matches!(
            start_from_json(br#"{"schema":"coldspy-prof"#),
            Err(InputError::Corrupt(_))
        ));
    }

    #[test]
    fn own_code_excludes_the_library_and_frozen_modules() {
        assert!(is_own_code("/work/main/examples/handler.py:4"));
        assert!(!is_own_code("<frozen os>:12"));
        assert!(!is_own_code(
            "/v/lib/python3.12/site-packages/boto3/session.py:1"
        ));
        assert!(!is_own_code(
            "/root/.pyenv/versions/3.12.1/lib/python3.12/enum.py:3"
        ));
    }

    #[test]
    fn function_comes_from_the_label_or_the_handler_file() {
        let command: Vec<String> = ["python", "-X", "examples/handler.py"]
            .map(String::from)
            .to_vec();
        assert_eq!(function_of(&command, &BTreeMap::new()), "handler");
        let labels = BTreeMap::from([("function".to_string(), "resize".to_string())]);
        assert_eq!(function_of(&command, &labels), "resize");
    }
}
