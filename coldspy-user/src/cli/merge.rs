//! `coldspy merge` (many profiles into one aggregate per group) and `coldspy
//! export --format parquet` (profiles appended to the fleet table).

use crate::fleet::{self, Input};
use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use coldspy_core::fleet::render::{headline, thousands};
use coldspy_core::fleet::{Aggregator, GroupBy, Since};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// `--by`: what the merge groups on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ByArg {
    /// The function label (or the handler file's stem).
    Function,
    /// The host.
    Host,
    /// The cgroup label.
    Cgroup,
    /// The CPython version.
    Python,
}

impl From<ByArg> for GroupBy {
    fn from(arg: ByArg) -> Self {
        match arg {
            ByArg::Function => GroupBy::Function,
            ByArg::Host => GroupBy::Host,
            ByArg::Cgroup => GroupBy::Cgroup,
            ByArg::Python => GroupBy::Python,
        }
    }
}

/// Arguments of `coldspy merge`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  coldspy merge profiles/ -o merged.json\n  coldspy merge fleet/ --by host --since 2026-11-01\n  coldspy report merged.json --format html -o fleet.html"
)]
pub struct MergeArgs {
    /// JSON profiles, directories of them (searched recursively), or fleet table directories.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Write the merged file (JSON) here; without it, print the report.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// What to group the starts by.
    #[arg(long, value_enum, default_value_t = ByArg::Function)]
    pub by: ByArg,
    /// Leave out starts before this instant: an RFC 3339 time with `Z` or an
    /// offset (2026-11-25T10:00:00+02:00), or a date (2026-11-25, read as
    /// midnight UTC). Starts are compared as instants, whatever zone their
    /// `started_at` was written in; a start without a readable time is left out.
    #[arg(long, value_parser = Since::parse)]
    pub since: Option<Since>,
    /// Also write one pprof of all the JSON profiles, labelled per profile.
    #[arg(long)]
    pub pprof: Option<PathBuf>,
    /// Rows per table in the printed report.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

/// `--format` of `coldspy export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// The Parquet fleet table (starts, imports, usage; Hive-partitioned).
    Parquet,
}

/// Arguments of `coldspy export`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  coldspy export --format parquet profiles/ -o fleet/\n  duckdb -c \"SELECT count(*) FROM read_parquet('fleet/starts/**/*.parquet', hive_partitioning = true)\""
)]
pub struct ExportArgs {
    /// The table format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// JSON profiles or directories of them (searched recursively).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// The table directory (created; new files are appended, none rewritten).
    #[arg(short, long)]
    pub output: PathBuf,
}

fn inputs_or_fail(paths: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    let inputs = fleet::discover(paths)?;
    if inputs.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        bail!(
            "no profiles to merge in {} (looked for *.json files and fleet table directories)",
            shown.join(", ")
        );
    }
    Ok(inputs)
}

fn tell_skipped(skipped: &[(String, String)]) {
    if skipped.is_empty() {
        return;
    }
    eprintln!("coldspy: skipped {} unreadable inputs:", skipped.len());
    for (path, reason) in skipped.iter().take(20) {
        eprintln!("  {path}: {reason}");
    }
    if skipped.len() > 20 {
        eprintln!(
            "  … and {} more (all named in the merged file)",
            skipped.len() - 20
        );
    }
}

/// Runs `coldspy merge`.
pub fn run(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let inputs = inputs_or_fail(&args.inputs)?;
    let mut aggregator = Aggregator::new(args.by.into(), args.since.clone());
    fleet::merge(&inputs, &mut aggregator);
    let skipped: Vec<(String, String)> = aggregator
        .skipped()
        .iter()
        .map(|s| (s.path.clone(), s.reason.clone()))
        .collect();
    tell_skipped(&skipped);
    let merged = aggregator.finish();
    if merged.starts == 0 && skipped.len() == inputs.len() {
        bail!("none of the {} inputs could be read", inputs.len());
    }
    if let Some(path) = &args.pprof {
        let (bytes, n) = fleet::merged_pprof(&inputs)?;
        crate::sys::OutputFile::create(path)?.commit(&bytes)?;
        eprintln!(
            "coldspy: wrote {} ({n} profiles, one pprof)",
            path.display()
        );
    }
    match &args.output {
        Some(path) => {
            let json = serde_json::to_vec_pretty(&merged)?;
            crate::sys::OutputFile::create(path)?.commit(&json)?;
            eprintln!(
                "coldspy: merged {} starts into {} groups: {}",
                thousands(merged.starts),
                merged.groups.len(),
                path.display()
            );
            if let Some(line) = merged.groups.first().and_then(|g| headline(&merged, g)) {
                eprintln!("{line}");
            }
        }
        None => {
            let mut buffer = Vec::new();
            coldspy_core::fleet::render::terminal(&merged, args.top, &mut buffer)?;
            std::io::stdout().write_all(&buffer)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `coldspy export`.
pub fn run_export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let ExportFormat::Parquet = args.format;
    let inputs = inputs_or_fail(&args.inputs)?;
    if inputs.iter().any(|i| matches!(i, Input::Table(_))) {
        bail!("export reads JSON profiles; a fleet table is already exported");
    }
    let mut writer = fleet::table::TableWriter::new(&args.output)?;
    let mut skipped = Vec::new();
    let mut failure = None;
    fleet::for_each_start(
        &inputs,
        &mut |start| {
            if failure.is_none() {
                if let Err(e) = writer.add(&start) {
                    failure = Some(e);
                }
            }
        },
        &mut |p, r| skipped.push((p, r)),
    );
    if let Some(e) = failure {
        return Err(e).context("writing the fleet table");
    }
    tell_skipped(&skipped);
    let (starts, files) = writer.finish()?;
    if starts == 0 {
        bail!("none of the {} inputs could be read", inputs.len());
    }
    eprintln!(
        "coldspy: appended {} starts to {} ({} new files)",
        thousands(starts),
        args.output.display(),
        files.len()
    );
    Ok(ExitCode::SUCCESS)
}
